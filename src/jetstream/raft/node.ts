// One member of a RAFT group, as nats-server's raft.go (NRG) behaves on the wire: the same subjects,
// encodings, timers, catch-up protocol, peer-state and leader-transfer entries, so tsnats and nats-server
// nodes can share a group. It is written as a single-threaded event machine (no goroutines or channels):
// every input (a message from the transport, a timer, a proposal) is handled to completion.
//
// Where we depart from raft.go, it is towards textbook RAFT and never visible on the wire:
//   - durability: a vote is sent only after tav.idx is fsynced; a follower acknowledges entries, and the
//     leader counts itself, only after the WAL fsync that covers them (wal.ts, group commit);
//   - commit: the leader counts, per index of its current term, the peers whose acknowledged index
//     reaches it (an acknowledgement of index i means the log matches up to i), instead of per-index
//     ack sets; entries of earlier terms commit with the first entry of the new term (RAFT §5.4.2);
//   - vote: granted on the usual "at least as up to date" test (2.10's form, not 2.9's);
//   - a term never goes down (2.9/2.10 reset it to the last log term on a log mismatch);
//   - a follower whose log conflicts with the leader's truncates its uncommitted tail and asks to be
//     caught up from there, rather than retrying one entry per round trip.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AppendEntry,
  type Entry,
  type PeerState,
  EntryAddPeer,
  EntryLeaderTransfer,
  EntryNormal,
  EntryOldSnapshot,
  EntryPeerState,
  EntryRemovePeer,
  EntrySnapshot,
  decodeAppendEntry,
  decodeAppendEntryResponse,
  decodePeerState,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodeAppendEntryResponse,
  encodePeerState,
  encodeVoteRequest,
  encodeVoteResponse,
} from './codec.js';
import { ID_LEN, appendSubject, newCatchupInbox, newReplyInbox, proposalSubject, removePeerSubject, voteSubject } from './ids.js';
import { CatchupSender } from './catchup.js';
import { loadLastSnapshot, removeSnapshots, snapshotHasher, writeSnapshotFile, type Snapshot } from './snapshot.js';
import { readPeerStateFile, readTermVoteFile, removeStateFiles, writePeerStateFile, writeTermVoteFile } from './state-files.js';
import type { RaftSubscription, RaftTransport } from './transport.js';
import type { Wal } from './wal.js';

/** raft.go RaftState. */
export const Follower = 0;
export const Leader = 1;
export const Candidate = 2;
export const Observer = 3;
export const Closed = 4;
export const STATE_NAMES = ['FOLLOWER', 'LEADER', 'CANDIDATE', 'OBSERVER', 'CLOSED'];

/** raft.go's timing variables (ms); tests shorten them. */
export interface RaftTiming {
  minElectionTimeout: number;
  maxElectionTimeout: number;
  minCampaignTimeout: number;
  maxCampaignTimeout: number;
  hbInterval: number;
  lostQuorumInterval: number;
  lostQuorumCheck: number;
  /** runCatchup activityInterval / catchupStalled. */
  catchupActivity: number;
}

export const DEFAULT_TIMING: RaftTiming = {
  minElectionTimeout: 4000,
  maxElectionTimeout: 9000,
  minCampaignTimeout: 100,
  maxCampaignTimeout: 800,
  hbInterval: 1000,
  lostQuorumInterval: 10_000,
  lostQuorumCheck: 10_000,
  catchupActivity: 2000,
};

/** raft.go CommittedEntry: what the upper layer applies, then reports with applied(index). */
export interface CommittedEntry {
  index: number;
  entries: Entry[];
}

export interface PeerInfo {
  id: string;
  current: boolean;
  /** ms since we last heard from it (0 for ourselves). */
  last: number;
  lag: number;
}

