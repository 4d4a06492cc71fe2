// Server options: nats-server's names and defaults (server/const.go, opts.go). Everything here is
// plain data: it crosses into every shard worker as workerData (structured clone).

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttOptions } from '../mqtt/config.js';
import type { TieredLimits } from '../jetstream/account-limits.js';

export interface SubjectPermission {
  allow: string[] | null;
  deny: string[] | null;
}

export interface Permissions {
  publish: SubjectPermission | null;
  subscribe: SubjectPermission | null;
  /** allow_responses: publish to reply subjects of received requests; max 0 = 1 response. */
  allowResponses: { max: number; expiresMs: number } | null;
}

export interface UserEntry {
  user: string;
  /** Plain text, or a bcrypt hash (`$2a$...`). */
  password: string;
  account: string;
  permissions: Permissions | null;
}

export interface NkeyEntry {
  nkey: string;
  account: string;
  permissions: Permissions | null;
}

export interface ExportEntry {
  kind: 'stream' | 'service';
  subject: string;
  /** Accounts allowed to import; null: public. */
  accounts: string[] | null;
  /** Service exports: how many replies a request may get (nats-server's response_type). */
  responseType?: 'singleton' | 'stream' | 'chunked';
}

export interface ImportEntry {
  kind: 'stream' | 'service';
  /** The exporting account. */
  account: string;
  subject: string;
  /** stream: prefix for the imported subjects; service: the local subject (`to`). */
  local: string;
}

export interface AccountEntry {
  name: string;
  exports: ExportEntry[];
  imports: ImportEntry[];
  jetstream: boolean;
  /** The account's JetStream limits by tier ('' = flat), when its `jetstream` block sets any. */
  jetstreamLimits?: TieredLimits | null;
}

export interface AuthOptions {
  /** authorization.timeout, default AUTH_TIMEOUT 2s. */
  timeoutMs: number;
  /** authorization.token (plain or bcrypt). */
  token: string | null;
  users: UserEntry[];
  nkeys: NkeyEntry[];
  noAuthUser: string | null;
  /** Default permissions for users without their own. */
  defaultPermissions: Permissions | null;
}

export interface TlsOptions {
  certFile: string;
  keyFile: string;
  caFile: string | null;
  verify: boolean;
  timeoutMs: number;
  handshakeFirst: boolean;
  /** verify_and_map: the client certificate names the user (auth.go checkClientTLSCertSubject). */
  map?: boolean;
  /** handshake_first: "auto" or a duration: clients that send nothing by then get INFO first instead. */
  handshakeFirstFallbackMs?: number;
}

/** websocket { ... } (nats-server websocket.go). */
export interface WebsocketOptions {
  host: string;
  /** -1: random. */
  port: number;
  noTls: boolean;
  tls: TlsOptions | null;
  compression: boolean;
  sameOrigin: boolean;
  allowedOrigins: string[];
  handshakeTimeoutMs: number;
}

/** cluster { ... } (nats-server opts.go ClusterOpts), as tsnats serves it (src/cluster/). */
export interface ClusterOptions {
  /** '' : a name is generated (and given up for a configured peer's, as nats-server's dynamic name). */
  name: string;
  host: string;
  /** Default 6222; -1: random. */
  port: number;
  /** cluster_advertise: host:port given to peers instead of the listen address. */
  advertise: string;
  /** Do not tell clients the other nodes' URLs (INFO connect_urls). */
  noAdvertise: boolean;
  /** authorization { user, password, timeout }: what peers must send; '' = none. */
  username: string;
  password: string;
  authTimeoutMs: number;
  /** Route URLs to solicit (nats-route://user:pass@host:port). */
  routes: string[];
  /** Implicit (gossiped) routes: connect attempts after the first (0: one attempt only). */
  connectRetries: number;
  /** connect_backoff: double the delay between attempts up to 30 s (else nats-server's fixed 1 s). */
  connectBackoff: boolean;
  /** pool_size (2.10): accepted; tsnats always answers as a route without pooling. */
  poolSize: number;
  /** permissions { import, export }: what this node accepts from / offers to the cluster. */
  permissions: { import: SubjectPermission | null; export: SubjectPermission | null } | null;
  /** Route PING interval (nats-server caps it at 30 s for routes). */
  pingIntervalMs: number;
  pingMax: number;
}

