// Consumer configuration: decoding (Go's json.Unmarshal into ConsumerConfig), defaults
// (consumer.go setConsumerConfigDefaults), validation (checkConsumerCfg, plus the workqueue rules of
// addConsumerWithAssignment) and what an update may change (checkNewConsumerConfig). Field names are
// nats-server's JSON names because the config is returned and persisted as it is; durations are
// nanoseconds.

import type { ApiErrorBody, StreamConfig } from '../types.js';
import { rfc3339ToNs } from '../types.js';
import { isValidSubject, hasWildcard, subjectMatches } from '../../sublist/subject.js';
import { subjectsCollide } from '../stream-config.js';
import { ConsumerErr } from './errors.js';

export type DeliverPolicy = 'all' | 'last' | 'new' | 'by_start_sequence' | 'by_start_time' | 'last_per_subject';
export type AckPolicy = 'none' | 'all' | 'explicit';
export type ReplayPolicy = 'instant' | 'original';

export interface ConsumerConfig {
  durable_name?: string;
  name?: string;
  description?: string;
  deliver_policy: DeliverPolicy;
  opt_start_seq?: number;
  opt_start_time?: string;
  ack_policy: AckPolicy;
  /** Nanoseconds. */
  ack_wait?: number;
  /** -1: unlimited. */
  max_deliver?: number;
  /** Nanoseconds, one per redelivery (the last repeats). */
  backoff?: number[];
  filter_subject?: string;
  filter_subjects?: string[];
  replay_policy: ReplayPolicy;
  rate_limit_bps?: number;
  sample_freq?: string;
  max_waiting?: number;
  max_ack_pending?: number;
  flow_control?: boolean;
  headers_only?: boolean;
  max_batch?: number;
  /** Nanoseconds. */
  max_expires?: number;
  max_bytes?: number;
  deliver_subject?: string;
  deliver_group?: string;
  /** Nanoseconds. */
  idle_heartbeat?: number;
  /** Nanoseconds. */
  inactive_threshold?: number;
  num_replicas: number;
  mem_storage?: boolean;
  /** An internal consumer of a mirror or source (not persisted, not listed, not counted). */
  direct?: boolean;
  metadata?: Record<string, string>;
}

/** JSWaitQueueDefaultMax, JsAckWaitDefault, JsDefaultMaxAckPending, JsDeleteWaitTimeDefault. */
export const DEFAULT_MAX_WAITING = 512;
export const DEFAULT_ACK_WAIT_NS = 30_000_000_000;
export const DEFAULT_MAX_ACK_PENDING = 1000;
export const EPHEMERAL_INACTIVE_NS = 5_000_000_000;
const MAX_NAME_LEN = 255; // JSMaxNameLen
const MAX_DESCRIPTION_LEN = 4 * 1024; // JSMaxDescriptionLen

const DELIVER_POLICIES: readonly string[] = ['all', 'last', 'new', 'by_start_sequence', 'by_start_time', 'last_per_subject'];
const ACK_POLICIES: readonly string[] = ['none', 'all', 'explicit'];
const REPLAY_POLICIES: readonly string[] = ['instant', 'original'];

const STRING_FIELDS = ['durable_name', 'name', 'description', 'opt_start_time', 'filter_subject', 'sample_freq', 'deliver_subject', 'deliver_group'] as const;
const NUMBER_FIELDS = ['opt_start_seq', 'ack_wait', 'max_deliver', 'rate_limit_bps', 'max_waiting', 'max_ack_pending', 'max_batch', 'max_expires', 'max_bytes', 'idle_heartbeat', 'inactive_threshold', 'num_replicas'] as const;
const BOOL_FIELDS = ['flow_control', 'headers_only', 'mem_storage', 'direct'] as const;

export type Decoded = { ok: true; config: ConsumerConfig } | { ok: false; error: ApiErrorBody };

/**
 * A raw `config` object as Go would unmarshal it: wrong types and unknown enum values fail
 * (JSInvalidJSONErr); unknown fields are dropped; absent fields take Go's zero values.
 */
