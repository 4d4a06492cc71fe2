// The library: `import { startServer } from 'tsnats'` runs the same server as the CLI inside the
// caller's process (DESIGN.md, "Library entry"). Each call owns everything it starts (listeners,
// shard and JetStream workers, its temporary store directory, the log relay) and `stop()` ends all
// of it; nothing here touches process-wide state (signals, exit, stdout), so a test may run several
// servers side by side and stop them in any order.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';
import { loadConfigSources, type ConfigBlock, type ConfigValue } from './config/object.js';
import type { ConfMap } from './config/conf.js';
import { createLogger, relayWorkerLogs, silentLogger, type Logger } from './log.js';
import { defaultOptions, type ServerOptions } from './server/options.js';
import { Server } from './server/server.js';
import { startOrStop } from './server/run.js';

export type { ConfigBlock, ConfigValue } from './config/object.js';
export { ConfigError } from './config/load.js';
export { TSNATS_VERSION, NATS_SERVER_COMPAT_VERSION } from './version.js';

/** nats.conf permissions (`publish`/`subscribe`: a subject, a list, or `{ allow, deny }`). */
export interface PermissionsConfig extends ConfigBlock {
  publish?: string | readonly string[] | { allow?: readonly string[]; deny?: readonly string[] };
  subscribe?: string | readonly string[] | { allow?: readonly string[]; deny?: readonly string[] };
  allowResponses?: boolean | { max?: number; expires?: string | number };
}

export interface UserConfig extends ConfigBlock {
  user?: string;
  password?: string;
  nkey?: string;
  account?: string;
  permissions?: PermissionsConfig;
}

export interface TlsConfig extends ConfigBlock {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  verify?: boolean;
  timeout?: string | number;
  handshakeFirst?: boolean;
}

export interface JetStreamConfig extends ConfigBlock {
  enabled?: boolean;
  /** Default in the library: a fresh temporary directory, removed by `stop()`. */
  storeDir?: string;
  maxMemoryStore?: number | string;
  maxMemStore?: number | string;
  maxFileStore?: number | string;
  syncInterval?: string | number;
  domain?: string;
}

/**
 * The server's configuration: nats.conf keys in camelCase (`max_payload` → `maxPayload`, blocks
 * as nested objects, values as nats.conf writes them: sizes in bytes or `"1MB"`, durations as
 * `"2m"` or a number of seconds). Keys under `accounts` are account names, kept as written.
 */
export interface ServerConfig {
  listen?: string | number;
  /** Client port. Library default: a free port (`0` or `-1` also pick one). */
  port?: number;
  /** Bind address. Library default: `127.0.0.1`. */
  host?: string;
  net?: string;
  clientAdvertise?: string;
  serverName?: string;
  /** Monitoring `host:port`; off unless this, `httpPort` or `monitorPort` is given. */
  http?: string | number;
  /** Monitoring port; `0` or `-1`: a free port. */
  httpPort?: number;
  monitorPort?: number;
  portsFileDir?: string;
  pidFile?: string;
  logFile?: string;
  debug?: boolean;
  trace?: boolean;
  logtime?: boolean;
  maxPayload?: number | string;
  maxPending?: number | string;
  maxControlLine?: number | string;
  maxConnections?: number;
  maxSubscriptions?: number;
  writeDeadline?: string | number;
  pingInterval?: string | number;
  pingMax?: number;
  lameDuckDuration?: string | number;
  lameDuckGracePeriod?: string | number;
  authorization?: { user?: string; password?: string; token?: string; timeout?: string | number; users?: readonly UserConfig[]; defaultPermissions?: PermissionsConfig } & ConfigBlock;
  noAuthUser?: string;
  systemAccount?: string;
  accounts?: Record<string, { users?: readonly UserConfig[]; exports?: readonly ConfigBlock[]; imports?: readonly ConfigBlock[]; jetstream?: boolean | string } & ConfigBlock>;
  tls?: TlsConfig;
  /** `{ port: 0, noTls: true }` for a plain WebSocket listener on a free port. */
  websocket?: { port?: number; host?: string; listen?: string; noTls?: boolean; tls?: TlsConfig; compression?: boolean; sameOrigin?: boolean; allowedOrigins?: readonly string[]; handshakeTimeout?: string | number } & ConfigBlock;
  /** `true`: JetStream in a fresh temporary store directory, removed by `stop()`. */
  jetstream?: boolean | 'enabled' | 'disabled' | JetStreamConfig;
  cluster?: ConfigBlock;
  gateway?: ConfigBlock;
  leafnodes?: ConfigBlock;
  /** `{ port: 0 }` for MQTT on a free port (needs `serverName` and `jetstream`, as nats-server). */
  mqtt?: ConfigBlock;
}

