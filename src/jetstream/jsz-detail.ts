// /jsz's account_details (nats-server monitor.go Jsz / accountDetail): per account its usage and API
// counts, with ?streams its streams (name, created, state, config with ?config) and with ?consumers
// each stream's consumers (consumer info, its config only with ?config). Built in the JetStream
// worker, which owns the streams.

import type { JetStream } from './engine.js';
import type { JszQuery } from '../monitor/jsz.js';

export function jszAccountDetails(js: JetStream, q: JszQuery): Record<string, unknown>[] | undefined {
  let accounts = [...js.accounts()];
  const only = accounts.find((a) => a.name === q.acc);
  if (only !== undefined) accounts = [only];
  else if (q.accounts) {
    if (q.offset !== 0) {
      accounts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      accounts = accounts.slice(q.offset);
    }
    accounts = accounts.slice(0, q.limit);
  } else accounts = [];
  if (accounts.length === 0) return undefined;
  return accounts.map((a) => {
    const u = js.usage(a);
    const r = js.reserved(a);
    const detail: Record<string, unknown> = {
      name: a.name,
      id: a.name,
      memory: u.memory,
      storage: u.storage,
      reserved_memory: r.memory,
      reserved_storage: r.storage,
      accounts: 0,
      ha_assets: 0,
      api: { total: a.apiTotal, errors: a.apiErrors },
    };
    if (q.streams && a.streams.size > 0) {
      detail['stream_detail'] = [...a.streams.values()].map((s) => {
        const { info } = s.info(js.serverName);
        const sd: Record<string, unknown> = { name: s.name, created: info['created'] };
        if (info['cluster'] !== undefined) sd['cluster'] = info['cluster'];
        if (q.config) sd['config'] = info['config'];
        sd['state'] = info['state'];
        // Not the direct consumers of mirrors and sources (nats-server's getPublicConsumers).
        const consumers = [...s.consumers.values()].filter((c) => c.direct !== true);
        if (q.consumers && consumers.length > 0) {
          sd['consumer_detail'] = consumers.map((c) => {
            const ci = { ...c.info() };
            if (!q.config) delete ci['config'];
            delete ci['cluster']; // nats-server's jsz shows a single server's consumers without it
            return ci;
          });
        }
        return sd;
      });
    }
    return detail;
  });
}
