// One stream: publish processing (nats-server's stream.go processJetStreamMsg), de-duplication
// (storeMsgId / checkMsgId / rebuildDedupe), purge and message delete glue between the store and the
// consumers. The store enforces the limits itself; here are the checks nats-server makes before
// storing (sealed, expected-* headers, rollups, max_msg_size) and the pub acks, byte for byte.

import { JsErr } from './errors.js';
import { copyBytes, writeUint } from '../protocol/wire.js';
import { MsgIdWindow } from './msgid-window.js';
import { getHeader, newPublishHeaders, scanPublishHeaders } from './headers.js';
import { storeLimits } from './stream-config.js';
import { SubjectTransform } from './transform.js';
import { Republisher } from './republish.js';
import { renderStreamConfig } from './sourcing/config.js';
import { StoreError, StoreRefusal, nowNs, nsToRfc3339 } from './types.js';
import type { PublishLimits } from './account-resources.js';
import type { ApiErrorBody, ConsumerLike, JsHost, JsInbound, PurgeRequest, StreamConfig, StreamLike, StreamStore } from './types.js';

// Headers nats-server reads on publish (server/stream.go constants).
const MSG_ID = 'Nats-Msg-Id';
const ROLLUP = 'Nats-Rollup';
/** Header blocks are stored with a 16-bit length in nats-server's file store. */
const MAX_HDR = 0xffff;

/**
 * A replicated stream's group (cluster/stream-group.ts): the leader proposes what clients publish,
 * every member stores it when the entry commits (applyReplicated).
 */
export interface StreamReplication {
  /** A client's publish on one of the stream's subjects (processClusteredInboundMsg). */
  inbound(m: JsInbound): void;
  /** Consumers of the stream cluster-wide (interest retention, consumer_count). */
  consumerCount(): number;
}

/** What applying a replicated message did (jetstream_cluster.go applyStreamEntries). */
export const ApplyResult = { STORED: 0, FAILED: 1, MISMATCH: 2 } as const;

/** Parses a header value as nats-server's getExpectedLastSeq does (uint64; absent or bad = none). */
function headerSeq(v: string | null): number | null {
  if (v === null || !/^\d+$/.test(v)) return null;
  return Number(v);
}

/** One pub ack at a time (sendPubAck): a stream name is at most 255 bytes, a domain too. */
const ackScratch = Buffer.allocUnsafeSlow(1024);

/** One publish's headers at a time (this thread handles one publish at a time). */
const ph = newPublishHeaders();

export class Stream implements StreamLike {
  readonly acc: number;
  readonly account: string;
  readonly name: string;
  config: StreamConfig;
  readonly store: StreamStore;
  readonly dir: string | null;
  readonly consumers = new Map<string, ConsumerLike>();
  /** Creation time, epoch ns. */
  readonly created: number;
  private readonly host: JsHost;
  /** Last sequence handed out (mset.lseq): survives purges, drives Nats-Expected-Last-Sequence. */
  private lastSeq: number;
  /** Msg-Id of the last stored message (mset.lmsgId), '' when it had none. */
  private lastMsgId = '';
  /** Msg-Id → stored sequence and time, in insertion (= time) order, so expiry trims the front. */
  private readonly dedup = new MsgIdWindow();
  /** `{"stream":"X", "seq":` as nats-server's mset.pubAck template. */
  private ackPrefix: string;
  private ackPrefixBytes: Buffer;
  private closed = false;
  /** The server's and the account's limits (set by the engine when it registers the stream). */
  resources: PublishLimits | null = null;
  /** Input subject transform (`subject_transform`) and republish, from the config. */
  private itr: SubjectTransform | null = null;
  private republisher: Republisher | null = null;
  /** Mirror/sources state for stream info (`mirror`, `sources`), set by the sourcing manager. */
  sourcingInfo: (() => Record<string, unknown>) | null = null;
  /** Clustered JetStream: the stream's group; null on a single server. */
  replicated: StreamReplication | null = null;
  /** Replicated messages that failed their checks (mset.clfs): they used up a proposal sequence. */
  clfs = 0;

