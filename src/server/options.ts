// Server options: nats-server's names and defaults (server/const.go, opts.go).

export interface ServerOptions {
  host: string;
  port: number;
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
  /** Worker shards; default: available parallelism. */
  shards: number;
  debug: boolean;
  trace: boolean;
  logtime: boolean;
  pidFile: string;
}

export function defaultOptions(): ServerOptions {
  return {
    host: '0.0.0.0',
    port: 4222,
    serverName: '',
    maxPayload: 1024 * 1024,
    maxPending: 64 * 1024 * 1024,
    maxControlLine: 4096,
    maxConnections: 64 * 1024,
    maxSubscriptions: 0,
    pingIntervalMs: 2 * 60 * 1000,
    pingMax: 2,
    shards: 1,
    debug: false,
    trace: false,
    logtime: true,
    pidFile: '',
  };
}