export interface RaftLog {
  debug(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RaftNodeConfig {
  group: string;
  /** The group's directory: peers.idx, tav.idx, snapshots/ (and wal/ for a file WAL). */
  dir: string;
  /** Our peer id (ids.ts peerId(serverName)). */
  id: string;
  wal: Wal;
  transport: RaftTransport;
  observer?: boolean;
  timing?: Partial<RaftTiming>;
  /** fsync tav.idx, peers.idx and snapshots (default true). */
  fsync?: boolean;
  log?: RaftLog;
  /** The apply queue: committed entries in order; null once the start-up replay is done. */
  onApply(ce: CommittedEntry | null): void;
  onLeaderChange?(isLeader: boolean): void;
  /** nats-server's nodeToInfo "offline" check, consulted when choosing a leader to transfer to. */
  isPeerOffline?(id: string): boolean;
}

/** raft.go lps: what we know of a peer. */
interface PeerTrack {
  /** Last time heard from (ms epoch; 0 = never). */
  ts: number;
  /** Last index it acknowledged. */
  li: number;
  /** Known (official) member, as opposed to merely seen. */
  kp: boolean;
}

interface FollowerCatchup {
  sub: RaftSubscription;
  inbox: string;
  cterm: number;
  cindex: number;
  pindex: number;
  active: number;
}

export class RaftError extends Error {}
export const errNotLeader = 'raft: not leader';

const NOOP_LOG: RaftLog = { debug() {}, warn() {}, error() {} };

export class RaftNode {
  readonly group: string;
  readonly id: string;
  readonly dir: string;
  readonly created = Date.now();
  private readonly wal: Wal;
  private readonly transport: RaftTransport;
  private readonly timing: RaftTiming;
  private readonly fsync: boolean;
  private readonly log: RaftLog;
  private readonly cfg: RaftNodeConfig;
  private readonly hh;

  private state = Follower;
  private term = 0;
  private vote = '';
  private leader = '';
  private pleader = false;
  private pterm = 0;
  private pindex = 0;
  private commit = 0;
  private applied = 0;
  private csz = 1;
  private qn = 1;
  private extSt = 0;
  private observer: boolean;
  private readonly peers = new Map<string, PeerTrack>();
  private removed = new Set<string>();
  private werr: Error | null = null;
  private snapfile = '';
  /** Append entries stored but not yet applied, by index (raft.go pae). */
  private readonly pae = new Map<number, AppendEntry>();
  /** Leader: the first index written in this term (only these are committed by counting). */
  private termStart = 0;
  /** Highest index known durable in our own WAL. */
  private durable = 0;
  private active = 0;
  private lxfer = false;
  private paused = false;
  private hcommit = 0;
  private pobserver = false;
  private votes = new Set<string>();

  // Subjects (raft.go createInternalSubs).
  private readonly vsubj: string;
  private readonly vreply: string;
  private readonly asubj: string;
  private readonly areply: string;
  private readonly psubj: string;
  private readonly rpsubj: string;
  private subs: RaftSubscription[] = [];
  private leaderSubs: RaftSubscription[] = [];
  private catchup: FollowerCatchup | null = null;
  private readonly progress = new Map<string, CatchupSender>();

  private electTimer: NodeJS.Timeout | null = null;
  private hbTimer: NodeJS.Timeout | null = null;
  private lqTimer: NodeJS.Timeout | null = null;
  private props: Entry[] = [];
  private propsScheduled = false;
  private hbScheduled = false;
  private applyQ: (CommittedEntry | null)[] = [];
  private applyScheduled = false;

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

  /** raft.go startRaftNode: recover from disk, replay, subscribe, arm the election timer. */
  start(): this {
    const ps = readPeerStateFile(this.dir);
    if (!ps) throw new RaftError('raft: no peerstate');
    this.csz = ps.clusterSize;
    this.qn = quorumOf(this.csz);
    this.extSt = ps.domainExt;
    const tv = readTermVoteFile(this.dir);
    if (tv.term > 0) {
      this.term = tv.term;
      this.vote = tv.vote;
    }
    if (this.wal.kind === 'memory') removeSnapshots(this.dir);
    else this.setupLastSnapshot();
    this.replayWal();
    this.pushApply(null);

    this.peers.set(this.id, { ts: Date.now(), li: 0, kp: true });
    for (const p of ps.knownPeers) if (p !== this.id) this.peers.set(p, { ts: 0, li: 0, kp: true });

    this.subs.push(this.transport.subscribe(this.vreply, (_s, _r, m) => this.handleVoteResponse(m)));
    this.subs.push(this.transport.subscribe(this.vsubj, (_s, r, m) => this.handleVoteRequest(m, r)));
    this.subs.push(this.transport.subscribe(this.areply, (_s, r, m) => this.handleAppendEntryResponse(m, r)));
    this.subs.push(this.transport.subscribe(this.asubj, (_s, r, m) => this.handleAppendEntry(m, r, true, null)));
    this.resetElectionTimeout();
    this.log.debug(`RAFT [${this.id} - ${this.group}] Started`);
    return this;
  }

  // ---- public API (raft.go RaftNode) ----

  /** Propose an entry (leader only; batched into one append entry per turn, as raft.go's prop queue). */
  propose(data: Buffer): void {
    this.proposeEntry({ type: EntryNormal, data });
  }

  /** raft.go ProposeDirect: entries sent at once in one append entry. */
  proposeDirect(entries: Entry[]): void {
    this.checkLeader();
    this.sendAppendEntry(entries);
  }

  /** raft.go ForwardProposal: propose here when leader, else publish to $NRG.P.<group>. */
  forwardProposal(data: Buffer): void {
    if (this.state === Leader) this.propose(data);
    else this.transport.send(this.psubj, '', data);
  }

  proposeAddPeer(peer: string): void {
    this.proposeEntry({ type: EntryAddPeer, data: Buffer.from(peer, 'latin1') });
  }

  /** raft.go ProposeRemovePeer: as leader assume it gone at once; otherwise forward to $NRG.RP.<group>. */
  proposeRemovePeer(peer: string): void {
    if (this.werr) throw this.werr;
    if (this.state === Leader) {
      this.proposeEntry({ type: EntryRemovePeer, data: Buffer.from(peer, 'latin1') });
      return;
    }
    this.transport.send(this.rpsubj, '', Buffer.from(peer, 'latin1'));
  }

  /** raft.go StepDown: transfer leadership to `preferred` or the best live peer, then step down. */
  stepDown(preferred = ''): void {
    this.checkLeader();
    const now = Date.now();
    let target = '';
    let best = -1;
    for (const [id, ps] of this.peers) {
      if (id === this.id || now - ps.ts >= this.timing.hbInterval * 3) continue;
      if (preferred && id !== preferred) continue;
      if (this.cfg.isPeerOffline?.(id)) continue;
      if (ps.li > best) {
        best = ps.li;
        target = id;
      }
    }
    if (preferred && !target) this.log.debug(`RAFT [${this.id} - ${this.group}] Can not transfer to preferred peer ${preferred}`);
    if (target) this.sendAppendEntry([{ type: EntryLeaderTransfer, data: Buffer.from(target, 'latin1') }]);
    this.switchToFollower('');
  }

  /** raft.go Campaign: start an election soon (within the campaign timeout). */
  campaign(): void {
    if (this.state === Leader) throw new RaftError('raft: already leader');
    this.resetElect(randBetween(this.timing.minCampaignTimeout, this.timing.maxCampaignTimeout));
  }

  /** The upper layer applied everything up to `index`: returns entries/bytes a snapshot would free. */
  appliedTo(index: number): { entries: number; bytes: number } {
    if (index > this.applied) this.applied = index;
    const st = this.wal.state();
    const entries = this.applied > st.first ? this.applied - st.first : 0;
    const bytes = st.msgs > 0 ? Math.floor((entries * st.bytes) / st.msgs) : 0;
    return { entries, bytes };
  }

  /** raft.go InstallSnapshot: persist the upper layer's state at `applied` and compact the log. */
  installSnapshot(data: Buffer): void {
    if (this.state === Closed) throw new RaftError('raft: node is closed');
    if (this.werr) throw this.werr;
    if (this.progress.size > 0) throw new RaftError('raft: snapshot can not be installed while catchups running');
    if (this.applied === 0) throw new RaftError('raft: no snapshot available');
    let term = this.pterm;
    const ae = this.loadEntry(this.applied) ?? this.loadEntry(this.wal.state().first);
    if (ae) term = ae.term;
    this.doInstallSnapshot({ lastTerm: term, lastIndex: this.applied, peerState: encodePeerState(this.currentPeerState()), data });
  }

  /** raft.go SendSnapshot: replicate a snapshot as a normal entry (stream restore, scale-up). */
  sendSnapshot(data: Buffer): void {
    this.checkLeader();
    this.sendAppendEntry([{ type: EntrySnapshot, data }]);
  }

  needSnapshot(): boolean {
    return this.snapfile === '' && this.applied > 1;
  }

  /** raft.go Compact: drop log entries below index (the state is safe elsewhere). */
  compact(index: number): void {
    this.wal.compact(index);
  }

  pauseApply(): void {
    if (this.state === Leader) throw new RaftError('raft: already leader');
    if (this.state === Candidate) this.switchToFollower('');
    this.paused = true;
    this.hcommit = this.commit;
    this.pobserver = this.observer;
    this.observer = true;
    this.resetElect(48 * 3600_000);
  }

  resumeApply(): void {
    if (!this.paused) return;
    this.observer = this.pobserver;
    this.pobserver = false;
    this.paused = false;
    for (let i = this.commit + 1; i <= this.hcommit; i++) if (!this.applyCommit(i)) break;
    this.hcommit = 0;
    this.resetElectionTimeout();
  }

  setObserver(observer: boolean, extSt = this.extSt): void {
    this.observer = observer;
    this.extSt = extSt;
    if (!observer && this.state === Follower) this.resetElectionTimeout();
  }

  /** raft.go UpdateKnownPeers: adopt a peer set as the leader would announce it (not a scale up). */
  updateKnownPeers(knownPeers: string[]): void {
    if (knownPeers.length > this.peers.size) return;
    this.processPeerState({ knownPeers, clusterSize: knownPeers.length, domainExt: this.extSt });
    if (this.state === Leader) this.sendPeerState();
  }

  /** raft.go AdjustClusterSize (leader) / AdjustBootClusterSize (never had a leader). */
  adjustClusterSize(csz: number): void {
    this.checkLeader();
    this.setClusterSize(csz);
    this.sendPeerState();
  }

  adjustBootClusterSize(csz: number): void {
    if (this.leader !== '' || this.pleader) throw new RaftError('raft: can not adjust boot peer size on established group');
    this.setClusterSize(csz);
  }

  isLeader(): boolean {
    return this.state === Leader;
  }

  getState(): number {
    return this.state;
  }

  getTerm(): number {
    return this.term;
  }

  groupLeader(): string {
    return this.leader;
  }

  hadPreviousLeader(): boolean {
    return this.pleader;
  }

  clusterSize(): number {
    return this.csz;
  }

  isObserver(): boolean {
    return this.observer;
  }

  /** raft.go Progress: next index, commit, applied. */
  progressInfo(): { index: number; commit: number; applied: number } {
    return { index: this.pindex + 1, commit: this.commit, applied: this.applied };
  }

  size(): { entries: number; bytes: number } {
    const st = this.wal.state();
    return { entries: st.msgs, bytes: st.bytes };
  }

  /** raft.go Quorum: have we heard from a quorum within lostQuorumInterval? */
  quorum(): boolean {
    return !this.lostQuorumRaw();
  }

  /** raft.go isCurrent: applied everything committed, and (follower) heard from the leader lately. */
  current(): boolean {
    if (this.commit === 0 || this.commit !== this.applied) return false;
    if (this.state === Leader) return true;
    const cs = this.catchup;
    if (cs && this.pterm >= cs.cterm && this.pindex >= cs.cindex) this.cancelCatchup();
    if (this.leader !== '' && this.leader !== this.id && !this.catchup) {
      const ps = this.peers.get(this.leader);
      if (ps && ps.ts > 0 && Date.now() - ps.ts <= this.timing.hbInterval * 2) return true;
    }
    return false;
  }

  isCatchingUp(): boolean {
    return this.catchup !== null;
  }

  /** raft.go Peers. */
  peerInfo(): PeerInfo[] {
    const now = Date.now();
    const out: PeerInfo[] = [];
    for (const [id, ps] of this.peers) {
      out.push({
        id,
        current: id === this.leader || ps.li >= this.applied,
        last: id === this.id ? 0 : ps.ts > 0 ? now - ps.ts : -1,
        lag: this.commit > ps.li ? this.commit - ps.li : 0,
      });
    }
    return out;
  }

  /** Known (official) peer ids. */
  peerNames(): string[] {
    const out: string[] = [];
    for (const [id, ps] of this.peers) if (ps.kp) out.push(id);
    return out;
  }

  writeError(): Error | null {
    return this.werr;
  }

  stop(): void {
    this.shutdown(false);
  }

  /** Stops and deletes the group's state (peer state, term/vote, snapshots, WAL). */
  delete(): void {
    this.shutdown(true);
  }

  // ---- internals ----

  private checkLeader(): void {
    if (this.state !== Leader) throw new RaftError(errNotLeader);
    if (this.werr) throw this.werr;
  }

  private proposeEntry(e: Entry): void {
    this.checkLeader();
    this.props.push(e);
    if (!this.propsScheduled) {
      this.propsScheduled = true;
      queueMicrotask(() => this.flushProposals());
    }
  }

  /** raft.go runAsLeader's prop case: batches of up to 256 KiB / 64k entries per append entry. */
  private flushProposals(): void {
    this.propsScheduled = false;
    const props = this.props;
    this.props = [];
    if (this.state !== Leader || props.length === 0) return;
    const maxBatch = 256 * 1024;
    let batch: Entry[] = [];
    let sz = 0;
    for (const e of props) {
      // raft.go runAsLeader: a removal is assumed done as soon as the leader sends it.
      if (e.type === EntryRemovePeer) this.doRemovePeerAsLeader(e.data.toString('latin1'));
      batch.push(e);
      sz += e.data.length + 1;
      if (sz >= maxBatch || batch.length >= 0xffff) {
        this.sendAppendEntry(batch);
        batch = [];
        sz = 0;
      }
    }
    if (batch.length > 0) this.sendAppendEntry(batch);
  }

  private shutdown(del: boolean): void {
    if (this.state === Closed) return;
    const wasLeader = this.state === Leader;
    this.state = Closed;
    this.clearTimers();
    for (const s of this.subs) s.unsubscribe();
    for (const s of this.leaderSubs) s.unsubscribe();
    this.subs = [];
    this.leaderSubs = [];
    if (this.catchup) this.catchup.sub.unsubscribe();
    this.catchup = null;
    for (const c of [...this.progress.values()]) c.finish();
    this.progress.clear();
    if (wasLeader) this.cfg.onLeaderChange?.(false);
    if (del) {
      this.wal.destroy();
      removeStateFiles(this.dir);
      removeSnapshots(this.dir);
      rmSync(this.dir, { recursive: true, force: true });
    } else this.wal.stop();
  }

  private clearTimers(): void {
    if (this.electTimer) clearTimeout(this.electTimer);
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.lqTimer) clearInterval(this.lqTimer);
    this.electTimer = this.hbTimer = this.lqTimer = null;
  }

  private resetElectionTimeout(): void {
    this.resetElect(randBetween(this.timing.minElectionTimeout, this.timing.maxElectionTimeout));
  }

  private resetElect(ms: number): void {
    if (this.state === Closed) return;
    if (this.electTimer) clearTimeout(this.electTimer);
    this.electTimer = setTimeout(() => this.onElectionTimeout(), ms);
  }

  /** raft.go runAsFollower / runAsCandidate: the election timer fired. */
  private onElectionTimeout(): void {
    this.electTimer = null;
    if (this.state === Closed || this.state === Leader) return;
    if (this.observer) {
      this.resetElect(48 * 3600_000);
      return;
    }
    if (this.catchup) {
      // Not switching to candidate while catching up; the next append entry re-arms the timer.
      return;
    }
    this.switchToCandidate();
  }

  private switchToCandidate(): void {
    if (this.state === Closed || this.observer || this.paused) return;
    this.term++;
    this.updateLeader('');
    this.state = Candidate;
    this.resetElectionTimeout();
    // raft.go requestVote: we vote for ourselves, durably, before asking.
    this.vote = this.id;
    if (!this.writeTermVote()) return;
    this.votes = new Set([this.id]);
    this.log.debug(`RAFT [${this.id} - ${this.group}] Sending out voteRequest term ${this.term}`);
    this.transport.send(
      this.vsubj,
      this.vreply,
      encodeVoteRequest({ term: this.term, lastTerm: this.pterm, lastIndex: this.pindex, candidate: this.id }),
    );
    if (this.votes.size >= this.qn) this.switchToLeader();
  }

  private switchToFollower(leader: string): void {
    if (this.state === Closed) return;
    this.lxfer = false;
    this.updateLeader(leader);
    this.switchState(Follower);
  }

  private switchToLeader(): void {
    if (this.state === Closed) return;
    this.log.debug(`RAFT [${this.id} - ${this.group}] Switching to leader`);
    this.lxfer = false;
    this.updateLeader(this.id);
    this.switchState(Leader);
  }

  /** raft.go switchState plus the leader's set-up and tear-down of runAsLeader. */
  private switchState(state: number): void {
    if (this.state === Closed) return;
    const was = this.state;
    this.resetElectionTimeout();
    if (was === Leader && state !== Leader) {
      if (this.hbTimer) clearInterval(this.hbTimer);
      if (this.lqTimer) clearInterval(this.lqTimer);
      this.hbTimer = this.lqTimer = null;
      for (const s of this.leaderSubs) s.unsubscribe();
      this.leaderSubs = [];
      for (const c of [...this.progress.values()]) c.finish();
      this.props = [];
    }
    this.state = state;
    this.writeTermVote();
    if (was === Leader && state !== Leader) this.cfg.onLeaderChange?.(false);
    if (state === Leader && was !== Leader) {
      if (this.electTimer) clearTimeout(this.electTimer);
      this.electTimer = null;
      this.pae.clear();
      this.termStart = this.pindex + 1;
      for (const [id, ps] of this.peers) if (id !== this.id) ps.li = 0;
      this.leaderSubs.push(this.transport.subscribe(this.psubj, (_s, _r, m) => this.handleForwardedProposal(m)));
      this.leaderSubs.push(this.transport.subscribe(this.rpsubj, (_s, _r, m) => this.handleForwardedRemovePeer(m)));
      this.hbTimer = setInterval(() => {
        if (Date.now() - this.active > this.timing.hbInterval) this.sendHeartbeat();
      }, this.timing.hbInterval);
      this.lqTimer = setInterval(() => {
        if (this.state === Leader && this.lostQuorum()) {
          this.log.warn(`RAFT [${this.id} - ${this.group}] Lost quorum, stepping down`);
          this.switchToFollower('');
        }
      }, this.timing.lostQuorumCheck);
      this.cfg.onLeaderChange?.(true);
      // raft.go runAsLeader: announce the peer set; its commit also commits earlier terms' entries.
      if (this.state === Leader) this.sendPeerState();
    }
  }

  private updateLeader(leader: string): void {
    this.leader = leader;
    if (leader !== '') this.pleader = true;
  }

  /** Persists term and vote; false (and the node stops acting) on a write error. */
  private writeTermVote(): boolean {
    try {
      writeTermVoteFile(this.dir, this.term, this.vote, this.fsync);
      return true;
    } catch (err) {
      this.setWriteErr(err as Error);
      return false;
    }
  }

  private writePeerState(ps: PeerState): void {
    try {
      writePeerStateFile(this.dir, ps, this.fsync);
    } catch (err) {
      this.setWriteErr(err as Error);
    }
  }

  private setWriteErr(err: Error): void {
    if (this.werr) return;
    this.werr = err;
    this.log.error(`RAFT [${this.id} - ${this.group}] Critical write error: ${err.message}`);
    if (this.state === Leader) this.switchToFollower('');
  }

  private currentPeerState(): PeerState {
    return { knownPeers: this.peerNames(), clusterSize: this.csz, domainExt: this.extSt };
  }

  private setClusterSize(csz: number): void {
    if (csz < 2) csz = 2;
    this.csz = csz;
    this.qn = quorumOf(csz);
  }

  // ---- votes ----

  private handleVoteRequest(msg: Buffer, reply: string): void {
    if (this.state === Closed) return;
    const vr = decodeVoteRequest(msg);
    if (!vr) {
      this.log.error(`RAFT [${this.id} - ${this.group}] Received malformed vote request`);
      return;
    }
    this.trackPeer(vr.candidate);
    const resp = { term: this.term, peer: this.id, granted: false };
    if (vr.term < this.term) {
      this.transport.send(reply, '', encodeVoteResponse(resp));
      return;
    }
    if (vr.term > this.term) {
      if (this.state !== Follower) this.switchToFollower('');
      this.term = vr.term;
      this.vote = '';
    }
    const voteOk = this.vote === '' || this.vote === vr.candidate;
    const upToDate = vr.lastTerm > this.pterm || (vr.lastTerm === this.pterm && vr.lastIndex >= this.pindex);
    if (voteOk && upToDate && !this.werr) {
      resp.granted = true;
      this.vote = vr.candidate;
      this.resetElectionTimeout();
    } else if (vr.term >= this.term && this.vote === '' && !this.observer && this.state !== Leader) {
      // raft.go 2.10: a candidate we refuse has a stale log; we may be the better one, so campaign soon.
      this.resetElect(randBetween(this.timing.minCampaignTimeout, this.timing.maxCampaignTimeout));
    }
    resp.term = this.term;
    // The vote goes out only once term and vote are on disk.
    if (!this.writeTermVote()) return;
    this.transport.send(reply, '', encodeVoteResponse(resp));
  }

  private handleVoteResponse(msg: Buffer): void {
    const vr = decodeVoteResponse(msg);
    if (!vr) {
      this.log.error(`RAFT [${this.id} - ${this.group}] Received malformed vote response`);
      return;
    }
    if (this.state === Leader) {
      if (vr.term > this.term) {
        this.term = vr.term;
        this.vote = '';
        this.switchToFollower('');
      } else this.trackPeer(vr.peer);
      return;
    }
    if (this.state !== Candidate) return;
    if (vr.granted && this.term >= vr.term) {
      this.trackPeer(vr.peer);
      this.votes.add(vr.peer);
      if (this.votes.size >= this.qn) this.switchToLeader();
    } else if (vr.term > this.term) {
      this.term = vr.term;
      this.vote = '';
      this.lxfer = false;
      this.switchToFollower('');
    }
  }

  // ---- append entries: leader side ----

  private sendHeartbeat(): void {
    this.sendAppendEntry([]);
  }

  private scheduleHeartbeat(): void {
    if (this.hbScheduled) return;
    this.hbScheduled = true;
    queueMicrotask(() => {
      this.hbScheduled = false;
      if (this.state === Leader && this.props.length === 0) this.sendHeartbeat();
    });
  }

  private sendPeerState(): void {
    this.sendAppendEntry([{ type: EntryPeerState, data: encodePeerState(this.currentPeerState()) }]);
  }

  /** raft.go sendAppendEntry: encode, store (entries only), send to the group. */
  private sendAppendEntry(entries: Entry[]): void {
    if (this.state !== Leader || this.werr) return;
    const ae: AppendEntry = { leader: this.id, term: this.term, commit: this.commit, pterm: this.pterm, pindex: this.pindex, entries, lterm: 0 };
    const buf = encodeAppendEntry(ae);
    if (entries.length > 0) {
      if (!this.storeToWal(ae, buf)) return;
      this.active = Date.now();
      this.pae.set(this.pindex, ae);
      const index = this.pindex;
      this.wal.sync(() => {
        if (index > this.durable) this.durable = index;
        if (this.state === Leader) this.advanceCommit();
      });
    }
    this.transport.send(this.asubj, this.areply, buf);
  }

  private storeToWal(ae: AppendEntry, buf: Buffer): boolean {
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

  private handleAppendEntryResponse(msg: Buffer, reply: string): void {
    if (this.state === Closed) return;
    const ar = decodeAppendEntryResponse(msg);
    if (!ar) return;
    if (this.state !== Leader) return;
    this.trackPeer(ar.peer);
    if (ar.success) {
      const ps = this.peers.get(ar.peer);
      if (ps && ar.index > ps.li) ps.li = ar.index;
      this.progress.get(ar.peer)?.update(ar.index);
      if (ar.index > this.commit) this.advanceCommit();
    } else if (ar.term > this.term) {
      this.term = ar.term;
      this.vote = '';
      this.log.warn(`RAFT [${this.id} - ${this.group}] Detected another leader with higher term, will stepdown`);
      this.switchToFollower('');
    } else if (reply !== '') {
      this.catchupFollower(ar.peer, ar.term, ar.index, reply);
    }
  }

  /**
   * Commit the highest index of this term held by a quorum (ourselves once durable, and each peer up
   * to the index it acknowledged), and everything before it.
   */
  private advanceCommit(): void {
    const held = [Math.min(this.durable, this.pindex)];
    for (const [id, ps] of this.peers) if (id !== this.id && !this.removed.has(id)) held.push(Math.min(ps.li, this.pindex));
    if (held.length < this.qn) return;
    held.sort((a, b) => b - a);
    const target = held[this.qn - 1]!;
    if (target <= this.commit || target < this.termStart) return;
    for (let i = this.commit + 1; i <= target; i++) {
      if (!this.applyCommit(i)) {
        this.log.error(`RAFT [${this.id} - ${this.group}] Got an error applying commit for ${i}`);
        break;
      }
    }
    // Followers learn the new commit from the next append entry; send one now if nothing is queued.
    this.scheduleHeartbeat();
  }

  private handleForwardedProposal(msg: Buffer): void {
    if (this.state !== Leader || this.werr) return;
    this.propose(Buffer.from(msg));
  }

  private handleForwardedRemovePeer(msg: Buffer): void {
    if (this.state !== Leader || this.werr) return;
    if (msg.length !== ID_LEN) {
      this.log.warn(`RAFT [${this.id} - ${this.group}] Received invalid peer name for remove proposal`);
      return;
    }
    this.proposeEntry({ type: EntryRemovePeer, data: Buffer.from(msg) });
  }

  private doRemovePeerAsLeader(peer: string): void {
    this.removed.add(peer);
    if (this.peers.delete(peer)) this.adjustClusterSizeAndQuorum();
  }

  /** raft.go trackPeer: note activity; a leader proposes adding a responding peer it does not know. */
  private trackPeer(peer: string): void {
    const isRemoved = this.removed.has(peer);
    const ps = this.peers.get(peer);
    const needAdd = this.state === Leader && (!ps || !ps.kp) && !isRemoved;
    if (ps) ps.ts = Date.now();
    else if (!isRemoved) this.peers.set(peer, { ts: Date.now(), li: 0, kp: false });
    if (needAdd && !this.progress.has(peer)) this.proposeAddPeer(peer);
  }

  private lostQuorumRaw(): boolean {
    const now = Date.now();
    let nc = 1;
    if (nc >= this.qn) return false;
    for (const [id, ps] of this.peers) {
      if (id === this.id) continue;
      if (now - ps.ts < this.timing.lostQuorumInterval && ++nc >= this.qn) return false;
    }
    return true;
  }

  private lostQuorum(): boolean {
    return this.lostQuorumRaw();
  }

  /** raft.go catchupFollower: start (or restart) replaying our log to a follower's catch-up inbox. */
  private catchupFollower(peer: string, fterm: number, findex: number, subject: string): void {
    this.progress.get(peer)?.finish();
    let start = findex + 1;
    const st = this.wal.state();
    if (start < st.first || (st.msgs === 0 && start <= st.last)) {
      const lastIndex = this.sendSnapshotToFollower(subject);
      if (lastIndex < 0) return;
      start = lastIndex + 1;
      if (st.msgs === 0 || start > st.last) return;
    }
    let ae = this.loadEntry(start);
    if (!ae) {
      if (start > st.last) {
        // A follower ahead of us: we are not a proper leader for it.
        this.log.warn(`RAFT [${this.id} - ${this.group}] Catchup request for ${start} beyond our last index ${st.last}`);
        this.switchToFollower('');
        return;
      }
      ae = this.loadEntry(st.first);
      if (!ae) return;
    }
    if (ae.pindex !== findex || ae.pterm !== fterm) {
      this.log.debug(`RAFT [${this.id} - ${this.group}] Our first entry [${ae.pterm}:${ae.pindex}] does not match request from follower [${fterm}:${findex}]`);
    }
    const host = {
      loadRaw: (i: number) => this.wal.load(i),
      send: (s: string, p: Buffer) => this.transport.send(s, this.areply, p),
      isLeader: () => this.state === Leader,
      done: (p: string) => {
        if (this.progress.get(p) === sender) this.progress.delete(p);
        if (this.state === Leader && !this.peers.has(p) && !this.removed.has(p)) this.proposeAddPeer(p);
      },
    };
    const sender = new CatchupSender(host, peer, subject, this.pindex, this.timing.catchupActivity);
    this.progress.set(peer, sender);
    sender.update(ae.pindex);
  }

  /** Returns the snapshot's last index, or -1 (then we step down, as raft.go does). */
  private sendSnapshotToFollower(subject: string): number {
    const found = loadLastSnapshot(this.dir, this.hh);
    if (!found) {
      this.log.warn(`RAFT [${this.id} - ${this.group}] No snapshot available to catch up a follower`);
      this.switchToFollower('');
      return -1;
    }
    const snap = found.snap;
    const st = this.wal.state();
    let lastIndex = snap.lastIndex;
    if (lastIndex < st.first - 1 && st.first !== 0) lastIndex = st.first - 1;
    const ae: AppendEntry = {
      leader: this.id,
      term: this.term,
      commit: this.commit,
      pterm: snap.lastTerm,
      pindex: lastIndex,
      entries: [
        { type: EntrySnapshot, data: snap.data },
        { type: EntryPeerState, data: snap.peerState },
      ],
      lterm: 0,
    };
    this.transport.send(subject, this.areply, encodeAppendEntry(ae));
    return lastIndex;
  }

  // ---- append entries: follower side ----

  private handleAppendEntry(msg: Buffer, reply: string, isNew: boolean, via: FollowerCatchup | null): void {
    if (this.state === Closed) return;
    // The transport's buffer is ours only for this call: keep a copy (raft.go copyBytes).
    const buf = Buffer.from(msg);
    let ae: AppendEntry;
    try {
      ae = decodeAppendEntry(buf);
    } catch {
      this.log.warn(`RAFT [${this.id} - ${this.group}] AppendEntry failed: corrupt entry`);
      return;
    }
    this.processAppendEntry(ae, buf, reply, isNew, via);
  }

  private respond(reply: string, term: number, index: number, success: boolean, inbox = ''): void {
    if (reply === '') return;
    this.transport.send(reply, inbox, encodeAppendEntryResponse({ term, index, peer: this.id, success }));
  }

  private processAppendEntry(ae: AppendEntry, raw: Buffer, reply: string, isNew: boolean, via: FollowerCatchup | null): void {
    if (!this.lxfer) this.resetElectionTimeout();
    if (this.werr) return;

    if (this.state === Leader) {
      if (ae.term >= this.term && isNew) {
        if (ae.term > this.term) {
          this.term = ae.term;
          this.vote = '';
        }
        this.log.debug(`RAFT [${this.id} - ${this.group}] Received append entry from another leader, stepping down to ${ae.leader}`);
        this.switchToFollower(ae.leader);
      } else if (isNew) {
        this.respond(reply, this.term, this.pindex, false);
      }
      return;
    }
    if (this.state === Candidate && isNew && ae.term >= this.term) {
      if (ae.term > this.term) this.vote = '';
      this.term = ae.term;
      this.switchToFollower(ae.leader);
    }

    if (isNew && ae.leader !== '') {
      const ps = this.peers.get(ae.leader);
      if (ps) ps.ts = Date.now();
      else this.peers.set(ae.leader, { ts: Date.now(), li: 0, kp: true });
    }
    if (isNew && ae.term < this.term) {
      this.respond(reply, this.term, this.pindex, false);
      return;
    }
    // Entries from an abandoned catch-up are ignored.
    if (!isNew && via !== this.catchup) return;

    if (this.catchup) {
      const cs = this.catchup;
      if (this.pterm >= cs.cterm && this.pindex >= cs.cindex) {
        this.cancelCatchup();
      } else if (isNew) {
        // New entries wait while we catch up; re-ask if the catch-up stalled.
        if (this.catchupStalled()) {
          this.log.debug(`RAFT [${this.id} - ${this.group}] Catchup may be stalled, will request again`);
          const inbox = this.createCatchup(ae);
          this.respond(reply, this.pterm, this.pindex, false, inbox);
        }
        return;
      }
    }
    const catchingUp = this.catchup !== null;

    if (isNew && ae.term > this.term) {
      this.term = ae.term;
      this.vote = '';
      this.writeTermVote();
    }
    if (isNew && this.leader !== ae.leader && this.state === Follower) {
      this.updateLeader(ae.leader);
      this.writeTermVote();
      this.resetElectionTimeout();
    }

    if (ae.pindex !== this.pindex || ae.pterm !== this.pterm) {
      if (ae.pindex < this.pindex || (ae.pindex === this.pindex && ae.pterm !== this.pterm)) {
        // Our log runs past the leader's previous entry or disagrees at it.
        const ours = ae.pindex === this.pindex ? this.pterm : this.termAt(ae.pindex);
        if (ours === ae.pterm && ae.pindex >= this.commit) {
          // Same history up to ae.pindex: what follows it here is not the leader's; drop it.
          this.truncateWal(ae.pindex, ae.pterm);
        } else if (ours !== -1 && ae.pindex < this.commit) {
          // An old entry (a duplicate or an abandoned catch-up's): we already have and applied it.
          if (isNew || via) this.respond(reply, this.pterm, this.pindex, false);
          return;
        } else {
          // Disagreement: keep what is committed, refetch the rest.
          const keep = Math.max(this.commit, Math.min(ae.pindex, this.pindex) - 1);
          this.truncateWal(keep, this.termAt(keep));
          if (catchingUp) this.cancelCatchup();
          if (isNew) {
            const inbox = this.createCatchup(ae);
            this.respond(reply, this.pterm, this.pindex, false, inbox);
          }
          return;
        }
      } else if (catchingUp) {
        // The leader is behind its own log start: the first catch-up entry must be its snapshot.
        const [e0, e1] = ae.entries;
        if (ae.entries.length !== 2 || e0!.type !== EntrySnapshot || e1!.type !== EntryPeerState) {
          this.log.warn(`RAFT [${this.id} - ${this.group}] Expected first catchup entry to be a snapshot and peerstate, will retry`);
          this.cancelCatchup();
          return;
        }
        this.installLeaderSnapshot(ae, e0!.data, e1!.data);
        return;
      } else {
        // We are behind: ask the leader to catch us up.
        this.log.debug(`RAFT [${this.id} - ${this.group}] AppendEntry did not match ${ae.pterm} ${ae.pindex} with ${this.pterm} ${this.pindex}`);
        if (isNew) {
          const inbox = this.createCatchup(ae);
          this.respond(reply, this.pterm, this.pindex, false, inbox);
        }
        return;
      }
    }

    if (ae.entries.length > 0) {
      if (!this.storeToWal(ae, raw)) return;
      this.pae.set(this.pindex, ae);
      for (const e of ae.entries) {
        if (e.type === EntryLeaderTransfer && isNew) {
          const target = e.data.toString('latin1');
          if (target === this.id) {
            if (!this.observer && !this.paused) {
              this.lxfer = true;
              this.resetElect(10);
            } else if (this.paused && !this.pobserver) this.lxfer = true;
          } else if (this.vote !== '') {
            this.vote = '';
            this.writeTermVote();
          }
        } else if (e.type === EntryAddPeer && e.data.length === ID_LEN) {
          const p = e.data.toString('latin1');
          const ps = this.peers.get(p);
          if (ps) ps.ts = Date.now();
          else this.peers.set(p, { ts: Date.now(), li: 0, kp: false });
        }
      }
    }

    const upTo = Math.min(ae.commit, this.pindex);
    if (upTo > this.commit) {
      if (this.paused) this.hcommit = upTo;
      else for (let i = this.commit + 1; i <= upTo; i++) if (!this.applyCommit(i)) break;
    }

    // Success is acknowledged only once everything it covers is on disk.
    const term = this.pterm;
    const index = this.pindex;
    this.wal.sync(() => {
      if (this.state === Closed) return;
      if (index > this.durable) this.durable = index;
      this.respond(reply, term, index, true);
    });
  }

  /** The term of our entry at index (from the WAL, or the snapshot's), or -1 if unknown. */
  private termAt(index: number): number {
    if (index === this.pindex) return this.pterm;
    if (index === 0) return 0;
    const ae = this.loadEntry(index);
    if (ae) return ae.term;
    // The entry just before our first one (e.g. a snapshot's last): its term is our first entry's pterm.
    const next = this.loadEntry(index + 1);
    if (next && next.pindex === index) return next.pterm;
    return -1;
  }

  private truncateWal(index: number, term: number): void {
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

  /** A catch-up that began with the leader's snapshot: adopt it as ours and hand it to the upper layer. */
  private installLeaderSnapshot(ae: AppendEntry, data: Buffer, peerState: Buffer): void {
    let ps: PeerState;
    try {
      ps = decodePeerState(peerState);
    } catch {
      this.log.warn(`RAFT [${this.id} - ${this.group}] Could not parse snapshot peerstate correctly`);
      this.cancelCatchup();
      return;
    }
    this.processPeerState(ps);
    const snapData = data;
    this.pindex = ae.pindex;
    this.pterm = ae.pterm;
    this.commit = ae.pindex;
    this.durable = ae.pindex;
    this.pae.clear();
    this.wal.compact(this.pindex + 1);
    try {
      this.doInstallSnapshot({ lastTerm: this.pterm, lastIndex: this.pindex, peerState: encodePeerState(this.currentPeerState()), data: snapData }, false);
    } catch (err) {
      this.setWriteErr(err as Error);
      return;
    }
    this.pushApply({ index: this.commit, entries: [{ type: EntrySnapshot, data: snapData }] });
  }

  private doInstallSnapshot(snap: Snapshot, compact = true): void {
    // Written for memory groups too (a leader catches followers up from it), as raft.go does.
    this.snapfile = writeSnapshotFile(this.dir, this.hh, snap, this.fsync);
    if (compact) this.wal.compact(snap.lastIndex + 1);
  }

  private createCatchup(ae: AppendEntry): string {
    if (this.catchup) this.catchup.sub.unsubscribe();
    const inbox = newCatchupInbox();
    const cs: FollowerCatchup = {
      sub: null as unknown as RaftSubscription,
      inbox,
      cterm: ae.pterm,
      cindex: ae.pindex,
      pindex: this.pindex,
      active: Date.now(),
    };
    cs.sub = this.transport.subscribe(inbox, (_s, r, m) => this.handleAppendEntry(m, r, false, cs));
    this.catchup = cs;
    return inbox;
  }

  private cancelCatchup(): void {
    if (this.catchup) this.catchup.sub.unsubscribe();
    this.catchup = null;
  }

  /** raft.go catchupStalled: no progress for the catch-up activity interval. */
  private catchupStalled(): boolean {
    const cs = this.catchup;
    if (!cs) return false;
    if (cs.pindex === this.pindex) return Date.now() - cs.active > this.timing.catchupActivity;
    cs.pindex = this.pindex;
    cs.active = Date.now();
    return false;
  }

  // ---- commit and apply ----

  /** raft.go applyCommit: false if the entry could not be loaded (commit stays where it was). */
  private applyCommit(index: number): boolean {
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

  private pushApply(ce: CommittedEntry | null): void {
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
  private adjustClusterSizeAndQuorum(): void {
    const pcsz = this.csz;
    let n = 0;
    for (const ps of this.peers.values()) if (ps.kp) n++;
    this.csz = n;
    this.qn = quorumOf(n);
    if (n < pcsz && this.state === Leader) this.scheduleHeartbeat();
  }

  /** raft.go processPeerState: the leader's view of the peer set replaces ours. */
  private processPeerState(ps: PeerState): void {
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

  private loadEntry(index: number): AppendEntry | null {
    const raw = this.wal.load(index);
    if (!raw) return null;
    try {
      return decodeAppendEntry(raw);
    } catch {
      return null;
    }
  }

  // ---- start-up ----

  private setupLastSnapshot(): void {
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
  private replayWal(): void {
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
}

function quorumOf(csz: number): number {
  return Math.floor(csz / 2) + 1;
}

function randBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * Math.max(1, max - min));
}

export function groupDir(storeDir: string, sysAccount: string, group: string): string {
  return join(storeDir, 'jetstream', sysAccount, '_js_', group);
}
