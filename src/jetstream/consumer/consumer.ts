// One consumer: where it is in the stream, what it delivered, and the delivery loop for both kinds
// (consumer.go: selectStartingSeqNo, getNextMsg, loopAndGatherMsgs, deliverMsg, processAck,
// processNextMsgRequest, processWaiting, sendIdleHeartbeat, sendFlowControl, needAck, info).
//
// Delivery runs on the JetStream worker's event loop: every event that can let a message go (a new
// stream message, an ack, a pull request, interest appearing, a flow-control answer) calls signal(),
// which schedules one pump per turn; a pump delivers up to a budget and reschedules itself. Timed
// work (ack deadlines, request expiry, heartbeats, interest polling, inactivity) happens in tick(),
// driven by one coarse timer for all consumers (plugin.ts).

import type { AckReplyPrefix, ConsumerLike, EngineLike, StoredMsg, StreamLike } from '../types.js';
import { nowNs, nsToRfc3339, rfc3339ToNs } from '../types.js';
import { appendHeaders } from '../headers.js';
import { subjectMatches } from '../../sublist/subject.js';
import { configFilters, EPHEMERAL_INACTIVE_NS, renderConfig, type ConsumerConfig } from './config.js';
import { AckState } from './pending.js';
import type { WaitingRequest } from './pull.js';
import { PullRequests } from './pull-requests.js';
import { AckKind, ackPrefix, nakDelayNs, type AckBody, type AckReplyInfo } from './ack.js';
import { hostCongested, idleHeartbeat, maxBytesExceeded, Status } from './out.js';
import { retentionAcked } from './retention.js';
import { StateWriter, writeMeta, removeConsumerDir, type ConsumerStateFile } from './state-store.js';

/** Messages one pump delivers before yielding the event loop. */
const PUMP_BUDGET = 256;
/** consumer.go setMaxPendingBytes(JsFlowControlMaxPending): flow control window (32 MiB / 16). */
const FC_MAX_PENDING = (32 * 1024 * 1024) / 16;
/** State writes at most this often (ms). */
const FLUSH_EVERY_MS = 100;

export interface ConsumerInit {
  js: EngineLike;
  stream: StreamLike;
  name: string;
  config: ConsumerConfig;
  /** Epoch ns. */
  created: number;
  /** Where state persists (file streams, durable consumers), or null. */
  dir: string | null;
  state?: ConsumerStateFile | null;
}

type Next = { msg: StoredMsg; dc: number };

/**
 * A replicated consumer's group (cluster/consumer-group.ts): the leader proposes each delivery and
 * each ack (consumer.go updateDelivered / updateAcks) so its followers keep the same state.
 */
export interface ConsumerReplication {
  delivered(dseq: number, sseq: number, dc: number, tsNs: number): void;
  acked(dseq: number, sseq: number): void;
}

export class Consumer implements ConsumerLike {
  readonly name: string;
  readonly stream: StreamLike;
  readonly js: EngineLike;
  readonly created: number;
  cfg: ConsumerConfig;
  readonly dir: string | null;
  closed = false;
  /** Clustered JetStream: this consumer's group, told of deliveries and acks; null otherwise. */
  replicate: ConsumerReplication | null = null;

  private filters: string[] = [];
  /** Next stream sequence to look at and next consumer sequence to give. */
  private sseq = 1;
  private dseq = 1;
  /** deliver last_per_subject: the sequences to send first, then continue after `resume`. */
  private lss: { seqs: number[]; i: number; resume: number } | null = null;
  readonly acks: AckState;
  private npc = 0;
  private npcDirty = true;
  /** A pull consumer's waiting requests; null for a push consumer. */
  private readonly pulls: PullRequests | null;
  private held: Next | null = null;
  private scheduled = false;
  private readonly pumpBound = (): void => this.pump();
  private retryTimer: NodeJS.Timeout | null = null;

  // derived from the config
  private ackWaitMs = 0;
  private backoffMs: number[] = [];
  private maxdc = 0;
  private maxp = 0;
  private hbMs = 0;
  private dthreshMs = 0;
  /** `$JS.ACK.<stream>.<consumer>.` for deliveries' ack replies. */
  private readonly replyPrefix: AckReplyPrefix;

  // push
  private active = false;
  private inactiveSince: number;
  private pbytes = 0;
  private fcid: string | null = null;
  private fcsz = 0;
  private fcSerial = 0;
  private lastDeliveryMs = 0;

