// A stream replica's catch-up after a RAFT snapshot (jetstream_cluster.go processSnapshot,
// processSnapshotDeletes, calculateSyncRequest, processCatchupMsg on the follower; runCatchup and
// handleClusterSyncRequest on the leader). When a follower applies a snapshot whose last sequence is
// beyond its own, it pauses applying, asks the leader on the stream's sync subject
// (`$JSC.SYNC.<x>`, streamSyncRequest JSON) with a `$JSC.R.<x>` reply, and the leader sends each
// stored message (a streamMsgOp with the message's own sequence; a deleted one as a skip) with a
// `$JSC.ACK.<x>.<size>` reply the follower answers empty for flow control, then an empty message
// (EOF). The leader keeps at most 8 MiB / 32k messages unacknowledged; 5 s without an ack ends it.
// The follower retries when nothing arrives for 10 s.

import { randomToken } from '../raft/ids.js';
import { decodeStreamMsgEntry, decodeSyncRequest, encodeStreamMsg, encodeSyncRequest, isSkipMsg, type StreamSnapshotState } from './stream-ops.js';
import type { StreamGroup } from './stream-group.js';
import type { SysSub } from './sys-subs.js';

const MAX_OUT_BYTES = 8 * 1024 * 1024;
const MAX_OUT_MSGS = 32 * 1024;
/** runCatchup activityInterval. */
const SENDER_IDLE_MS = 5_000;
/** processSnapshot activityInterval. */
const RECEIVER_IDLE_MS = 10_000;

interface Sender {
  reply: string;
  seq: number;
  last: number;
  outBytes: number;
  outMsgs: number;
  sub: SysSub;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

export class StreamCatchup {
  private readonly sg: StreamGroup;
  private senders = new Set<Sender>();
  /** Follower side: the sync running, with the last sequence asked for. */
  private recv: { sub: SysSub; last: number; timer: NodeJS.Timeout | null; snap: StreamSnapshotState } | null = null;

  constructor(sg: StreamGroup) {
    this.sg = sg;
  }

  get active(): boolean {
    return this.recv !== null;
  }

  stop(): void {
    this.cancel();
    this.stopSending();
  }

  // ---- follower ----------------------------------------------------------------------------------

  /** A snapshot entry applied on a follower: deletions, the failed count, and a sync if behind. */
  processSnapshot(snap: StreamSnapshotState): void {
    const s = this.sg.stream;
    let st = s.store.state();
    if (snap.firstSeq > st.first_seq) {
      s.purge({ seq: snap.firstSeq });
      st = s.store.state();
    }
    for (const d of snap.deleted) if (d <= st.last_seq) s.deleteMsg(d);
    s.clfs = snap.failed;
    if (st.last_seq >= snap.lastSeq) return;
    this.startSync(snap);
  }

  private startSync(snap: StreamSnapshotState): void {
    const node = this.sg.node;
    if (node === null || this.sg.sa.sync === '') return;
    this.cancel();
    try {
      node.pauseApply();
    } catch {
      return; // we lead now: nothing to catch up from
    }
    this.request(snap);
  }

  /** Sends the sync request (streamSyncRequest) for what we lack up to the snapshot's last sequence. */
  private request(snap: StreamSnapshotState): void {
    const sync = this.sg.sa.sync;
    const cl = this.sg.cl;
    const reply = `$JSC.R.${randomToken()}`;
    const sub = cl.subs.subscribe(cl.sysAcc, reply, (m) => this.onCatchupMsg(m.reply, m.data));
    this.recv = { sub, last: snap.lastSeq, timer: null, snap };
    this.armReceiver();
    const first = this.sg.stream.store.state().last_seq + 1;
    cl.js.log.info(`Catchup for stream '${this.sg.account.name} > ${this.sg.stream.name}' requesting ${first} to ${snap.lastSeq}`);
    const req = encodeSyncRequest({ peer: cl.ourId, first_seq: first, last_seq: snap.lastSeq });
    cl.host.publish(cl.sysAcc, sync, reply, null, req);
  }