export interface StartOptions extends ServerConfig {
  /** nats.conf text; the object's other keys override its top-level keys. */
  config?: string;
  /** A nats.conf file to read first (as `-c`); `config` text and the object's keys override it. */
  configFile?: string;
  /**
   * Logging. Default `false`: nothing is printed. `true`: nats-server's log format on stderr, as the
   * CLI prints. pino options (`{ level: 'debug' }`) or a pino logger: every thread's records go to
   * that logger (its level decides; `debug`/`trace` config keys apply when no level is given).
   */
  logger?: boolean | LoggerOptions | PinoLogger;
  /**
   * Shards. Library default `0`: connections are served on the calling thread (starts in well under
   * a millisecond, no thread to stop; it shares your event loop). `N ≥ 1`: N worker-thread shards
   * as the CLI runs (default there: one per core), for isolation and parallelism.
   */
  shards?: number;
  /** Serve HTTP and WebSocket on pure Node even where uWS loads (the CLI's `--native-free`). */
  nativeFree?: boolean;
}

/** A running server. `stop()` (or `await using`) ends everything `startServer` started. */
export interface ServerHandle extends AsyncDisposable {
  /** `nats://127.0.0.1:4222`: give it to a client as its server. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:8222` when monitoring is on (its `/` is the live dashboard). */
  readonly monitorUrl: string | undefined;
  /** `ws://127.0.0.1:8080` when a WebSocket listener is configured. */
  readonly websocketUrl: string | undefined;
  /** `mqtt://127.0.0.1:1883` (`tls://` with TLS) when an mqtt block is configured. */
  readonly mqttUrl: string | undefined;
  /** JetStream's store directory (its files are under `<storeDir>/jetstream/`), when JetStream is on. */
  readonly storeDir: string | undefined;
  readonly serverId: string;
  readonly serverName: string;
  /** Graceful stop: clients are closed, JetStream flushed, workers ended, a temporary store removed. Idempotent. */
  stop(): Promise<void>;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

function isPinoLogger(v: unknown): v is PinoLogger {
  return typeof v === 'object' && v !== null && typeof (v as PinoLogger).child === 'function' && typeof (v as PinoLogger).info === 'function';
}

/** How a host is written in a URL a client on this machine can use: a wildcard bind is loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

interface Resolved {
  opts: ServerOptions;
  warnings: string[];
  /** A temporary store directory to remove on stop. */
  tempStore: string | null;
  log: Logger;
  /** The worker threads' log relay, when they log to a user's logger. */
  relay: { close(): void } | null;
}