  // timing
  private lastActivityMs: number;
  private lastActiveNs = 0;
  private nextAckCheck = Infinity;
  private lastFlush = 0;
  /** Replay original / rate limit: not before this (ms); first replayed message's times. */
  private notBefore = 0;
  private replayBase: { ts: number; wall: number } | null = null;
  private readonly writer: StateWriter | null;

  constructor(init: ConsumerInit) {
    this.js = init.js;
    this.stream = init.stream;
    this.name = init.name;
    this.cfg = init.config;
    this.created = init.created;
    this.dir = init.dir;
    const prefix = `${ackPrefix(this.stream.name, this.name)}.`;
    this.replyPrefix = { str: prefix, bytes: Buffer.from(prefix, 'latin1') };
    this.acks = new AckState(this.cfg.ack_policy);
    this.pulls = this.isPush ? null : new PullRequests(this.cfg.max_waiting ?? 512, this.js.host, this.stream.acc);
    const now = Date.now();
    this.inactiveSince = now;
    this.lastActivityMs = now;
    this.lastDeliveryMs = now; // the first idle heartbeat is one interval away
    this.derive();
    if (init.state) this.restoreState(init.state);
    else this.selectStart();
    this.writer = this.dir === null ? null : new StateWriter(this.dir, () => this.snapshot());
    if (this.dir !== null && !init.state) {
      writeMeta(this.dir, { created: this.created, config: this.cfg });
      this.writer!.mark();
    }
  }

  get direct(): boolean {
    return this.cfg.direct === true;
  }

  get isPush(): boolean {
    return this.cfg.deliver_subject !== undefined;
  }

  get isDurable(): boolean {
    return this.cfg.durable_name !== undefined;
  }

  /** Filters as given (for the workqueue uniqueness rule). */
  get filterList(): readonly string[] {
    return this.filters;
  }

  private derive(): void {
    const c = this.cfg;
    this.ackWaitMs = (c.ack_wait ?? 30e9) / 1e6;
    this.backoffMs = (c.backoff ?? []).map((b) => b / 1e6);
    this.maxdc = c.max_deliver !== undefined && c.max_deliver > 0 ? c.max_deliver : 0;
    this.maxp = c.ack_policy !== 'none' && (c.max_ack_pending ?? 0) > 0 ? c.max_ack_pending! : 0;
    this.hbMs = (c.idle_heartbeat ?? 0) / 1e6;
    const thresh = c.inactive_threshold ?? (this.isDurable ? 0 : EPHEMERAL_INACTIVE_NS);
    this.dthreshMs = thresh / 1e6;
    // A filter equal to the stream's only subject (or `>`) filters nothing.
    const f = configFilters(c);
    const subjects = this.stream.config.subjects ?? [];
    this.filters = f.length === 1 && (f[0] === '>' || (subjects.length === 1 && subjects[0] === f[0])) ? [] : f;
  }

  /** An update (checked by checkConfigUpdate): the mutable fields take effect now. */
  updateConfig(next: ConsumerConfig): void {
    const oldFilters = this.filters.join('\0');
    const oldDeliver = this.cfg.deliver_subject;
    this.cfg = next;
    this.derive();
    if (this.filters.join('\0') !== oldFilters) this.npcDirty = true;
    if (oldDeliver !== next.deliver_subject) this.active = false;
    if (this.dir !== null) writeMeta(this.dir, { created: this.created, config: this.cfg });
    this.signal();
  }

  // ---- starting position (selectStartingSeqNo) -------------------------------------------------

  private selectStart(): void {
    const store = this.stream.store;
    const st = store.state();
    const first = st.messages === 0 ? st.last_seq + 1 : st.first_seq;
    switch (this.cfg.deliver_policy) {
      case 'all':
        this.sseq = first;
        break;
      case 'new':
        this.sseq = st.last_seq + 1;
        break;
      case 'last': {
        let last: StoredMsg | null = null;
        if (this.filters.length === 0) last = store.loadLastMsg('');
        else for (const f of this.filters) {
          const m = store.loadLastMsg(f);
          if (m !== null && (last === null || m.seq > last.seq)) last = m;
        }
        this.sseq = last === null ? st.last_seq + 1 : last.seq;
        break;
      }
      case 'last_per_subject': {
        const seqs: number[] = [];
        for (const f of this.filters.length === 0 ? ['>'] : this.filters) {
          for (const v of store.subjectsState(f).values()) seqs.push(v.last);
        }
        seqs.sort((a, b) => a - b);
        if (seqs.length > 0) {
          this.lss = { seqs, i: 0, resume: st.last_seq };
          this.sseq = seqs[0]!;
        } else this.sseq = st.last_seq + 1;
        break;
      }
      case 'by_start_sequence': {
        const s = this.cfg.opt_start_seq ?? 1;
        this.sseq = s < first ? first : s;
        break;
      }
      case 'by_start_time':
        this.sseq = this.seqForTime(rfc3339ToNs(this.cfg.opt_start_time ?? ''), first, st.last_seq);
        break;
    }
    this.acks.adflr = this.dseq - 1;
    this.acks.asflr = this.sseq - 1;
    this.npcDirty = true;
  }

