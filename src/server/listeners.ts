// The main thread's listeners, bound only once everything that serves them is up (DESIGN.md,
// "Start-up order"): the shards and the JetStream worker are ready before any port accepts, every
// listener gets its handler in the tick it binds, and a connection accepted while the other
// listeners are still binding waits in a short queue instead of being dropped. Also the ports
// file (`ports_file_dir`, nats-server's server.go logPorts/PortsInfo) and the shared block through
// which the shards learn the real ports (`-p -1`) for the INFO they send.

import net from 'node:net';
import { writeFileSync, rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

// ---- ports shared with the shards ----------------------------------------------------------------

/**
 * Int32 slots of the ports block every thread sees. Main writes the ports once all listeners are
 * bound and before it dispatches the first connection, then bumps GENERATION; a shard compares
 * GENERATION with the one its INFO was built for (one load per new connection, nothing per message).
 */
export const PortSlot = { CLIENT: 0, WEBSOCKET: 1, GENERATION: 2 } as const;

export function newPortsBlock(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * 4);
}

export function publishPorts(block: SharedArrayBuffer, client: number, websocket: number): void {
  const v = new Int32Array(block);
  Atomics.store(v, PortSlot.CLIENT, client);
  Atomics.store(v, PortSlot.WEBSOCKET, websocket);
  Atomics.add(v, PortSlot.GENERATION, 1);
}

/** `host:port` for INFO `ws_connect_urls`: a wildcard bind address is shown as loopback. */
export function wsConnectUrl(host: string, port: number): string {
  return `${host === '0.0.0.0' || host === '' || host === '::' ? '127.0.0.1' : host}:${port}`;
}

/**
 * Brings an INFO template up to date with the published ports; returns the generation it now
 * reflects. `wsHost` is the WebSocket listener's host (null: no WebSocket listener).
 */
export function applyPorts(info: Record<string, unknown>, block: SharedArrayBuffer, wsHost: string | null): number {
  const v = new Int32Array(block);
  const gen = Atomics.load(v, PortSlot.GENERATION);
  info['port'] = Atomics.load(v, PortSlot.CLIENT);
  const ws = Atomics.load(v, PortSlot.WEBSOCKET);
  if (wsHost !== null && ws > 0) info['ws_connect_urls'] = [wsConnectUrl(wsHost, ws)];
  return gen;
}

export function portsGeneration(block: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(block), PortSlot.GENERATION);
}

// ---- binding -------------------------------------------------------------------------------------

/**
 * A TCP listener whose 'connection' handler is attached before it binds (pauseOnConnect: the
 * socket is handed to a shard untouched). `port < 0` picks a random free port.
 */
export function listenTcp(host: string, port: number, onConnection: (s: net.Socket) => void, what: string): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true }, onConnection);
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => reject(new Error(`could not listen on ${host}:${port} for ${what}: ${err.message}`));
    server.once('error', fail);
    server.listen({ host, port: port < 0 ? 0 : port, backlog: 4096 }, () => {
      server.off('error', fail);
      resolve(server);
    });
  });
}

export function boundPort(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/**
 * Connections accepted before every listener is bound and the ports are published wait here, paused,
 * and are dispatched in order by open(). The window is the few milliseconds between the first and
 * the last bind; nothing accepted is ever dropped.
 */
export class AcceptGate<K> {
  private queued: { socket: net.Socket; kind: K }[] | null = [];
  private readonly dispatch: (socket: net.Socket, kind: K) => void;

  constructor(dispatch: (socket: net.Socket, kind: K) => void) {
    this.dispatch = dispatch;
  }

  /** The listeners' handler. */
  accept(socket: net.Socket, kind: K): void {
    if (this.queued !== null) this.queued.push({ socket, kind });
    else this.dispatch(socket, kind);
  }

  get isOpen(): boolean {
    return this.queued === null;
  }

  open(): void {
    const q = this.queued;
    this.queued = null;
    if (q !== null) for (const e of q) this.dispatch(e.socket, e.kind);
  }

  /** Start-up failed: whatever waited is closed, never left hanging. */
  abort(): void {
    const q = this.queued ?? [];
    this.queued = [];
    for (const e of q) e.socket.destroy();
  }
}

// ---- ports file ----------------------------------------------------------------------------------

/** Keys of nats-server's `Ports` struct (server.go), in its order; `mqtt` is tsnats's own addition. */
export type PortsKey = 'nats' | 'monitoring' | 'cluster' | 'profile' | 'websocket' | 'mqtt';
const KEY_ORDER: PortsKey[] = ['nats', 'monitoring', 'cluster', 'profile', 'websocket', 'mqtt'];

/**
 * URLs a listener can be reached at, as server.go formatURL/resolveHostPorts: a wildcard address
 * lists every interface address (IPv6 in brackets), otherwise the bound address itself.
 */
export function listenerUrls(scheme: string, host: string, port: number): string[] {
  return listenerHosts(host).map((h) => `${scheme}://${h}:${port}`);
}

/** The hosts of listenerUrls, IPv6 in brackets (for rooms that build their own URLs). */
export function listenerHosts(host: string): string[] {
  const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return [bracket(host)];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.push(bracket(i.address));
  return out.length > 0 ? out : ['127.0.0.1'];
}

/**
 * `<ports_file_dir>/nats-server_<pid>.ports`: JSON of every listener's URLs (the name the official
 * clients' test harnesses look for). Listeners added after it was written (a cluster port bound
 * later) rewrite it.
 */
export class PortsFile {
  private readonly entries = new Map<PortsKey, string[]>();
  private path = '';

  set(key: PortsKey, urls: string[]): void {
    this.entries.set(key, urls);
    if (this.path !== '') this.flush();
  }

  /** Writes the file (and keeps it current from now on). */
  write(dir: string, pid = process.pid): string {
    this.path = join(dir, `nats-server_${pid}.ports`);
    this.flush();
    return this.path;
  }

  toJSON(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const k of KEY_ORDER) {
      const v = this.entries.get(k);
      if (v !== undefined && v.length > 0) out[k] = v;
    }
    return out;
  }

  private flush(): void {
    writeFileSync(this.path, JSON.stringify(this.toJSON()));
  }

  remove(): void {
    if (this.path !== '') rmSync(this.path, { force: true });
    this.path = '';
  }
}