export function defaultClusterOptions(): ClusterOptions {
  return {
    name: '',
    host: '0.0.0.0',
    port: 6222,
    advertise: '',
    noAdvertise: false,
    username: '',
    password: '',
    authTimeoutMs: 2000,
    routes: [],
    connectRetries: 0,
    connectBackoff: false,
    poolSize: 0,
    permissions: null,
    pingIntervalMs: 0,
    pingMax: 0,
  };
}

export interface ServerOptions {
  configFile: string;
  host: string;
  port: number;
  clientAdvertise: string;
  serverName: string;
  /** Bytes; nats-server MAX_PAYLOAD_SIZE 1 MB. */
  maxPayload: number;
  /** Bytes of outbound data a connection may have pending; MAX_PENDING_SIZE 64 MB. */
  maxPending: number;
  /** MAX_CONTROL_LINE_SIZE 4 KB. */
  maxControlLine: number;
  /** 0: unlimited. */
  maxConnections: number;
  /** Per connection; 0: unlimited. */
  maxSubscriptions: number;
  /** DEFAULT_PING_INTERVAL 2 minutes. */
  pingIntervalMs: number;
  /** DEFAULT_PING_MAX_OUT 2. */
  pingMax: number;
  /** DEFAULT_FLUSH_DEADLINE 10 s. */
  writeDeadlineMs: number;
  lameDuckDurationMs: number;
  lameDuckGracePeriodMs: number;
  /** Worker shards; default: available parallelism. */
  shards: number;
  debug: boolean;
  trace: boolean;
  logtime: boolean;
  logFile: string;
  pidFile: string;
  portsFileDir: string;
  /** Monitoring: port 0 = off, -1 = random. */
  httpHost: string;
  httpPort: number;
  /** null: no authentication. */
  auth: AuthOptions | null;
  accounts: AccountEntry[];
  systemAccount: string;
  tls: TlsOptions | null;
  /** allow_non_tls: with tls {}, plaintext clients are served too (INFO tls_available). */
  allowNonTls: boolean;
  websocket: WebsocketOptions | null;
  /** --native-free: serve HTTP and WebSocket without the uWS addon even where it loads. */
  nativeFree: boolean;
  jetstream: JetStreamOptions;
  /** null: no clustering. */
  cluster: ClusterOptions | null;
  /** mqtt { } (src/mqtt/config.ts); null: no MQTT listener. */
  mqtt: MqttOptions | null;
  /**
   * Where the worker threads log: '' stderr or log_file (the CLI); 'off' nowhere; otherwise the name
   * of a BroadcastChannel whose records the main thread hands to its own logger (the library).
   */
  workerLog: string;
}

export interface JetStreamOptions {
  enabled: boolean;
  /** Base directory; streams live under `<storeDir>/jetstream/` as in nats-server. '' = the OS temp dir's `nats`. */
  storeDir: string;
  maxMemory: number;
  maxStore: number;
  /** fsync period of file streams (nats-server's sync_interval, default 2m). */
  syncIntervalMs: number;
  /** sync_interval: always — fsync after every write. */
  syncAlways: boolean;
  /** nats-server's JetStream domain (`$JS.<domain>.API.>`); '' = none. */
  domain?: string;
}

export function defaultOptions(): ServerOptions {
  return {
    configFile: '',
    host: '0.0.0.0',
    port: 4222,
    clientAdvertise: '',
    serverName: '',
    maxPayload: 1024 * 1024,
    maxPending: 64 * 1024 * 1024,
    maxControlLine: 4096,
    maxConnections: 64 * 1024,
    maxSubscriptions: 0,
    pingIntervalMs: 2 * 60 * 1000,
    pingMax: 2,
    writeDeadlineMs: 10_000,
    lameDuckDurationMs: 2 * 60 * 1000,
    lameDuckGracePeriodMs: 10_000,
    shards: 1,
    debug: false,
    trace: false,
    logtime: true,
    logFile: '',
    pidFile: '',
    portsFileDir: '',
    httpHost: '0.0.0.0',
    httpPort: 0,
    auth: null,
    accounts: [],
    systemAccount: '$SYS',
    tls: null,
    allowNonTls: false,
    websocket: null,
    nativeFree: false,
    jetstream: { enabled: false, storeDir: '', maxMemory: -1, maxStore: -1, syncIntervalMs: 120_000, syncAlways: false },
    cluster: null,
    mqtt: null,
    workerLog: '',
  };
}

/** Where JetStream keeps its files: `<store_dir>/jetstream`, as nats-server (default `<tmp>/nats/jetstream`). */
export function jetStreamDir(opts: ServerOptions): string {
  return join(opts.jetstream.storeDir || join(tmpdir(), 'nats'), 'jetstream');
}