/** The options of one library server: the config layers, then the library's defaults where nothing was said. */
async function resolve(input: StartOptions | string): Promise<Resolved> {
  const o: StartOptions = typeof input === 'string' ? { config: input } : { ...input };
  const { config, configFile, logger, shards, nativeFree, ...keys } = o;
  const object: Record<string, ConfigValue> = {};
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) object[k] = v as ConfigValue;
  // `httpPort: 0` asks for a free port here (nats.conf's 0 means "off"; an absent key is off).
  for (const k of ['httpPort', 'monitorPort', 'http'] as const) if (object[k] === 0) object[k] = -1;
  const loaded = loadConfigSources({ ...(configFile !== undefined ? { file: configFile } : {}), ...(config !== undefined ? { text: config } : {}), object });
  const file = loaded.opts;
  const base = defaultOptions();
  const opts: ServerOptions = {
    ...base,
    host: '127.0.0.1',
    port: 0,
    ...file,
  };
  // Monitoring and WebSocket bind where the clients do unless told otherwise (nats-server's http host defaults to host).
  if (file.httpHost === undefined) opts.httpHost = opts.host;
  if (opts.websocket !== null && !wsHostGiven(loaded.keys)) opts.websocket = { ...opts.websocket, host: opts.host };
  // MQTT likewise, and its port 0 is a free port here too (nats.conf's 0 would turn MQTT off).
  if (opts.mqtt !== null) opts.mqtt = { ...opts.mqtt, ...(wsHostGiven(loaded.keys, 'mqtt') ? {} : { host: opts.host }), ...(opts.mqtt.port === 0 ? { port: -1 } : {}) };
  // Only the object says 0 (inline); a config file's `shards` is at least 1, as for the CLI.
  opts.shards = shards !== undefined ? Math.max(0, Math.trunc(shards)) : file.shards ?? 0;
  if (nativeFree !== undefined) opts.nativeFree = nativeFree;
  let tempStore: string | null = null;
  if (opts.jetstream.enabled && opts.jetstream.storeDir === '') {
    tempStore = mkdtempSync(join(tmpdir(), 'tsnats-store-'));
    opts.jetstream = { ...opts.jetstream, storeDir: tempStore };
  }
  let log: Logger;
  let relay: { close(): void } | null = null;
  if (logger === undefined || logger === false) {
    log = silentLogger();
    opts.workerLog = 'off';
  } else if (logger === true) {
    log = createLogger({ debug: opts.debug, trace: opts.trace, logtime: opts.logtime, file: opts.logFile });
  } else {
    if (isPinoLogger(logger)) log = logger;
    else {
      const level = logger.level ?? (opts.trace ? 'trace' : opts.debug ? 'debug' : 'info');
      // pino only when asked for: loading it costs start-up time the silent default does not pay.
      const { pino } = await import('pino');
      log = pino({ ...logger, level });
    }
    // The workers log at the user's level (at most trace, at least info) and the relay re-logs on `log`.
    const lvl = LEVELS.has(log.level) ? log.level : 'info';
    opts.trace = lvl === 'trace';
    opts.debug = lvl === 'trace' || lvl === 'debug';
    opts.workerLog = `tsnats-log-${randomBytes(8).toString('hex')}`;
    relay = relayWorkerLogs(opts.workerLog, log);
  }
  return { opts, warnings: loaded.warnings, tempStore, log, relay };
}

/** True when the websocket (or `block`) block names its host (`host`, `net`, or `listen` with a host part). */
function wsHostGiven(keys: ConfMap, block = 'websocket'): boolean {
  for (const [k, v] of Object.entries(keys)) {
    const name = k.toLowerCase();
    if ((name !== block && !(block === 'websocket' && name === 'ws')) || typeof v !== 'object' || Array.isArray(v)) continue;
    for (const [wk, wv] of Object.entries(v)) {
      const l = wk.toLowerCase();
      if (l === 'host' || l === 'net' || (l === 'listen' && typeof wv === 'string' && wv.includes(':'))) return true;
    }
  }
  return false;
}

/**
 * Starts a server in this process. Resolves once every listener serves; rejects (having stopped
 * whatever it had started) when the configuration is wrong or a port is taken.
 */
export async function startServer(options: StartOptions | string = {}): Promise<ServerHandle> {
  const r = await resolve(options);
  for (const w of r.warnings) r.log.warn(w);
  const server = new Server(r.opts, r.log);
  const cleanUp = (): void => {
    r.relay?.close();
    if (r.tempStore !== null) rmSync(r.tempStore, { recursive: true, force: true });
  };
  try {
    await startOrStop(server);
  } catch (err) {
    cleanUp();
    throw err;
  }
  const h = urlHost(r.opts.host);
  const ws = r.opts.websocket;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= server.shutdown().finally(cleanUp));
  return {
    url: `nats://${h}:${server.port}`,
    host: r.opts.host,
    port: server.port,
    monitorUrl: r.opts.httpPort !== 0 ? `http://${urlHost(r.opts.httpHost)}:${server.httpPort}` : undefined,
    websocketUrl: ws !== null ? `${ws.tls !== null ? 'wss' : 'ws'}://${urlHost(ws.host)}:${server.wsPort}` : undefined,
    mqttUrl: r.opts.mqtt !== null && server.mqttPort > 0 ? `${r.opts.mqtt.tls !== null ? 'tls' : 'mqtt'}://${urlHost(r.opts.mqtt.host)}:${server.mqttPort}` : undefined,
    storeDir: r.opts.jetstream.enabled ? r.opts.jetstream.storeDir : undefined,
    serverId: server.identity.serverId,
    serverName: server.identity.serverName,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
