// One replicated stream on this server (jetstream_cluster.go monitorStream, processClusteredInboundMsg,
// applyStreamEntries, processStreamLeaderChange, the stream's snapshots and catch-up): the local
// Stream, and for R>1 its RAFT group. The leader subscribes the stream's subjects (routes hear of it),
// checks each publish as nats-server does before proposing it as a streamMsgOp with the next cluster
// sequence, and every member stores the message when the entry commits; the leader's pub ack then
// means a quorum has it on disk. Purges and message deletes go through the log too. An R1 stream has
// no group: its one server is its leader.

import { writeFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { RaftNode, type CommittedEntry } from '../raft/node.js';
import { EntryNormal, EntrySnapshot } from '../raft/codec.js';
import { FileWal, MemoryWal } from '../raft/wal.js';
import { bootstrapGroup, readPeerStateFile } from '../raft/state-files.js';
import { compressedStreamMsgOp, deleteMsgOp, purgeStreamOp, streamMsgOp, type StreamAssignment } from './assignments.js';
import {
  decodeMsgDelete,
  decodeStreamMsgEntry,
  decodeStreamPurge,
  decodeStreamSnapshot,
  encodeMsgDelete,
  encodeStreamMsg,
  encodeStreamPurge,
  encodeStreamSnapshotJson,
  isFlowControl,
  isSkipMsg,
  type StreamMsgDelete,
  type StreamPurge,
} from './stream-ops.js';
import { StreamCatchup } from './stream-catchup.js';
import { clusterInfoOf, type ClusterInfoJson } from './cluster-info.js';
import { JsErr } from '../errors.js';
import { getHeader } from '../headers.js';
import { checkStreamConfig } from '../stream-config.js';
import { ApplyResult, type Stream, type StreamReplication } from '../stream.js';
import { nowNs, type JsInbound, type PurgeRequest } from '../types.js';
import type { JsAccount } from '../engine.js';
import type { JsCluster } from './js-cluster.js';
import type { SysSub } from './sys-subs.js';

/**
 * monitorStream: snapshot after this many applied entries or bytes, and every 2 minutes.
 * TSNATS_RAFT_COMPACT=<entries> lowers the count (tests of the snapshot catch-up).
 */
const COMPACT_NUM = Number(process.env['TSNATS_RAFT_COMPACT'] ?? 0) > 0 ? Number(process.env['TSNATS_RAFT_COMPACT']) : 65_536;
const COMPACT_BYTES = 8 * 1024 * 1024;
const COMPACT_INTERVAL_MS = 2 * 60_000;
/** Publishes held while a new leader applies what earlier terms committed. */
const MAX_HELD = 10_000;
/** nats-server's dgetGroup. */
const DIRECT_GET_GROUP = '_sys_';
const CLFS_FILE = 'cluster.json';

export class StreamGroup implements StreamReplication {
  readonly cl: JsCluster;
  readonly account: JsAccount;
  readonly stream: Stream;
  sa: StreamAssignment;
  readonly node: RaftNode | null;
  private leader = false;
  /** Leader: every entry of earlier terms is applied, proposals may start. */
  private ready = false;
  private recovering = true;
  /** The next proposal's lseq (mset.clseq); 0: take it from the stream when proposing. */
  private clseq = 0;
  private held: JsInbound[] = [];
  /** Committed entries waiting for a snapshot catch-up to end. */
  private deferred: CommittedEntry[] = [];
  private leaderSubs: (() => void)[] = [];
  private subjectSubs: (() => void)[] = [];
  private memberSubs: SysSub[] = [];
  private directUnsub: (() => void) | null = null;
  private lastSnap: Buffer | null = null;
  private snapTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly catchup: StreamCatchup;

  constructor(cl: JsCluster, account: JsAccount, stream: Stream, sa: StreamAssignment) {
    this.cl = cl;
    this.account = account;
    this.stream = stream;
    this.sa = sa;
    this.catchup = new StreamCatchup(this);
    this.loadClfs();
    if (sa.group.peers.length > 1) {
      const dir = cl.groupDir(sa.group.name);
      if (readPeerStateFile(dir) === null) bootstrapGroup(dir, sa.group.peers, true);
      this.node = new RaftNode({
        group: sa.group.name,
        dir,
        id: cl.ourId,
        wal: sa.group.store === 'memory' ? new MemoryWal() : new FileWal(dir),
        transport: cl.transport,
        timing: cl.opts.timing,
        log: cl.raftLog,
        onApply: (ce) => this.onApply(ce),
        onLeaderChange: (l) => this.onLeaderChange(l),
        isPeerOffline: (id) => cl.statsz.isOffline(id),
      });
    } else {
      this.node = null;
    }
  }

  start(): void {
    this.stream.replicated = this;
    // Every member answers the meta leader's info requests when it leads (stream list).
    this.memberSubs.push(this.cl.subs.subscribe(this.cl.sysAcc, `$JSC.SI.${this.account.name}.${this.stream.name}`, (m) => this.onInfoRequest(m.reply)));
    if (this.node === null) {
      this.recovering = false;
      this.onLeaderChange(true);
      // An R1 mirror or stream of sources runs on its one server as on a single server.
      this.cl.js.sourcing.attach(this.stream);
      return;
    }
    this.node.start();
    // createRaftGroup: the preferred peer of a new group campaigns at once.
    if (this.sa.group.preferred === this.cl.ourId && this.node.getTerm() === 0) {
      try {
        this.node.campaign();
      } catch {
        // already leader
      }
    }
    this.snapTimer = setInterval(() => this.doSnapshot(), COMPACT_INTERVAL_MS + Math.floor(Math.random() * 60_000));
    this.snapTimer.unref?.();
  }

  /** Stops the group (`del`: its RAFT state goes too, the stream itself is the caller's). */
  stop(del: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.snapTimer !== null) clearInterval(this.snapTimer);
    if (this.readyTimer !== null) clearTimeout(this.readyTimer);
    this.catchup.stop();
    if (!del && this.node !== null && !this.recovering) this.doSnapshot();
    this.setLeader(false);
    for (const s of this.memberSubs) s.unsubscribe();
    this.memberSubs = [];
    if (this.directUnsub !== null) this.directUnsub();
    this.directUnsub = null;
    if (this.node === null) this.cl.js.sourcing.detach(this.stream);
    if (this.stream.replicated === this) this.stream.replicated = null;
    if (this.node !== null) {
      if (del) this.node.delete();
      else this.node.stop();
    }
  }

  isLeader(): boolean {
    return this.leader;
  }

  hasLeader(): boolean {
    return this.node === null || this.node.groupLeader() !== '';
  }

  /** jetstream_cluster.go isStreamCurrent: R1 always; else the node is current and not catching up. */
  isCurrent(): boolean {
    if (this.node === null) return true;
    return this.node.current() && !this.catchup.active;
  }

  consumerCount(): number {
    const sa = this.cl.meta.state.stream(this.account.name, this.stream.name);
    return sa?.consumers?.size ?? this.stream.publicConsumerCount();
  }

  clusterInfo(): ClusterInfoJson {
    return clusterInfoOf(this.cl, this.node, this.sa.group.peers);
  }

  /** The same group assigned again (a duplicate create, or new peers): keep running. */
  reassign(sa: StreamAssignment): void {
    const prev = this.sa;
    this.sa = sa;
    // A member taken out of the group (peer remove, re-placement): its leader proposes the removal.
    if (this.node !== null && this.node.isLeader() && prev.group.peers.some((p) => !sa.group.peers.includes(p))) this.checkPeers();
    // processClusterCreateStream: an identical assignment is answered as created (by the leader).
    if (this.leader && sa.reply !== '' && !(sa as { responded?: boolean }).responded) {
      (sa as { responded?: boolean }).responded = true;
      this.cl.api.answerStreamInfo(this.account, sa.reply, 'io.nats.jetstream.api.v1.stream_create_response', this, false);
    }
  }

  /** processClusterUpdateStream: the new config here; the leader answers. */
  update(sa: StreamAssignment): void {
    this.sa = sa;
    const r = checkStreamConfig(sa.stream);
    if (!r.ok) return;
    const old = this.stream.config;
    this.cl.js.updateStream(this.account, this.stream, r.config);
    if (this.leader) {
      this.resubscribe(old.subjects, old.allow_direct);
      if (sa.reply !== '' && !(sa as { responded?: boolean }).responded) {
        (sa as { responded?: boolean }).responded = true;
        this.cl.api.answerStreamInfo(this.account, sa.reply, 'io.nats.jetstream.api.v1.stream_update_response', this, false);
      }
    } else this.updateDirect();
  }

  // ---- leadership ----------------------------------------------------------------------------------

  private onLeaderChange(isLeader: boolean): void {
    if (this.stopped) return;
    this.setLeader(isLeader);
    if (!isLeader) return;
    this.cl.js.log.info(`JetStream cluster new stream leader for '${this.account.name} > ${this.stream.name}'`);
    this.checkPeers();
    // processStreamLeaderChange: a new stream's leader answers its create request.
    const sa = this.sa as { responded?: boolean };
    if (this.sa.reply !== '' && !sa.responded) {
      sa.responded = true;
      this.cl.api.answerStreamInfo(this.account, this.sa.reply, 'io.nats.jetstream.api.v1.stream_create_response', this, true);
    }
  }

  /** jetstream_cluster.go checkPeers: members the assignment no longer lists leave the group. */
  private checkPeers(): void {
    const node = this.node;
    if (node === null) return;
    for (const p of node.peerNames()) {
      if (p === this.cl.ourId || this.sa.group.peers.includes(p)) continue;
      try {
        node.proposeRemovePeer(p);
      } catch {
        return;
      }
    }
  }

  /** mset.setLeader: the leader subscribes the subjects, direct gets and the sync subject. */
  private setLeader(isLeader: boolean): void {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    for (const u of this.leaderSubs) u();
    this.leaderSubs = [];
    for (const u of this.subjectSubs) u();
    this.subjectSubs = [];
    this.clseq = 0;
    this.held = [];
    if (!isLeader) {
      this.ready = false;
      this.catchup.stopSending();
      this.updateDirect();
      return;
    }
    this.catchup.cancel();
    const acc = this.account.idx;
    this.subjectSubs = this.stream.config.subjects.map((subj) => this.cl.subscribeAnnounced(acc, subj));
    if (this.sa.sync !== '') {
      const sub = this.cl.subs.subscribe(this.cl.sysAcc, this.sa.sync, (m) => this.catchup.onSyncRequest(m.reply, m.data));
      this.leaderSubs.push(() => sub.unsubscribe());
    }
    this.updateDirect();
    this.waitReady();
  }

  /** Subjects changed by an update while leading: the subscriptions follow. */
  private resubscribe(oldSubjects: readonly string[], _oldDirect: boolean): void {
    const now = this.stream.config.subjects;
    if (JSON.stringify(oldSubjects) !== JSON.stringify(now)) {
      for (const u of this.subjectSubs) u();
      this.subjectSubs = now.map((subj) => this.cl.subscribeAnnounced(this.account.idx, subj));
    }
    this.updateDirect();
  }

  /** allow_direct: the leader, and current followers, answer direct gets (queue group `_sys_`). */
  private updateDirect(): void {
    const want = this.stream.config.allow_direct === true && (this.leader || (this.node !== null && this.node.current()));
    if (want && this.directUnsub === null) {
      const acc = this.account.idx;
      const u1 = this.cl.subscribeAnnounced(acc, `$JS.API.DIRECT.GET.${this.stream.name}`, DIRECT_GET_GROUP);
      const u2 = this.cl.subscribeAnnounced(acc, `$JS.API.DIRECT.GET.${this.stream.name}.>`, DIRECT_GET_GROUP);
      this.directUnsub = () => {
        u1();
        u2();
      };
    } else if (!want && this.directUnsub !== null) {
      this.directUnsub();
      this.directUnsub = null;
    }
  }

  /** Whether this server answers a direct get it was picked for. */
  servesDirect(): boolean {
    return this.directUnsub !== null;
  }

  /**
   * A new leader proposes only once what earlier terms committed is applied here (its first entry, the
   * peer state, commits them), so the sequences it hands out follow the stream's.
   */
  private waitReady(): void {
    const node = this.node;
    if (node === null) {
      this.ready = true;
      return;
    }
    const target = node.progressInfo().index;
    const check = (): void => {
      this.readyTimer = null;
      if (!this.leader || this.stopped) return;
      if (node.progressInfo().commit >= target) {
        // Entries committed so far are queued for apply (setImmediate): be ready after them.
        setImmediate(() => {
          if (!this.leader || this.stopped) return;
          this.ready = true;
          const held = this.held;
          this.held = [];
          for (const m of held) this.inbound(m);
        });
        return;
      }
      this.readyTimer = setTimeout(check, 5);
    };
    check();
  }

  // ---- publishing ----------------------------------------------------------------------------------

  /** processClusteredInboundMsg: the leader's checks, then the proposal. */
  inbound(m: JsInbound): void {
    if (!this.leader || this.stopped) return;
    const s = this.stream;
    const cfg = s.config;
    const reply = cfg.no_ack === true ? null : m.reply;
    if (this.node === null) {
      // R1: no group, the stream stores it directly.
      s.replicated = null;
      try {
        s.process(m);
      } finally {
        s.replicated = this;
      }
      return;
    }
    if (!this.ready) {
      if (this.held.length < MAX_HELD) this.held.push({ acc: m.acc, subject: m.subject, reply: m.reply, hdr: m.hdr === null ? null : Buffer.from(m.hdr), data: Buffer.from(m.data) });
      return;
    }
    const subject = s.transformSubject(m.subject);
    const hdr = m.hdr !== null && m.hdr.length > 0 ? m.hdr : null;
    const size = (hdr === null ? 0 : hdr.length) + m.data.length;
    const err = this.precheck(subject, hdr, size);
    if (err !== null) {
      if (reply !== null) this.ackError(reply, err);
      return;
    }
    if (this.clseq === 0 || this.clseq < s.lastSequence) this.clseq = s.lastSequence + s.clfs;
    const entry = encodeStreamMsg({ subject, reply: reply ?? '', hdr, msg: m.data.length > 0 ? m.data : null, lseq: this.clseq, ts: BigInt(nowNs()) });
    try {
      this.node.propose(entry);
      this.clseq++;
    } catch (e) {
      if (reply !== null) this.cl.host.publish(this.account.idx, reply, null, null, Buffer.from(JSON.stringify({ error: { code: 503, description: e instanceof Error ? e.message : String(e) }, stream: cfg.name, seq: 0 })));
    }
  }

  /** The checks nats-server makes before proposing (the rest run when the entry applies). */
  private precheck(subject: string, hdr: Buffer | null, size: number): { code: number; err_code: number; description: string } | null {
    const s = this.stream;
    const cfg = s.config;
    if (s.resources !== null) {
      const e = s.resources.check(cfg, subject.length + size);
      if (e !== null) return e;
    }
    if (cfg.max_msg_size >= 0 && size > cfg.max_msg_size) return JsErr.streamMessageExceedsMaximum();
    if (hdr !== null) {
      if (hdr.length > 0xffff) return JsErr.streamHeaderExceedsMaximum();
      const exp = getHeader(hdr, 'Nats-Expected-Stream');
      if (exp !== null && exp !== '' && exp !== cfg.name) return JsErr.streamMismatch();
    }
    return null;
  }

  private ackError(reply: string, err: { code: number; err_code: number; description: string }): void {
    this.cl.host.publish(this.account.idx, reply, null, null, Buffer.from(`{"error":${JSON.stringify(err)},"stream":${JSON.stringify(this.stream.name)},"seq":0}`));
  }

  /** A purge request from the API (jsClusteredStreamPurgeRequest): proposed by the leader. */
  proposePurge(sp: StreamPurge): void {
    if (this.node === null) {
      this.applyPurge(sp, false);
      return;
    }
    sp.last_seq = this.stream.lastSequence;
    this.node.propose(encodeStreamPurge(sp));
  }

  /** jsClusteredMsgDeleteRequest. */
  proposeDelete(md: StreamMsgDelete): void {
    if (this.node === null) {
      this.applyDelete(md, false);
      return;
    }
    this.node.propose(encodeMsgDelete(md));
  }

  // ---- applying ------------------------------------------------------------------------------------

  private onApply(ce: CommittedEntry | null): void {
    if (this.stopped || this.node === null) return;
    if (ce === null) {
      this.recovering = false;
      const { entries, bytes } = this.node.appliedTo(this.node.progressInfo().applied);
      if (bytes > COMPACT_BYTES || entries >= COMPACT_NUM || this.node.needSnapshot()) this.doSnapshot();
      return;
    }
    // While a snapshot catch-up runs, what committed after the snapshot waits (nats-server's apply loop
    // is blocked in processSnapshot meanwhile); the node applies nothing new (pauseApply).
    if (this.catchup.active) {
      this.deferred.push(ce);
      return;
    }
    // A follower that sees its group running has the create answered by the leader.
    if (!this.leader) (this.sa as { responded?: boolean }).responded = true;
    const clfs = this.stream.clfs;
    const es = ce.entries;
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      try {
        if (e.type === EntryNormal) this.applyNormal(e.data);
        else if (e.type === EntrySnapshot) this.applySnapshotEntry(e.data);
      } catch (err) {
        this.cl.js.log.error({ err: err instanceof Error ? err.message : String(err) }, `JetStream cluster could not apply an entry of '${this.account.name} > ${this.stream.name}' [${this.sa.group.name}]`);
      }
      if (this.catchup.active && i + 1 < es.length) {
        // The snapshot started a catch-up: the rest of this batch waits for it.
        this.deferred.push({ index: ce.index, entries: es.slice(i + 1) });
        if (this.stream.clfs !== clfs) this.saveClfs();
        return;
      }
    }
    if (this.stream.clfs !== clfs) this.saveClfs();
    const { entries, bytes } = this.node.appliedTo(ce.index);
    if (entries >= COMPACT_NUM || bytes > COMPACT_BYTES) this.doSnapshot();
    if (!this.leader && this.directUnsub === null && this.stream.config.allow_direct) this.updateDirect();
  }

  private applyNormal(buf: Buffer): void {
    const op = buf[0];
    if (op === streamMsgOp || op === compressedStreamMsgOp) {
      const m = decodeStreamMsgEntry(buf);
      if (isFlowControl(m)) return;
      const s = this.stream;
      const last = s.lastSequence;
      const clfs = s.clfs;
      // Already stored (a replay after a restart, or a catch-up got it first).
      if (m.lseq - clfs < last) return;
      if (m.lseq === 0 && last !== 0) return;
      if (isSkipMsg(m)) {
        s.skipTo(last + 1);
        return;
      }
      const r = s.applyReplicated(m.subject, m.reply === '' ? null : m.reply, m.hdr, m.msg ?? EMPTY, m.lseq, Number(m.ts), this.leader && !this.recovering);
      if (r === ApplyResult.MISMATCH) {
        this.cl.js.log.warn(`JetStream cluster stream '${this.account.name} > ${s.name}' got sequence ${m.lseq} with last ${last} and clfs ${clfs}`);
      }
      return;
    }
    if (op === deleteMsgOp) return this.applyDelete(decodeMsgDelete(buf.subarray(1)), this.recovering);
    if (op === purgeStreamOp) return this.applyPurge(decodeStreamPurge(buf.subarray(1)), this.recovering);
  }

  private applyDelete(md: StreamMsgDelete, recovering: boolean): void {
    const removed = this.stream.deleteMsg(md.seq);
    if (!this.leader || recovering) return;
    const a = this.cl.accountOf(md.client) ?? this.account;
    const T = 'io.nats.jetstream.api.v1.stream_msg_delete_response';
    if (!removed) this.cl.api.answer(a, md.reply, T, null, JsErr.sequenceNotFound(md.seq));
    else this.cl.api.answer(a, md.reply, T, { success: true }, null);
  }

  private applyPurge(sp: StreamPurge, recovering: boolean): void {
    const s = this.stream;
    if (recovering) {
      // Already done before the restart: make sure everything it removed is gone.
      if (s.store.state().first_seq <= sp.last_seq && sp.request === undefined) s.purge({ seq: sp.last_seq + 1 });
      return;
    }
    const req: PurgeRequest = {};
    const r = sp.request ?? {};
    if (typeof r['filter'] === 'string' && r['filter'] !== '') req.filter = r['filter'] as string;
    if (typeof r['seq'] === 'number' && (r['seq'] as number) > 0) req.seq = r['seq'] as number;
    if (typeof r['keep'] === 'number' && (r['keep'] as number) > 0) req.keep = r['keep'] as number;
    const purged = s.purge(req);
    if (!this.leader) return;
    const a = this.cl.accountOf(sp.client) ?? this.account;
    this.cl.api.answer(a, sp.reply, 'io.nats.jetstream.api.v1.stream_purge_response', { success: true, purged }, null);
  }

  private applySnapshotEntry(data: Buffer): void {
    const snap = decodeStreamSnapshot(data);
    if (this.recovering) {
      this.stream.clfs = snap.failed;
      return;
    }
    if (!this.leader) this.catchup.processSnapshot(snap);
  }

  /** The snapshot catch-up ended: what committed meanwhile is applied now, in order. */
  catchupDone(): void {
    const d = this.deferred;
    this.deferred = [];
    for (let i = 0; i < d.length; i++) {
      this.onApply(d[i]!);
      if (this.catchup.active) {
        // Another snapshot in the backlog started a new catch-up.
        this.deferred.unshift(...d.slice(i + 1));
        return;
      }
    }
  }

  /** monitorStream doSnapshot: the stream's state (2.9's JSON form) as the group's snapshot. */
  doSnapshot(): void {
    const node = this.node;
    if (node === null || this.recovering || this.stopped || this.catchup.active) return;
    const st = this.stream.store.state();
    const deleted = st.num_deleted > 0 ? ((this.stream.stateJson('', true).state['deleted'] as number[] | undefined) ?? []) : [];
    const snap = encodeStreamSnapshotJson({ msgs: st.messages, bytes: st.bytes, firstSeq: st.first_seq, lastSeq: st.last_seq, failed: this.stream.clfs, deleted });
    if (this.lastSnap !== null && snap.equals(this.lastSnap)) return;
    try {
      node.installSnapshot(snap);
      this.lastSnap = snap;
    } catch {
      // nothing applied yet, or catch-ups running: next time
    }
  }

  /** `$JSC.SI.<account>.<stream>`: the leader answers with its StreamInfo (no type). */
  private onInfoRequest(reply: string | null): void {
    if (!this.leader || reply === null) return;
    this.cl.api.sendStreamInfo(reply, this);
  }

  // ---- clfs: failed proposals, kept on disk so a restarted member numbers as the others do ----------

  private loadClfs(): void {
    if (this.stream.dir === null) return;
    try {
      const o = JSON.parse(readFileSync(join(this.stream.dir, CLFS_FILE), 'utf8')) as { clfs?: unknown };
      if (typeof o.clfs === 'number') this.stream.clfs = o.clfs;
    } catch {
      // none yet
    }
  }

  private saveClfs(): void {
    const dir = this.stream.dir;
    if (dir === null) return;
    try {
      const tmp = join(dir, `${CLFS_FILE}.tmp`);
      writeFileSync(tmp, JSON.stringify({ clfs: this.stream.clfs }));
      renameSync(tmp, join(dir, CLFS_FILE));
    } catch (err) {
      this.cl.js.log.warn(`JetStream cluster could not save the failed count of '${this.account.name} > ${this.stream.name}': ${String(err)}`);
    }
  }
}

const EMPTY = Buffer.alloc(0);
