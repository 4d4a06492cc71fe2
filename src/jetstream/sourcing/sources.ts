// The sources of a stream (nats-server's stream.go: setupSourceConsumers, setupSourceConsumer,
// trySetupSourceConsumer, processAllSourceMsgs, processInboundSourceMsg, startingSequenceForSources,
// setStartingSequenceForSources, genSourceHeader): one ephemeral, flow-controlled, heartbeating
// consumer per source through the JetStream API, messages stored as new messages of this stream with
// the source's subject transform applied and a `Nats-Stream-Source` header
// (`<name>[:<api hash>] <origin seq> <filter> <destination>`) from which a restart finds where each
// source left off.

import { getHeader } from '../headers.js';
import { SubjectTransform } from '../transform.js';
import { nsToRfc3339 } from '../types.js';
import type { Stream } from '../stream.js';
import type { JsInbound, StreamSourceConfig } from '../types.js';
import { natsHash, sourceIndexName } from './config.js';
import {
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

const SOURCE_HDR = 'Nats-Stream-Source';
const MSG_ID = 'Nats-Msg-Id';

interface Source {
  si: SourceInfo;
  cfg: StreamSourceConfig;
}

export class SourcesRunner {
  private readonly eng: SourcingEngine;
  readonly stream: Stream;
  private readonly sources = new Map<string, Source>();
  private health: NodeJS.Timeout | null = null;
  private closed = false;
  private warned = 0;

  constructor(eng: SourcingEngine, stream: Stream) {
    this.eng = eng;
    this.stream = stream;
  }

  /** setupSourceConsumers: where each source left off (from our messages), then a consumer each. */
  start(): void {
    this.resetSourceInfo();
    this.startingSequences();
    for (const src of this.sources.values()) this.setupSourceConsumer(src, src.si.sseq + 1, 0);
    this.health = setInterval(() => this.checkHealth(), HEALTH_CHECK_MS);
    this.health.unref?.();
  }

  stop(): void {
    this.closed = true;
    if (this.health !== null) clearInterval(this.health);
    this.health = null;
    for (const src of this.sources.values()) {
      this.cancel(src);
      if (src.si.setupTimer !== null) clearTimeout(src.si.setupTimer);
      src.si.setupTimer = null;
    }
  }

  /** sourcesInfo, in configuration order. */
  info(): Record<string, unknown>[] {
    return [...this.sources.values()].map((s) => s.si.info());
  }

  // ---- state ---------------------------------------------------------------------------------

  /** resetSourceInfo. */
  private resetSourceInfo(): void {
    for (const src of this.sources.values()) this.cancel(src);
    this.sources.clear();
    for (const cfg of this.stream.config.sources ?? []) {
      const si = new SourceInfo(cfg.name, sourceIndexName(cfg, natsHash), cfg.external);
      const trs = cfg.subject_transforms ?? [];
      if (trs.length === 0) si.sf = cfg.filter_subject ?? '';
      for (const tr of trs) {
        let t: SubjectTransform | null = null;
        try {
          t = SubjectTransform.create(tr.src, tr.dest);
        } catch {
          t = null;
        }
        si.sfs.push(tr.src);
        si.trs.push(t);
      }
      this.sources.set(si.iname, { si, cfg });
    }
  }

  /**
   * startingSequenceForSources: walk our messages from the newest back, reading each
   * Nats-Stream-Source header, until every source's last origin sequence is known.
   */
  private startingSequences(): void {
    const store = this.stream.store;
    const st = store.state();
    if (st.messages === 0) return;
    const found = new Map<string, number>();
    const update = (iname: string, seq: number): void => {
      if (this.sources.has(iname) && !found.has(iname)) found.set(iname, seq);
    };
    for (let seq = st.last_seq; seq >= st.first_seq && found.size < this.sources.size; seq--) {
      const sm = store.loadMsg(seq);
      if (sm === null || sm.hdr === null) continue;
      const ss = getHeader(sm.hdr, SOURCE_HDR);
      if (ss === null || ss === '') continue;
      const p = parseSourceHeader(ss);
      if (p === null) continue;
      if (p.iname === '') {
        // Pre-2.10 header: any source reading that stream name.
        for (const src of this.sources.values()) {
          const n = src.cfg.external !== undefined ? `${src.cfg.name}:${natsHash(src.cfg.external.api)}` : src.cfg.name;
          if (p.stream === n) update(src.si.iname, p.seq);
        }
      } else update(p.iname, p.seq);
    }
    for (const [iname, seq] of found) {
      const src = this.sources.get(iname);
      if (src !== undefined) {
        src.si.sseq = seq;
        src.si.dseq = 0;
      }
    }
  }

  // ---- consumer setup --------------------------------------------------------------------------

  private cancel(src: Source): void {
    const si = src.si;
    if (si.deliver !== null) this.eng.internal.unsubscribe(this.stream.acc, si.deliver);
    si.deliver = null;
    si.cname = '';
    dropRequest(this.eng, this.stream.acc, si);
    si.sip = false;
  }

  /** setupSourceConsumer: schedules trySetupSourceConsumer (throttled, backing off, with jitter). */
  private setupSourceConsumer(src: Source, seq: number, startTimeNs: number): void {
    const si = src.si;
    if (this.closed || si.setupTimer !== null || si.sip) return;
    let delay = 0;
    if (si.lreq !== 0) {
      const since = Date.now() - si.lreq;
      if (since < RETRY_THRESHOLD_MS) delay = RETRY_THRESHOLD_MS - since;
      if (si.fails > 0) delay += retryBackoff(si.fails);
    }
    delay += jitter();
    si.setupTimer = setTimeout(() => {
      si.setupTimer = null;
      this.trySetup(src, seq, startTimeNs);
    }, delay);
    si.setupTimer.unref?.();
  }

  /** retrySourceConsumerAtSeq. */
  private retryAt(src: Source, seq: number): void {
    this.eng.log.debug?.(`Retrying source consumer for '${this.stream.account} > ${this.stream.name}'`);
    this.setupSourceConsumer(src, seq, 0);
  }

  /** trySetupSourceConsumer. */
  private trySetup(src: Source, seq: number, startTimeNs: number): void {
    if (this.closed || this.sources.get(src.si.iname) !== src) return;
    const si = src.si;
    const cfg = src.cfg;
    this.cancel(src);
    si.lreq = Date.now();
    const deliver = deliverSubject('S', cfg.external);
    const config: Record<string, unknown> = {
      deliver_policy: 'all',
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
    if (startTimeNs > 0 && seq > 1) {
      config['opt_start_time'] = nsToRfc3339(startTimeNs);
      config['deliver_policy'] = 'by_start_time';
    } else if (seq <= 1) {
      if ((cfg.opt_start_seq ?? 0) > 0) {
        config['opt_start_seq'] = cfg.opt_start_seq;
        config['deliver_policy'] = 'by_start_sequence';
      } else {
        // Nothing of this source found here: from the configured time, or from our newest message on.
        const st = this.stream.store.state();
        if (cfg.opt_start_time !== undefined) {
          const t = Date.parse(cfg.opt_start_time) * 1e6;
          config['opt_start_time'] = st.last_ts_ns > 0 && t < st.last_ts_ns ? nsToRfc3339(st.last_ts_ns) : cfg.opt_start_time;
          config['deliver_policy'] = 'by_start_time';
        } else if (st.first_seq > 1 && st.last_ts_ns > 0) {
          config['opt_start_time'] = nsToRfc3339(st.last_ts_ns);
          config['deliver_policy'] = 'by_start_time';
        }
      }
    } else {
      config['opt_start_seq'] = seq;
      config['deliver_policy'] = 'by_start_sequence';
    }
    let filter = cfg.filter_subject ?? '';
    if (filter !== '') config['filter_subject'] = filter;
    const sfs = (cfg.subject_transforms ?? []).map((t) => t.src);
    let name = '';
    if (filter !== '') {
      name = `src-${consumerName()}`;
    } else if (sfs.length === 1) {
      // The extended create subject carries one filter, so a single transform source becomes it.
      name = `src-${consumerName()}`;
      filter = sfs[0]!;
      config['filter_subject'] = filter;
    } else if (sfs.length > 1) {
      config['filter_subjects'] = sfs;
    }
    if (name !== '') config['name'] = name;
    const subject = createSubject(cfg.name, name, filter, cfg.external);
    si.err = null;
    si.sip = true;
    requestConsumer(this.eng, this.stream.acc, si, subject, { stream_name: cfg.name, config }, (r) => this.onCreated(src, r, deliver, seq, startTimeNs));
  }

  private onCreated(src: Source, r: CreateResponse | null, deliver: string, seq: number, startTimeNs: number): void {
    const si = src.si;
    si.sip = false;
    if (this.closed || this.sources.get(si.iname) !== src) return;
    if (r === null || r.error !== undefined || r.name === undefined) {
      if (r !== null && r.error !== undefined) {
        // Normal while starting up: a source may come back after the stream reading it.
        this.eng.log.warn(`JetStream error response for stream ${this.stream.name} create source consumer ${si.name}: ${JSON.stringify(r.error)}`);
        si.err = r.error;
      }
      si.fails++;
      this.cancel(src);
      return this.setupSourceConsumer(src, seq, startTimeNs);
    }
    si.fails = 0;
    si.err = null;
    const delivered = r.delivered?.stream_seq ?? 0;
    if (si.sseq !== delivered) si.sseq = delivered + 1;
    si.cname = r.name;
    si.dseq = 0;
    si.last = Date.now();
    si.deliver = deliver;
    this.eng.internal.subscribe(this.stream.acc, deliver, (m) => {
      si.last = Date.now();
      this.process(src, m);
    });
  }

  private checkHealth(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const src of this.sources.values()) {
      const si = src.si;
      if (si.sip || si.setupTimer !== null) continue;
      if (now - si.last > HEALTH_CHECK_MS) {
        this.setupSourceConsumer(src, si.sseq + 1, 0);
        si.last = now;
      }
    }
  }

  // ---- messages --------------------------------------------------------------------------------

  /** processInboundSourceMsg. */
  private process(src: Source, m: JsInbound): void {
    if (this.closed) return;
    const si = src.si;
    const stream = this.stream;
    if (isControl(m)) {
      const c = controlInfo(this.eng, stream.acc, m, getHeader);
      if (c === null) return;
      if (c.last > 0 && c.last !== si.dseq) return this.retryAt(src, si.sseq + 1);
      if (c.stalled !== null) this.eng.host.publish(stream.acc, c.stalled, null, null, null);
      return;
    }
    if (!si.isCurrent(m.reply ?? null)) return;
    const ri = replyInfo(m.reply!);
    if (ri === null || ri.dc > 1) return;
    if (ri.dseq === si.dseq + 1) {
      si.dseq++;
      si.sseq = ri.sseq;
    } else if (ri.dseq > si.dseq) {
      if (si.cname === '') {
        si.cname = tokenAt(m.reply!, 3);
        si.dseq = ri.dseq;
        si.sseq = ri.sseq;
      } else {
        return this.retryAt(src, si.sseq + 1);
      }
    } else {
      return;
    }
    si.lag = ri.pending === 0 ? 0 : ri.pending - 1;

    // Daisy chains: a previous source header goes, and so do the expected-* checks.
    let hdr = m.hdr !== null && m.hdr.length > 0 ? dropHeaders(m.hdr, (k) => k === SOURCE_HDR || k.startsWith('Nats-Expected-')) : null;
    hdr = withHeader(hdr, SOURCE_HDR, sourceHeader(si.iname, m.reply!));
    const subject = si.trs.length > 0 ? si.transform(m.subject) : m.subject;
    const before = stream.lastSequence;
    stream.process({ acc: stream.acc, subject, reply: null, hdr, data: m.data });
    if (stream.lastSequence !== before) return;
    // Not stored. A duplicate (Nats-Msg-Id) is fine; anything else is asked for again (discard new
    // limits make room later), as nats-server does.
    const id = getHeader(hdr, MSG_ID);
    if (id !== null && id !== '' && stream.hasMsgId(id)) return;
    const now = Date.now();
    if (now - this.warned > 10_000) {
      this.warned = now;
      this.eng.log.warn(`Error processing inbound source ${JSON.stringify(si.iname)} for '${stream.account}' > '${stream.name}': message ${ri.sseq} not stored`);
    }
    this.retryAt(src, ri.sseq);
  }
}

/** genSourceHeader: `<iname part 0> <origin seq> <iname part 1> <iname part 2>`. */
export function sourceHeader(iname: string, reply: string): string {
  const parts = iname.split(' ');
  const t = reply.split('.');
  const seq = t.length === 9 && t[0] === '$JS' && t[1] === 'ACK' ? t[5]! : '1';
  return `${parts[0]} ${seq} ${parts[1] ?? '>'} ${parts[2] ?? '>'}`;
}

/** streamAndSeq: stream name, index name ('' for the pre-2.10 forms) and origin sequence. */
export function parseSourceHeader(h: string): { stream: string; iname: string; seq: number } | null {
  if (h.startsWith('$JS.ACK.')) {
    const t = h.split('.');
    if (t.length !== 9) return null;
    return { stream: t[2]!, iname: '', seq: Number(t[5]) || 0 };
  }
  const f = h.split(' ');
  if (f.length !== 2 && f.length <= 3) return null;
  const seq = /^\d+$/.test(f[1]!) ? Number(f[1]) : 0;
  if (f.length >= 4) return { stream: f[0]!, iname: `${f[0]} ${f[2]} ${f[3]}`, seq };
  return { stream: f[0]!, iname: '', seq };
}

/** A header block without the headers `drop` selects (the status line and the rest kept in order). */
function dropHeaders(hdr: Buffer, drop: (key: string) => boolean): Buffer {
  const text = hdr.toString('latin1');
  const lines = text.split('\r\n');
  const kept: string[] = [lines[0]!];
  let changed = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const c = line.indexOf(':');
    if (c > 0 && drop(line.slice(0, c).trim())) {
      changed = true;
      continue;
    }
    kept.push(line);
  }
  if (!changed) return hdr;
  return Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** genHeader: appends `key: value` (a new block when there is none). */
function withHeader(hdr: Buffer | null, key: string, value: string): Buffer {
  const line = `${key}: ${value}\r\n\r\n`;
  if (hdr === null || hdr.length < 10) return Buffer.from(`NATS/1.0\r\n${line}`, 'latin1');
  let end = hdr.length;
  if (end >= 4 && hdr.toString('latin1', end - 4) === '\r\n\r\n') end -= 2;
  return Buffer.concat([hdr.subarray(0, end), Buffer.from(line, 'latin1')]);
}
