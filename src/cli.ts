// Command-line flags as nats-server takes them (main.go): Go's flag package accepts one or two dashes
// and `-flag value` or `-flag=value`; boolean flags take no value.

import { parseDurationMs } from './config/duration.js';
import { defaultOptions, type ServerOptions } from './server/options.js';
import { availableParallelism } from 'node:os';

export interface CliResult {
  opts: ServerOptions;
  /** Set when the command is not "run the server" (help, version). */
  action: 'run' | 'help' | 'version';
}

export class CliError extends Error {}

type Setter = (o: ServerOptions, v: string) => void;

const num = (name: string, v: string): number => {
  if (!/^-?\d+$/.test(v)) throw new CliError(`invalid value "${v}" for flag -${name}: parse error`);
  return Number(v);
};

/** Flags that take a value. */
const VALUE_FLAGS: Record<string, Setter> = {
  p: (o, v) => (o.port = num('p', v)),
  port: (o, v) => (o.port = num('port', v)),
  a: (o, v) => (o.host = v),
  addr: (o, v) => (o.host = v),
  net: (o, v) => (o.host = v),
  n: (o, v) => (o.serverName = v),
  name: (o, v) => (o.serverName = v),
  server_name: (o, v) => (o.serverName = v),
  P: (o, v) => (o.pidFile = v),
  pid: (o, v) => (o.pidFile = v),
  shards: (o, v) => (o.shards = Math.max(1, num('shards', v))),
  // tsnats extras (nats-server has these only as config keys):
  max_payload: (o, v) => (o.maxPayload = num('max_payload', v)),
  max_pending: (o, v) => (o.maxPending = num('max_pending', v)),
  max_control_line: (o, v) => (o.maxControlLine = num('max_control_line', v)),
  max_connections: (o, v) => (o.maxConnections = num('max_connections', v)),
  max_subscriptions: (o, v) => (o.maxSubscriptions = num('max_subscriptions', v)),
  ping_interval: (o, v) => (o.pingIntervalMs = durationFlag('ping_interval', v)),
  ping_max: (o, v) => (o.pingMax = num('ping_max', v)),
};

const BOOL_FLAGS: Record<string, (o: ServerOptions) => void> = {
  D: (o) => (o.debug = true),
  debug: (o) => (o.debug = true),
  V: (o) => (o.trace = true),
  trace: (o) => (o.trace = true),
  DV: (o) => {
    o.debug = true;
    o.trace = true;
  },
  T: (o) => (o.logtime = true),
  logtime: (o) => (o.logtime = true),
};

function durationFlag(name: string, v: string): number {
  try {
    return parseDurationMs(v);
  } catch {
    throw new CliError(`invalid value "${v}" for flag -${name}: parse error`);
  }
}

export function parseArgs(argv: string[]): CliResult {
  const opts = defaultOptions();
  opts.shards = Math.max(1, availableParallelism());
  let action: CliResult['action'] = 'run';
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
      action = 'help';
      continue;
    }
    if (name === 'v' || name === 'version') {
      action = 'version';
      continue;
    }
    const b = BOOL_FLAGS[name];
    if (b !== undefined) {
      if (value === undefined || /^(true|1|t)$/i.test(value)) b(opts);
      else if (!/^(false|0|f)$/i.test(value)) throw new CliError(`invalid boolean value "${value}" for -${name}`);
      continue;
    }
    const set = VALUE_FLAGS[name];
    if (set === undefined) throw new CliError(`flag provided but not defined: -${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new CliError(`flag needs an argument: -${name}`);
    }
    set(opts, value);
  }
  return { opts, action };
}

export const USAGE = `Usage: tsnats [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222; -1 for a random port)
    -n, --name, --server_name <name> Server name (default: server id)
    -P, --pid <file>                 File to store PID
        --shards <n>                 Worker shards (default: available cores)

Logging Options:
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace
    -T, --logtime                    Timestamp log entries (default: true)

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
