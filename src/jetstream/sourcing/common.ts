// What a mirror and a source share (nats-server's sourceInfo and the helpers around it in stream.go):
// the state of one upstream, the consumer-create request through the JetStream API (with an external
// API prefix for another account or domain), the reply metadata of deliveries, control messages
// (heartbeats, flow control) and the timing constants.
//
// The upstream is only ever reached through messages — a request to `$JS.API.CONSUMER.CREATE...`
// answered on an internal inbox, deliveries on an internal deliver subject — so an origin on another
// server or behind a leafnode works the same once those messages travel there.

import type { Logger } from '../../log.js';
import type { InternalSubs } from '../internal.js';
import { syncSubject } from '../internal.js';
import type { SubjectTransform } from '../transform.js';
import type { ApiErrorBody, ExternalStreamConfig, JsHost, JsInbound } from '../types.js';

/** sourceHealthHB: the upstream consumer's idle heartbeat. */
export const HEARTBEAT_NS = 1_000_000_000;
/** sourceHealthCheckInterval: a silent upstream is restarted after this; also its inactive threshold. */
export const HEALTH_CHECK_MS = 10_000;
/** sourceConsumerRetryThreshold: consumer-create requests at most this often. */
export const RETRY_THRESHOLD_MS = 2_000;
/** retryBackOff / retryMaximum: backoff after failures. */
const RETRY_BACKOFF_MS = 5_000;
const RETRY_MAXIMUM_MS = 120_000;
/** srcConsumerWaitTime: how long a consumer-create answer is waited for. */
export const CONSUMER_WAIT_MS = 30_000;
/** 22 hours: the upstream consumer's ack_wait (it acks nothing). */
export const UPSTREAM_ACK_WAIT_NS = 22 * 3600 * 1_000_000_000;
/** dgetCaughtUpThresh: a mirror answers direct gets once fewer than this are pending. */
export const DIRECT_CAUGHT_UP = 10;

/** What the mirror and source code need of the engine. */
export interface SourcingEngine {
  readonly host: JsHost;
  readonly log: Logger;
  readonly internal: InternalSubs;
}

/** calculateRetryBackoff. */
export function retryBackoff(fails: number): number {
  return Math.min(RETRY_BACKOFF_MS * fails * 2, RETRY_MAXIMUM_MS);
}

/** Jitter added to every scheduled setup: 100-200 ms. */
export function jitter(): number {
  return 100 + Math.floor(Math.random() * 100);
}

/** One upstream: a mirror's origin or one source (nats-server's sourceInfo). */
export class SourceInfo {
  readonly name: string;
  /** Index name (sources): `<name>[:<api hash>] <filters> <destinations>`. */
  readonly iname: string;
  readonly external: ExternalStreamConfig | undefined;
  /** Filter as configured (shown in stream info). */
  sf = '';
  /** Subject transforms: sources and destinations. */
  sfs: string[] = [];
  trs: (SubjectTransform | null)[] = [];
  /** Name of the current upstream consumer ('' = none). */
  cname = '';
  /** The deliver subject subscribed for the current consumer. */
  deliver: string | null = null;
  /** Last stream sequence and last delivery sequence seen from upstream. */
  sseq = 0;
  dseq = 0;
  lag = 0;
  err: ApiErrorBody | null = null;
  fails = 0;
  /** ms: last message from upstream (or consumer creation); 0 = never heard. */
  last = 0;
  /** ms: last consumer-create request. */
  lreq = 0;
  /** Setup in progress (a create request is out). */
  sip = false;
  /** The pending create request: its inbox and its timeout. */
  reply: string | null = null;
  waitTimer: NodeJS.Timeout | null = null;
  /** A scheduled setup. */
  setupTimer: NodeJS.Timeout | null = null;

  constructor(name: string, iname: string, external: ExternalStreamConfig | undefined) {
    this.name = name;
    this.iname = iname;
    this.external = external;
  }

  /** isCurrentSub: a delivery of the current consumer (cross-account imports break sub identity). */
  isCurrent(reply: string | null): boolean {
    if (this.cname === '' || reply === null || !reply.startsWith('$JS.ACK.')) return false;
    return tokenAt(reply, 3) === this.cname;
  }

  /** The first transform matching subject, or subject itself. */
  transform(subject: string): string {
    for (const tr of this.trs) {
      if (tr === null) continue;
      const t = tr.match(subject);
      if (t !== null) return t;
    }
    return subject;
  }

  /** StreamSourceInfo JSON. */
  info(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name };
    if (this.external !== undefined) out['external'] = { api: this.external.api, deliver: this.external.deliver };
    out['lag'] = this.lag;
    out['active'] = this.last === 0 ? -1 : Math.max(0, Date.now() - this.last) * 1_000_000;
    if (this.err !== null) out['error'] = this.err;
    if (this.sf !== '') out['filter_subject'] = this.sf;
    if (this.sfs.length > 0) out['subject_transforms'] = this.sfs.map((src, i) => ({ src, dest: this.trs[i] ? this.trs[i]!.dest : '' }));
    return out;
  }
}

/** Token i (0-based) of a subject, or ''. */
export function tokenAt(subject: string, i: number): string {
  let start = 0;
  for (let k = 0; k < i; k++) {
    const d = subject.indexOf('.', start);
    if (d < 0) return '';
    start = d + 1;
  }
  const end = subject.indexOf('.', start);
  return end < 0 ? subject.slice(start) : subject.slice(start, end);
}