  private armReceiver(): void {
    const r = this.recv;
    if (r === null) return;
    if (r.timer !== null) clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      // Stalled: ask again from where we are (applying stays paused meanwhile).
      const snap = r.snap;
      if (this.sg.stream.store.state().last_seq < snap.lastSeq && !this.sg.isLeader() && this.sg.node?.groupLeader() !== '') {
        r.sub.unsubscribe();
        this.recv = null;
        this.request(snap);
        return;
      }
      this.finish(false);
    }, RECEIVER_IDLE_MS);
    r.timer.unref?.();
  }

  private onCatchupMsg(reply: string | null, data: Buffer): void {
    const r = this.recv;
    if (r === null) return;
    if (data.length === 0) return this.finish(true);
    this.armReceiver();
    let m;
    try {
      m = decodeStreamMsgEntry(data);
    } catch {
      return;
    }
    const s = this.sg.stream;
    const seq = m.lseq;
    if (isSkipMsg(m) || (m.subject === '' && m.ts === 0n)) {
      if (seq > s.lastSequence) s.skipTo(seq);
    } else s.storeAt(m.subject, m.hdr, m.msg ?? Buffer.alloc(0), seq, Number(m.ts));
    if (reply !== null) this.sg.cl.host.publish(this.sg.cl.sysAcc, reply, null, null, null);
    if (seq >= r.last) this.finish(true);
  }

  private finish(ok: boolean): void {
    const r = this.recv;
    if (r === null) return;
    this.recv = null;
    if (r.timer !== null) clearTimeout(r.timer);
    r.sub.unsubscribe();
    if (ok) {
      // checkFinalState: a leader that no longer had the first messages we asked for.
      const s = this.sg.stream;
      const st = s.store.state();
      if (st.last_seq < r.last) s.skipTo(r.last);
    }
    // Entries that committed meanwhile first (they were queued before the pause), then the rest.
    this.sg.catchupDone();
    if (this.recv !== null) return;
    try {
      this.sg.node?.resumeApply();
    } catch {
      // stopped
    }
  }

  /** Stop a sync in progress (we became leader, or the group stops). */
  cancel(): void {
    if (this.recv === null) return;
    this.finish(false);
  }

  // ---- leader --------------------------------------------------------------------------------------

  /** handleClusterSyncRequest → runCatchup. */
  onSyncRequest(reply: string | null, data: Buffer): void {
    if (reply === null || !this.sg.isLeader()) return;
    let req;
    try {
      req = decodeSyncRequest(data);
    } catch {
      return;
    }
    const cl = this.sg.cl;
    const st = this.sg.stream.store.state();
    let first = Number(req.first_seq);
    const last = Number(req.last_seq);
    if (first < st.first_seq && st.first_seq > last) first = st.first_seq;
    const ack = `$JSC.ACK.${randomToken()}`;
    const snd: Sender = { reply, seq: first, last, outBytes: 0, outMsgs: 0, sub: null as unknown as SysSub, timer: null, done: false };
    snd.sub = cl.subs.subscribe(cl.sysAcc, `${ack}.*`, (m) => {
      if (m.data.length > 0) {
        cl.js.log.warn(`Catchup for stream '${this.sg.account.name} > ${this.sg.stream.name}' was aborted on the remote due to: ${m.data.toString()}`);
        this.endSender(snd);
        return;
      }
      const sz = Number(m.subject.slice(m.subject.lastIndexOf('.') + 1));
      snd.outBytes -= Number.isFinite(sz) ? sz : 0;
      snd.outMsgs--;
      this.pump(snd, ack);
    });
    this.senders.add(snd);
    this.pump(snd, ack);
  }

  private pump(snd: Sender, ack: string): void {
    if (snd.done) return;
    if (snd.timer !== null) clearTimeout(snd.timer);
    snd.timer = setTimeout(() => this.endSender(snd), SENDER_IDLE_MS);
    snd.timer.unref?.();
    const cl = this.sg.cl;
    const store = this.sg.stream.store;
    while (snd.seq <= snd.last && snd.outBytes <= MAX_OUT_BYTES && snd.outMsgs <= MAX_OUT_MSGS) {
      const seq = snd.seq++;
      const sm = store.loadMsg(seq);
      const em =
        sm !== null
          ? encodeStreamMsg({ subject: sm.subject, reply: '', hdr: sm.hdr, msg: sm.data, lseq: sm.seq, ts: BigInt(sm.ts) })
          : encodeStreamMsg({ subject: '', reply: '', hdr: null, msg: null, lseq: seq, ts: 0n });
      snd.outBytes += em.length;
      snd.outMsgs++;
      cl.host.publish(cl.sysAcc, snd.reply, `${ack}.${em.length}`, null, em);
    }
    if (snd.seq > snd.last) {
      // EOF
      cl.js.log.info(`Catchup for stream '${this.sg.account.name} > ${this.sg.stream.name}' complete`);
      cl.host.publish(cl.sysAcc, snd.reply, null, null, null);
      this.endSender(snd);
    }
  }

  private endSender(snd: Sender): void {
    if (snd.done) return;
    snd.done = true;
    if (snd.timer !== null) clearTimeout(snd.timer);
    snd.sub.unsubscribe();
    this.senders.delete(snd);
  }

  stopSending(): void {
    for (const snd of [...this.senders]) this.endSender(snd);
  }
}
