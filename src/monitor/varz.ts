// /varz data, built as plain data (nats-server monitor.go Varz) apart from its HTTP wrapper.
import { cpuUsage, memoryUsage } from 'node:process';
import { defaultOptions, jetStreamDir, type ServerOptions } from '../server/options.js';
import type { ServerIdentity, ShardStats } from '../shard/shard.js';
import { natsUptime } from './types.js';

export interface VarzInput {
  identity: ServerIdentity;
  opts: ServerOptions;
  start: Date;
  shards: ShardStats[];
  httpPort: number;
  /** The JetStream worker's /jsz figures (null when JetStream is off or not answering). */
  jetstream?: Record<string, unknown> | null;
  /** Clustering: the `cluster` block (ClusterOptsVarz) and the number of routes. */
  cluster?: { block: Record<string, unknown>; routes: number };
  /** The mqtt block as monitor.go MQTTOptsVarz shows it ({} when off). */
  mqtt?: Record<string, unknown>;
}

/** The previous /varz's CPU sample of each server (keyed by its identity: several servers may share a process). */
const cpuSamples = new WeakMap<ServerIdentity, { cpu: NodeJS.CpuUsage; at: number }>();

export function buildVarz(v: VarzInput): Record<string, unknown> {
  const sum = (k: keyof ShardStats): number => v.shards.reduce((a, s) => a + s[k], 0);
  const now = new Date();
  const cpuNow = cpuUsage();
  // The first /varz: the process's average since it started (a library server may start late in it).
  const last = cpuSamples.get(v.identity) ?? { cpu: { user: 0, system: 0 }, at: Date.now() - process.uptime() * 1000 };
  const elapsed = Math.max(1, Date.now() - last.at) * 1000;
  const cpu = ((cpuNow.user - last.cpu.user + cpuNow.system - last.cpu.system) / elapsed) * 100;
  cpuSamples.set(v.identity, { cpu: cpuNow, at: Date.now() });
  return {
    server_id: v.identity.serverId,
    server_name: v.identity.serverName,
    version: v.identity.version,
    proto: 1,
    go: `node${process.versions.node}`,
    host: v.opts.host,
    port: v.identity.port,
    auth_required: v.opts.auth !== null,
    max_connections: v.opts.maxConnections,
    ping_interval: v.opts.pingIntervalMs * 1e6,
    ping_max: v.opts.pingMax,
    http_host: v.opts.httpHost,
    http_port: v.httpPort,
    max_control_line: v.opts.maxControlLine,
    max_payload: v.opts.maxPayload,
    max_pending: v.opts.maxPending,
    write_deadline: v.opts.writeDeadlineMs * 1e6,
    start: v.start.toISOString(),
    now: now.toISOString(),
    uptime: natsUptime(now.getTime() - v.start.getTime()),
    mem: memoryUsage.rss(),
    cores: v.shards.length,
    cpu: Math.round(cpu * 100) / 100,
    connections: sum('connections'),
    total_connections: sum('totalConnections'),
    routes: v.cluster?.routes ?? 0,
    remotes: v.cluster?.routes ?? 0,
    leafnodes: 0,
    in_msgs: sum('inMsgs'),
    out_msgs: sum('outMsgs'),
    in_bytes: sum('inBytes'),
    out_bytes: sum('outBytes'),
    slow_consumers: sum('slowConsumers'),
    subscriptions: sum('subscriptions'),
    config_load_time: v.start.toISOString(),
    system_account: v.opts.systemAccount,
    cluster: v.cluster?.block ?? {},
    gateway: {},
    leaf: {},
    mqtt: v.mqtt ?? {},
    jetstream: v.opts.jetstream.enabled ? varzJetStream(v) : {},
    tsnats_version: v.identity.tsnatsVersion,
    tsnats_shards: v.shards.length,
  };
}

/** Varz's `jetstream` block (monitor.go JetStreamVarz): config, and stats as /jsz has them. */
function varzJetStream(v: VarzInput): Record<string, unknown> {
  const live = v.jetstream ?? {};
  const num = (k: string): number => (typeof live[k] === 'number' ? (live[k] as number) : 0);
  return {
    config: jetStreamConfigJson(v.opts),
    stats: {
      memory: num('memory'),
      storage: num('storage'),
      reserved_memory: num('reserved_memory'),
      reserved_storage: num('reserved_storage'),
      accounts: num('accounts'),
      ha_assets: 0,
      api: live['api'] ?? { total: 0, errors: 0 },
    },
  };
}

/** JetStreamConfig as nats-server marshals it in /varz and /jsz. */
export function jetStreamConfigJson(opts: ServerOptions): Record<string, unknown> {
  const js = opts.jetstream;
  return {
    max_memory: js.maxMemory,
    max_storage: js.maxStore,
    store_dir: js.enabled ? jetStreamDir(opts) : js.storeDir,
    // Shown only when set, as nats-server's omitempty does for the defaults.
    ...(js.syncIntervalMs !== defaultOptions().jetstream.syncIntervalMs ? { sync_interval: js.syncIntervalMs * 1e6 } : {}),
    ...(js.syncAlways ? { sync_always: true } : {}),
    ...(js.domain ? { domain: js.domain } : {}),
  };
}
