// An account's `jetstream` key (opts.go parseJetStreamForAccount): `true`/`enabled` (unlimited),
// `false`/`disabled`, or a block of limits with nats-server's names and aliases. tsnats also reads
// tiered limits, which nats-server takes only from account JWTs, from a `tiered_limits { R1 { ... }
// R3 { ... } }` block with the same keys (the JWT's field name).

import type { ConfMap, ConfValue } from './conf.js';
import { unlimited, type AccountLimits, type TieredLimits } from '../jetstream/account-limits.js';

/** What this parser needs of the config reader (load.ts's Reader). */
export interface LimitsReader {
  int(path: string, v: ConfValue): number;
  bool(path: string, v: ConfValue): boolean;
  map(path: string, v: ConfValue): ConfMap;
  fail(path: string, msg: string): never;
  warn(path: string, msg: string): void;
}

/** enabled, and the limits by tier (null: `jetstream: enabled`, i.e. unlimited). */
export function parseAccountJetStream(r: LimitsReader, path: string, v: ConfValue): { enabled: boolean; limits: TieredLimits | null } {
  if (typeof v === 'boolean') return { enabled: v, limits: null };
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'enabled' || s === 'enable') return { enabled: true, limits: null };
    if (s === 'disabled' || s === 'disable') return { enabled: false, limits: null };
    return r.fail(path, `Expected 'enabled' or 'disabled' for string value, got '${v}'`);
  }
  const m = r.map(path, v);
  const tiers: TieredLimits = {};
  let flat: AccountLimits | null = null;
  for (const [key, val] of Object.entries(m)) {
    const p = `${path}.${key}`;
    if (key.toLowerCase() === 'tiered_limits' || key.toLowerCase() === 'tiers') {
      for (const [tier, tv] of Object.entries(r.map(p, val))) {
        const tp = `${p}.${tier}`;
        if (!/^R[1-9]\d*$/.test(tier)) r.fail(tp, `tier "${tier}" is not a replica tier like R1 or R3`);
        tiers[tier] = parseLimits(r, tp, r.map(tp, tv), {});
      }
      continue;
    }
    flat ??= unlimited();
    parseLimits(r, path, { [key]: val }, flat);
  }
  if (flat !== null) {
    if (Object.keys(tiers).length > 0) r.fail(path, 'an account has either flat JetStream limits or tiered_limits, not both');
    tiers[''] = flat;
  }
  return { enabled: true, limits: Object.keys(tiers).length > 0 ? tiers : null };
}

function parseLimits(r: LimitsReader, path: string, m: ConfMap, into: Partial<AccountLimits>): AccountLimits {
  const l = Object.assign(unlimited(), into);
  for (const [key, val] of Object.entries(m)) {
    const p = `${path}.${key}`;
    switch (key.toLowerCase()) {
      case 'max_memory':
      case 'max_mem':
      case 'mem':
      case 'memory':
        l.max_memory = r.int(p, val);
        break;
      case 'max_store':
      case 'max_file':
      case 'max_disk':
      case 'store':
      case 'disk':
        l.max_storage = r.int(p, val);
        break;
      case 'max_streams':
      case 'streams':
        l.max_streams = r.int(p, val);
        break;
      case 'max_consumers':
      case 'consumers':
        l.max_consumers = r.int(p, val);
        break;
      case 'max_bytes_required':
      case 'max_stream_bytes':
      case 'max_bytes':
        l.max_bytes_required = r.bool(p, val);
        break;
      case 'mem_max_stream_bytes':
      case 'memory_max_stream_bytes':
        l.memory_max_stream_bytes = r.int(p, val);
        break;
      case 'disk_max_stream_bytes':
      case 'store_max_stream_bytes':
        l.storage_max_stream_bytes = r.int(p, val);
        break;
      case 'max_ack_pending':
        l.max_ack_pending = r.int(p, val);
        break;
      default:
        r.warn(p, `unknown field "${key}"`);
    }
  }
  Object.assign(into, l);
  return l;
}
