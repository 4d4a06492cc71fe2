// What a shard reports to the main thread's monitoring (/connz, /subsz, /metrics): plain data,
// collected on request only, so the message path pays nothing for it.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ClientConnection } from './client.js';
import type { Shard } from './shard.js';
import { goDuration, natsUptime, type ConnInfo, type ConnzQuery, type ShardMetrics, type SubDetail, type SubszShard } from '../monitor/types.js';
import { subjectMatches } from '../sublist/subject.js';

/** Closed connections remembered per shard for /connz?state=closed (nats-server keeps 10,000). */
export const CLOSED_KEEP = 10_000;

export function connInfo(c: ClientConnection, now: number, q: ConnzQuery): ConnInfo {
  const stop = c.closedAt;
  const end = stop > 0 ? stop : now;
  const info: ConnInfo = {
    cid: c.cid,
    kind: 'Client',
    type: c.natsProtocol ? 'nats' : 'mqtt',
    ip: c.ip,
    port: c.port,
    start: new Date(c.start).toISOString(),
    last_activity: new Date(c.lastIn).toISOString(),
    rtt: goDuration(c.rtt),
    uptime: natsUptime(end - c.start),
    idle: natsUptime(end - c.lastIn),
    pending_bytes: stop > 0 ? 0 : c.socket.writableLength,
    in_msgs: c.inMsgs,
    out_msgs: c.outMsgs,
    in_bytes: c.inBytes,
    out_bytes: c.outBytes,
    subscriptions: c.subs.size,
    _start: c.start,
    _last: c.lastIn,
    _stop: stop,
  };
  if (stop > 0) {
    info.stop = new Date(stop).toISOString();
    info.reason = c.closeReason ?? '';
  }
  if (c.shard.debugInfo) info.tsnats_shard = c.shard.id;
  if (c.name) info.name = c.name;
  if (c.mqttClientId !== '') info.mqtt_client = c.mqttClientId;
  if (c.lang) info.lang = c.lang;
  if (c.version) info.version = c.version;
  if (q.auth) {
    if (c.authUser) info.authorized_user = c.authUser;
    info.account = c.acc.name;
  }
  if (q.subs !== 'none') {
    const subs = c.closedSubs ?? [...c.subs.values()].map((s) => subDetail(c, s));
    if (q.subs === 'detail') info.subscriptions_list_detail = subs;
    else info.subscriptions_list = subs.map((s) => s.subject);
  }
  return info;
}

function subDetail(c: ClientConnection, s: { subject: string; queue: string | null; sid: string; delivered: number; max: number }): SubDetail {
  const d: SubDetail = { account: c.acc.name, subject: s.subject, sid: s.sid, msgs: s.delivered, cid: c.cid };
  if (s.queue !== null) d.qgroup = s.queue;
  if (s.max > 0) d.max = s.max;
  return d;
}

/** Snapshot of a connection kept after it closed. */
export function rememberClosed(shard: Shard, c: ClientConnection): void {
  c.closedSubs = [...c.subs.values()].map((s) => subDetail(c, s));
  shard.closedConns.push(c);
  if (shard.closedConns.length > CLOSED_KEEP) shard.closedConns.shift();
}

export function shardConnz(shard: Shard, q: ConnzQuery): ConnInfo[] {
  const now = Date.now();
  const out: ConnInfo[] = [];
  const want = (c: ClientConnection): boolean => q.cid === 0 || c.cid === q.cid;
  if (q.state !== 'closed') for (const c of shard.conns.values()) if (want(c)) out.push(connInfo(c, now, q));
  if (q.state !== 'open') for (const c of shard.closedConns) if (want(c)) out.push(connInfo(c, now, q));
  return out;
}

export function shardSubsz(shard: Shard, withList: boolean, test: string | null): SubszShard {
  const r: SubszShard = { num_subscriptions: 0, num_cache: 0, num_inserts: 0, num_removes: 0, num_matches: 0, cache_hits: 0, max_fanout: 0, fanout_total: 0, fanout_count: 0, list: [] };
  for (const acc of shard.accounts) {
    const sl = acc.sublist;
    r.num_cache += sl.cacheSize();
    r.num_inserts += sl.inserts;
    r.num_removes += sl.removes;
    r.num_matches += sl.matches;
    r.cache_hits += sl.cacheHits;
    const f = sl.cacheFanout();
    r.max_fanout = Math.max(r.max_fanout, f.max);
    r.fanout_total += f.total;
    r.fanout_count += f.count;
  }
  for (const c of shard.conns.values()) {
    r.num_subscriptions += c.subs.size;
    if (!withList) continue;
    for (const s of c.subs.values()) if (test === null || subjectMatches(s.subject, test)) r.list.push(subDetail(c, s));
  }
  shard.cluster?.subsz(r);
  return r;
}

/** Each shard's previous sample (keyed by shard: main-thread fallback shards of several servers share a thread). */
const lastElu = new WeakMap<Shard, EventLoopUtilization>();

export function shardMetrics(shard: Shard): ShardMetrics {
  const now = performance.eventLoopUtilization();
  const prev = lastElu.get(shard);
  // The first sample: utilisation since the thread started.
  const d = prev === undefined ? now : performance.eventLoopUtilization(now, prev);
  lastElu.set(shard, now);
  return { shard: shard.id, elu: d.utilization, activeMs: now.active, idleMs: now.idle, rings: shard.ringUsage() };
}
