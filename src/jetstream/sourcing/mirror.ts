// A mirror (nats-server's stream.go: setupMirrorConsumer, scheduleSetupMirrorConsumerRetry,
// processMirrorMsgs, processInboundMirrorMsg, retryMirrorConsumer, subscribeToMirrorDirect): an
// ephemeral, flow-controlled, heartbeating consumer on the origin, created through the JetStream API
// and delivering to an internal subject; messages are stored at the origin's sequence numbers with
// the origin's timestamps, gaps (expired or filtered messages) skipped.
//
// It catches up from the mirror's last sequence after a restart of the server, and after an origin
// outage the health check (no message or heartbeat for 10 s) or a heartbeat showing a missed
// delivery recreates the consumer, throttled and backing off as nats-server does.

import { getHeader } from '../headers.js';
import { SubjectTransform } from '../transform.js';
import type { Stream } from '../stream.js';
import type { JsInbound } from '../types.js';
import {
  CONSUMER_WAIT_MS,
  DIRECT_CAUGHT_UP,
  HEALTH_CHECK_MS,
  HEARTBEAT_NS,
  RETRY_THRESHOLD_MS,
  SourceInfo,
  UPSTREAM_ACK_WAIT_NS,
  consumerName,
  controlInfo,
  createSubject,
  deliverSubject,
  dropRequest,
  isControl,
  jitter,
  replyInfo,
  requestConsumer,
  retryBackoff,
  tokenAt,
  type CreateResponse,
  type SourcingEngine,
} from './common.js';

export class MirrorRunner {
  private readonly eng: SourcingEngine;
  readonly stream: Stream;
  readonly si: SourceInfo;
  /** Caught up with mirror_direct: answers direct gets for the origin's name. */
  directActive = false;
  private closed = false;
  private health: NodeJS.Timeout | null = null;
  private warned = 0;

  constructor(eng: SourcingEngine, stream: Stream) {
    this.eng = eng;
    this.stream = stream;
    const m = stream.config.mirror!;
    this.si = new SourceInfo(m.name, m.name, m.external);
    for (const tr of m.subject_transforms ?? []) {
      let t: SubjectTransform | null = null;
      try {
        t = SubjectTransform.create(tr.src, tr.dest);
      } catch {
        t = null;
      }
      this.si.sfs.push(tr.src);
      this.si.trs.push(t);
    }
  }

  /** subscribeToStream: the first setup goes out after a short delay. */
  start(): void {
    this.health = setInterval(() => this.checkHealth(), HEALTH_CHECK_MS);
    this.health.unref?.();
    this.scheduleRetry();
  }

  stop(): void {
    this.closed = true;
    if (this.health !== null) clearInterval(this.health);
    this.health = null;
    this.cancel();
    if (this.si.setupTimer !== null) clearTimeout(this.si.setupTimer);
    this.si.setupTimer = null;
  }

  info(): Record<string, unknown> {
    return this.si.info();
  }

  // ---- consumer setup ------------------------------------------------------------------------------

  /** cancelSourceInfo: forget the current consumer (the origin drops it once it sees no interest). */
  private cancel(): void {
    const si = this.si;
    if (si.deliver !== null) this.eng.internal.unsubscribe(this.stream.acc, si.deliver);
    si.deliver = null;
    si.cname = '';
    this.directActive = false;
    dropRequest(this.eng, this.stream.acc, si);
    si.sip = false;
  }

  /** scheduleSetupMirrorConsumerRetry. */
  private scheduleRetry(): void {
    const si = this.si;
    if (this.closed || si.setupTimer !== null) return;
    let next = Math.max(0, RETRY_THRESHOLD_MS - (Date.now() - si.lreq));
    next += retryBackoff(si.fails) + jitter();
    si.setupTimer = setTimeout(() => {
      si.setupTimer = null;
      this.setup();
    }, next);
    si.setupTimer.unref?.();
  }

  /** retryMirrorConsumer. */
  private retry(): void {
    this.eng.log.debug?.(`Retrying mirror consumer for '${this.stream.account} > ${this.stream.name}'`);
    this.cancel();
    this.setup();
  }

