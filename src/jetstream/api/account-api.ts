// `$JS.API.INFO`: nats-server's jsAccountInfoRequest, the account's JetStreamAccountStats.
// Accounts have no JetStream limits of their own here (nats-server's dynamicJSAccountLimits: -1,
// unlimited); the server's max_mem_store / max_file_store show in /jsz, not here. The reservations
// are the max_bytes of the account's streams (jsAccount.reservedStorage).

import type { JetStream, JsAccount } from '../engine.js';
import type { JsInbound } from '../types.js';

export const ACCOUNT_INFO = 'io.nats.jetstream.api.v1.account_info_response';

export function accountInfo(js: JetStream, a: JsAccount, m: JsInbound): void {
  const u = js.usage(a);
  const r = js.reserved(a);
  js.reply(a.idx, m.reply, {
    type: ACCOUNT_INFO,
    memory: u.memory,
    storage: u.storage,
    reserved_memory: r.memory,
    reserved_storage: r.storage,
    streams: u.streams,
    consumers: u.consumers,
    limits: {
      max_memory: -1,
      max_storage: -1,
      max_streams: -1,
      max_consumers: -1,
      max_ack_pending: -1,
      memory_max_stream_bytes: -1,
      storage_max_stream_bytes: -1,
      max_bytes_required: false,
    },
    api: { total: a.apiTotal, errors: a.apiErrors },
  });
}