  constructor(host: JsHost, acc: number, account: string, config: StreamConfig, store: StreamStore, dir: string | null, created: number) {
    this.host = host;
    this.acc = acc;
    this.account = account;
    this.name = config.name;
    this.config = config;
    this.store = store;
    this.dir = dir;
    this.created = created;
    this.lastSeq = store.state().last_seq;
    this.ackPrefix = `{"stream":${JSON.stringify(config.name)}, "seq":`;
    this.ackPrefixBytes = Buffer.from(this.ackPrefix, 'utf8');
    store.onRemove = (seq) => {
      for (const c of this.consumers.values()) c.onRemoved(seq);
    };
    this.deriveTransforms();
  }

  private deriveTransforms(): void {
    const st = this.config.subject_transform;
    let itr: SubjectTransform | null = null;
    if (st !== undefined) {
      try {
        itr = SubjectTransform.create(st.src, st.dest);
      } catch {
        itr = null; // refused by checkTransforms before a stream gets here
      }
    }
    this.itr = itr;
    this.republisher = this.config.republish !== undefined ? new Republisher(this.config.republish) : null;
  }

  // ---- publish ----------------------------------------------------------------------------------

  /** A message on one of the stream's subjects (processJetStreamMsg). */
  process(m: JsInbound): void {
    if (this.closed) return;
    if (this.replicated !== null) return this.replicated.inbound(m);
    const cfg = this.config;
    const reply = cfg.no_ack === true ? null : m.reply;
    const hdr = m.hdr;
    // The input transform applies first; a subject it does not match stays as it is.
    const subject = this.itr === null ? m.subject : (this.itr.match(m.subject) ?? m.subject);

    if (cfg.sealed) return this.ackError(reply, JsErr.streamSealed());

    let msgId = '';
    let rollup = '';
    if (hdr !== null && hdr.length > 0) {
      if (hdr.length > MAX_HDR) return this.ackError(reply, JsErr.streamHeaderExceedsMaximum());
      scanPublishHeaders(hdr, ph);
      msgId = ph.msgId ?? '';
      if (msgId !== '') {
        const dseq = this.checkMsgId(msgId);
        if (dseq >= 0) {
          if (reply !== null) this.sendAck(reply, `${this.ackPrefix}${dseq},"duplicate": true}`);
          return;
        }
      }
      const expStream = ph.expectedStream;
      if (expStream !== null && expStream !== '' && expStream !== this.name) return this.ackError(reply, JsErr.streamMismatch());
      const expSeq = headerSeq(ph.expectedLastSeq);
      if (expSeq !== null && expSeq !== this.lastSeq) return this.ackError(reply, JsErr.wrongLastSequence(this.lastSeq));
      const expSubjSeq = headerSeq(ph.expectedLastSubjSeq);
      if (expSubjSeq !== null) {
        const onSubject = ph.expectedLastSubjSeqSubj || subject;
        const last = this.store.loadLastMsg(onSubject);
        const fseq = last === null ? 0 : last.seq;
        if (fseq !== expSubjSeq) return this.ackError(reply, JsErr.wrongLastSequence(fseq));
      }
      const expMsgId = ph.expectedLastMsgId;
      if (expMsgId !== null && expMsgId !== '' && expMsgId !== this.lastMsgId) return this.ackError(reply, JsErr.wrongLastMsgId(this.lastMsgId));
      rollup = ph.rollup ?? '';
      if (rollup !== '') {
        if (!cfg.allow_rollup_hdrs || cfg.deny_purge) return this.ackError(reply, JsErr.streamRollupFailed('rollup not permitted'));
        if (rollup !== 'sub' && rollup !== 'all') return this.ackError(reply, JsErr.streamRollupFailed(`rollup value invalid: ${JSON.stringify(rollup)}`));
      }
    }

    const size = (hdr === null ? 0 : hdr.length) + m.data.length;
    if (cfg.max_msg_size >= 0 && size > cfg.max_msg_size) return this.ackError(reply, JsErr.streamMessageExceedsMaximum());
    // js.limitsExceeded(stype), then jsa.wouldExceedLimits: the server's and the account's limits.
    if (this.resources !== null) {
      const limitErr = this.resources.check(cfg, subject.length + size);
      if (limitErr !== null) return this.ackError(reply, limitErr);
    }

    this.commit(subject, hdr, m.data, reply, msgId, rollup, undefined);
  }