  /** setupMirrorConsumer. */
  private setup(): void {
    if (this.closed) return;
    const si = this.si;
    const stream = this.stream;
    if (si.deliver !== null || si.cname !== '') this.cancel();
    si.sseq = stream.lastSequence;
    const now = Date.now();
    if (now - si.lreq < RETRY_THRESHOLD_MS || si.sip) return this.scheduleRetry();
    si.lreq = now;
    const mcfg = stream.config.mirror!;
    const deliver = deliverSubject('M', mcfg.external);
    const st = stream.store.state();
    const config: Record<string, unknown> = {
      deliver_policy: 'by_start_sequence',
      opt_start_seq: st.last_seq + 1,
      ack_policy: 'none',
      ack_wait: UPSTREAM_ACK_WAIT_NS,
      max_deliver: 1,
      replay_policy: 'instant',
      idle_heartbeat: HEARTBEAT_NS,
      flow_control: true,
      deliver_subject: deliver,
      inactive_threshold: HEALTH_CHECK_MS * 1_000_000,
      num_replicas: 0,
      direct: true,
    };
    // Start options only the first time (nothing stored yet).
    if (st.messages === 0 && st.last_seq === 0) {
      delete config['opt_start_seq'];
      if ((mcfg.opt_start_seq ?? 0) > 0) config['opt_start_seq'] = mcfg.opt_start_seq;
      else if (mcfg.opt_start_time !== undefined) {
        config['opt_start_time'] = mcfg.opt_start_time;
        config['deliver_policy'] = 'by_start_time';
      }
    }
    if (config['opt_start_seq'] === undefined && config['opt_start_time'] === undefined) config['deliver_policy'] = 'all';
    const filter = mcfg.filter_subject ?? '';
    if (filter !== '') {
      config['filter_subject'] = filter;
      si.sf = filter;
    }
    if (si.sfs.length > 0) config['filter_subjects'] = si.sfs.slice();
    let name = '';
    if (filter !== '') {
      name = `mirror-${consumerName()}`;
      config['name'] = name;
    }
    const subject = createSubject(mcfg.name, name, filter, mcfg.external);
    si.err = null;
    si.sip = true;
    requestConsumer(this.eng, stream.acc, si, subject, { stream_name: mcfg.name, config }, (r) => this.onCreated(r, deliver));
  }

  private onCreated(r: CreateResponse | null, deliver: string): void {
    const si = this.si;
    si.sip = false;
    if (this.closed) return;
    if (r === null || r.error !== undefined || r.name === undefined) {
      if (r !== null && r.error !== undefined) {
        this.eng.log.warn(`JetStream error response for create mirror consumer: ${JSON.stringify(r.error)}`);
        si.err = r.error;
      } else if (r === null) {
        this.eng.log.warn(`JetStream mirror consumer for '${this.stream.account} > ${this.stream.name}' not created within ${CONSUMER_WAIT_MS / 1000}s`);
      }
      si.fails++;
      this.cancel();
      return this.scheduleRetry();
    }
    si.fails = 0;
    si.err = null;
    const stream = this.stream;
    si.deliver = deliver;
    this.eng.internal.subscribe(stream.acc, deliver, (m) => {
      si.last = Date.now();
      this.process(m);
    });
    // The origin no longer has what we would ask for next: skip to where its consumer starts.
    const delivered = r.delivered?.stream_seq ?? 0;
    if (stream.lastSequence !== delivered && delivered > stream.lastSequence) stream.skipTo(delivered);
    si.cname = r.name;
    si.dseq = 0;
    si.sseq = delivered;
    si.last = Date.now();
  }

  private checkHealth(): void {
    if (this.closed || this.si.sip || this.si.setupTimer !== null) return;
    if (Date.now() - this.si.last > HEALTH_CHECK_MS) this.retry();
  }

  // ---- messages --------------------------------------------------------------------------------

  /** processInboundMirrorMsg. */
  private process(m: JsInbound): void {
    if (this.closed) return;
    const si = this.si;
    const stream = this.stream;
    if (isControl(m)) {
      const c = controlInfo(this.eng, stream.acc, m, getHeader);
      if (c === null) return;
      // A heartbeat saying more was delivered than we saw: we missed something.
      if (c.last > 0 && c.last !== si.dseq) return this.retry();
      if (c.stalled !== null) this.eng.host.publish(stream.acc, c.stalled, null, null, null);
      return;
    }
    if (!si.isCurrent(m.reply ?? null)) return;
    const ri = replyInfo(m.reply!);
    if (ri === null || ri.dc > 1) return;
    const olag = si.lag;
    const osseq = si.sseq;
    const odseq = si.dseq;
    if (ri.sseq === si.sseq + 1) {
      si.dseq = ri.dseq;
      si.sseq++;
    } else if (ri.sseq <= si.sseq) {
      return; // older than what we have
    } else if (si.cname === '') {
      si.cname = tokenAt(m.reply!, 3);
      si.dseq = ri.dseq;
      si.sseq = ri.sseq;
    } else if (ri.dseq === si.dseq + 1) {
      // The origin expired or deleted messages (or a filter skipped them): keep its sequences.
      stream.skipTo(ri.sseq - 1);
      si.dseq++;
      si.sseq = ri.sseq;
    } else {
      return this.retry();
    }
    si.lag = ri.pending === 0 ? 0 : ri.pending - 1;
    if (stream.config.mirror_direct && !this.directActive && ri.pending < DIRECT_CAUGHT_UP) this.directActive = true;
    const subject = si.trs.length > 0 ? si.transform(m.subject) : m.subject;
    const ts = ri.ts > 0 ? ri.ts : undefined;
    if (stream.storeMirrored(subject, m.hdr, m.data, ri.sseq, ts ?? Date.now() * 1e6)) return;
    // Not stored: out of line with our sequences, or refused (size, limits, rollup).
    if (ri.sseq <= stream.lastSequence) {
      si.lag = olag;
      si.sseq = osseq;
      si.dseq = odseq;
      return;
    }
    const now = Date.now();
    if (now - this.warned > 10_000) {
      this.warned = now;
      this.eng.log.warn(`Error processing inbound mirror message for '${stream.account}' > '${stream.name}': not stored at sequence ${ri.sseq}`);
    }
    si.sseq = osseq;
    si.dseq = odseq;
    this.retry();
  }
}
