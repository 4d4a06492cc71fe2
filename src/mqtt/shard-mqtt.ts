// A shard's MQTT side: its MQTT connections (TCP, TLS, WebSocket) and, per account, the MQTT session
// manager (streams, sessions, retained messages). Each shard acts as one MQTT "node" of nats-server's
// cluster design, with its own node id: sessions taken over across shards, and retained messages
// learned from other shards, work as they do across servers (and so will across a cluster).

import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Shard } from '../shard/shard.js';
import type { Account } from '../shard/account.js';
import type { ClientTransport } from '../shard/transport.js';
import { CloseReason } from '../shard/client.js';
import { Authenticator } from '../auth/authenticator.js';
import type { ServerOptions } from '../server/options.js';
import { MqttConnection } from './connection.js';
import { onreadSocket } from '../transport/onread-socket.js';
import { AccountSessionManager } from './account-manager.js';
import type { JsaClient } from './jsa.js';
import { mqttAuthOptions } from './config.js';
import { getHash } from './hash.js';
import { WS_PATH } from './constants.js';

const READ_BUFFER_SIZE = 64 * 1024;
const TICK_MS = 250;

const byShard = new WeakMap<Shard, MqttShard>();

/** The shard stops: its MQTT timer and requests end (nothing is made for a shard that had no MQTT). */
export function mqttShutdown(shard: Shard): void {
  byShard.get(shard)?.stop();
}

/** A WebSocket upgrade for MQTT: the path ends in /mqtt (websocket.go wsUpgrade). */
export function isMqttPath(path: string): boolean {
  return path.endsWith(WS_PATH);
}

/** The MQTT side of a shard (made on first use). */
export function mqttOf(shard: Shard): MqttShard {
  let m = byShard.get(shard);
  if (m === undefined) {
    m = new MqttShard(shard);
    byShard.set(shard, m);
  }
  return m;
}

export class MqttShard {
  readonly shard: Shard;
  /** This shard's MQTT node id (mqttJSA.id: a hash of the server name, and here of the shard). */
  readonly id: string;
  private readonly managers = new Map<number, Promise<AccountSessionManager>>();
  /** Managers that finished starting, for the timer. */
  readonly live = new Map<number, AccountSessionManager>();
  /** Every manager's JetStream requester, also while it starts (its requests must time out too). */
  readonly requesters = new Set<JsaClient>();
  private readonly conns = new Set<MqttConnection>();
  private timer: NodeJS.Timeout | null = null;
  private auth: Authenticator | null = null;
  private authOf: ServerOptions | null = null;
  private tlsContext: tls.SecureContext | null = null;
  /** One read buffer for this shard's plain-TCP MQTT sockets (parsed before the next read lands). */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  /** Where a publish is turned into a NATS message: used and released within one synchronous step. */
  private scratchBuf = Buffer.allocUnsafe(64 * 1024);
  private kickScheduled = false;
  private stopped = false;
  private readonly kickBound = (): void => {
    this.kickScheduled = false;
    this.shard.afterRead();
  };

  constructor(shard: Shard) {
    this.shard = shard;
    this.id = getHash(`${shard.identity.serverName}\u0000${shard.id}`);
  }

  /** The authentication MQTT clients face (rebuilt after a reload); null: none required. */
  authenticator(): Authenticator | null {
    const opts = this.shard.opts;
    if (this.authOf !== opts) {
      this.authOf = opts;
      const ao = mqttAuthOptions(opts);
      this.auth = ao !== null ? new Authenticator(ao, opts.systemAccount) : null;
    }
    return this.auth;
  }

  scratch(size: number): Buffer {
    if (this.scratchBuf.length < size) this.scratchBuf = Buffer.allocUnsafe(Math.max(size, this.scratchBuf.length * 2));
    return this.scratchBuf;
  }