export function decodeConsumerConfig(raw: unknown): Decoded {
  if (raw === null || raw === undefined) return { ok: false, error: ConsumerErr.configRequired() };
  if (typeof raw !== 'object' || Array.isArray(raw)) return bad('cannot unmarshal config');
  const r = raw as Record<string, unknown>;
  const c: ConsumerConfig = { deliver_policy: 'all', ack_policy: 'none', replay_policy: 'instant', num_replicas: 0 };
  const out = c as unknown as Record<string, unknown>;
  for (const k of STRING_FIELDS) {
    const v = r[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return bad(`cannot unmarshal ${typeof v} into field ${k} of type string`);
    if (v !== '') out[k] = v;
  }
  for (const k of NUMBER_FIELDS) {
    const v = r[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) return bad(`cannot unmarshal ${typeof v} into field ${k}`);
    out[k] = v;
  }
  for (const k of BOOL_FIELDS) {
    const v = r[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') return bad(`cannot unmarshal ${typeof v} into field ${k} of type bool`);
    if (v) out[k] = true;
  }
  const enumField = (k: string, allowed: readonly string[]): string | null | undefined => {
    const v = r[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !allowed.includes(v)) return null;
    return v;
  };
  const dp = enumField('deliver_policy', DELIVER_POLICIES);
  if (dp === null) return bad(`can not unmarshal ${JSON.stringify(r.deliver_policy)}`);
  if (dp !== undefined) c.deliver_policy = dp as DeliverPolicy;
  const ap = enumField('ack_policy', ACK_POLICIES);
  if (ap === null) return { ok: false, error: ConsumerErr.ackPolicyInvalid() };
  if (ap !== undefined) c.ack_policy = ap as AckPolicy;
  const rp = enumField('replay_policy', REPLAY_POLICIES);
  if (rp === null) return { ok: false, error: ConsumerErr.replayPolicyInvalid() };
  if (rp !== undefined) c.replay_policy = rp as ReplayPolicy;
  if (r.backoff !== undefined && r.backoff !== null) {
    if (!Array.isArray(r.backoff) || r.backoff.some((x) => typeof x !== 'number' || !Number.isInteger(x))) return bad('cannot unmarshal backoff');
    if (r.backoff.length > 0) c.backoff = (r.backoff as number[]).slice();
  }
  if (r.filter_subjects !== undefined && r.filter_subjects !== null) {
    if (!Array.isArray(r.filter_subjects) || r.filter_subjects.some((x) => typeof x !== 'string')) return bad('cannot unmarshal filter_subjects');
    if (r.filter_subjects.length > 0) c.filter_subjects = (r.filter_subjects as string[]).slice();
  }
  if (r.metadata !== undefined && r.metadata !== null) {
    if (typeof r.metadata !== 'object' || Array.isArray(r.metadata)) return bad('cannot unmarshal metadata');
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.metadata as Record<string, unknown>)) {
      if (typeof v !== 'string') return bad('cannot unmarshal metadata');
      md[k] = v;
    }
    if (Object.keys(md).length > 0) c.metadata = md;
  }
  if (c.opt_start_time !== undefined && Number.isNaN(rfc3339ToNs(c.opt_start_time))) return bad(`parsing time ${JSON.stringify(c.opt_start_time)}`);
  return { ok: true, config: c };
}

function bad(why: string): Decoded {
  return { ok: false, error: ConsumerErr.invalidJson(why) };
}

