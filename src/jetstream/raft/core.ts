// The RAFT node's state and the machinery every role shares (raft.go): persistence of term, vote and
// peers, the log (store, truncate, replay at start), snapshots, commit and the apply queue, peer-set
// bookkeeping. follower.ts adds the follower's handling of append entries and catch-up; node.ts the
// candidate and leader sides and the public API. One node, split by concern into three files.

import {
  type AppendEntry,
  type Entry,
  type PeerState,
  EntryAddPeer,
  EntryNormal,
  EntryOldSnapshot,
  EntryPeerState,
  EntryRemovePeer,
  EntrySnapshot,
  decodeAppendEntry,
  decodePeerState,
} from './codec.js';
import {
  ID_LEN,
  appendSubject,
  newReplyInbox,
  proposalSubject,
  removePeerSubject,
  voteSubject,
} from './ids.js';
import type { CatchupSender } from './catchup.js';
import {
  loadLastSnapshot,
  removeSnapshots,
  snapshotHasher,
  writeSnapshotFile,
  type Snapshot,
} from './snapshot.js';
import { writePeerStateFile, writeTermVoteFile } from './state-files.js';
import type { RaftSubscription, RaftTransport } from './transport.js';
import type { Wal } from './wal.js';
import {
  DEFAULT_TIMING,
  Follower,
  Leader,
  Closed,
  NOOP_LOG,
  RaftError,
  quorumOf,
  randBetween,
  type CommittedEntry,
  type FollowerCatchup,
  type PeerTrack,
  type RaftLog,
  type RaftNodeConfig,
  type RaftTiming,
} from './types.js';

export abstract class RaftCore {
  readonly group: string;
  readonly id: string;
  readonly dir: string;
  readonly created = Date.now();
  protected readonly wal: Wal;
  protected readonly transport: RaftTransport;
  protected readonly timing: RaftTiming;
  protected readonly fsync: boolean;
  protected readonly log: RaftLog;
  protected readonly cfg: RaftNodeConfig;
  protected readonly hh;

  protected state = Follower;
  protected term = 0;
  protected vote = '';
  protected leader = '';
  protected pleader = false;
  protected pterm = 0;
  protected pindex = 0;
  protected commit = 0;
  protected applied = 0;
  protected csz = 1;
  protected qn = 1;
  protected extSt = 0;
  protected observer: boolean;
  protected readonly peers = new Map<string, PeerTrack>();
  protected removed = new Set<string>();
  protected werr: Error | null = null;
  protected snapfile = '';
  /** Append entries stored but not yet applied, by index (raft.go pae). */
  protected readonly pae = new Map<number, AppendEntry>();
  /** Leader: the first index written in this term (only these are committed by counting). */
  protected termStart = 0;
  /** Highest index known durable in our own WAL. */
  protected durable = 0;
  protected active = 0;
  protected lxfer = false;
  protected paused = false;
  protected hcommit = 0;
  protected pobserver = false;
  protected votes = new Set<string>();

  // Subjects (raft.go createInternalSubs).
  protected readonly vsubj: string;
  protected readonly vreply: string;
  protected readonly asubj: string;
  protected readonly areply: string;
  protected readonly psubj: string;
  protected readonly rpsubj: string;
  protected subs: RaftSubscription[] = [];
  protected leaderSubs: RaftSubscription[] = [];
  protected catchup: FollowerCatchup | null = null;
  protected readonly progress = new Map<string, CatchupSender>();

  protected electTimer: NodeJS.Timeout | null = null;
  protected hbTimer: NodeJS.Timeout | null = null;
  protected lqTimer: NodeJS.Timeout | null = null;
  protected props: Entry[] = [];
  protected propsScheduled = false;
  protected hbScheduled = false;
  protected applyQ: (CommittedEntry | null)[] = [];
  protected applyScheduled = false;

