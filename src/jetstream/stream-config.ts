// Stream configuration: JSON decoding, defaults and validation as nats-server's checkStreamCfg
// (stream.go), update rules as its configUpdateCheck, and the subject helpers they need
// (SubjectsCollide). Error texts are nats-server's, checked against nats-server 2.9/2.10 replies.

import { JsErr } from './errors.js';
import { isValidSubject, subjectCovers } from '../sublist/subject.js';
import { checkRepublish, checkSourcing, decodeSourcing, natsHash, type StreamLookup } from './sourcing/config.js';
import { SourceErr } from './sourcing/errors.js';
import type { ApiErrorBody, StoreLimits, StreamConfig } from './types.js';

/** nats-server's JSMaxNameLen / JSMaxDescriptionLen / StreamMaxReplicas. */
const MAX_NAME_LEN = 255;
const MAX_DESCRIPTION_LEN = 4 * 1024;
const MAX_REPLICAS = 5;
/** StreamDefaultDuplicatesWindow: 2 minutes in nanoseconds. */
export const DEFAULT_DUPLICATE_WINDOW_NS = 120_000_000_000;
const MIN_WINDOW_NS = 100_000_000; // 100ms

export type ConfigResult = { ok: true; config: StreamConfig } | { ok: false; error: ApiErrorBody };

const fail = (error: ApiErrorBody): ConfigResult => ({ ok: false, error });
const invalid = (why: string): ConfigResult => fail(JsErr.streamInvalidConfig(why));

/** nats-server's isValidName: not empty, none of ` \t\r\n\f.*>`. */
export function isValidName(name: string): boolean {
  if (name === '') return false;
  return !/[ \t\r\n\f.*>]/.test(name);
}

/**
 * nats-server's SubjectsCollide: true when some literal subject matches both patterns.
 * Token by token: `*` matches any one token, `>` any rest of at least one token.
 */
export function subjectsCollide(a: string, b: string): boolean {
  if (a === b) return true;
  const at = a.split('.');
  const bt = b.split('.');
  const n = Math.min(at.length, bt.length);
  for (let i = 0; i < n; i++) {
    const x = at[i]!;
    const y = bt[i]!;
    if (x === '>' || y === '>') return true;
    if (x !== y && x !== '*' && y !== '*') return false;
  }
  return at.length === bt.length;
}

// ---- JSON decoding ------------------------------------------------------------------------------
// Go's json.Unmarshal into StreamConfig fails (JSInvalidJSONErr) when a known field has the wrong
// type or an enum an unknown value; unknown fields are dropped. We check the same.

const NUMBER_FIELDS = ['max_consumers', 'max_msgs', 'max_bytes', 'max_age', 'max_msgs_per_subject', 'max_msg_size', 'num_replicas', 'duplicate_window', 'first_seq'] as const;
const BOOL_FIELDS = ['no_ack', 'allow_rollup_hdrs', 'deny_delete', 'deny_purge', 'allow_direct', 'mirror_direct', 'sealed', 'discard_new_per_subject'] as const;
const ENUMS: Record<string, readonly string[]> = {
  retention: ['limits', 'interest', 'workqueue'],
  discard: ['old', 'new'],
  storage: ['file', 'memory'],
  compression: ['none', 's2'],
};

/** Decodes a request body into a raw config object, or null when Go would fail to unmarshal it. */
export function decodeConfig(body: Buffer | string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  for (const k of NUMBER_FIELDS) {
    const x = o[k];
    if (x !== undefined && x !== null && (typeof x !== 'number' || !Number.isInteger(x))) return null;
  }
  if (typeof o['first_seq'] === 'number' && (o['first_seq'] as number) < 0) return null; // uint64
  for (const k of BOOL_FIELDS) {
    const x = o[k];
    if (x !== undefined && x !== null && typeof x !== 'boolean') return null;
  }
  for (const [k, allowed] of Object.entries(ENUMS)) {
    const x = o[k];
    if (x !== undefined && x !== null && (typeof x !== 'string' || !allowed.includes(x))) return null;
  }
  for (const k of ['name', 'description'] as const) {
    const x = o[k];
    if (x !== undefined && x !== null && typeof x !== 'string') return null;
  }
  const subjects = o['subjects'];
  if (subjects !== undefined && subjects !== null && (!Array.isArray(subjects) || subjects.some((s) => typeof s !== 'string'))) return null;
  const md = o['metadata'];
  if (md !== undefined && md !== null && (typeof md !== 'object' || Array.isArray(md) || Object.values(md).some((s) => typeof s !== 'string'))) return null;
  if (decodeSourcing(o) === null) return null;
  return o;
}

