// What a shard reports to the main thread's monitoring (/connz, /subsz, /metrics): plain data,
// collected on request only, so the message path pays nothing for it.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ClientConnection } from './client.js';
import type { Shard } from './shard.js';
import type { ConnInfo, ConnzQuery, ShardMetrics, SubDetail, SubszShard } from '../monitor/types.js';
import { connInfoOf, type ConnRecord } from '../monitor/closed.js';
import { subjectMatches } from '../sublist/subject.js';

/** A connection's /connz data as a plain record (monitor/closed.ts). */
export function connRecord(c: ClientConnection, subs: boolean): ConnRecord {
  return {
    cid: c.cid,
    kind: 'Client',
    type: c.natsProtocol ? 'nats' : 'mqtt',
    ip: c.ip,
    port: c.port,
    start: c.start,
    lastIn: c.lastIn,
    stop: c.closedAt,
    reason: c.closeReason ?? '',
    rtt: c.rtt,
    pendingBytes: c.closedAt > 0 ? 0 : c.socket.writableLength,
    inMsgs: c.inMsgs,
    outMsgs: c.outMsgs,
    inBytes: c.inBytes,
    outBytes: c.outBytes,
    numSubs: c.subs.size,
    name: c.name,
    mqttClient: c.mqttClientId,
    lang: c.lang,
    version: c.version,
    user: c.authUser,
    account: c.acc.name,
    subs: subs ? [...c.subs.values()].map((s) => subDetail(c, s)) : [],
  };
}

export function connInfo(c: ClientConnection, now: number, q: ConnzQuery): ConnInfo {
  const info = connInfoOf(connRecord(c, q.subs !== 'none'), now, q);
  // Where it lives (TSNATS_DEBUG_INFO=1 only): tests see a connection move between shards.
  if (c.shard.debugInfo) info.tsnats_shard = c.shard.id;
  return info;
}

function subDetail(c: ClientConnection, s: { subject: string; queue: string | null; sid: string; delivered: number; max: number }): SubDetail {
  const d: SubDetail = { account: c.acc.name, subject: s.subject, sid: s.sid, msgs: s.delivered, cid: c.cid };
  if (s.queue !== null) d.qgroup = s.queue;
  if (s.max > 0) d.max = s.max;
  return d;
}

/** Most records a shard holds before handing them over; and how long one waits at most. */
const CLOSED_BATCH = 256;
const CLOSED_BATCH_MS = 50;

/**
 * A shard's closed-connection records on their way to the main thread's ring (the only place they
 * are kept): handed over in batches, and at once before the shard answers a monitoring request, so
 * /connz?state=closed sees a connection closed just before it was asked.
 */
export class ClosedOutbox {
  /** Where batches go (the worker's port, or the main thread's ring for the inline shard). */
  sink: ((records: string[]) => void) | null = null;
  /** JSON of ConnRecords. */
  private pending: string[] = [];
  private timer: NodeJS.Timeout | null = null;

  add(r: ConnRecord): void {
    if (this.sink === null) return;
    this.pending.push(JSON.stringify(r));
    if (this.pending.length >= CLOSED_BATCH) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), CLOSED_BATCH_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0 || this.sink === null) return;
    const batch = this.pending;
    this.pending = [];
    this.sink(batch);
  }
}

/** What a closed connection leaves behind: a record, with its subscriptions (saveClosedClient). */
export function rememberClosed(shard: Shard, c: ClientConnection): void {
  shard.closedRecords.add(connRecord(c, true));
}

/** Open connections only: the closed ones are the main thread's (monitor/closed.ts ClosedRing). */
export function shardConnz(shard: Shard, q: ConnzQuery): ConnInfo[] {
  shard.closedRecords.flush();
  const now = Date.now();
  const out: ConnInfo[] = [];
  if (q.state !== 'closed') for (const c of shard.conns.values()) if (q.cid === 0 || c.cid === q.cid) out.push(connInfo(c, now, q));
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