  /**
   * A mirrored message (processInboundMirrorMsg → processJetStreamMsg with the origin's sequence and
   * time): stored at seq, after skipping what the origin no longer has. The origin already applied
   * de-duplication and the expected-* checks, so only the storing rules apply here. Returns false
   * when seq does not follow the last sequence (the mirror then restarts its consumer).
   */
  storeMirrored(subject: string, hdr: Buffer | null, data: Buffer, seq: number, ts: number): boolean {
    if (this.closed) return false;
    if (seq - 1 !== this.lastSeq) {
      // Only a mirror that never held anything may start at the origin's sequence.
      if (this.lastSeq !== 0 || this.store.state().messages !== 0 || seq - 1 < this.lastSeq) return false;
      this.skipTo(seq - 1);
    }
    const cfg = this.config;
    if (cfg.sealed) return false;
    let rollup = '';
    if (hdr !== null && hdr.length > 0) {
      if (hdr.length > MAX_HDR) return false;
      rollup = getHeader(hdr, ROLLUP) ?? '';
      if (rollup !== '' && (!cfg.allow_rollup_hdrs || cfg.deny_purge)) return false;
    }
    const size = (hdr === null ? 0 : hdr.length) + data.length;
    if (cfg.max_msg_size >= 0 && size > cfg.max_msg_size) return false;
    if (this.resources !== null && this.resources.check(cfg, subject.length + size) !== null) return false;
    return this.commit(subject, hdr, data, null, '', rollup, ts);
  }

  /** The input subject transform (`subject_transform`): what a message on `subject` is stored as. */
  transformSubject(subject: string): string {
    return this.itr === null ? subject : (this.itr.match(subject) ?? subject);
  }

  /**
   * A replicated message as its group committed it (jetstream_cluster.go applyStreamEntries →
   * stream.go processJetStreamMsg with lseq and ts), on every member: the leader's proposal sequence
   * must follow ours, the checks run again here (a failure counts in clfs, so every member numbers
   * the same), and only the leader answers. The subject is already transformed.
   */
  applyReplicated(subject: string, reply: string | null, hdr: Buffer | null, data: Buffer, lseq: number, ts: number, leader: boolean): number {
    if (this.closed) return ApplyResult.FAILED;
    const cfg = this.config;
    const respond = leader && cfg.no_ack !== true ? reply : null;
    if (lseq !== this.lastSeq + this.clfs) {
      // A replica that never stored anything adopts the group's numbering (a stream created with first_seq).
      if (this.lastSeq === 0 && this.store.state().messages === 0 && lseq > this.clfs) this.skipTo(lseq - this.clfs);
      else {
        this.ackError(respond, JsErr.streamSequenceNotMatch());
        return ApplyResult.MISMATCH;
      }
    }
    const fail = (err: ApiErrorBody | null): number => {
      this.clfs++;
      if (err !== null) this.ackError(respond, err);
      return ApplyResult.FAILED;
    };
    if (cfg.sealed) return fail(JsErr.streamSealed());
    let msgId = '';
    let rollup = '';
    if (hdr !== null && hdr.length > 0) {
      if (hdr.length > MAX_HDR) return fail(JsErr.streamHeaderExceedsMaximum());
      scanPublishHeaders(hdr, ph);
      msgId = ph.msgId ?? '';
      if (msgId !== '') {
        const dseq = this.checkMsgId(msgId);
        if (dseq >= 0) {
          this.clfs++;
          if (respond !== null) this.sendAck(respond, `${this.ackPrefix}${dseq},"duplicate": true}`);
          return ApplyResult.FAILED;
        }
      }
      const expSubjSeq = headerSeq(ph.expectedLastSubjSeq);
      if (expSubjSeq !== null) {
        const onSubject = ph.expectedLastSubjSeqSubj || subject;
        const last = this.store.loadLastMsg(onSubject);
        const fseq = last === null ? 0 : last.seq;
        if (fseq !== expSubjSeq) return fail(JsErr.wrongLastSequence(fseq));
      }
      const expSeq = headerSeq(ph.expectedLastSeq);
      if (expSeq !== null && expSeq !== this.lastSeq) return fail(JsErr.wrongLastSequence(this.lastSeq));
      const expMsgId = ph.expectedLastMsgId;
      if (expMsgId !== null && expMsgId !== '' && expMsgId !== this.lastMsgId) return fail(JsErr.wrongLastMsgId(this.lastMsgId));
      rollup = ph.rollup ?? '';
      if (rollup !== '') {
        if (!cfg.allow_rollup_hdrs || cfg.deny_purge) return fail(JsErr.streamRollupFailed('rollup not permitted'));
        if (rollup !== 'sub' && rollup !== 'all') return fail(null);
      }
    }
    const size = (hdr === null ? 0 : hdr.length) + data.length;
    if (cfg.max_msg_size >= 0 && size > cfg.max_msg_size) return fail(JsErr.streamMessageExceedsMaximum());
    if (!this.commit(subject, hdr, data, respond, msgId, rollup, ts, leader)) {
      this.clfs++;
      return ApplyResult.FAILED;
    }
    return ApplyResult.STORED;
  }