const num = (o: Record<string, unknown>, k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0);
const bool = (o: Record<string, unknown>, k: string): boolean => o[k] === true;
const str = (o: Record<string, unknown>, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');

/**
 * Validates and fills defaults like nats-server's checkStreamCfg. The result is the config as the
 * API returns it (field order of nats-server's StreamConfig; optional fields only when set).
 */
export function checkStreamConfig(raw: Record<string, unknown>, lookup: StreamLookup = () => undefined): ConfigResult {
  const name = str(raw, 'name');
  if (!isValidName(name)) return invalid("stream name is required and can not contain '.', '*', '>'");
  if (name.length > MAX_NAME_LEN) return invalid(`stream name is too long, maximum allowed is ${MAX_NAME_LEN}`);
  const description = str(raw, 'description');
  if (description.length > MAX_DESCRIPTION_LEN) return invalid(`stream description is too long, maximum allowed is ${MAX_DESCRIPTION_LEN}`);

  const sourcing = decodeSourcing(raw) ?? {};

  let replicas = num(raw, 'num_replicas');
  if (replicas === 0) replicas = 1;
  if (replicas > MAX_REPLICAS) return invalid(`maximum replicas is ${MAX_REPLICAS}`);
  if (replicas < 0) return fail(JsErr.replicasCountCannotBeNegative());
  // Kept as asked: a stand-alone server refuses R>1 on create (10074, api/stream-api.ts) and, as
  // nats-server's configUpdateCheck, lets an update record it.

  const orMinus1 = (k: string): number => {
    const v = num(raw, k);
    return v === 0 ? -1 : v;
  };
  const max_msgs = orMinus1('max_msgs');
  const max_msgs_per_subject = orMinus1('max_msgs_per_subject');
  const max_bytes = orMinus1('max_bytes');
  const max_msg_size = orMinus1('max_msg_size');
  const max_consumers = orMinus1('max_consumers');
  const max_age = num(raw, 'max_age');
  let duplicate_window = num(raw, 'duplicate_window');
  if (duplicate_window === 0 && sourcing.mirror === undefined) {
    duplicate_window = max_age !== 0 && max_age < DEFAULT_DUPLICATE_WINDOW_NS ? max_age : DEFAULT_DUPLICATE_WINDOW_NS;
  }
  if (max_age > 0 && max_age < MIN_WINDOW_NS) return invalid('max age needs to be >= 100ms');
  if (duplicate_window < 0) return invalid('duplicates window can not be negative');
  if (max_age !== 0 && duplicate_window > max_age) return invalid('duplicates window can not be larger then max age');
  if (duplicate_window > 0 && duplicate_window < MIN_WINDOW_NS) return invalid('duplicates window needs to be >= 100ms');

  const deny_purge = bool(raw, 'deny_purge');
  const allow_rollup_hdrs = bool(raw, 'allow_rollup_hdrs');
  if (deny_purge && allow_rollup_hdrs) return invalid('roll-ups require the purge permission');

  const discard = (str(raw, 'discard') || 'old') as StreamConfig['discard'];
  const discard_new_per_subject = bool(raw, 'discard_new_per_subject');
  if (discard_new_per_subject) {
    if (discard !== 'new') return invalid('discard new per subject requires discard new policy to be set');
    if (max_msgs_per_subject <= 0) return invalid('discard new per subject requires max msgs per subject > 0');
  }

  let subjects = Array.isArray(raw['subjects']) ? [...(raw['subjects'] as string[])] : [];
  // Mirrors and sources (sourcing/config.ts), in checkStreamCfg's order: before the subjects.
  const src = checkSourcing(sourcing, { name, subjects, max_msg_size, first_seq: num(raw, 'first_seq'), lookup, hash: natsHash });
  if (!src.ok) return fail(src.error);
  if (subjects.length === 0) {
    // A mirror or a stream of sources alone captures no subject of its own.
    if (sourcing.mirror === undefined && sourcing.sources === undefined) subjects = [name];
  } else {
    if (sourcing.mirror !== undefined) return fail(SourceErr.mirrorWithSubjects());
    const seen = new Set<string>();
    for (const s of subjects) {
      if (seen.has(s)) return invalid('duplicate subjects detected');
      if (subjectCovers('$JS.API.>', s) || subjectCovers(s, '$JS.API.>')) return invalid('subjects overlap with jetstream api');
      if (!isValidSubject(s)) return invalid('invalid subject');
      seen.add(s);
    }
  }
  if (subjects.length > 1) {
    for (const s of subjects) {
      for (const t of subjects) {
        if (t !== s && subjectsCollide(t, s)) return invalid(`subject ${JSON.stringify(s)} overlaps with ${JSON.stringify(t)}`);
      }
    }
  }

  const config: StreamConfig = {
    name,
    ...(description !== '' ? { description } : {}),
    subjects,
    retention: (str(raw, 'retention') || 'limits') as StreamConfig['retention'],
    max_consumers,
    max_msgs,
    max_bytes,
    max_age,
    max_msgs_per_subject,
    max_msg_size,
    discard,
    storage: (str(raw, 'storage') || 'file') as StreamConfig['storage'],
    num_replicas: replicas,
    ...(bool(raw, 'no_ack') ? { no_ack: true } : {}),
    duplicate_window,
    ...(sourcing.mirror !== undefined ? { mirror: sourcing.mirror } : {}),
    ...(sourcing.sources !== undefined ? { sources: sourcing.sources } : {}),
    compression: (str(raw, 'compression') || 'none') as 'none' | 's2',
    ...(num(raw, 'first_seq') > 0 ? { first_seq: num(raw, 'first_seq') } : {}),
    ...(sourcing.subject_transform !== undefined ? { subject_transform: sourcing.subject_transform } : {}),
    ...(sourcing.republish !== undefined ? { republish: sourcing.republish } : {}),
    allow_direct: bool(raw, 'allow_direct'),
    // A mirror of a local stream inherits its allow_direct (checkStreamCfg).
    mirror_direct: src.mirror_direct ?? bool(raw, 'mirror_direct'),
    ...(discard_new_per_subject ? { discard_new_per_subject: true } : {}),
    sealed: bool(raw, 'sealed'),
    deny_delete: bool(raw, 'deny_delete'),
    deny_purge,
    allow_rollup_hdrs,
    consumer_limits: consumerLimits(raw['consumer_limits']),
  };
  const placement = raw['placement'];
  if (placement !== undefined && placement !== null && typeof placement === 'object') config['placement'] = placement;
  const md = raw['metadata'] as Record<string, string> | undefined | null;
  if (md && Object.keys(md).length > 0) config.metadata = { ...md };
  if (config.republish !== undefined) {
    const rpErr = checkRepublish(config.republish, subjects);
    if (rpErr !== null) return fail(rpErr);
  }
  return { ok: true, config };
}

function consumerLimits(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v === null || typeof v !== 'object') return out;
  const o = v as Record<string, unknown>;
  if (typeof o['inactive_threshold'] === 'number' && o['inactive_threshold'] > 0) out['inactive_threshold'] = o['inactive_threshold'];
  if (typeof o['max_ack_pending'] === 'number' && o['max_ack_pending'] > 0) out['max_ack_pending'] = o['max_ack_pending'];
  return out;
}

