// Monitoring endpoint data (nats-server monitor.go: Connz, Subsz, Routez, Accountz, Jsz) built from
// what the shards report; the HTTP layer (http.ts) only wraps these. /metrics is tsnats's own:
// Prometheus text built from the same figures.

import type { ServerIdentity, ShardStats } from '../shard/shard.js';
import type { ServerOptions } from '../server/options.js';
import { jetStreamConfigJson } from './varz.js';
import type { ConnInfo, ConnzQuery, ShardMetrics, SubDetail, SubszShard } from './types.js';

const DEFAULT_LIMIT = 1024;

function intParam(p: URLSearchParams, k: string, def: number): number {
  const v = p.get(k);
  if (v === null || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new MonitorError(`invalid ${k} "${v}"`);
  return n;
}

export class MonitorError extends Error {}

export function parseConnzQuery(p: URLSearchParams): ConnzQuery {
  const subs = p.get('subs');
  const state = p.get('state') ?? 'open';
  if (state !== 'open' && state !== 'closed' && state !== 'all') throw new MonitorError(`invalid state "${state}"`);
  return {
    subs: subs === 'detail' ? 'detail' : subs === '1' || subs === 'true' ? 'list' : 'none',
    state,
    cid: intParam(p, 'cid', 0),
    auth: p.get('auth') === '1' || p.get('auth') === 'true',
  };
}

/** monitor.go SortOpt: which field and which direction. */
const SORTS: Record<string, (a: ConnInfo, b: ConnInfo) => number> = {
  cid: (a, b) => a.cid - b.cid,
  start: (a, b) => a._start - b._start,
  subs: (a, b) => b.subscriptions - a.subscriptions,
  pending: (a, b) => b.pending_bytes - a.pending_bytes,
  msgs_to: (a, b) => b.out_msgs - a.out_msgs,
  msgs_from: (a, b) => b.in_msgs - a.in_msgs,
  bytes_to: (a, b) => b.out_bytes - a.out_bytes,
  bytes_from: (a, b) => b.in_bytes - a.in_bytes,
  last: (a, b) => b._last - a._last,
  idle: (a, b) => a._last - b._last,
  uptime: (a, b) => a._start - b._start,
  stop: (a, b) => b._stop - a._stop,
  reason: (a, b) => (a.reason ?? '').localeCompare(b.reason ?? ''),
};

export function buildConnz(id: ServerIdentity, q: ConnzQuery, p: URLSearchParams, infos: ConnInfo[]): Record<string, unknown> {
  const sortKey = p.get('sort') ?? 'cid';
  const sort = SORTS[sortKey];
  if (sort === undefined) throw new MonitorError(`invalid sorting option "${sortKey}"`);
  if ((sortKey === 'stop' || sortKey === 'reason') && q.state === 'open') throw new MonitorError(`sort by ${sortKey} only valid on closed connections`);
  const offset = intParam(p, 'offset', 0);
  const limit = intParam(p, 'limit', DEFAULT_LIMIT);
  infos.sort(sort);
  const page = infos.slice(offset, offset + limit).map(({ _start, _last, _stop, ...rest }) => {
    void _start, void _last, void _stop;
    return rest;
  });
  return {
    server_id: id.serverId,
    now: new Date().toISOString(),
    num_connections: page.length,
    total: infos.length,
    offset,
    limit,
    connections: page,
  };
}

export function buildSubsz(id: ServerIdentity, p: URLSearchParams, shards: SubszShard[]): Record<string, unknown> {
  const sum = (k: keyof SubszShard): number => shards.reduce((a, s) => a + (s[k] as number), 0);
  const matches = sum('num_matches');
  const count = sum('fanout_count');
  const out: Record<string, unknown> = {
    server_id: id.serverId,
    now: new Date().toISOString(),
    num_subscriptions: sum('num_subscriptions'),
    num_cache: sum('num_cache'),
    num_inserts: sum('num_inserts'),
    num_removes: sum('num_removes'),
    num_matches: matches,
    cache_hit_rate: matches > 0 ? sum('cache_hits') / matches : 0,
    max_fanout: Math.max(0, ...shards.map((s) => s.max_fanout)),
    avg_fanout: count > 0 ? sum('fanout_total') / count : 0,
  };
  const subs = p.get('subs');
  if (subs === '1' || subs === 'true' || subs === 'detail') {
    const offset = intParam(p, 'offset', 0);
    const limit = intParam(p, 'limit', DEFAULT_LIMIT);
    const all: SubDetail[] = shards.flatMap((s) => s.list);
    out['total'] = all.length;
    out['offset'] = offset;
    out['limit'] = limit;
    out['subscriptions_list'] = all.slice(offset, offset + limit);
  }
  return out;
}

export function buildRoutez(id: ServerIdentity): Record<string, unknown> {
  return { server_id: id.serverId, server_name: id.serverName, now: new Date().toISOString(), num_routes: 0, routes: [] };
}

export function buildAccountz(id: ServerIdentity, opts: ServerOptions, p: URLSearchParams): Record<string, unknown> {
  const names = ['$G', ...opts.accounts.map((a) => a.name).filter((n) => n !== '$G')];
  if (!names.includes(opts.systemAccount)) names.push(opts.systemAccount);
  const base = { server_id: id.serverId, now: new Date().toISOString(), system_account: opts.systemAccount };
  const acc = p.get('acc');
  if (acc === null || acc === '') return { ...base, accounts: names };
  const a = opts.accounts.find((x) => x.name === acc);
  if (a === undefined && !names.includes(acc)) throw new MonitorError(`Account ${acc} does not exist`);
  return {
    ...base,
    account_detail: {
      account_name: acc,
      is_system: acc === opts.systemAccount,
      exports: (a?.exports ?? []).map((e) => ({ subject: e.subject, type: e.kind })),
      imports: (a?.imports ?? []).map((i) => ({ subject: i.subject, account: i.account, local_subject: i.local || i.subject, type: i.kind })),
      jetstream_enabled: a?.jetstream ?? false,
    },
  };
}

export function buildJsz(id: ServerIdentity, opts: ServerOptions): Record<string, unknown> {
  const js = opts.jetstream;
  return {
    server_id: id.serverId,
    now: new Date().toISOString(),
    ...(js.enabled ? {} : { disabled: true }),
    config: jetStreamConfigJson(opts),
    memory: 0,
    storage: 0,
    reserved_memory: 0,
    reserved_storage: 0,
    accounts: 0,
    ha_assets: 0,
    api: { total: 0, errors: 0 },
    streams: 0,
    consumers: 0,
    messages: 0,
    bytes: 0,
  };
}

/** Prometheus text exposition format (version 0.0.4). */
export function buildMetrics(stats: ShardStats[], metrics: ShardMetrics[], extra: { uptimeSeconds: number; rssBytes: number }): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`);
  };
  const sum = (k: keyof ShardStats): number => stats.reduce((a, s) => a + s[k], 0);
  metric('tsnats_in_msgs_total', 'counter', 'Messages received from clients.', [['', sum('inMsgs')]]);
  metric('tsnats_out_msgs_total', 'counter', 'Messages delivered to clients.', [['', sum('outMsgs')]]);
  metric('tsnats_in_bytes_total', 'counter', 'Payload bytes received from clients.', [['', sum('inBytes')]]);
  metric('tsnats_out_bytes_total', 'counter', 'Payload bytes delivered to clients.', [['', sum('outBytes')]]);
  metric('tsnats_connections', 'gauge', 'Open client connections.', [['', sum('connections')]]);
  metric('tsnats_connections_total', 'counter', 'Client connections accepted.', [['', sum('totalConnections')]]);
  metric('tsnats_subscriptions', 'gauge', 'Client subscriptions.', [['', sum('subscriptions')]]);
  metric('tsnats_slow_consumers_total', 'counter', 'Connections closed as slow consumers.', [['', sum('slowConsumers')]]);
  metric('tsnats_shard_connections', 'gauge', 'Open client connections per shard.', stats.map((s, i) => [`{shard="${i}"}`, s.connections]));
  metric('tsnats_shard_event_loop_utilization', 'gauge', 'Event-loop utilisation of each shard since the previous scrape (0..1).', metrics.map((m) => [`{shard="${m.shard}"}`, m.elu]));
  // Cumulative, so that any number of scrapers (Prometheus rate(), the dashboard) can each take their own deltas.
  metric('tsnats_shard_event_loop_active_seconds_total', 'counter', 'Time each shard event loop spent busy since the shard started.', metrics.map((m) => [`{shard="${m.shard}"}`, m.activeMs / 1000]));
  metric('tsnats_shard_event_loop_idle_seconds_total', 'counter', 'Time each shard event loop spent idle since the shard started.', metrics.map((m) => [`{shard="${m.shard}"}`, m.idleMs / 1000]));
  metric(
    'tsnats_ring_bytes_used',
    'gauge',
    'Bytes waiting in each shard-to-shard ring.',
    metrics.flatMap((m) => m.rings.map((r): [string, number] => [`{from="${m.shard}",to="${r.peer}"}`, r.used])),
  );
  metric(
    'tsnats_ring_capacity_bytes',
    'gauge',
    'Capacity of each shard-to-shard ring.',
    metrics.flatMap((m) => m.rings.map((r): [string, number] => [`{from="${m.shard}",to="${r.peer}"}`, r.capacity])),
  );
  metric('tsnats_uptime_seconds', 'gauge', 'Seconds since the server started.', [['', extra.uptimeSeconds]]);
  metric('tsnats_resident_memory_bytes', 'gauge', 'Resident set size of the server process.', [['', extra.rssBytes]]);
  return lines.join('\n') + '\n';
}