  /** Makes ring frames written outside a read (JetStream replies, timers) visible to peers. */
  kick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(this.kickBound);
  }

  /** The account's session manager, creating its streams and subscriptions on first use. */
  manager(acc: Account): Promise<AccountSessionManager> {
    let p = this.managers.get(acc.idx);
    if (p === undefined) {
      p = AccountSessionManager.create(this, acc).then(
        (m) => {
          this.live.set(acc.idx, m);
          return m;
        },
        (err: unknown) => {
          this.managers.delete(acc.idx);
          throw err;
        },
      );
      this.managers.set(acc.idx, p);
      this.startTimer();
    }
    return p;
  }

  // ---- connections ---------------------------------------------------------------------------

  /** An accepted TCP connection of the MQTT port (handed over by the main thread). */
  adopt(handle: unknown, cid: number, overLimit = false): MqttConnection | null {
    const mo = this.shard.opts.mqtt;
    if (mo !== null && mo.tls !== null) {
      const raw = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
      return this.adoptSocket(raw, cid, overLimit);
    }
    let conn: MqttConnection | null = null;
    const socket = onreadSocket(handle, this.readBuffer, () => conn, this.shard.afterReadBound);
    return (conn = this.attach(socket, cid, overLimit, true));
  }

  /** A socket read through 'data' events (TLS, or the main-thread fallback). */
  adoptSocket(raw: net.Socket, cid: number, overLimit = false): MqttConnection | null {
    const mo = this.shard.opts.mqtt;
    if (mo === null || mo.tls === null) return this.attach(raw, cid, overLimit, false);
    raw.on('error', () => raw.destroy());
    const t = mo.tls;
    this.tlsContext ??= tls.createSecureContext({
      cert: readFileSync(t.certFile),
      key: readFileSync(t.keyFile),
      ...(t.caFile !== null ? { ca: readFileSync(t.caFile) } : {}),
    });
    const ts = new tls.TLSSocket(raw, { isServer: true, secureContext: this.tlsContext, requestCert: t.verify, rejectUnauthorized: t.verify });
    const conn = this.attach(ts, cid, overLimit, false);
    if (conn !== null) {
      const timer = setTimeout(() => {
        if (!ts.encrypted || !ts.authorized) conn.close(CloseReason.TLS_HANDSHAKE, true);
      }, t.timeoutMs);
      timer.unref();
      ts.once('secure', () => clearTimeout(timer));
    }
    return conn;
  }

  /** MQTT over WebSocket (path /mqtt on the WebSocket port): the transport already carries frames. */
  adoptTransport(t: ClientTransport, cid: number, overLimit = false): MqttConnection | null {
    const conn = new MqttConnection(this.shard, t, cid, this, true);
    return this.register(conn, overLimit) ? conn : null;
  }

  private attach(socket: net.Socket, cid: number, overLimit: boolean, onread: boolean): MqttConnection | null {
    socket.setNoDelay(true);
    const conn = new MqttConnection(this.shard, socket, cid, this, false);
    if (!onread) {
      socket.on('data', (d: Buffer) => {
        conn.onRead(d);
        this.shard.afterRead();
      });
    }
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.shard.log.debug({ cid, err: err.message }, 'socket error');
      conn.close(CloseReason.READ_ERROR, true);
    });
    socket.on('close', () => conn.close(CloseReason.CLIENT, true));
    socket.on('end', () => conn.close(CloseReason.CLIENT));
    return this.register(conn, overLimit) ? conn : null;
  }

  private register(conn: MqttConnection, overLimit: boolean): boolean {
    if (!this.shard.registerConnection(conn, overLimit)) {
      // maxConnExceeded: an MQTT client gets no -ERR, the connection just closes.
      conn.close(CloseReason.SERVER_SHUTDOWN);
      return false;
    }
    this.conns.add(conn);
    this.startTimer();
    this.shard.log.debug({ cid: conn.cid, ip: conn.ip, port: conn.port, mqtt: true }, 'Client connection created');
    return true;
  }

  connectionClosed(c: MqttConnection): void {
    this.conns.delete(c);
  }

  // ---- timer ---------------------------------------------------------------------------------

  private startTimer(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Keep-alive (a read deadline of 1.5 × keep-alive, [MQTT-3.1.2-24]), request timeouts, caches. */
  private tick(): void {
    const now = Date.now();
    for (const c of this.conns) {
      if (c.keepAliveMs > 0 && !c.closed && now - c.lastIn > c.keepAliveMs) {
        this.shard.log.debug({ cid: c.cid, mqtt_client: c.clientId }, 'MQTT keep-alive expired');
        c.close(CloseReason.READ_ERROR);
      }
    }
    for (const j of this.requesters) j.sweep(now);
    for (const m of this.live.values()) m.tick(now);
    this.shard.afterRead();
  }

  /** The shard stops: requests in flight fail, the timer ends. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const j of this.requesters) j.failAll('server shutting down');
  }
}
