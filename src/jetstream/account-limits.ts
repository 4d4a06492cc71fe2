// An account's JetStream limits, as nats-server keeps them (jetstream.go): JetStreamAccountLimits per
// tier, where the tier '' holds flat limits (the `jetstream { max_mem, max_file, ... }` block of an
// account in a config file) and tiers `R1`, `R3`, ... hold limits per replica count (nats-server's
// tiered limits, from account JWTs; tsnats also reads them from `tiered_limits { R1 { ... } }`).
//
// Everything here is a pure function of the limits and the account's streams, so the checks run the
// same for a single server (the streams this worker holds) and for a clustered meta layer (the
// stream assignments it holds): jsNonClusteredStreamLimitsCheck, checkLimits / checkBytesLimits,
// tieredReservation, countStreams, wouldExceedLimits, maxBytesLimits and JetStreamUsage's tiers.

import { JsErr } from './errors.js';
import type { ApiErrorBody, StorageType } from './types.js';

/** JetStreamAccountLimits (JSON field names as nats-server's); -1 = unlimited. */
export interface AccountLimits {
  max_memory: number;
  max_storage: number;
  max_streams: number;
  max_consumers: number;
  max_ack_pending: number;
  memory_max_stream_bytes: number;
  storage_max_stream_bytes: number;
  max_bytes_required: boolean;
}

/** Limits by tier name: '' (flat) or `R<replicas>`. */
export type TieredLimits = Record<string, AccountLimits>;

/** dynamicJSAccountLimits / defaultJSAccountTiers: what `jetstream: enabled` gives an account. */
export function unlimited(): AccountLimits {
  return {
    max_memory: -1,
    max_storage: -1,
    max_streams: -1,
    max_consumers: -1,
    max_ack_pending: -1,
    memory_max_stream_bytes: -1,
    storage_max_stream_bytes: -1,
    max_bytes_required: false,
  };
}

export function defaultTiers(): TieredLimits {
  return { '': unlimited() };
}

/** nats-server's tierName: `R<replicas>` (0 counts as 1). */
export function tierName(replicas: number): string {
  return `R${replicas > 0 ? replicas : 1}`;
}

/** The stream facts the accounting needs (a live stream's config, or a clustered assignment's). */
export interface LimitedStream {
  readonly name: string;
  readonly storage: StorageType;
  readonly max_bytes: number;
  readonly num_replicas: number;
}

export interface LimitedStreamUsage extends LimitedStream {
  /** Bytes the stream holds on this server (memory or file, by `storage`). */
  readonly bytes: number;
  readonly consumers: number;
}

/** jsa.selectLimits: the flat limits if there are any, else the tier of this replica count. */
export function selectLimits(tiers: TieredLimits, replicas: number): { limits: AccountLimits; tier: string } | null {
  const flat = tiers[''];
  if (flat !== undefined) return { limits: flat, tier: '' };
  const tier = tierName(replicas);
  const l = tiers[tier];
  return l === undefined ? null : { limits: l, tier };
}

const replicasOf = (s: LimitedStream): number => (s.num_replicas > 0 ? s.num_replicas : 1);

/** jsa.countStreams: the account's streams in the tier, not counting one of the same name. */
export function countStreams(streams: Iterable<LimitedStream>, tier: string, cfg: LimitedStream): number {
  let n = 0;
  for (const s of streams) if ((tier === '' || replicasOf(s) === replicasOf(cfg)) && s.name !== cfg.name) n++;
  return n;
}

/** jsa.tieredReservation: max_bytes × replicas of the tier's other streams of the same storage type. */
export function tieredReservation(streams: Iterable<LimitedStream>, tier: string, cfg: LimitedStream): number {
  let n = 0;
  for (const s of streams) {
    if (s.max_bytes <= 0 || s.name === cfg.name || s.storage !== cfg.storage) continue;
    if (tier !== '' && replicasOf(s) !== replicasOf(cfg)) continue;
    n += replicasOf(s) * s.max_bytes;
  }
  return n;
}

/**
 * checkBytesLimits, the account half: `addBytes` (max_bytes; -1 = unlimited counts as 1) plus
 * `offset` on top of the reservation `currentRes` must fit max_memory / max_storage.
 */