/** replyInfo: what a delivery's ack reply (`$JS.ACK.<s>.<c>.<dc>.<sseq>.<dseq>.<ts>.<pending>`) carries. */
export interface ReplyInfo {
  dc: number;
  sseq: number;
  dseq: number;
  ts: number;
  pending: number;
}

export function replyInfo(reply: string): ReplyInfo | null {
  const t = reply.split('.');
  if (t.length !== 9 || t[0] !== '$JS' || t[1] !== 'ACK') return null;
  const n = (s: string): number => (/^\d+$/.test(s) ? Number(s) : -1);
  return { dc: n(t[4]!), sseq: n(t[5]!), dseq: n(t[6]!), ts: n(t[7]!), pending: n(t[8]!) };
}

const CONTROL_PREFIX = Buffer.from('NATS/1.0 100 ', 'latin1');

/** isControlMsg: a heartbeat or flow-control request (status 100, no payload). */
export function isControl(m: JsInbound): boolean {
  const h = m.hdr;
  return m.data.length === 0 && h !== null && h.length >= CONTROL_PREFIX.length && h.compare(CONTROL_PREFIX, 0, CONTROL_PREFIX.length, 0, CONTROL_PREFIX.length) === 0;
}

/** The deliver subject for a new upstream consumer (`$JS.M.x` / `$JS.S.x`, or under the external deliver prefix). */
export function deliverSubject(kind: 'M' | 'S', ext: ExternalStreamConfig | undefined): string {
  if (ext !== undefined && ext.deliver !== '') return `${ext.deliver}${syncSubject(`.${kind}`)}`.replaceAll('..', '.');
  return syncSubject(`$JS.${kind}`);
}

/** The consumer-create subject, through the external API prefix when there is one. */
export function createSubject(stream: string, name: string, filter: string, ext: ExternalStreamConfig | undefined): string {
  let subject = filter !== '' ? `$JS.API.CONSUMER.CREATE.${stream}.${name}.${filter}` : `$JS.API.CONSUMER.CREATE.${stream}`;
  if (ext !== undefined) subject = subject.replace('$JS.API', ext.api).replaceAll('..', '.');
  return subject;
}

const NAME_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** createConsumerName: 8 random characters. */
export function consumerName(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += NAME_DIGITS[Math.floor(Math.random() * NAME_DIGITS.length)];
  return s;
}

/** The consumer-create response (JSApiConsumerCreateResponse) as far as mirrors and sources read it. */
export interface CreateResponse {
  error?: ApiErrorBody;
  name?: string;
  delivered?: { stream_seq?: number; consumer_seq?: number };
}

/**
 * Sends a consumer-create request for si, answered on a fresh internal inbox. `done` gets the parsed
 * answer, or null after CONSUMER_WAIT_MS without one (or an answer that is not JSON).
 */
export function requestConsumer(eng: SourcingEngine, acc: number, si: SourceInfo, subject: string, req: Record<string, unknown>, done: (r: CreateResponse | null) => void): void {
  const reply = syncSubject('$JSC.R');
  si.reply = reply;
  const finish = (r: CreateResponse | null): void => {
    if (si.reply !== reply) return;
    eng.internal.unsubscribe(acc, reply);
    si.reply = null;
    if (si.waitTimer !== null) clearTimeout(si.waitTimer);
    si.waitTimer = null;
    done(r);
  };
  eng.internal.subscribe(acc, reply, (m) => {
    let r: CreateResponse | null = null;
    try {
      r = JSON.parse(m.data.toString('utf8')) as CreateResponse;
    } catch {
      eng.log.warn(`JetStream bad consumer create response: ${m.data.toString('utf8').slice(0, 200)}`);
    }
    finish(r);
  });
  si.waitTimer = setTimeout(() => finish(null), CONSUMER_WAIT_MS);
  si.waitTimer.unref?.();
  eng.host.publish(acc, subject, reply, null, Buffer.from(JSON.stringify(req)));
}

/** Drops a pending create request (its inbox and timer). */
export function dropRequest(eng: SourcingEngine, acc: number, si: SourceInfo): void {
  if (si.reply !== null) eng.internal.unsubscribe(acc, si.reply);
  si.reply = null;
  if (si.waitTimer !== null) clearTimeout(si.waitTimer);
  si.waitTimer = null;
}

/**
 * A control message: a flow-control request is answered here (null is returned); for a heartbeat,
 * its last consumer sequence (-1 when absent) and the flow-control subject it says we owe.
 */
export function controlInfo(eng: SourcingEngine, acc: number, m: JsInbound, getHeader: (h: Buffer, k: string) => string | null): { last: number; stalled: string | null } | null {
  if (m.reply !== null && m.reply !== undefined && m.reply !== '') {
    eng.host.publish(acc, m.reply, null, null, null);
    return null;
  }
  const h = m.hdr!;
  const ld = getHeader(h, 'Nats-Last-Consumer');
  const stalled = getHeader(h, 'Nats-Consumer-Stalled');
  return { last: ld !== null && /^\d+$/.test(ld) ? Number(ld) : -1, stalled: stalled !== null && stalled !== '' ? stalled : null };
}