  /**
   * A message a stream catch-up brought (jetstream_cluster.go processCatchupMsg): stored at `seq` with
   * its time, after skipping what the leader no longer has; its Msg-Id joins the duplicate window.
   */
  storeAt(subject: string, hdr: Buffer | null, data: Buffer, seq: number, ts: number): boolean {
    if (this.closed || seq <= this.lastSeq) return false;
    if (seq - 1 > this.lastSeq) this.skipTo(seq - 1);
    const h = hdr === null || hdr.length === 0 ? null : Buffer.from(hdr);
    try {
      this.store.storeMsg(subject, h, Buffer.from(data), ts);
    } catch (err) {
      this.host.log.warn({ err: err instanceof Error ? err.message : String(err) }, `JetStream catch-up could not store message ${seq} of '${this.account} > ${this.name}'`);
      return false;
    }
    this.lastSeq = seq;
    const msgId = h === null ? '' : (getHeader(h, MSG_ID) ?? '');
    this.lastMsgId = msgId;
    if (msgId !== '') this.storeMsgId(msgId, seq, ts);
    for (const c of this.consumers.values()) c.onStored(seq, subject);
    return true;
  }

  /** Uses up sequences through lastSeq without messages (a mirror's gap: SkipMsgs). */
  skipTo(lastSeq: number): void {
    if (lastSeq <= this.lastSeq) return;
    this.store.skipTo(lastSeq);
    this.lastSeq = lastSeq;
    for (const c of this.consumers.values()) c.onPurged();
  }

  /** Last sequence handed out (mset.lseq). */
  get lastSequence(): number {
    return this.lastSeq;
  }

  /** Stores a checked message, answers, republishes and tells the consumers; false when refused. */
  private commit(subject: string, hdr: Buffer | null, data: Buffer, reply: string | null, msgId: string, rollup: string, tsIn: number | undefined, leader = true): boolean {
    const cfg = this.config;
    // Interest retention with no consumer at all: nats-server skips the message (SkipMsg); the
    // sequence is used up and acked, nothing is kept. (Replicated: the consumers of the whole group.)
    const noInterest = cfg.retention === 'interest' && (this.replicated !== null ? this.replicated.consumerCount() : this.consumers.size) === 0;
    // Republish needs the subject's previous sequence (Nats-Last-Sequence) from before the store.
    const rpSubject = this.republisher === null ? null : this.republisher.target(subject);
    let rpLast = 0;
    if (rpSubject !== null) {
      const ss = this.store.subjectsState(subject).get(subject);
      if (ss !== undefined) rpLast = ss.last;
    }

    // The views passed in are only valid during this call: the store copies what it keeps (the
    // file store encodes them into its record, the memory store into one buffer).
    let seq: number;
    let ts: number;
    try {
      const r = this.store.storeMsg(subject, hdr === null || hdr.length === 0 ? null : hdr, data, tsIn);
      seq = r.seq;
      ts = r.ts;
    } catch (err) {
      if (err instanceof StoreError) {
        if (err.refusal === StoreRefusal.MAX_MSG_SIZE) this.ackError(reply, JsErr.streamMessageExceedsMaximum());
        else this.ackError(reply, JsErr.streamStoreFailed(err.refusal));
        return false;
      }
      this.host.log.error({ err }, `JetStream failed to store a msg on stream '${this.account} > ${this.name}'`);
      this.ackError(reply, JsErr.streamStoreFailed(err instanceof Error ? err.message : String(err)));
      return false;
    }
    this.lastSeq = seq;
    this.lastMsgId = msgId;
    if (msgId !== '') this.storeMsgId(msgId, seq, ts);

    if (noInterest) {
      this.store.removeMsg(seq);
    } else {
      if (rollup === 'sub') this.purge({ filter: subject, keep: 1 });
      else if (rollup === 'all') this.purge({ keep: 1 });
    }
    if (rpSubject !== null && leader) {
      const rh = this.republisher!.headers(this.name, subject, seq, ts, rpLast, hdr === null || hdr.length === 0 ? null : hdr, data.length);
      this.host.publish(this.acc, rpSubject, null, rh, this.republisher!.headersOnly ? null : data);
    }
    if (reply !== null) this.sendPubAck(reply, seq);
    if (noInterest) return true;

    if (this.consumers.size > 0) {
      for (const c of this.consumers.values()) c.onStored(seq, subject);
      if (cfg.retention === 'interest' && leader && !this.wanted(seq, subject)) this.removeAndNotify(seq);
    }
    return true;
  }