  /** First sequence whose timestamp is >= ts (binary search; timestamps grow with sequences). */
  private seqForTime(ts: number, first: number, last: number): number {
    const store = this.stream.store;
    let lo = first;
    let hi = last + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = store.loadNextMsg('', mid);
      if (m === null) hi = mid;
      else if (m.ts >= ts) hi = Math.min(mid, m.seq);
      else lo = m.seq + 1;
    }
    return lo;
  }

  // ---- messages ------------------------------------------------------------------------------

  private matches(subject: string): boolean {
    if (this.filters.length === 0) return true;
    for (const f of this.filters) if (subjectMatches(f, subject)) return true;
    return false;
  }

  private loadNext(start: number): StoredMsg | null {
    const store = this.stream.store;
    if (this.filters.length === 0) return store.loadNextMsg('', start);
    if (this.filters.length === 1) return store.loadNextMsg(this.filters[0]!, start);
    let best: StoredMsg | null = null;
    for (const f of this.filters) {
      const m = store.loadNextMsg(f, start);
      if (m !== null && (best === null || m.seq < best.seq)) best = m;
    }
    return best;
  }

  /** Why the last nextMsg() found nothing: no message at all, or max_ack_pending reached. */
  private stall: 'eos' | 'map' = 'eos';

  /** getNextMsg: redeliveries first, then new messages (unless max_ack_pending is reached). */
  private nextMsg(): Next | null {
    if (this.held !== null) {
      const h = this.held;
      this.held = null;
      return h;
    }
    const store = this.stream.store;
    for (;;) {
      const seq = this.acks.shiftRdq();
      if (seq < 0) break;
      const dc = this.acks.incDeliveries(seq);
      if (this.maxdc > 0 && dc > this.maxdc) {
        // A NAK past max_deliver: it leaves pending without an ack (getNextMsg), advised once.
        if (dc === this.maxdc + 1) this.js.advisories?.maxDeliveries(this.stream.acc, this.stream.name, this.name, seq, dc - 1);
        this.acks.decDeliveries(seq);
        this.acks.forget(seq, this.dseq, this.sseq);
        this.markDirty();
        continue;
      }
      const msg = store.loadMsg(seq);
      if (msg === null) {
        this.acks.forget(seq, this.dseq, this.sseq);
        this.markDirty();
        continue;
      }
      return { msg, dc };
    }
    if (this.maxp > 0 && this.acks.pending.size >= this.maxp) {
      this.stall = 'map';
      return null;
    }
    if (this.lss !== null) {
      const l = this.lss;
      while (l.i < l.seqs.length) {
        const msg = store.loadMsg(l.seqs[l.i++]!);
        if (msg !== null) {
          this.sseq = msg.seq + 1;
          return { msg, dc: 1 };
        }
      }
      this.sseq = Math.max(this.sseq, l.resume + 1);
      this.lss = null;
    }
    const msg = this.loadNext(this.sseq);
    if (msg === null) {
      const last = store.state().last_seq;
      if (last >= this.sseq) this.sseq = last + 1; // updateSkipped: nothing of ours below
      this.stall = 'eos';
      return null;
    }
    this.sseq = msg.seq + 1;
    return { msg, dc: 1 };
  }

  /** Messages not yet delivered (num_pending), recounted lazily after removals. */
  numPending(): number {
    if (this.npcDirty) {
      const store = this.stream.store;
      let n = 0;
      let from = this.sseq;
      if (this.lss !== null) {
        n += this.lss.seqs.length - this.lss.i;
        from = Math.max(from, this.lss.resume + 1);
      }
      if (this.filters.length === 0) n += store.numPending(from, '', false);
      else for (const f of this.filters) n += store.numPending(from, f, false);
      if (this.held !== null && this.held.dc === 1) n++;
      this.npc = n;
      this.npcDirty = false;
    }
    return this.npc;
  }

  private msgSize(m: StoredMsg): number {
    return m.subject.length + (m.hdr === null ? 0 : m.hdr.length) + m.data.length;
  }

  /** deliverMsg. */
  private deliver(next: Next, to: string, now: number, ns: number): void {
    const { msg, dc } = next;
    const dseq = this.dseq++;
    if (dc === 1) {
      const n = this.numPending();
      this.npc = n > 0 ? n - 1 : 0;
    }
    let hdr = msg.hdr;
    let data: Buffer | null = msg.data;
    if (this.cfg.headers_only === true) {
      hdr = appendHeaders(msg.hdr, [['Nats-Msg-Size', String(msg.data.length)]]);
      data = null;
    }
    // The ack reply is written into the frame as digits (ackReply's form, no string per delivery).
    this.js.host.deliverAck(this.stream.acc, to, msg.subject, this.replyPrefix, dc, msg.seq, dseq, msg.ts, this.npc, hdr, data);
    const sz = this.msgSize(msg);
    if (this.cfg.ack_policy === 'none') {
      this.acks.deliveredNoAck(msg.seq, dseq);
      if (this.replicate !== null) this.replicate.delivered(dseq, msg.seq, dc, nowNs());
      if (this.stream.config.retention !== 'limits') retentionAcked(this.stream, this, [msg.seq]);
    } else {
      this.acks.track(msg.seq, dseq, now);
      if (this.replicate !== null) this.replicate.delivered(dseq, msg.seq, dc, nowNs());
      let wait = this.ackWaitMs;
      if (this.backoffMs.length > 0) wait = this.backoffMs[Math.min(dc - 1, this.backoffMs.length - 1)]!;
      if (now + wait < this.nextAckCheck) this.nextAckCheck = now + wait;
    }
    if (this.isPush && this.cfg.flow_control === true) {
      this.pbytes += sz;
      if (this.fcid === null && this.pbytes > FC_MAX_PENDING / 2) this.sendFlowControl();
      else if (this.fcid !== null && this.pbytes - this.fcsz >= FC_MAX_PENDING) this.fcsz += sz;
    }
    if (this.cfg.rate_limit_bps !== undefined && this.cfg.rate_limit_bps > 0) {
      this.notBefore = Math.max(now, this.notBefore) + (sz * 8 * 1000) / this.cfg.rate_limit_bps;
    }
    this.lastDeliveryMs = now;
    this.lastActivityMs = now;
    this.lastActiveNs = ns;
    this.markDirty();
  }

  // ---- the delivery loop -----------------------------------------------------------------------

  signal(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(this.pumpBound);
  }

  private retryIn(ms: number): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.signal();
    }, Math.max(1, Math.ceil(ms)));
    this.retryTimer.unref?.();
  }

  private pump(): void {
    this.scheduled = false;
    if (this.closed) return;
    const host = this.js.host;
    if (hostCongested(host)) return this.retryIn(2);
    const push = this.isPush;
    const now = Date.now();
    // One clock read per turn for last_active (it was one per message: ~4% of a fetch's worker time).
    const ns = nowNs();
    for (let budget = PUMP_BUDGET; budget > 0; budget--) {
      if (now < this.notBefore) return this.retryIn(this.notBefore - now);
      let wr: WaitingRequest | undefined;
      if (push) {
        if (!this.active) {
          this.active = host.hasInterest(this.stream.acc, this.cfg.deliver_subject!);
          if (!this.active) return;
          this.lastDeliveryMs = now;
        }
        if (this.cfg.flow_control === true && this.pbytes > FC_MAX_PENDING) return;
      } else {
        wr = this.pulls!.head(now);
        if (wr === undefined) return;
      }
      const next = this.nextMsg();
      if (next === null) {
        if (!push && this.stall === 'eos') this.pulls!.endOfStream();
        return;
      }
      if (this.cfg.replay_policy === 'original' && next.dc === 1) {
        const wait = this.replayWait(next.msg, now);
        if (wait > 0) {
          this.held = next;
          return this.retryIn(wait);
        }
      }
      let to: string;
      if (wr !== undefined) {
        const sz = this.msgSize(next.msg);
        if (wr.maxBytes > 0 && sz > wr.b) {
          this.js.host.publish(this.stream.acc, wr.reply, null, maxBytesExceeded(wr.n, wr.b), null);
          this.pulls!.queue.removeHead();
          this.held = next;
          continue;
        }
        this.pulls!.queue.pop();
        if (wr.maxBytes > 0) {
          wr.b -= sz;
          if (wr.b === 0 && wr.n > 0) this.pulls!.queue.sweep((x) => x === wr);
        }
        to = wr.reply;
      } else to = this.cfg.deliver_subject!;
      this.deliver(next, to, now, ns);
    }
    this.signal();
  }

  /** Replay original: ms until this message is due (its gap to the first replayed one). */
  private replayWait(msg: StoredMsg, now: number): number {
    if (this.replayBase === null) {
      this.replayBase = { ts: msg.ts, wall: now };
      return 0;
    }
    return this.replayBase.wall + (msg.ts - this.replayBase.ts) / 1e6 - now;
  }

  // ---- pull requests -----------------------------------------------------------------------------

  /** processNextMsgRequest (the checks and queueing are PullRequests'). */
  nextRequest(reply: string | null, body: Buffer | string): void {
    if (reply === null || reply === '' || this.closed) return;
    const pulls = this.pulls;
    if (pulls === null) {
      this.js.host.publish(this.stream.acc, reply, null, Status.PUSH_BASED, null);
      return;
    }
    const req = pulls.check(reply, body, this.cfg);
    if (req === null) return;
    const now = Date.now();
    this.lastActivityMs = now;
    const available = (): number => this.numPending() + this.acks.rdqLength + (this.held !== null ? 1 : 0);
    if (pulls.enqueue(reply, req, now, available, this.dseq - 1, this.sseq - 1)) this.signal();
  }

  // ---- acks ----------------------------------------------------------------------------------

  /** processAck: `info` is the parsed reply subject the ack was sent to. */
  processAck(info: AckReplyInfo, body: AckBody, reply: string | null): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastActivityMs = now;
    let ackReply = reply !== null && reply !== '';
    switch (body.kind) {
      case AckKind.ACK:
        if (this.cfg.sample_freq !== undefined) sampleAck(this, info, now);
        this.ackMsg(info.sseq, info.dseq);
        break;
      case AckKind.NEXT:
        this.ackMsg(info.sseq, info.dseq);
        this.nextRequest(reply, body.arg);
        ackReply = false;
        break;
      case AckKind.NAK:
        // processNak: advised while the delivery is still pending.
        if (info.dseq > this.acks.adflr && info.dseq < this.dseq && this.acks.pending.has(info.sseq)) {
          this.js.advisories?.nak(this.stream.acc, this.stream.name, this.name, info.dseq, info.sseq, info.dc);
        }
        if (this.acks.nak(info.sseq, info.dseq, this.dseq, nakDelayNs(body.arg), this.ackWaitMs, now)) this.signal();
        else this.nextAckCheck = Math.min(this.nextAckCheck, now); // a delay moved a deadline: recheck
        this.markDirty();
        break;
      case AckKind.PROGRESS:
        if (this.acks.progress(info.sseq, now)) this.markDirty();
        break;
      case AckKind.TERM:
        this.ackMsg(info.sseq, info.dseq);
        this.js.advisories?.terminated(this.stream.acc, this.stream.name, this.name, info.dseq, info.sseq, info.dc, body.arg);
        break;
    }
    if (ackReply) this.js.host.publish(this.stream.acc, reply!, null, null, null);
  }

  /** processAck of a plain ack without a reply (the link's byte path, ConsumerPlugin.ackBytes). */
  ackPlain(dc: number, sseq: number, dseq: number): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastActivityMs = now;
    if (this.cfg.sample_freq !== undefined) sampleAck(this, { stream: this.stream.name, consumer: this.name, dc, sseq, dseq }, now);
    this.ackMsg(sseq, dseq);
  }

  private ackMsg(sseq: number, dseq: number): void {
    const wasFull = this.maxp > 0 && this.acks.pending.size >= this.maxp;
    const acked = this.acks.ack(sseq, dseq, this.dseq, this.sseq);
    if (acked.length === 0) return;
    if (this.replicate !== null) this.replicate.acked(dseq, sseq);
    this.markDirty();
    if (this.stream.config.retention !== 'limits') retentionAcked(this.stream, this, acked);
    if (wasFull || this.acks.rdqLength > 0) this.signal();
  }

  // ---- push: flow control, heartbeats ------------------------------------------------------------

  private sendFlowControl(): void {
    this.fcid = `$JS.FC.${this.stream.name}.${this.name}.${++this.fcSerial}`;
    this.fcsz = this.pbytes;
    this.js.host.publish(this.stream.acc, this.cfg.deliver_subject!, this.fcid, Status.FLOW_CONTROL, null);
  }

  /** processFlowControl: the client answered our last flow-control request. */
  processFlowControl(subject: string): void {
    if (subject !== this.fcid) return;
    this.pbytes = Math.max(0, this.pbytes - this.fcsz);
    this.fcid = null;
    this.fcsz = 0;
    this.signal();
  }

  // ---- time ----------------------------------------------------------------------------------

  /**
   * Timed work, called by the plugin's shared timer. Returns false when the consumer should be
   * deleted for inactivity (ephemerals, or inactive_threshold set).
   */
  tick(now: number): boolean {
    if (this.closed) return true;
    const host = this.js.host;
    if (this.isPush) {
      const act = host.hasInterest(this.stream.acc, this.cfg.deliver_subject!);
      if (act !== this.active) {
        this.active = act;
        if (act) {
          // Heartbeats count from when someone listens, so data goes first (KV keys() stops at one).
          this.lastDeliveryMs = now;
          this.signal();
        } else this.inactiveSince = now;
      }
      if (!act && this.dthreshMs > 0 && now - this.inactiveSince >= this.dthreshMs) return false;
      if (act && this.hbMs > 0 && now - this.lastDeliveryMs >= this.hbMs) {
        host.publish(this.stream.acc, this.cfg.deliver_subject!, null, idleHeartbeat(this.dseq - 1, this.sseq - 1, this.fcid), null);
        this.lastDeliveryMs = now;
      }
    } else {
      this.pulls!.expire(now, this.dseq - 1, this.sseq - 1);
      if (this.pulls!.queue.length > 0) this.lastActivityMs = now;
      else if (this.dthreshMs > 0 && now - this.lastActivityMs >= this.dthreshMs) return false;
    }
    if (now >= this.nextAckCheck) {
      const st = this.stream.store.state();
      const r = this.acks.expire(now, this.ackWaitMs, this.backoffMs, this.maxdc, st.first_seq, this.dseq, this.sseq);
      this.nextAckCheck = r.next === Infinity ? Infinity : now + r.next;
      if (r.exceeded.length > 0) {
        for (const [seq, dc] of r.exceeded) this.js.advisories?.maxDeliveries(this.stream.acc, this.stream.name, this.name, seq, dc);
        this.markDirty();
        this.signal();
      }
      if (r.queued > 0) {
        this.markDirty();
        this.signal();
      }
    }
    if (this.writer !== null && this.writer.isDirty && now - this.lastFlush >= FLUSH_EVERY_MS) {
      this.lastFlush = now;
      this.writer.flush();
    }
    return true;
  }

  private markDirty(): void {
    this.writer?.mark();
  }

  // ---- stream events (ConsumerLike) ------------------------------------------------------------

  onStored(seq: number, subject: string): void {
    if (this.closed) return;
    if (!this.npcDirty && seq >= this.sseq && this.matches(subject)) this.npc++;
    this.signal();
  }

  onRemoved(seq: number): void {
    if (this.closed) return;
    if (seq >= this.sseq) {
      if (this.filters.length === 0 && !this.npcDirty) this.npc = Math.max(0, this.npc - 1);
      else this.npcDirty = true;
    }
    if (this.held !== null && this.held.msg.seq === seq) {
      this.held = null;
      this.npcDirty = true;
    }
    if (this.acks.forget(seq, this.dseq, this.sseq)) {
      this.markDirty();
      this.signal();
    }
  }

  onPurged(): void {
    if (this.closed) return;
    const first = this.stream.store.state().first_seq;
    if (this.held !== null) this.held = null;
    if (this.sseq < first) {
      this.sseq = first;
      if (this.lss !== null && this.lss.resume < first) this.lss = null;
    }
    for (const seq of [...this.acks.pending.keys()]) {
      if (seq < first || this.stream.store.loadMsg(seq) === null) this.acks.forget(seq, this.dseq, this.sseq);
    }
    if (this.acks.asflr < first - 1) this.acks.refloor(this.dseq, this.sseq);
    this.npcDirty = true;
    this.markDirty();
    this.signal();
  }

  /** needAck: does this consumer still want seq (interest retention)? */
  wants(seq: number, subject: string): boolean {
    if (this.closed) return false;
    if (!this.matches(subject)) return false;
    if (seq <= this.acks.asflr) return false;
    if (this.cfg.ack_policy !== 'explicit') return true;
    if (seq >= this.sseq) return true;
    return this.acks.pending.has(seq) || (this.held !== null && this.held.msg.seq === seq);
  }

  info(): Record<string, unknown> {
    const delivered: Record<string, unknown> = { consumer_seq: this.dseq - 1, stream_seq: this.sseq - 1 };
    if (this.lastActiveNs > 0) delivered.last_active = nsToRfc3339(this.lastActiveNs);
    const out: Record<string, unknown> = {
      stream_name: this.stream.name,
      name: this.name,
      created: nsToRfc3339(this.created),
      config: renderConfig(this.cfg),
      delivered,
      ack_floor: { consumer_seq: this.acks.adflr, stream_seq: this.acks.asflr },
      num_ack_pending: this.acks.pending.size,
      num_redelivered: this.acks.rdc.size,
      num_waiting: this.pulls?.queue.length ?? 0,
      num_pending: this.numPending(),
    };
    const serverName = (this.js as { serverName?: unknown }).serverName;
    if (typeof serverName === 'string') out.cluster = { leader: serverName };
    if (this.isPush && this.active) out.push_bound = true;
    out.ts = nsToRfc3339(nowNs());
    return out;
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** A durable consumer's files as they would be persisted now (stream snapshots). */
  snapshotFiles(): { meta: string; state: string } | null {
    if (this.dir === null || this.closed) return null;
    return { meta: JSON.stringify({ created: this.created, config: this.cfg }), state: JSON.stringify(this.snapshot()) };
  }

  private snapshot(): ConsumerStateFile {
    const s = this.acks.snapshot();
    return {
      delivered: { consumer_seq: this.dseq - 1, stream_seq: this.sseq - 1 },
      ack_floor: { consumer_seq: this.acks.adflr, stream_seq: this.acks.asflr },
      pending: s.pending,
      redelivered: s.redelivered,
    };
  }

  /**
   * Restart: continue after what was delivered; what was pending stays pending, so it is redelivered
   * when its ack wait runs out (nats-server restores pending with their delivery times).
   */
  private restoreState(st: ConsumerStateFile): void {
    this.dseq = st.delivered.consumer_seq + 1;
    this.sseq = st.delivered.stream_seq + 1;
    this.acks.adflr = st.ack_floor.consumer_seq;
    this.acks.asflr = st.ack_floor.stream_seq;
    this.acks.restore(st.pending ?? [], st.redelivered ?? []);
    const first = this.stream.store.state().first_seq;
    if (this.sseq < first) this.sseq = first;
    if (this.acks.pending.size > 0) this.nextAckCheck = Date.now();
    this.npcDirty = true;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private stopTimers(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.stopTimers();
    if (this.writer !== null) await this.writer.flushFinal();
  }

  async destroy(): Promise<void> {
    const wasOpen = !this.closed;
    this.stopTimers();
    if (wasOpen && this.pulls !== null) {
      for (const wr of this.pulls.queue.clear()) this.js.host.publish(this.stream.acc, wr.reply, null, Status.CONSUMER_DELETED, null);
    }
    if (this.writer !== null) await this.writer.close();
    if (this.dir !== null) removeConsumerDir(this.dir);
  }
}

/**
 * sampleAck: with sample_freq set, an ack is reported as a `$JS.EVENT.METRIC.CONSUMER.ACK` metric
 * with the time since its delivery, for that percentage of acks (shouldSample).
 */
function sampleAck(c: Consumer, info: AckReplyInfo, now: number): void {
  const adv = c.js.advisories;
  const p = c.acks.pending.get(info.sseq);
  if (adv === undefined || p === undefined) return;
  const f = Number.parseInt((c.cfg.sample_freq ?? '').replace(/%$/, ''), 10);
  if (!(f > 0) || (f < 100 && Math.floor(Math.random() * 100) > f)) return;
  adv.ackMetric(c.stream.acc, c.stream.name, c.name, info.dseq, info.sseq, (now - p.ts) * 1e6, info.dc);
}