export function checkAccountBytes(limits: AccountLimits, addBytes: number, storage: StorageType, currentRes: number, offset = 0): ApiErrorBody | null {
  const total = (addBytes < 0 ? 1 : addBytes) + offset;
  if (storage === 'memory') {
    if (limits.max_memory >= 0 && currentRes + total > limits.max_memory) return JsErr.memoryResourcesExceeded();
  } else if (limits.max_storage >= 0 && currentRes + total > limits.max_storage) {
    return JsErr.storageResourcesExceeded();
  }
  return null;
}

/** checkLimits (account half): a stream's max_consumers above the account's, then the bytes. */
export function checkStreamLimits(limits: AccountLimits, cfg: LimitedStream & { max_consumers: number }, currentRes: number, offset = 0): ApiErrorBody | null {
  if (cfg.max_consumers > 0 && limits.max_consumers > 0 && cfg.max_consumers > limits.max_consumers) return JsErr.maximumConsumersLimit();
  return checkAccountBytes(limits, cfg.max_bytes, cfg.storage, currentRes, offset);
}

/**
 * jsNonClusteredStreamLimitsCheck (account half): no limits for this tier (10120), max_streams
 * (10027), then checkLimits against the tier's reservation. `server` adds the server half
 * (checkAllLimits' checkServer), given the bytes this stream would reserve.
 */
export function checkNewStream(
  tiers: TieredLimits,
  streams: readonly LimitedStream[],
  cfg: LimitedStream & { max_consumers: number },
  server: ((addBytes: number) => ApiErrorBody | null) | null,
): ApiErrorBody | null {
  const sel = selectLimits(tiers, cfg.num_replicas);
  if (sel === null) return JsErr.noLimits();
  if (sel.limits.max_streams > 0 && countStreams(streams, sel.tier, cfg) >= sel.limits.max_streams) return JsErr.maximumStreamsLimit();
  const err = checkStreamLimits(sel.limits, cfg, tieredReservation(streams, sel.tier, cfg));
  if (err !== null) return err;
  return server === null ? null : server(cfg.max_bytes);
}

/**
 * configUpdateCheck's limits: only the growth of max_bytes is reserved anew, plus the old max_bytes
 * once more for every replica added.
 */
export function checkStreamUpdate(tiers: TieredLimits, streams: readonly LimitedStream[], old: LimitedStream, cfg: LimitedStream & { max_consumers: number }): ApiErrorBody | null {
  let sel = selectLimits(tiers, cfg.num_replicas);
  if (sel === null && replicasOf(old) !== replicasOf(cfg)) sel = selectLimits(tiers, old.num_replicas);
  if (sel === null) return JsErr.noLimits();
  const diff = Math.max(cfg.max_bytes - old.max_bytes, 0);
  const offset = old.max_bytes > 0 ? Math.max(replicasOf(cfg) - replicasOf(old), 0) * old.max_bytes : 0;
  const grown = { ...cfg, max_bytes: diff };
  // The reservation leaves this stream out: its current max_bytes counts again (2.10's form).
  let reserved = tieredReservation(streams, sel.tier, cfg);
  reserved += sel.tier === '' && replicasOf(old) > 1 ? old.max_bytes * replicasOf(old) : old.max_bytes;
  return checkStreamLimits(sel.limits, grown, reserved, offset);
}

/** Account.maxBytesLimits + checkStreamCfg: max_bytes required (10113) or above the per-stream cap (10122). */
export function checkMaxBytes(tiers: TieredLimits, cfg: LimitedStream): ApiErrorBody | null {
  const sel = selectLimits(tiers, cfg.num_replicas);
  if (sel === null) return null;
  const cap = cfg.storage === 'memory' ? sel.limits.memory_max_stream_bytes : sel.limits.storage_max_stream_bytes;
  if (sel.limits.max_bytes_required && cfg.max_bytes <= 0) return JsErr.streamMaxBytesRequired();
  if (cap > 0 && cfg.max_bytes > cap) return JsErr.streamMaxStreamBytesExceeded();
  return null;
}

/**
 * Bytes of one tier ('' = all): what jsa.usage[tier].total holds. `bytes` is what each stream holds
 * where it is counted: this server's copy on a single server, the sum over its peers for a meta layer.
 */
export function tierUsage(streams: Iterable<LimitedStreamUsage>, tier: string): { memory: number; storage: number } {
  let memory = 0;
  let storage = 0;
  for (const s of streams) {
    if (tier !== '' && tierName(s.num_replicas) !== tier) continue;
    if (s.storage === 'memory') memory += s.bytes;
    else storage += s.bytes;
  }
  return { memory, storage };
}