  /** True while some consumer still wants seq (interest retention). */
  wanted(seq: number, subject: string): boolean {
    for (const c of this.consumers.values()) if (c.wants(seq, subject)) return true;
    return false;
  }

  private ackError(reply: string | null, err: ApiErrorBody): void {
    if (reply === null) return;
    // JSPubAckResponse{Error, PubAck{Stream}}: the error first, then stream and a zero seq.
    this.sendAck(reply, `{"error":${JSON.stringify(err)},"stream":${JSON.stringify(this.name)},"seq":0}`);
  }

  private sendAck(reply: string, body: string): void {
    this.host.publish(this.acc, reply, null, null, Buffer.from(body));
  }

  /**
   * The ordinary pub ack, written straight into a scratch buffer (no string built and encoded per
   * publish): the link copies it into its ring frames before publish returns.
   */
  private sendPubAck(reply: string, seq: number): void {
    const b = ackScratch;
    const pre = this.ackPrefixBytes;
    let p = copyBytes(b, 0, pre, 0, pre.length);
    p = writeUint(b, p, seq);
    b[p++] = 0x7d; // }
    this.host.publish(this.acc, reply, null, null, b.subarray(0, p));
  }

  /** `jetstream { domain }`: pub acks carry it (mset.pubAck: `{"stream":..., "domain":..., "seq":`). */
  setDomain(domain: string): void {
    this.ackPrefix = `{"stream":${JSON.stringify(this.name)}, "domain":${JSON.stringify(domain)}, "seq":`;
    this.ackPrefixBytes = Buffer.from(this.ackPrefix, 'utf8');
  }

  // ---- de-duplication (nats-server's ddmap / ddarr) ---------------------------------------------

  /** True while a message with this Nats-Msg-Id is inside the duplicate window. */
  hasMsgId(id: string): boolean {
    return this.checkMsgId(id) >= 0;
  }

  /** The sequence of the message stored with this Msg-Id inside the duplicate window, else -1. */
  private checkMsgId(id: string): number {
    return this.dedup.find(id, nowNs() - this.config.duplicate_window);
  }

  private storeMsgId(id: string, seq: number, ts: number): void {
    this.dedup.store(id, seq, ts);
    // checkMsgId ignores ids past the window, so the window's front is swept now and then, not per
    // message; nats-server purges its ddmap on a timer too (stream.go purgeMsgIds).
    if (ts >= this.dedupSweepAt) this.expireMsgIds(ts);
  }

  /** Next time (ns) the duplicate window's front is swept. */
  private dedupSweepAt = 0;

  /** Drops ids older than the window. */
  private expireMsgIds(now: number): void {
    const window = this.config.duplicate_window;
    this.dedupSweepAt = now + Math.min(Math.max(window / 16, 1_000_000), 1_000_000_000);
    this.dedup.expire(now - window);
  }

  /** After a restart: ids of messages still inside the window (nats-server's rebuildDedupe). */
  rebuildDedupe(): void {
    const st = this.store.state();
    if (st.messages === 0) return;
    const cutoff = nowNs() - this.config.duplicate_window;
    const found: { id: string; seq: number; ts: number }[] = [];
    for (let seq = st.last_seq; seq >= st.first_seq && seq > 0; seq--) {
      const sm = this.store.loadMsg(seq);
      if (sm === null) continue;
      if (sm.ts < cutoff) break;
      const id = getHeader(sm.hdr, MSG_ID);
      if (id) found.push({ id, seq: sm.seq, ts: sm.ts });
      if (seq === st.last_seq) this.lastMsgId = id ?? '';
    }
    for (let i = found.length - 1; i >= 0; i--) {
      const e = found[i]!;
      this.dedup.store(e.id, e.seq, e.ts);
    }
  }

