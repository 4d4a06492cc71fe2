// Command-line flags as nats-server takes them (main.go): Go's flag package accepts one or two dashes
// and `-flag value` or `-flag=value`; boolean flags take no value. Flags override the config file.

import { availableParallelism } from 'node:os';
import { parseDurationMs } from './config/duration.js';
import { defaultClusterOptions, defaultOptions, type ClusterOptions, type ServerOptions, type TlsOptions, type JetStreamOptions } from './server/options.js';

export interface CliResult {
  /** Options set explicitly by flags (they win over the config file). */
  flags: Partial<ServerOptions>;
  /** --user/--pass/--auth, applied over the file's authorization. */
  user: string | null;
  pass: string | null;
  token: string | null;
  tls: Partial<TlsOptions> & { enabled?: boolean };
  configFile: string;
  action: 'run' | 'help' | 'version' | 'test-config' | 'signal' | 'help-tls';
  /** --signal command[=pid] */
  signal: string;
  /** Cluster flags (--cluster, --cluster_name, --routes, --no_advertise ...), over the file's cluster block. */
  cluster: Partial<ClusterOptions> | null;
  /** --cluster or --routes was given: clustering is on even without a cluster block in the file. */
  clusterEnabled: boolean;
}

export class CliError extends Error {}

const num = (name: string, v: string): number => {
  if (!/^-?\d+$/.test(v)) throw new CliError(`invalid value "${v}" for flag -${name}: parse error`);
  return Number(v);
};

function durationFlag(name: string, v: string): number {
  try {
    return parseDurationMs(v);
  } catch {
    throw new CliError(`invalid value "${v}" for flag -${name}: parse error`);
  }
}

function clusterFlags(r: CliState): Partial<ClusterOptions> {
  return (r.cluster ??= {});
}

/** --cluster nats://[user:pass@]host:port (opts.go overrideCluster; port -1 is random). */
function clusterListenFlag(r: CliState, name: string, v: string): void {
  let u: URL;
  try {
    u = new URL(v.replace(/:-1$/, ':0'));
  } catch {
    throw new CliError(`invalid value "${v}" for flag -${name}: parse error`);
  }
  const c = clusterFlags(r);
  c.host = u.hostname.replace(/^\[|\]$/g, '') || '0.0.0.0';
  c.port = v.endsWith(':-1') ? -1 : Number(u.port || '0');
  if (u.username !== '') {
    if (u.password === '') throw new CliError('expected cluster password to be set');
    c.username = decodeURIComponent(u.username);
    c.password = decodeURIComponent(u.password);
  } else {
    // Given on the command line without credentials: none from the file either (overrideCluster).
    c.username = '';
    c.password = '';
  }
  r.clusterEnabled = true;
}

/** --routes url,url (RoutesFromStr). */
function routesFlag(r: CliState, v: string): void {
  const routes = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const u of routes) {
    try {
      new URL(u);
    } catch {
      throw new CliError(`invalid value "${v}" for flag -routes: parse error`);
    }
  }
  clusterFlags(r).routes = routes;
  r.clusterEnabled = true;
}

interface CliState extends CliResult {
  ignoredFlags: string[];
}