/**
 * jsa.wouldExceedLimits for a publish of `size` bytes to a stream of `storage` and `replicas`:
 * true when the tier's usage plus this message passes max_memory / max_storage or the per-stream
 * caps (nats-server compares those with the tier's total as well). A tier without limits refuses.
 */
export function wouldExceed(tiers: TieredLimits, streams: Iterable<LimitedStreamUsage>, storage: StorageType, replicas: number, size: number): boolean {
  const sel = selectLimits(tiers, replicas);
  if (sel === null) return true;
  const l = sel.limits;
  const r = replicas > 0 ? replicas : 1;
  const lr = sel.tier === '' ? 1 : r;
  const used = tierUsage(streams, sel.tier);
  if (storage === 'memory') {
    const total = used.memory + size * r;
    if (l.memory_max_stream_bytes > 0 && total > l.memory_max_stream_bytes * lr) return true;
    return l.max_memory >= 0 && total > l.max_memory * lr;
  }
  const total = used.storage + size * r;
  if (l.storage_max_stream_bytes > 0 && total > l.storage_max_stream_bytes * lr) return true;
  return l.max_storage >= 0 && total > l.max_storage * lr;
}

/** True when any limit can refuse something (so publishes skip the accounting when none can). */
export function hasByteLimits(tiers: TieredLimits): boolean {
  for (const l of Object.values(tiers)) {
    if (l.max_memory >= 0 || l.max_storage >= 0 || l.memory_max_stream_bytes > 0 || l.storage_max_stream_bytes > 0) return true;
  }
  return false;
}

/** max_ack_pending of the limits that apply to a consumer of `replicas` (0 when none). */
export function maxAckPendingLimit(tiers: TieredLimits, replicas: number): number {
  const sel = selectLimits(tiers, replicas);
  return sel === null || sel.limits.max_ack_pending <= 0 ? 0 : sel.limits.max_ack_pending;
}

/** max_consumers of the limits that apply to a stream of `replicas` (0 when none). */
export function maxConsumersLimit(tiers: TieredLimits, replicas: number): number {
  const sel = selectLimits(tiers, replicas);
  return sel === null || sel.limits.max_consumers <= 0 ? 0 : sel.limits.max_consumers;
}

export interface JetStreamTier {
  memory: number;
  storage: number;
  reserved_memory: number;
  reserved_storage: number;
  streams: number;
  consumers: number;
  limits: AccountLimits;
}

/**
 * JetStreamUsage's `tiers` (only for tiered limits): per tier its usage, reservations (max_bytes of
 * its streams), streams, consumers and limits; tiers with limits are always listed, tiers in use
 * without limits too (with empty limits, as nats-server's zero JetStreamAccountLimits).
 */
export function usageTiers(tiers: TieredLimits, streams: readonly LimitedStreamUsage[]): Record<string, JetStreamTier> {
  const out: Record<string, JetStreamTier> = {};
  const zero: AccountLimits = { max_memory: 0, max_storage: 0, max_streams: 0, max_consumers: 0, max_ack_pending: 0, memory_max_stream_bytes: 0, storage_max_stream_bytes: 0, max_bytes_required: false };
  const names = new Set<string>(Object.keys(tiers));
  for (const s of streams) names.add(tierName(s.num_replicas));
  for (const t of [...names].sort()) {
    let reservedMemory = 0;
    let reservedStorage = 0;
    let n = 0;
    let consumers = 0;
    for (const s of streams) {
      if (tierName(s.num_replicas) !== t) continue;
      n++;
      consumers += s.consumers;
      if (s.max_bytes > 0) {
        if (s.storage === 'memory') reservedMemory += s.max_bytes;
        else reservedStorage += s.max_bytes;
      }
    }
    const u = tierUsage(streams, t);
    out[t] = { memory: u.memory, storage: u.storage, reserved_memory: reservedMemory, reserved_storage: reservedStorage, streams: n, consumers, limits: tiers[t] ?? zero };
  }
  return out;
}

/** Whether limits are tiered (no flat '' entry): account info then reports `tiers`, not `limits`. */
export function isTiered(tiers: TieredLimits): boolean {
  return tiers[''] === undefined;
}
