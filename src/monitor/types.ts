// Shapes of nats-server's monitoring JSON (server/monitor.go), shared by the shards (which collect)
// and the main thread (which sorts, pages and serves).

export interface SubDetail {
  account: string;
  subject: string;
  qgroup?: string;
  sid: string;
  msgs: number;
  max?: number;
  cid: number;
}

/** monitor.go ConnInfo. */
export interface ConnInfo {
  cid: number;
  kind: 'Client';
  type: 'nats' | 'mqtt';
  /** The MQTT client id (monitor.go ConnInfo.MQTTClient). */
  mqtt_client?: string;
  ip: string;
  port: number;
  start: string;
  last_activity: string;
  stop?: string;
  reason?: string;
  rtt: string;
  uptime: string;
  idle: string;
  pending_bytes: number;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  subscriptions: number;
  name?: string;
  lang?: string;
  version?: string;
  tls_version?: string;
  authorized_user?: string;
  account?: string;
  subscriptions_list?: string[];
  subscriptions_list_detail?: SubDetail[];
  /** The shard that holds it (TSNATS_DEBUG_INFO=1 only; tests see where a connection is). */
  tsnats_shard?: number;
  /** Milliseconds, for sorting; removed before serving. */
  _start: number;
  _last: number;
  _stop: number;
}

export interface ConnzQuery {
  subs: 'none' | 'list' | 'detail';
  state: 'open' | 'closed' | 'all';
  cid: number;
  auth: boolean;
}

export interface SubszShard {
  num_subscriptions: number;
  num_cache: number;
  num_inserts: number;
  num_removes: number;
  num_matches: number;
  cache_hits: number;
  max_fanout: number;
  fanout_total: number;
  fanout_count: number;
  list: SubDetail[];
}

export interface ShardMetrics {
  shard: number;
  /** Event-loop utilisation since the last scrape (0..1). */
  elu: number;
  /** Milliseconds the shard's event loop was busy / idle since the thread started (for rates). */
  activeMs: number;
  idleMs: number;
  /** Per peer ring: bytes in use and capacity. */
  rings: { peer: number; used: number; capacity: number }[];
}

/** Go's time.Duration String() for milliseconds ("1.5ms", "2m3s", "0s"). */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${+s.toFixed(9)}s`;
}

/** nats-server's myUptime: "1d2h3m4s", "0s". */
export function natsUptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d${h}h${m}m${s}s`;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