/** Create-only checks of jsStreamCreateRequest, made after the body decoded. */
export function checkCreateOnly(cfg: Record<string, unknown>): ApiErrorBody | null {
  if (cfg['sealed'] === true) return JsErr.streamInvalidConfig('stream configuration for create can not be sealed');
  if (cfg['mirror_direct'] === true && (cfg['mirror'] === undefined || cfg['mirror'] === null)) {
    return JsErr.streamInvalidConfig('stream has no mirror but does have mirror direct');
  }
  return null;
}

/**
 * nats-server's configUpdateCheck: `next` already went through checkStreamConfig. Returns the
 * config to apply (sealing adjusts a few fields) or the error.
 */
export function checkConfigUpdate(old: StreamConfig, next: StreamConfig): ConfigResult {
  if (next.name !== old.name) return invalid('stream configuration name must match original');
  if (next.max_consumers !== old.max_consumers) return invalid('stream configuration update can not change MaxConsumers');
  if (next.storage !== old.storage) return invalid('stream configuration update can not change storage type');
  if (next.retention !== old.retention) return invalid('stream configuration update can not change retention policy');
  if (!next.sealed && old.sealed) return invalid('stream configuration update can not unseal a sealed stream');
  if (!next.deny_delete && old.deny_delete) return invalid('stream configuration update can not cancel deny message deletes');
  if (!next.deny_purge && old.deny_purge) return invalid('stream configuration update can not cancel deny purge');
  if (!sameConfig(next.mirror, old.mirror)) return fail(SourceErr.mirrorNotUpdatable());
  if ((next.first_seq ?? 0) !== (old.first_seq ?? 0) && next.first_seq !== undefined) {
    return invalid('stream configuration update can not change first sequence');
  }
  const cfg: StreamConfig = { ...next };
  if (cfg.first_seq === undefined && old.first_seq !== undefined) cfg.first_seq = old.first_seq;
  if (cfg.sealed) {
    cfg.max_age = 0;
    cfg.discard = 'new';
    cfg.deny_delete = true;
    cfg.deny_purge = true;
    cfg.allow_rollup_hdrs = false;
  }
  return { ok: true, config: cfg };
}

/** reflect.DeepEqual of two configs as JSON values (key order ignored). */
export function sameConfig(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameConfig(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => sameConfig(ao[k], bo[k]));
}

/** The limits a store enforces for this config. */
export function storeLimits(cfg: StreamConfig): StoreLimits {
  return {
    max_msgs: cfg.max_msgs,
    max_bytes: cfg.max_bytes,
    max_age: cfg.max_age,
    max_msgs_per_subject: cfg.max_msgs_per_subject,
    max_msg_size: cfg.max_msg_size,
    discard: cfg.discard,
    discard_new_per_subject: cfg.discard_new_per_subject === true,
  };
}