  constructor(cfg: RaftNodeConfig) {
    if (cfg.id.length !== ID_LEN) throw new RaftError(`raft: illegal peer id ${JSON.stringify(cfg.id)}`);
    this.cfg = cfg;
    this.group = cfg.group;
    this.id = cfg.id;
    this.dir = cfg.dir;
    this.wal = cfg.wal;
    this.transport = cfg.transport;
    this.timing = { ...DEFAULT_TIMING, ...cfg.timing };
    this.fsync = cfg.fsync ?? true;
    this.log = cfg.log ?? NOOP_LOG;
    this.observer = cfg.observer ?? false;
    this.hh = snapshotHasher(cfg.group);
    this.vsubj = voteSubject(cfg.group);
    this.vreply = newReplyInbox();
    this.asubj = appendSubject(cfg.group);
    this.areply = newReplyInbox();
    this.psubj = proposalSubject(cfg.group);
    this.rpsubj = removePeerSubject(cfg.group);
  }

  /** Known (official) peer ids. */
  peerNames(): string[] {
    const out: string[] = [];
    for (const [id, ps] of this.peers) if (ps.kp) out.push(id);
    return out;
  }

  protected clearTimers(): void {
    if (this.electTimer) clearTimeout(this.electTimer);
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.lqTimer) clearInterval(this.lqTimer);
    this.electTimer = this.hbTimer = this.lqTimer = null;
  }

  protected resetElectionTimeout(): void {
    this.resetElect(randBetween(this.timing.minElectionTimeout, this.timing.maxElectionTimeout));
  }

  protected resetElect(ms: number): void {
    if (this.state === Closed) return;
    if (this.electTimer) clearTimeout(this.electTimer);
    this.electTimer = setTimeout(() => this.onElectionTimeout(), ms);
  }

  protected updateLeader(leader: string): void {
    this.leader = leader;
    if (leader !== '') this.pleader = true;
  }

  /** Persists term and vote; false (and the node stops acting) on a write error. */
  protected writeTermVote(): boolean {
    try {
      writeTermVoteFile(this.dir, this.term, this.vote, this.fsync);
      return true;
    } catch (err) {
      this.setWriteErr(err as Error);
      return false;
    }
  }

  protected writePeerState(ps: PeerState): void {
    try {
      writePeerStateFile(this.dir, ps, this.fsync);
    } catch (err) {
      this.setWriteErr(err as Error);
    }
  }

  protected setWriteErr(err: Error): void {
    if (this.werr) return;
    this.werr = err;
    this.log.error(`RAFT [${this.id} - ${this.group}] Critical write error: ${err.message}`);
    if (this.state === Leader) this.switchToFollower('');
  }

  protected currentPeerState(): PeerState {
    return { knownPeers: this.peerNames(), clusterSize: this.csz, domainExt: this.extSt };
  }

  protected setClusterSize(csz: number): void {
    if (csz < 2) csz = 2;
    this.csz = csz;
    this.qn = quorumOf(csz);
  }

  protected storeToWal(ae: AppendEntry, buf: Buffer): boolean {
    let index: number;
    try {
      index = this.wal.append(buf);
    } catch (err) {
      this.setWriteErr(err as Error);
      return false;
    }
    if (index !== ae.pindex + 1) {
      this.log.warn(`RAFT [${this.id} - ${this.group}] Wrong index, ae pindex ${ae.pindex}, index stored was ${index}`);
      this.wal.truncate(this.pindex);
      return false;
    }
    this.pterm = ae.term;
    this.pindex = index;
    return true;
  }

  protected lostQuorumRaw(): boolean {
    const now = Date.now();
    let nc = 1;
    if (nc >= this.qn) return false;
    for (const [id, ps] of this.peers) {
      if (id === this.id) continue;
      if (now - ps.ts < this.timing.lostQuorumInterval && ++nc >= this.qn) return false;
    }
    return true;
  }

  /** The term of our entry at index (from the WAL, or the snapshot's), or -1 if unknown. */
  protected termAt(index: number): number {
    if (index === this.pindex) return this.pterm;
    if (index === 0) return 0;
    const ae = this.loadEntry(index);
    if (ae) return ae.term;
    // The entry just before our first one (e.g. a snapshot's last): its term is our first entry's pterm.
    const next = this.loadEntry(index + 1);
    if (next && next.pindex === index) return next.pterm;
    return -1;
  }

  protected truncateWal(index: number, term: number): void {
    this.wal.truncate(index);
    for (const i of [...this.pae.keys()]) if (i > index) this.pae.delete(i);
    this.pindex = index;
    this.pterm = term < 0 ? this.pterm : term;
    if (this.durable > index) this.durable = index;
    if (this.snapfile) {
      const found = loadLastSnapshot(this.dir, this.hh);
      if (found && found.snap.lastIndex > index) {
        removeSnapshots(this.dir);
        this.snapfile = '';
      }
    }
  }

  protected doInstallSnapshot(snap: Snapshot, compact = true): void {
    // Written for memory groups too (a leader catches followers up from it), as raft.go does.
    this.snapfile = writeSnapshotFile(this.dir, this.hh, snap, this.fsync);
    if (compact) this.wal.compact(snap.lastIndex + 1);
  }

  // ---- commit and apply ----

  /** raft.go applyCommit: false if the entry could not be loaded (commit stays where it was). */
  protected applyCommit(index: number): boolean {
    if (this.state === Closed) return false;
    if (index <= this.commit) return true;
    let ae = this.pae.get(index) ?? null;
    const fromPae = ae !== null;
    if (!ae) {
      if (index < this.wal.state().first) {
        this.commit = index;
        return true;
      }
      ae = this.loadEntry(index);
      if (!ae) return false;
    }
    this.commit = index;
    const committed: Entry[] = [];
    for (const e of ae.entries) {
      switch (e.type) {
        case EntryNormal:
        case EntrySnapshot:
          committed.push(e);
          break;
        case EntryOldSnapshot:
          committed.push({ type: EntrySnapshot, data: e.data });
          break;
        case EntryPeerState:
          if (this.state !== Leader) {
            try {
              this.processPeerState(decodePeerState(e.data));
            } catch {
              // ignore a corrupt peer state, as raft.go does
            }
          }
          break;
        case EntryAddPeer: {
          const p = e.data.toString('latin1');
          this.removed.delete(p);
          const ps = this.peers.get(p);
          if (ps) ps.kp = true;
          else this.peers.set(p, { ts: Date.now(), li: 0, kp: true });
          this.adjustClusterSizeAndQuorum();
          this.writePeerState(this.currentPeerState());
          committed.push(e);
          break;
        }
        case EntryRemovePeer: {
          const p = e.data.toString('latin1');
          this.removed.add(p);
          if (this.peers.delete(p)) {
            this.adjustClusterSizeAndQuorum();
            this.writePeerState(this.currentPeerState());
          }
          if (p === this.id && this.state === Leader) queueMicrotask(() => this.state === Leader && this.stepDown());
          committed.push(e);
          break;
        }
        default:
          break;
      }
    }
    if (fromPae) this.pae.delete(index);
    if (committed.length > 0) this.pushApply({ index, entries: committed });
    else if (index > this.applied) this.applied = index;
    return true;
  }

  protected pushApply(ce: CommittedEntry | null): void {
    this.applyQ.push(ce);
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(() => {
      this.applyScheduled = false;
      const q = this.applyQ;
      this.applyQ = [];
      for (const c of q) {
        if (this.state === Closed) return;
        this.cfg.onApply(c);
      }
    });
  }

  /** raft.go adjustClusterSizeAndQuorum: the cluster size follows the known peers. */
  protected adjustClusterSizeAndQuorum(): void {
    const pcsz = this.csz;
    let n = 0;
    for (const ps of this.peers.values()) if (ps.kp) n++;
    this.csz = n;
    this.qn = quorumOf(n);
    if (n < pcsz && this.state === Leader) this.scheduleHeartbeat();
  }

  /** raft.go processPeerState: the leader's view of the peer set replaces ours. */
  protected processPeerState(ps: PeerState): void {
    // A peer state built before a removal committed still lists the removed peer: leave it out (with
    // raft.go's wholesale replace, a removal racing a new leader's first entry would be undone).
    const known = ps.knownPeers.filter((p) => !this.removed.has(p));
    if (known.length < ps.knownPeers.length) ps = { ...ps, knownPeers: known, clusterSize: Math.max(known.length, ps.clusterSize - (ps.knownPeers.length - known.length)) };
    this.csz = ps.clusterSize;
    this.qn = quorumOf(this.csz);
    const old = new Map(this.peers);
    this.peers.clear();
    for (const p of ps.knownPeers) {
      const lp = old.get(p);
      if (lp) {
        lp.kp = true;
        this.peers.set(p, lp);
      } else this.peers.set(p, { ts: 0, li: 0, kp: true });
    }
    if (!this.peers.has(this.id)) {
      const self = old.get(this.id);
      if (self) {
        self.kp = false;
        this.peers.set(this.id, self);
      }
    }
    this.writePeerState(ps);
  }

  protected loadEntry(index: number): AppendEntry | null {
    const raw = this.wal.load(index);
    if (!raw) return null;
    try {
      return decodeAppendEntry(raw);
    } catch {
      return null;
    }
  }

  // ---- start-up ----

  protected setupLastSnapshot(): void {
    const found = loadLastSnapshot(this.dir, this.hh);
    if (!found) return;
    this.snapfile = found.path;
    const snap = found.snap;
    this.pindex = this.commit = this.applied = this.durable = snap.lastIndex;
    this.pterm = snap.lastTerm;
    this.pushApply({ index: this.commit, entries: [{ type: EntrySnapshot, data: Buffer.from(snap.data) }] });
    this.wal.compact(snap.lastIndex + 1);
  }

  /**
   * raft.go's start-up replay: walk the WAL to restore pterm/pindex, truncating at the first entry that
   * does not follow its predecessor; then apply what the stored entries say was committed.
   */
  protected replayWal(): void {
    const st = this.wal.state();
    if (st.msgs === 0) return;
    let maxCommit = 0;
    for (let index = st.first; index <= st.last; index++) {
      const ae = this.loadEntry(index);
      if (!ae || ae.pindex !== index - 1 || (index === st.first && this.pindex > 0 && ae.pindex !== this.pindex)) {
        this.log.warn(`RAFT [${this.id} - ${this.group}] Corrupt WAL at ${index}, will truncate`);
        this.wal.truncate(index - 1);
        break;
      }
      if (index === st.first && this.pindex === 0) {
        this.pterm = ae.pterm;
        this.pindex = ae.pindex;
      }
      this.pterm = ae.term;
      this.pindex = index;
      this.pae.set(index, ae);
      if (ae.commit > maxCommit) maxCommit = ae.commit;
      for (const e of ae.entries) {
        if (e.type === EntryAddPeer && e.data.length === ID_LEN) {
          const p = e.data.toString('latin1');
          if (!this.peers.has(p)) this.peers.set(p, { ts: 0, li: 0, kp: false });
        }
      }
    }
    this.durable = this.pindex;
    // Each stored entry carries the leader's commit index when it was sent: entries up to the highest
    // of them are committed and can be applied now, before any leader is heard from.
    const upTo = Math.min(maxCommit, this.pindex);
    for (let i = this.commit + 1; i <= upTo; i++) if (!this.applyCommit(i)) break;
    // What is not applied yet stays in pae only if it may still be applied later.
    for (const i of [...this.pae.keys()]) if (i <= this.commit) this.pae.delete(i);
  }

  // Role transitions live in node.ts.
  protected abstract switchToFollower(leader: string): void;
  protected abstract onElectionTimeout(): void;
  protected abstract scheduleHeartbeat(): void;
  abstract stepDown(preferred?: string): void;
}