/** consumer.go setConsumerConfigDefaults (server and account limits are not configurable here). */
export function setConsumerConfigDefaults(c: ConsumerConfig): void {
  if (c.max_deliver === undefined || c.max_deliver === 0 || c.max_deliver < -1) c.max_deliver = -1;
  if (c.max_waiting !== undefined && c.max_waiting < 0) delete c.max_waiting;
  if (c.max_ack_pending !== undefined && c.max_ack_pending < -1) c.max_ack_pending = -1;
  for (const k of ['max_batch', 'max_expires', 'max_bytes', 'idle_heartbeat', 'inactive_threshold'] as const) {
    const v = c[k];
    if (v !== undefined && v <= 0) delete c[k];
  }
  if (c.deliver_subject === undefined && (c.max_waiting === undefined || c.max_waiting === 0)) c.max_waiting = DEFAULT_MAX_WAITING;
  if ((c.ack_wait === undefined || c.ack_wait === 0) && (c.ack_policy === 'explicit' || c.ack_policy === 'all')) c.ack_wait = DEFAULT_ACK_WAIT_NS;
  if (c.backoff !== undefined && c.backoff.length > 0) c.ack_wait = c.backoff[0]!;
  if ((c.max_ack_pending === undefined || c.max_ack_pending === 0) && c.ack_policy !== 'none') c.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
  if (c.max_ack_pending === 0) delete c.max_ack_pending;
  if (c.rate_limit_bps === 0) delete c.rate_limit_bps;
  if (c.opt_start_seq === 0) delete c.opt_start_seq;
}

/** The filters a consumer selects by (gatherSubjectFilters); an empty list means every subject. */
export function configFilters(c: ConsumerConfig): string[] {
  if (c.filter_subjects !== undefined && c.filter_subjects.length > 0) return c.filter_subjects.slice();
  if (c.filter_subject !== undefined && c.filter_subject !== '') return [c.filter_subject];
  return [];
}

/** Consumer and durable names: nats-server's isValidAssetName (no `.`, `*`, `>`, path separators, blanks). */
export function isValidConsumerName(name: string): boolean {
  return name !== '' && !/[ \t\r\n\f.*>\\/]/.test(name);
}