/** Flags that take a value. */
const VALUE_FLAGS: Record<string, (r: CliState, v: string) => void> = {
  p: (r, v) => (r.flags.port = num('p', v)),
  port: (r, v) => (r.flags.port = num('port', v)),
  a: (r, v) => (r.flags.host = v),
  addr: (r, v) => (r.flags.host = v),
  net: (r, v) => (r.flags.host = v),
  n: (r, v) => (r.flags.serverName = v),
  name: (r, v) => (r.flags.serverName = v),
  server_name: (r, v) => (r.flags.serverName = v),
  client_advertise: (r, v) => (r.flags.clientAdvertise = v),
  P: (r, v) => (r.flags.pidFile = v),
  pid: (r, v) => (r.flags.pidFile = v),
  ports_file_dir: (r, v) => (r.flags.portsFileDir = v),
  c: (r, v) => (r.configFile = v),
  config: (r, v) => (r.configFile = v),
  l: (r, v) => (r.flags.logFile = v),
  log: (r, v) => (r.flags.logFile = v),
  m: (r, v) => (r.flags.httpPort = num('m', v)),
  http_port: (r, v) => (r.flags.httpPort = num('http_port', v)),
  user: (r, v) => (r.user = v),
  pass: (r, v) => (r.pass = v),
  auth: (r, v) => (r.token = v),
  sl: (r, v) => {
    r.signal = v;
    r.action = 'signal';
  },
  signal: (r, v) => {
    r.signal = v;
    r.action = 'signal';
  },
  sd: (r, v) => (r.flags.jetstream = { ...r.flags.jetstream, storeDir: v } as JetStreamOptions),
  store_dir: (r, v) => (r.flags.jetstream = { ...r.flags.jetstream, storeDir: v } as JetStreamOptions),
  tlscert: (r, v) => (r.tls.certFile = v),
  tlskey: (r, v) => (r.tls.keyFile = v),
  tlscacert: (r, v) => (r.tls.caFile = v),
  shards: (r, v) => (r.flags.shards = Math.max(1, num('shards', v))),
  cluster: (r, v) => clusterListenFlag(r, 'cluster', v),
  cluster_listen: (r, v) => clusterListenFlag(r, 'cluster_listen', v),
  cluster_name: (r, v) => (clusterFlags(r).name = v),
  routes: (r, v) => routesFlag(r, v),
  r: (r, v) => routesFlag(r, v),
  cluster_advertise: (r, v) => (clusterFlags(r).advertise = v),
  connect_retries: (r, v) => (clusterFlags(r).connectRetries = num('connect_retries', v)),
  // tsnats extras (nats-server has these only as config keys):
  max_payload: (r, v) => (r.flags.maxPayload = num('max_payload', v)),
  max_pending: (r, v) => (r.flags.maxPending = num('max_pending', v)),
  max_control_line: (r, v) => (r.flags.maxControlLine = num('max_control_line', v)),
  max_connections: (r, v) => (r.flags.maxConnections = num('max_connections', v)),
  max_subscriptions: (r, v) => (r.flags.maxSubscriptions = num('max_subscriptions', v)),
  ping_interval: (r, v) => (r.flags.pingIntervalMs = durationFlag('ping_interval', v)),
  ping_max: (r, v) => (r.flags.pingMax = num('ping_max', v)),
};

const BOOL_FLAGS: Record<string, (r: CliState) => void> = {
  D: (r) => (r.flags.debug = true),
  debug: (r) => (r.flags.debug = true),
  V: (r) => (r.flags.trace = true),
  trace: (r) => (r.flags.trace = true),
  VV: (r) => (r.flags.trace = true),
  DV: (r) => {
    r.flags.debug = true;
    r.flags.trace = true;
  },
  DVV: (r) => {
    r.flags.debug = true;
    r.flags.trace = true;
  },
  T: (r) => (r.flags.logtime = true),
  logtime: (r) => (r.flags.logtime = true),
  t: (r) => (r.action = 'test-config'),
  js: (r) => (r.flags.jetstream = { ...r.flags.jetstream, enabled: true } as JetStreamOptions),
  jetstream: (r) => (r.flags.jetstream = { ...r.flags.jetstream, enabled: true } as JetStreamOptions),
  tls: (r) => (r.tls.enabled = true),
  tlsverify: (r) => {
    r.tls.enabled = true;
    r.tls.verify = true;
  },
  no_advertise: (r) => (clusterFlags(r).noAdvertise = true),
  help_tls: (r) => (r.action = 'help-tls'),
  native_free: (r) => (r.flags.nativeFree = true),
  'native-free': (r) => (r.flags.nativeFree = true),
};

