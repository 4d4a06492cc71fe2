// `$JS.API.INFO`: nats-server's jsAccountInfoRequest, the account's JetStreamAccountStats
// (Account.JetStreamUsage): usage, reservations (max_bytes of its streams), streams, consumers, then
// either the flat `limits` or, for tiered limits, zero limits and a `tiers` map; `domain` when the
// server has one; `api` counts the requests answered before this one.

import { isTiered, usageTiers, type AccountLimits } from '../account-limits.js';
import { streamUsage } from '../account-resources.js';
import type { JetStream, JsAccount } from '../engine.js';
import type { JsInbound } from '../types.js';

export const ACCOUNT_INFO = 'io.nats.jetstream.api.v1.account_info_response';

const ZERO_LIMITS: AccountLimits = {
  max_memory: 0,
  max_storage: 0,
  max_streams: 0,
  max_consumers: 0,
  max_ack_pending: 0,
  memory_max_stream_bytes: 0,
  storage_max_stream_bytes: 0,
  max_bytes_required: false,
};

export function accountInfo(js: JetStream, a: JsAccount, m: JsInbound): void {
  const u = js.usage(a);
  const r = js.reserved(a);
  const tiered = isTiered(a.limits);
  const body: Record<string, unknown> = {
    type: ACCOUNT_INFO,
    memory: u.memory,
    storage: u.storage,
    reserved_memory: r.memory,
    reserved_storage: r.storage,
    streams: u.streams,
    consumers: u.consumers,
    limits: tiered ? ZERO_LIMITS : a.limits[''],
  };
  if (js.domain !== null) body['domain'] = js.domain.name;
  body['api'] = { total: a.apiTotal, errors: a.apiErrors };
  if (tiered) body['tiers'] = usageTiers(a.limits, [...streamUsage(a)]);
  js.reply(a.idx, m.reply, body);
}
