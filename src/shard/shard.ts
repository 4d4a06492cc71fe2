// A shard: one worker thread's share of the connections, with its sublist, its dirty-connection list
// (flushed once per event-loop turn) and one coarse timer for every connection's keepalive.
// Routing mirrors nats-server's processMsgResults: every plain subscriber, then one member per queue
// group (random start, skipping members that may not receive it).

import net from 'node:net';
import type { Logger } from '../log.js';
import type { ClientParser } from '../protocol/parser.js';
import { Errors } from '../protocol/wire.js';
import { Sublist } from '../sublist/sublist.js';
import type { ServerOptions } from '../server/options.js';
import { ClientConnection, CloseReason } from './client.js';
import type { Subscription } from './subscription.js';

/** Server-wide facts every connection's INFO carries. */
export interface ServerIdentity {
  serverId: string;
  serverName: string;
  version: string;
  tsnatsVersion: string;
  /** Host and port as advertised in INFO. */
  host: string;
  port: number;
}

const READ_BUFFER_SIZE = 64 * 1024;

export class Shard {
  readonly id: number;
  readonly opts: ServerOptions;
  readonly log: Logger;
  readonly identity: ServerIdentity;
  readonly sublist = new Sublist<Subscription>();
  readonly conns = new Map<number, ClientConnection>();
  /** Event-loop-turn clock, refreshed by the timer and each flush; good enough for keepalive. */
  now = Date.now();
  slowConsumers = 0;
  totalConnections = 0;
  private readonly dirty: ClientConnection[] = [];
  private flushScheduled = false;
  private readonly flushAllBound = (): void => this.flushAll();
  private readonly timer: NodeJS.Timeout;
  /** One read buffer for every socket of the shard: reads are parsed before the next one lands. */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  private readonly infoBase: Record<string, unknown>;
  closing = false;

  constructor(id: number, opts: ServerOptions, identity: ServerIdentity, log: Logger) {
    this.id = id;
    this.opts = opts;
    this.identity = identity;
    this.log = log;
    this.infoBase = {
      server_id: identity.serverId,
      server_name: identity.serverName,
      version: identity.version,
      proto: 1,
      go: `node${process.versions.node}`,
      host: identity.host,
      port: identity.port,
      headers: true,
      max_payload: opts.maxPayload,
      tsnats_version: identity.tsnatsVersion,
    };
    const tick = Math.max(10, Math.min(1000, Math.floor(opts.pingIntervalMs / 4)));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
  }

  /** Takes over an accepted TCP handle (from the hand-off) as a client connection. */
  adopt(handle: unknown, cid: number): ClientConnection | null {
    let conn: ClientConnection | null = null;
    const socket = new net.Socket({
      handle,
      readable: true,
      writable: true,
      onread: {
        buffer: this.readBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          if (conn !== null) conn.onRead((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    return (conn = this.addConnection(socket, cid));
  }

  addConnection(socket: net.Socket, cid: number): ClientConnection | null {
    socket.setNoDelay(true);
    const conn = new ClientConnection(this, socket, cid);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.log.debug({ cid, err: err.message }, 'socket error');
      conn.close(CloseReason.READ_ERROR, true);
    });
    socket.on('close', () => conn.close(CloseReason.CLIENT, true));
    socket.on('end', () => conn.close(CloseReason.CLIENT));
    this.totalConnections++;
    if (this.closing || (this.opts.maxConnections > 0 && this.conns.size >= this.opts.maxConnections)) {
      conn.sendErr(Errors.MAX_CONNECTIONS);
      conn.close(CloseReason.SERVER_SHUTDOWN);
      return null;
    }
    this.conns.set(cid, conn);
    const info = { ...this.infoBase, client_id: cid, client_ip: conn.ip };
    // server.go generateInfoJSON joins "INFO", the JSON and CRLF with spaces: note the space before CRLF.
    conn.queue(Buffer.from(`INFO ${JSON.stringify(info)} \r\n`));
    this.log.debug({ cid, ip: conn.ip, port: conn.port }, 'Client connection created');
    return conn;
  }

  connectionClosed(conn: ClientConnection): void {
    this.conns.delete(conn.cid);
    this.log.debug({ cid: conn.cid, reason: conn.closeReason }, 'Client connection closed');
  }

  addSubscription(sub: Subscription): void {
    this.sublist.insert(sub);
  }

  removeSubscription(sub: Subscription): void {
    this.sublist.remove(sub);
  }

  /** Delivers the parser's current message to every matching local subscriber; returns how many. */
  route(pub: ClientConnection, p: ClientParser, buf: Buffer, start: number, end: number): number {
    const r = this.sublist.matchBytes(p.paBuf, p.paSubjectStart, p.paSubjectEnd);
    let n = 0;
    const noEcho = !pub.echo;
    const psubs = r.psubs;
    for (let i = 0; i < psubs.length; i++) {
      const sub = psubs[i]!;
      if (noEcho && sub.conn === pub) continue;
      if (sub.conn.writeMsg(sub, p, buf, start, end)) n++;
    }
    const qsubs = r.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const members = qsubs[g]!;
      const m = members.length;
      let k = (Math.random() * m) | 0;
      for (let tries = 0; tries < m; tries++) {
        const sub = members[k]!;
        if (!(noEcho && sub.conn === pub) && sub.conn.writeMsg(sub, p, buf, start, end)) {
          n++;
          break;
        }
        if (++k === m) k = 0;
      }
    }
    return n;
  }

  markDirty(conn: ClientConnection): void {
    conn.dirty = true;
    this.dirty.push(conn);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Check phase: after every read of this loop turn has been parsed.
      setImmediate(this.flushAllBound);
    }
  }

  flushAll(): void {
    this.flushScheduled = false;
    const d = this.dirty;
    for (let i = 0; i < d.length; i++) d[i]!.flush();
    d.length = 0;
    this.now = Date.now();
  }

  /** Keepalive for every connection (client.go processPingTimer). */
  private onTick(): void {
    const now = (this.now = Date.now());
    const interval = this.opts.pingIntervalMs;
    for (const c of this.conns.values()) {
      if (c.closed || now < c.nextPingAt) continue;
      c.nextPingAt = now + interval;
      const needRtt = c.rtt === 0 || now - c.rttAt > 60 * 60 * 1000;
      // Recent data from the client makes a PING unnecessary.
      if (now - c.lastIn < interval && !needRtt) continue;
      if (c.pingsOut + 1 > this.opts.pingMax) {
        c.sendErr(Errors.STALE);
        c.close(CloseReason.STALE);
        continue;
      }
      c.sendPing();
    }
  }

  /** Graceful stop: flush and close every connection; resolves when their sockets are gone. */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    this.flushAll();
    const waits: Promise<void>[] = [];
    for (const c of [...this.conns.values()]) {
      waits.push(new Promise((resolve) => {
        if (c.socket.destroyed) return resolve();
        c.socket.once('close', () => resolve());
      }));
      c.close(CloseReason.SERVER_SHUTDOWN);
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3000))]);
  }
}