export function parseArgs(argv: string[]): CliResult & { ignoredFlags: string[] } {
  const r: CliState = { flags: {}, user: null, pass: null, token: null, tls: {}, configFile: '', action: 'run', signal: '', ignoredFlags: [], cluster: null, clusterEnabled: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') throw new CliError(`unexpected argument "${arg}"`);
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'h' || name === 'help') {
      r.action = 'help';
      continue;
    }
    if (name === 'v' || name === 'version') {
      r.action = 'version';
      continue;
    }
    const b = BOOL_FLAGS[name];
    if (b !== undefined) {
      if (value === undefined || /^(true|1|t)$/i.test(value)) b(r);
      else if (!/^(false|0|f)$/i.test(value)) throw new CliError(`invalid boolean value "${value}" for -${name}`);
      continue;
    }
    const set = VALUE_FLAGS[name];
    if (set === undefined) throw new CliError(`flag provided but not defined: -${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new CliError(`flag needs an argument: -${name}`);
    }
    set(r, value);
  }
  return r;
}

/** Defaults, then the config file's options, then the flags (nats-server's MergeOptions order). */
export function mergeOptions(file: Partial<ServerOptions>, cli: CliResult): ServerOptions {
  const opts: ServerOptions = { ...defaultOptions(), shards: Math.max(1, availableParallelism()), ...file, ...cli.flags };
  // JetStream flags hold only what was given (-js: enabled, -sd: store_dir), over the file's block.
  if (cli.flags.jetstream) opts.jetstream = { ...defaultOptions().jetstream, ...file.jetstream, ...cli.flags.jetstream };
  if (cli.user !== null || cli.pass !== null || cli.token !== null) {
    const auth = opts.auth ?? { timeoutMs: 2000, token: null, users: [], nkeys: [], noAuthUser: null, defaultPermissions: null };
    if (cli.user !== null) {
      auth.users = [{ user: cli.user, password: cli.pass ?? '', account: '$G', permissions: null }, ...auth.users.filter((u) => u.user !== cli.user)];
    }
    if (cli.token !== null) auth.token = cli.token;
    opts.auth = auth;
  }
  if (cli.cluster !== null) {
    const base = file.cluster ?? (cli.clusterEnabled ? defaultClusterOptions() : null);
    if (base !== null) opts.cluster = { ...base, ...cli.cluster };
  }
  if (cli.tls.enabled || cli.tls.certFile !== undefined) {
    const t = opts.tls ?? { certFile: '', keyFile: '', caFile: null, verify: false, timeoutMs: 2000, handshakeFirst: false };
    opts.tls = { ...t, ...Object.fromEntries(Object.entries(cli.tls).filter(([k]) => k !== 'enabled')) } as TlsOptions;
  }
  return opts;
}

export const USAGE = `Usage: tsnats [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222; -1 for a random port)
    -n, --name, --server_name <name> Server name (default: server id)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring (-1 for a random port)
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl, --signal <signal>[=<pid>]   Send signal to tsnats process (ldm, stop, quit, term, reopen, reload);
                                     the pid comes from the pid file (-P) when not given
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports)
        --shards <n>                 Worker shards (default: available cores)
        --native-free                Serve HTTP and WebSocket on pure Node even where uWS loads

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes (nats://[user:pass@]host:port, -1 port for random)
        --cluster_name <string>      Cluster name (default: generated, and adopted from a peer's)
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --no_advertise <bool>        Do not advertise known cluster IPs to clients
        --connect_retries <number>   For implicit routes, number of connect retries

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Limits (tsnats extras; nats-server has these as config keys):
        --max_payload <bytes>        Maximum message payload (default: 1048576)
        --max_pending <bytes>        Maximum pending outbound bytes per connection (default: 67108864)
        --max_control_line <bytes>   Maximum control line (default: 4096)
        --max_connections <n>        Maximum client connections (default: 65536)
        --max_subscriptions <n>      Maximum subscriptions per connection (default: 0, unlimited)
        --ping_interval <duration>   Server PING interval (default: 2m)
        --ping_max <n>               Unanswered PINGs before a connection is stale (default: 2)

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
`;