  // ---- operations from the API ------------------------------------------------------------------

  /** Purge (mset.purge): consumers learn about it after the store removed the messages. */
  purge(req: PurgeRequest): number {
    const n = this.store.purge(req);
    for (const c of this.consumers.values()) c.onPurged();
    return n;
  }

  /** Removes one message; false when it was not there. */
  deleteMsg(seq: number): boolean {
    if (!this.store.removeMsg(seq)) return false;
    for (const c of this.consumers.values()) c.onRemoved(seq);
    return true;
  }

  private removeAndNotify(seq: number): void {
    if (this.store.removeMsg(seq)) for (const c of this.consumers.values()) c.onRemoved(seq);
  }

  /** Applies an already validated update (the store applies stricter limits at once). */
  update(cfg: StreamConfig): void {
    this.config = cfg;
    this.store.updateLimits(storeLimits(cfg));
    this.expireMsgIds(nowNs());
    this.deriveTransforms();
  }

  // ---- info -------------------------------------------------------------------------------------

  /**
   * The `state` object of stream info (StreamState JSON): zero counts are omitted as nats-server's
   * omitempty does; `subjects` only with a filter, `deleted` only when asked for.
   */
  stateJson(subjectsFilter: string, deletedDetails: boolean): { state: Record<string, unknown>; subjectsTotal: number } {
    const st = this.store.state();
    const state: Record<string, unknown> = {
      messages: st.messages,
      bytes: st.bytes,
      // A stream that never held a message reports first_seq 0, as nats-server's stores do.
      first_seq: st.last_seq === 0 && st.messages === 0 && (this.config.first_seq ?? 0) <= 1 ? 0 : st.first_seq,
      first_ts: nsToRfc3339(st.messages > 0 ? st.first_ts_ns : 0),
      last_seq: st.last_seq,
      last_ts: nsToRfc3339(st.last_ts_ns),
    };
    if (st.num_subjects > 0) state['num_subjects'] = st.num_subjects;
    let subjectsTotal = 0;
    if (subjectsFilter !== '') {
      const ss = this.store.subjectsState(subjectsFilter);
      subjectsTotal = ss.size;
      if (ss.size > 0) {
        const subjects: Record<string, number> = {};
        for (const [k, v] of ss) subjects[k] = v.msgs;
        state['subjects'] = subjects;
      }
    }
    if (st.num_deleted > 0) {
      if (deletedDetails) state['deleted'] = this.deletedSeqs(st.first_seq, st.last_seq);
      state['num_deleted'] = st.num_deleted;
    }
    state['consumer_count'] = this.replicated !== null ? this.replicated.consumerCount() : this.publicConsumerCount();
    return { state, subjectsTotal };
  }

  /** Consumers other than the direct ones of mirrors and sources (numPublicConsumers). */
  publicConsumerCount(): number {
    let n = 0;
    for (const c of this.consumers.values()) if (c.direct !== true) n++;
    return n;
  }

  /** Interior gaps between first and last (the store keeps no list, so walk the messages). */
  private deletedSeqs(first: number, last: number): number[] {
    const out: number[] = [];
    let expect = first;
    while (expect <= last) {
      const sm = this.store.loadNextMsg('', expect);
      const next = sm === null ? last + 1 : sm.seq;
      for (let s = expect; s < next && s <= last; s++) out.push(s);
      expect = next + 1;
    }
    return out;
  }

  /** Stream info body without `type` (StreamInfo JSON). */
  info(serverName: string | null, subjectsFilter = '', deletedDetails = false): { info: Record<string, unknown>; subjectsTotal: number } {
    const { state, subjectsTotal } = this.stateJson(subjectsFilter, deletedDetails);
    const info: Record<string, unknown> = { config: renderStreamConfig(this.config), created: nsToRfc3339(this.created), state };
    if (serverName !== null) info['cluster'] = { leader: serverName };
    if (this.sourcingInfo !== null) Object.assign(info, this.sourcingInfo());
    info['ts'] = nsToRfc3339(nowNs());
    return { info, subjectsTotal };
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** Server shutdown: consumers persist their state, the store flushes and closes. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers.values()) await c.stop();
    await this.store.stop();
  }

  /** Stream deleted: consumers and messages go. */
  async destroy(): Promise<void> {
    this.closed = true;
    const cs = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of cs) await c.destroy();
    this.store.onRemove = null;
    await this.store.destroy();
  }
}
