// The limits a consumer is created under (consumer.go setConsumerConfigDefaults / checkConsumerCfg /
// updateInactiveThreshold, stream.go addConsumerWithAssignment): the stream's `consumer_limits`
// (max_ack_pending, inactive_threshold) as defaults and ceilings, the account's max_ack_pending
// likewise, the account's max_consumers per stream, and the 5 s inactive threshold every ephemeral
// gets (stamped in its config, as nats-server does).

import type { ApiErrorBody, StreamConfig } from '../types.js';
import { DEFAULT_MAX_ACK_PENDING, EPHEMERAL_INACTIVE_NS, type ConsumerConfig } from './config.js';
import { goDuration } from './go-duration.js';

const e = (code: number, err_code: number, description: string): ApiErrorBody => ({ code, err_code, description });

/** The stream's consumer_limits (StreamConsumerLimits). */
function streamLimits(s: StreamConfig): { max_ack_pending: number; inactive_threshold: number } {
  const l = (s['consumer_limits'] ?? {}) as { max_ack_pending?: unknown; inactive_threshold?: unknown };
  return {
    max_ack_pending: typeof l.max_ack_pending === 'number' && l.max_ack_pending > 0 ? l.max_ack_pending : 0,
    inactive_threshold: typeof l.inactive_threshold === 'number' && l.inactive_threshold > 0 ? l.inactive_threshold : 0,
  };
}

/** Defaults from the stream's and the account's limits, before setConsumerConfigDefaults' own. */
export function limitDefaults(c: ConsumerConfig, stream: StreamConfig, accountMaxAckPending: number): void {
  const sl = streamLimits(stream);
  if ((c.max_ack_pending === undefined || c.max_ack_pending === 0) && sl.max_ack_pending > 0) c.max_ack_pending = sl.max_ack_pending;
  if ((c.inactive_threshold === undefined || c.inactive_threshold === 0) && sl.inactive_threshold > 0) c.inactive_threshold = sl.inactive_threshold;
  if ((c.ack_policy === 'explicit' || c.ack_policy === 'all') && (c.max_ack_pending === undefined || c.max_ack_pending === 0)) {
    if (accountMaxAckPending > 0 && accountMaxAckPending < DEFAULT_MAX_ACK_PENDING) c.max_ack_pending = accountMaxAckPending;
  }
}

/** updateInactiveThreshold: an ephemeral without a threshold gets 5 s, shown in its config. */
export function ephemeralDefault(c: ConsumerConfig): void {
  if (c.durable_name === undefined && (c.inactive_threshold === undefined || c.inactive_threshold <= 0)) c.inactive_threshold = EPHEMERAL_INACTIVE_NS;
}

/** checkConsumerCfg's limit checks (after the config's own). */
export function checkLimits(c: ConsumerConfig, stream: StreamConfig, accountMaxAckPending: number): ApiErrorBody | null {
  const map = c.max_ack_pending ?? 0;
  const tooMany = (limit: number): ApiErrorBody => e(400, 10121, `consumer max ack pending exceeds system limit of ${limit}`);
  if (accountMaxAckPending > 0 && map > accountMaxAckPending) return tooMany(accountMaxAckPending);
  const sl = streamLimits(stream);
  if (sl.max_ack_pending > 0 && map > sl.max_ack_pending) return tooMany(sl.max_ack_pending);
  if (sl.inactive_threshold > 0 && (c.inactive_threshold ?? 0) > sl.inactive_threshold) {
    return e(400, 10153, `consumer inactive threshold exceeds system limit of ${goDuration(sl.inactive_threshold)}`);
  }
  return null;
}

/** The most consumers the stream may have: its own max_consumers, or the account's when lower or unset. */
export function maxConsumers(stream: StreamConfig, accountMax: number): number {
  let max = stream.max_consumers;
  if (max <= 0 || (accountMax > 0 && accountMax < max)) max = accountMax;
  return max;
}