/** consumer.go checkConsumerCfg (the parts that apply to a single server). */
export function checkConsumerConfig(c: ConsumerConfig, stream: StreamConfig): ApiErrorBody | null {
  if (c.name !== undefined && !isValidConsumerName(c.name)) return ConsumerErr.invalidConfig("consumer name can not contain '.', '*', '>', '\\', '/'");
  if (c.durable_name !== undefined && !isValidConsumerName(c.durable_name)) {
    return ConsumerErr.invalidConfig("consumer durable name can not contain '.', '*', '>', '\\', '/'");
  }
  const nm = c.name ?? c.durable_name;
  if (nm !== undefined && nm.length > MAX_NAME_LEN) return ConsumerErr.nameTooLong(MAX_NAME_LEN);
  if (c.num_replicas > 0 && c.num_replicas > Math.max(1, stream.num_replicas)) return ConsumerErr.replicasExceedStream();
  if (c.num_replicas < 0) return ConsumerErr.replicasNegative();
  for (const b of c.backoff ?? []) if (b < 0) return ConsumerErr.backoffNegative();
  if (c.ack_wait !== undefined && c.ack_wait < 0) return ConsumerErr.ackWaitNegative();
  const lbo = c.backoff?.length ?? 0;
  if (lbo > 0 && c.max_deliver !== -1 && lbo > (c.max_deliver ?? -1)) return ConsumerErr.maxDeliverBackoff();
  if (c.description !== undefined && c.description.length > MAX_DESCRIPTION_LEN) return ConsumerErr.descriptionTooLong(MAX_DESCRIPTION_LEN);
  const hb = c.idle_heartbeat ?? 0;
  if (c.deliver_subject !== undefined) {
    if (hasWildcard(c.deliver_subject)) return ConsumerErr.deliverToWildcards();
    if (!isValidSubject(c.deliver_subject)) return ConsumerErr.invalidDeliverSubject();
    // deliveryFormsCycle: delivering into one of the stream's own subjects.
    for (const s of stream.subjects ?? []) if (subjectMatches(s, c.deliver_subject)) return ConsumerErr.deliverCycle();
    if (c.max_waiting !== undefined && c.max_waiting !== 0) return ConsumerErr.pushMaxWaiting();
    if ((c.max_ack_pending ?? 0) > 0 && c.ack_policy === 'none') return ConsumerErr.maxPendingAckPolicyRequired();
    if (hb > 0 && hb < 100_000_000) return ConsumerErr.smallHeartbeat();
  } else {
    if (c.ack_policy === 'none' && stream.retention === 'workqueue') return ConsumerErr.pullRequiresAck();
    if ((c.rate_limit_bps ?? 0) > 0) return ConsumerErr.pullWithRateLimit();
    if ((c.max_waiting ?? 0) < 0) return ConsumerErr.maxWaitingNegative();
    if (hb > 0) return ConsumerErr.hbRequiresPush();
    if (c.flow_control === true) return ConsumerErr.fcRequiresPush();
    if ((c.max_batch ?? 0) < 0) return ConsumerErr.maxRequestBatchNegative();
    if (c.max_expires !== undefined && c.max_expires !== 0 && c.max_expires < 1_000_000) return ConsumerErr.maxRequestExpiresTooSmall();
  }
  // Direct consumers (mirrors, sources) are push-based ephemerals.
  if (c.direct === true) {
    if (c.deliver_subject === undefined) return ConsumerErr.directRequiresPush();
    if (c.durable_name !== undefined) return ConsumerErr.directRequiresEphemeral();
  }
  if (c.filter_subject !== undefined && c.filter_subjects !== undefined) return ConsumerErr.duplicateFilterSubjects();
  if (c.filter_subject !== undefined && !isValidSubject(c.filter_subject)) return ConsumerErr.invalidConfig('invalid subject');
  for (const f of c.filter_subjects ?? []) if (f === '') return ConsumerErr.emptyFilter();
  const filters = configFilters(c);
  for (let i = 0; i < filters.length; i++) {
    if (!isValidSubject(filters[i]!)) return ConsumerErr.invalidConfig('invalid subject');
    for (let j = 0; j < filters.length; j++) {
      if (i !== j && subjectsCollide(filters[i]!, filters[j]!)) return ConsumerErr.overlappingFilters();
    }
  }
  // A filter must be able to match something the stream stores (2.9's validFilteredSubject; a stream
  // that transforms its input or reads other streams stores subjects of its own: not checked).
  const subjects = stream.subjects ?? [];
  if (subjects.length > 0 && stream.subject_transform === undefined && stream.mirror === undefined && (stream.sources ?? []).length === 0) {
    for (const f of filters) if (!subjects.some((s) => subjectsCollide(s, f))) return ConsumerErr.filterNotSubset();
  }
  const badStart = (dp: string, start: string): ApiErrorBody =>
    ConsumerErr.invalidPolicy(`consumer delivery policy is deliver ${dp}, but optional start ${start} is also set`);
  const notSet = (dp: string, what: string): ApiErrorBody =>
    ConsumerErr.invalidPolicy(`consumer delivery policy is deliver ${dp}, but optional ${what} is not set`);
  const seq = c.opt_start_seq ?? 0;
  const time = c.opt_start_time;
  switch (c.deliver_policy) {
    case 'all':
    case 'last':
    case 'new':
      if (seq > 0) return badStart(c.deliver_policy, 'sequence');
      if (time !== undefined) return badStart(c.deliver_policy, 'time');
      break;
    case 'last_per_subject':
      if (seq > 0) return badStart('last per subject', 'sequence');
      if (time !== undefined) return badStart('last per subject', 'time');
      if (filters.length === 0) return notSet('last per subject', 'filter subject');
      break;
    case 'by_start_sequence':
      if (seq === 0) return notSet('by start sequence', 'start sequence');
      if (time !== undefined) return badStart('by start sequence', 'time');
      break;
    case 'by_start_time':
      if (time === undefined) return notSet('by start time', 'start time');
      if (seq !== 0) return badStart('by start time', 'start sequence');
      break;
  }
  if (c.sample_freq !== undefined) {
    const s = c.sample_freq.endsWith('%') ? c.sample_freq.slice(0, -1) : c.sample_freq;
    if (!/^\d+$/.test(s)) return ConsumerErr.invalidSampling(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  if (c.flow_control === true && hb === 0) return ConsumerErr.fcNeedsHeartbeats();
  if (c.durable_name !== undefined && c.name !== undefined && c.name !== c.durable_name) return ConsumerErr.durableAndNameMismatch();
  return null;
}

/**
 * The workqueue rules of addConsumerWithAssignment: explicit acks, deliver all, and filters that do
 * not overlap those of the stream's other consumers (partitionUnique).
 */
export function checkWorkQueue(c: ConsumerConfig, name: string, others: readonly { name: string; filters: readonly string[] }[]): ApiErrorBody | null {
  if (c.ack_policy !== 'explicit') return ConsumerErr.wqRequiresExplicitAck();
  const mine = configFilters(c);
  const rest = others.filter((o) => o.name !== name);
  if (rest.length > 0) {
    if (mine.length === 0) return ConsumerErr.wqMultipleUnfiltered();
    for (const o of rest) {
      if (o.filters.length === 0) return ConsumerErr.wqNotUnique();
      for (const a of mine) for (const b of o.filters) if (subjectsCollide(a, b)) return ConsumerErr.wqNotUnique();
    }
  }
  if (c.deliver_policy !== 'all') return ConsumerErr.wqNotDeliverAll();
  return null;
}

/**
 * consumer.go checkNewConsumerConfig: what an existing consumer's update may not change. Returns
 * nats-server's error text (sent as JSConsumerCreateErrF) or null.
 */
export function checkConfigUpdate(cur: ConsumerConfig, next: ConsumerConfig): string | null {
  if (cur.deliver_policy !== next.deliver_policy) return 'deliver policy can not be updated';
  if ((cur.opt_start_seq ?? 0) !== (next.opt_start_seq ?? 0)) return 'start sequence can not be updated';
  if (cur.opt_start_time !== next.opt_start_time) {
    const a = cur.opt_start_time === undefined ? 0 : rfc3339ToNs(cur.opt_start_time);
    const b = next.opt_start_time === undefined ? 0 : rfc3339ToNs(next.opt_start_time);
    if (a !== b) return 'start time can not be updated';
  }
  if (cur.ack_policy !== next.ack_policy) return 'ack policy can not be updated';
  if (cur.replay_policy !== next.replay_policy) return 'replay policy can not be updated';
  if ((cur.idle_heartbeat ?? 0) !== (next.idle_heartbeat ?? 0)) return 'heart beats can not be updated';
  if ((cur.flow_control ?? false) !== (next.flow_control ?? false)) return 'flow control can not be updated';
  if ((cur.deliver_subject === undefined) !== (next.deliver_subject === undefined)) {
    return cur.deliver_subject === undefined ? 'can not update pull consumer to push based' : 'can not update push consumer to pull based';
  }
  if ((cur.deliver_group ?? '') !== (next.deliver_group ?? '')) return 'deliver group can not be updated';
  if ((cur.mem_storage ?? false) !== (next.mem_storage ?? false)) return 'mem_storage can not be updated';
  return null;
}

/** Key order nats-server marshals ConsumerConfig in (so `consumer info` reads the same). */
const FIELD_ORDER: readonly (keyof ConsumerConfig)[] = [
  'durable_name', 'name', 'description', 'deliver_policy', 'opt_start_seq', 'opt_start_time', 'ack_policy', 'ack_wait',
  'max_deliver', 'backoff', 'filter_subject', 'filter_subjects', 'replay_policy', 'rate_limit_bps', 'sample_freq',
  'max_waiting', 'max_ack_pending', 'flow_control', 'headers_only', 'max_batch', 'max_expires', 'max_bytes',
  'deliver_subject', 'deliver_group', 'idle_heartbeat', 'inactive_threshold', 'num_replicas', 'mem_storage', 'direct', 'metadata',
];

/** The config as JSON (omitempty fields left out when unset), in nats-server's field order. */
export function renderConfig(c: ConsumerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) {
    const v = c[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.slice() : v;
  }
  return out;
}

/** True when two configs are the same (the CREATE action's "already exists" test, reflect.DeepEqual). */
export function sameConsumerConfig(a: ConsumerConfig, b: ConsumerConfig): boolean {
  return JSON.stringify(renderConfig(a)) === JSON.stringify(renderConfig(b));
}
