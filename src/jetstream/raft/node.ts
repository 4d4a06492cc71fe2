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
import {
  type AppendEntry,
  type Entry,
  EntryAddPeer,
  EntryLeaderTransfer,
  EntryNormal,
  EntryPeerState,
  EntryRemovePeer,
  EntrySnapshot,
  decodeAppendEntryResponse,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodePeerState,
  encodeVoteRequest,
  encodeVoteResponse,
} from './codec.js';
import { ID_LEN } from './ids.js';
import { CatchupSender } from './catchup.js';
import { loadLastSnapshot, removeSnapshots } from './snapshot.js';
import { readPeerStateFile, readTermVoteFile, removeStateFiles } from './state-files.js';
import { RaftFollower } from './follower.js';
import {
  Follower,
  Leader,
  Candidate,
  Closed,
  RaftError,
  errNotLeader,
  quorumOf,
  randBetween,
  type PeerInfo,
} from './types.js';

export * from './types.js';

export class RaftNode extends RaftFollower {

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
    // The known peers first: replayed peer entries adjust the cluster size from them.
    this.peers.set(this.id, { ts: Date.now(), li: 0, kp: true });
    for (const p of ps.knownPeers) if (p !== this.id) this.peers.set(p, { ts: 0, li: 0, kp: true });
    if (this.wal.kind === 'memory') removeSnapshots(this.dir);
    else this.setupLastSnapshot();
    this.replayWal();
    this.pushApply(null);

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

  /**
   * raft.go StepDown: transfer leadership to `preferred` or a live peer, then step down. nats-server
   * takes the first healthy peer of a Go map, i.e. a random one: so do we (among the most caught-up),
   * else repeated stepdowns would only ever pass leadership between the same two members and never
   * reach, say, a nats-server member of a mixed group.
   */
  stepDown(preferred = ''): void {
    this.checkLeader();
    const now = Date.now();
    let best = -1;
    let fit: string[] = [];
    for (const [id, ps] of this.peers) {
      if (id === this.id || now - ps.ts >= this.timing.hbInterval * 3) continue;
      if (preferred && id !== preferred) continue;
      if (this.cfg.isPeerOffline?.(id)) continue;
      if (ps.li > best) {
        best = ps.li;
        fit = [id];
      } else if (ps.li === best) fit.push(id);
    }
    const target = fit.length === 0 ? '' : fit[Math.floor(Math.random() * fit.length)]!;
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

  /** raft.go runAsFollower / runAsCandidate: the election timer fired. */
  protected onElectionTimeout(): void {
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

  protected switchToFollower(leader: string): void {
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

  protected scheduleHeartbeat(): void {
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
}
