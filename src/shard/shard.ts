// A shard: one worker thread's share of the connections, with its sublist (local subscriptions plus
// the interest of every peer), its dirty-connection list (flushed once per event-loop turn), its
// links to the other shards, and one coarse timer for every connection's keepalive.
//
// Routing mirrors nats-server's processMsgResults: every plain subscriber, then one member per queue
// group. A peer with interest gets one frame per message whatever its number of subscribers, and
// re-matches on its side (DESIGN.md, "How a message travels"). A queue group's member is chosen
// across the whole server: local members weigh 1 each, a peer weighs its member count.

import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isMainThread } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { Errors } from '../protocol/wire.js';
import type { Sublist, SublistResult } from '../sublist/sublist.js';
import { subjectMatches } from '../sublist/subject.js';
import { Account, buildAccounts, type Interest } from './account.js';
import { Authenticator } from '../auth/authenticator.js';
import type { BcryptTicket, BcryptVerdict } from '../auth/bcrypt-queue.js';
import { ClosedOutbox, rememberClosed } from './monitor-data.js';
import { applyPorts, portsGeneration } from '../server/listeners.js';
import { acceptWebSocket, type WsConnection } from '../../native-free/ws-server.js';
import { WsTransport } from './ws-transport.js';
import { UwsTransport, type UwsUserData } from './uws-transport.js';
import type { TemplatedApp } from 'uws-pack';
import type { Uws } from '../transport/uws.js';
import { onreadSocket } from '../transport/onread-socket.js';
import type { ServerOptions } from '../server/options.js';
import { ClientConnection, CloseReason } from './client.js';
import { acceptTls } from './tls-accept.js';
import type { Subscription } from './subscription.js';
import { RingMsg, type MsgArgs } from './msg.js';
import type { RingConsumer } from '../ring/ring.js';
import { RingWaiter, pollOptions, type RingHost } from '../ring/waiter.js';
import { Migrator, migrationEnabled, restore, type MigratedState } from './migrate.js';
import { ShardCluster } from '../cluster/shard-cluster.js';
import { mqttOf, mqttShutdown, isMqttPath } from '../mqtt/shard-mqtt.js';
import {
  FrameKind,
  MSG_HEADER,
  MsgFlags,
  Peer,
  type ForwardTarget,
  RESPONSE_HEADER,
  applyInterestFrame,
  interestFrame,
  responseFrame,
  msgFrameSize,
  writeMsgFrame,
  type PeerRings,
} from './peer.js';

/** Server-wide facts every connection's INFO carries. */
export interface ServerIdentity {
  serverId: string;
  serverName: string;
  version: string;
  tsnatsVersion: string;
  /** Host and port as advertised in INFO. */
  host: string;
  port: number;
  /** host:port of the WebSocket listener, when there is one (INFO ws_connect_urls). */
  wsConnectUrls: string[];
  /** The listeners' real ports, published by main once bound (server/listeners.ts PortSlot). */
  ports?: SharedArrayBuffer;
  /** The cluster's name when clustering is on (INFO `cluster`). */
  cluster?: string;
}

/** What the shard flushes once per turn and may stall publishers for: a client or a route. */
export interface OutConn {
  dirty: boolean;
  readonly closed: boolean;
  readonly socket: { readonly writableLength: number };
  flush(): void;
}

export type { Interest };

export interface ShardStats {
  connections: number;
  totalConnections: number;
  subscriptions: number;
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
  slowConsumers: number;
}

interface PendingPong {
  conn: ClientConnection;
  /** Per peer id: frames that must be consumed, and the peer generation it was taken in. */
  targets: number[];
  generations: number[];
}

const READ_BUFFER_SIZE = 64 * 1024;
const STALL_CHECK_MS = 2;
/** Largest WebSocket message accepted: clients send all they have buffered as one message. */
const WS_MESSAGE_LIMIT = 64 * 1024 * 1024;
/** How long a service import's reply token lives (DEFAULT_TTL of response maps: 2 minutes). */
const RESPONSE_TTL_MS = 120_000;

/** A message view with a new subject/reply (cross-account routing only; not on the plain path). */
function msgView(subject: string, reply: string | null, hdr: number, size: number): RingMsg {
  const v = new RingMsg();
  const b = Buffer.from(reply === null ? subject : subject + reply, 'latin1');
  v.paBuf = b;
  v.paSubjectStart = 0;
  v.paSubjectEnd = subject.length;
  v.paReplyStart = reply === null ? -1 : subject.length;
  v.paReplyEnd = reply === null ? -1 : b.length;
  v.paHdr = hdr;
  v.paSize = size;
  return v;
}

function randomToken(): string {
  return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8);
}
const STALL_MAX_MS = 100;
/** Most bytes of one inbound ring handled per event-loop turn before sockets get a turn. */
const DRAIN_SLICE = 1 << 20;

/**
 * Longest time (µs) a shard thread keeps turning its event loop after the last ring frame before
 * it sleeps (src/ring/waiter.ts); the window adapts, 0 on the main thread (library, `shards: 0`).
 */
const SHARD_POLL_US = 200;
/** How long a shard stays awake for the answer to a request it forwarded to a peer, µs. */
const SHARD_EXPECT_US = 100;

export class Shard implements RingHost {
  readonly id: number;
  opts: ServerOptions;
  readonly log: Logger;
  readonly identity: ServerIdentity;
  /** Accounts by index ($G is 0); each has its own sublist. */
  readonly accounts: Account[];
  readonly accountByName: Map<string, Account>;
  /** null when no authorization is configured (then every client is in $G with no permissions). */
  auth: Authenticator | null;
  /**
   * bcrypt comparisons go to the main thread's queue and pool (set by the worker entry); null when
   * dropped unchecked (deadline passed, queue full). The implementation sets `ticket.cancel`.
   */
  bcrypt: (password: string, hash: string, ticket: BcryptTicket) => Promise<BcryptVerdict> = () => Promise.resolve(false);
  readonly conns = new Map<number, ClientConnection>();
  /** Peers by id (this shard's own id holds undefined). */
  readonly peers: (Peer | undefined)[] = [];
  private readonly peerList: Peer[] = [];
  /** Event-loop-turn clock, refreshed by the timer and each flush; good enough for keepalive. */
  now = Date.now();
  slowConsumers = 0;
  totalConnections = 0;
  /** Counters of connections already closed (live ones are summed on demand: nothing per message). */
  closedIn = { msgs: 0, bytes: 0 };
  /** Records of closed connections on their way to the main thread's ring (/connz?state=closed). */
  readonly closedRecords = new ClosedOutbox();
  closedOut = { msgs: 0, bytes: 0 };
  private readonly dirty: OutConn[] = [];
  private flushScheduled = false;
  private readonly flushAllBound = (): void => this.flushAll();
  private readonly timer: NodeJS.Timeout;
  /** One read buffer for every socket of the shard: reads are parsed before the next one lands. */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  private readonly infoBase: Record<string, unknown>;
  /** Generation of the published ports that infoBase reflects (listeners bind after shards start). */
  private infoPortsGen = -1;
  closing = false;
  /** -V / trace: log every protocol op (one boolean check per op when off). */
  tracing: boolean;
  /** Cluster routes hosted by this shard (src/cluster/); null when clustering is off. */
  readonly cluster: ShardCluster | null;
  // Peer traffic.
  ringsPending = false;
  /** A message with a reply subject went to the JetStream worker since the rings were last published. */
  private expectReply = false;
  /** The JetStream worker's peer (the highest peer id when JetStream is on: src/server/server.ts). */
  private jsPeer: Peer | null = null;
  /** Targets (peers, routes) of the message being routed; see ForwardTarget. */
  readonly touched: ForwardTarget[] = [];
  private readonly ringMsg = new RingMsg();
  private readonly sublistOfBound = (acc: number): Sublist<Interest> | undefined => this.accounts[acc]?.sublist;
  private readonly onFrameBound: (buf: Buffer, start: number, len: number) => void;
  /** afterRead bound once, for the sockets' onread callbacks (src/transport/onread-socket.ts). */
  readonly afterReadBound = (): void => this.afterRead();
  private currentPeer: Peer | null = null;
  /** The inbound rings' consumers, one per peer (renewed when a peer is replaced). */
  private ringIns: RingConsumer[] = [];
  /** Drains the inbound rings and sleeps on this thread's bell when they are empty. */
  private waiter: RingWaiter | null = null;
  private unstallKickQueued = false;
  /** Moves publishers to the shard they publish to (src/shard/migrate.ts); null: off, or one shard. */
  readonly migrator: Migrator | null = null;
  /** The number of this shard's connections changed other than by a socket closing (a move). */
  loadChanged: () => void = () => {};
  private readonly unstallKickBound = (): void => {
    this.unstallKickQueued = false;
    this.waiter?.kick();
  };
  private pendingPongs: PendingPong[] = [];
  private pongCheckScheduled = false;
  private pongSpins = 0;
  /** True while some peer ring is full. */
  backpressured = false;
  /** Reasons reading is paused (a full peer ring, each stalled subscriber); sockets read at 0. */
  private readPauses = 0;
  /** Local connections whose socket backlog holds publishers back (client.go stalledWait). */
  private readonly stalled = new Set<OutConn>();
  private stallTimer: NodeJS.Timeout | null = null;
  private stallStarted = 0;
  private unstallWaiters: (() => void)[] = [];
  readonly debugInfo = process.env['TSNATS_DEBUG_INFO'] === '1';
  /** Test hooks (TSNATS_DEBUG_HOOKS=1): a PUB to $TSNATS.DEBUG.SHARD_EXIT ends this shard's thread. */
  readonly debugHooks = process.env['TSNATS_DEBUG_HOOKS'] === '1';
  /** Socket backlog past which a subscriber stalls publishers: a quarter of max_pending. */
  readonly stallThreshold: number;

  constructor(id: number, opts: ServerOptions, identity: ServerIdentity, log: Logger, peers: PeerRings[] = []) {
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
      ...(opts.jetstream.enabled ? { jetstream: true } : {}),
      tsnats_version: identity.tsnatsVersion,
    };
    if (this.debugInfo) this.infoBase['tsnats_shard'] = id;
    this.accounts = buildAccounts(opts);
    this.accountByName = new Map(this.accounts.map((a) => [a.name, a]));
    this.auth = opts.auth !== null ? new Authenticator(opts.auth, opts.systemAccount, opts.tls?.map === true) : null;
    this.setAuthRequired();
    if (identity.wsConnectUrls.length > 0) this.infoBase['ws_connect_urls'] = identity.wsConnectUrls;
    if (identity.cluster !== undefined) this.infoBase['cluster'] = identity.cluster;
    // server.go: tls_required, or tls_available with allow_non_tls; tls_verify when verifying (omitempty).
    if (opts.tls !== null) {
      this.infoBase[opts.allowNonTls ? 'tls_available' : 'tls_required'] = true;
      if (opts.tls.verify) this.infoBase['tls_verify'] = true;
    }
    this.tracing = opts.trace;
    this.onFrameBound = (buf, start, len) => this.onFrame(buf, start, len);
    this.stallThreshold = Math.max(256 * 1024, Math.floor(opts.maxPending / 4));
    // Before the pumps start: the first frames drained may be interest the cluster counts.
    this.cluster = opts.cluster !== null ? new ShardCluster(this, opts.cluster) : null;
    for (const rings of peers) {
      const peer = new Peer(rings);
      this.peers[rings.id] = peer;
      this.peerList.push(peer);
    }
    if (peers.length > 0) {
      if (opts.jetstream.enabled) this.jsPeer = this.peers[Math.max(...peers.map((p) => p.id))] ?? null;
      const bell = peers[0]!.ownBell;
      if (bell === undefined) throw new Error('shard: peer rings without a bell');
      this.ringIns = this.peerList.map((p) => p.in);
      this.waiter = new RingWaiter(this, bell, pollOptions(isMainThread ? 0 : SHARD_POLL_US, isMainThread ? 0 : SHARD_EXPECT_US, 'SHARD'));
      this.waiter.kick();
      const shardPeers = this.peerList.filter((p) => p !== this.jsPeer).map((p) => p.id);
      if (!isMainThread && shardPeers.length > 0 && migrationEnabled()) this.migrator = new Migrator(this, shardPeers);
    }
    const tick = Math.max(10, Math.min(1000, Math.floor(Math.min(opts.pingIntervalMs, opts.writeDeadlineMs > 0 ? opts.writeDeadlineMs : Infinity) / 4)));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
  }

  // ---- connections ---------------------------------------------------------------------------

  /** Takes over an accepted TCP handle (from the hand-off) as a client connection. */
  adopt(handle: unknown, cid: number, overLimit = false): ClientConnection | null {
    if (this.opts.tls !== null) return this.addConnection(new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts), cid, 'tls', overLimit);
    let conn: ClientConnection | null = null;
    const socket = onreadSocket(handle, this.readBuffer, () => conn, this.afterReadBound);
    conn = this.addConnection(socket, cid, 'onread', overLimit);
    if (conn !== null) conn.plainTcp = true;
    return conn;
  }

  /** A connection that moved here from another shard (src/shard/migrate.ts), or came back after a failed move. */
  adoptMigrated(handle: unknown, state: MigratedState): void {
    let conn: ClientConnection | null = null;
    const socket = onreadSocket(handle, this.readBuffer, () => conn, this.afterReadBound);
    socket.setNoDelay(true);
    const c = new ClientConnection(this, socket, state.cid, true);
    restore(c, state, this);
    c.plainTcp = true;
    this.attachSocket(c, socket, false);
    socket.once('close', () => this.loadChanged());
    this.conns.set(c.cid, c);
    if (this.readPauses > 0) socket.pause();
    conn = c;
    this.log.debug({ cid: c.cid }, 'Client connection moved here');
    this.loadChanged();
  }

  /** A connection that moved away: off this shard's books, neither closed nor counted as closed. */
  forgetMigrated(conn: ClientConnection): void {
    conn.closed = true;
    conn.stopped = true;
    this.conns.delete(conn.cid);
    this.loadChanged();
  }

  /** Frames enqueued towards each peer so far (with the peer's generation), for barrierPassed. */
  barrierTargets(): number[] {
    const t: number[] = [];
    for (const peer of this.peerList) {
      t[peer.id * 2] = peer.enqueued;
      t[peer.id * 2 + 1] = peer.generation;
    }
    return t;
  }

  /** Every peer has consumed the frames counted by barrierTargets (a restarted peer counts as done). */
  barrierPassed(t: number[]): boolean {
    for (const peer of this.peerList) {
      if (t[peer.id * 2 + 1] !== peer.generation) continue;
      if (((peer.out.consumed() - t[peer.id * 2]!) | 0) < 0) return false;
    }
    return true;
  }

  /**
   * A WebSocket client (websocket.go): optional TLS, the HTTP upgrade, then the ordinary NATS
   * protocol inside binary frames; on a path ending in `/mqtt`, MQTT (src/mqtt/). `/leafnode` paths
   * are refused (not served yet).
   */
  async adoptWebSocket(handle: unknown, cid: number, overLimit = false): Promise<ClientConnection | null> {
    return this.acceptWs(new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts), cid, overLimit);
  }

  async acceptWs(raw: net.Socket, cid: number, overLimit = false): Promise<ClientConnection | null> {
    const w = this.opts.websocket!;
    raw.setNoDelay(true);
    raw.on('error', () => raw.destroy());
    let sock: net.Socket = raw;
    if (w.tls !== null) {
      this.wsContext ??= tls.createSecureContext({
        cert: readFileSync(w.tls.certFile),
        key: readFileSync(w.tls.keyFile),
        ...(w.tls.caFile !== null ? { ca: readFileSync(w.tls.caFile) } : {}),
      });
      sock = new tls.TLSSocket(raw, { isServer: true, secureContext: this.wsContext, requestCert: w.tls.verify, rejectUnauthorized: w.tls.verify });
      sock.on('error', () => sock.destroy());
    }
    let ws: WsConnection;
    try {
      ws = await acceptWebSocket(
        sock,
        {
          compression: w.compression,
          sameOrigin: w.sameOrigin,
          allowedOrigins: w.allowedOrigins,
          handshakeTimeoutMs: w.handshakeTimeoutMs,
          // Per WebSocket message, which may batch many publishes: the NATS limits apply inside.
          maxPayload: WS_MESSAGE_LIMIT,
        },
        (path) => !path.startsWith('/leafnode'),
        (path) => (isMqttPath(path) ? 'mqtt' : null),
      );
    } catch (err) {
      this.log.debug({ cid, err: (err as Error).message }, 'WebSocket handshake failed');
      return null;
    }
    const t = new WsTransport(ws);
    const conn = isMqttPath(ws.request.path) ? mqttOf(this).adoptTransport(t, cid, overLimit) : this.addConnection(t, cid, 'ws', overLimit);
    ws.onclose = () => {
      t.closed();
      if (conn !== null) conn.close(CloseReason.CLIENT, true);
    };
    if (conn !== null) {
      ws.ondata = (d) => {
        conn.onRead(d);
        this.afterRead();
      };
    }
    return conn;
  }

  private wsContext: tls.SecureContext | null = null;
  private uwsApp: TemplatedApp | null = null;

  /**
   * uWS mode: this shard's child App; the main thread's acceptor App hands it WebSocket connections
   * (addChildAppDescriptor). Returns the descriptor for the main thread. `nextCid` gives connection
   * ids from the server-wide counter.
   */
  startUwsApp(uws: Uws, nextCid: () => number): number {
    const w = this.opts.websocket!;
    const allowed = new Set(w.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
    const app = uws.App().ws<UwsUserData>('/*', {
      // The constants exist at run time; uws-pack's typings declare them as types only.
      compression: (uws as unknown as Record<string, number>)[w.compression ? 'SHARED_COMPRESSOR' : 'DISABLED']!,
      maxPayloadLength: WS_MESSAGE_LIMIT,
      maxBackpressure: this.opts.maxPending * 2, // max_pending (slow consumer) is enforced by the connection
      idleTimeout: 0,
      upgrade: (res, req, context) => {
        const path = req.getUrl();
        const origin = req.getHeader('origin');
        const host = req.getHeader('host');
        // websocket.go: /mqtt is MQTT, /leafnode another protocol; same_origin and allowed_origins.
        const mqtt = isMqttPath(path);
        let refuse = path.startsWith('/leafnode') ? '404 Not Found' : '';
        if (refuse === '' && origin !== '') {
          let o: URL | null = null;
          try {
            o = new URL(origin);
          } catch {
            refuse = '403 Forbidden';
          }
          if (o !== null && w.sameOrigin && o.host.toLowerCase() !== host.toLowerCase()) refuse = '403 Forbidden';
          if (o !== null && allowed.size > 0 && !allowed.has(`${o.protocol}//${o.host}`.toLowerCase())) refuse = '403 Forbidden';
        }
        if (refuse !== '') {
          res.writeStatus(refuse).end();
          return;
        }
        // MQTT: the subprotocol is always "mqtt" (websocket.go wsMQTTSecProto).
        res.upgrade<UwsUserData>({ transport: null, mqtt }, req.getHeader('sec-websocket-key'), mqtt ? 'mqtt' : req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        const t = new UwsTransport(ws, w.compression);
        ws.getUserData().transport = t;
        const conn = ws.getUserData().mqtt ? mqttOf(this).adoptTransport(t, nextCid()) : this.addConnection(t, nextCid(), 'ws');
        if (conn !== null) t.conn = conn;
      },
      message: (ws, ab) => {
        const conn = ws.getUserData().transport?.conn;
        if (conn === undefined || conn === null) return;
        // A view of uWS's memory, valid during this call only: the parser copies what it keeps.
        conn.onRead(Buffer.from(ab));
        this.afterRead();
      },
      close: (ws) => {
        const t = ws.getUserData().transport;
        if (t === null) return;
        t.closed();
        t.conn?.close(CloseReason.CLIENT, true);
      },
    });
    this.uwsApp = app;
    return (app as unknown as { getDescriptor(): number }).getDescriptor();
  }

  /** uWS mode: close the child App (after the connections), before the worker exits. */
  closeUwsApp(): void {
    this.uwsApp?.close();
    this.uwsApp = null;
  }

  /**
   * Registers a connection and sends INFO. `onread`: the socket already reads into the shard's
   * buffer; `data`: read through 'data' events (the main-thread fallback); `tls`: INFO goes out in
   * plaintext, then the TLS handshake (nats-server createClient), and reads come from the TLS socket.
   */
  addConnection(socket: net.Socket | WsTransport | UwsTransport, cid: number, mode: 'onread' | 'data' | 'tls' | 'ws' = 'data', overLimit = false): ClientConnection | null {
    const ports = this.identity.ports;
    if (ports !== undefined && portsGeneration(ports) !== this.infoPortsGen) this.infoPortsGen = applyPorts(this.infoBase, ports, this.opts.websocket?.host ?? null);
    const conn = new ClientConnection(this, socket, cid, mode === 'tls');
    this.totalConnections++;
    const info: Record<string, unknown> = { ...this.infoBase, client_id: cid, client_ip: conn.ip };
    if (mode === 'ws') {
      // TLS, if any, is the WebSocket's: the client must not start TLS inside it (websocket.go).
      delete info['tls_required'];
      delete info['tls_verify'];
      delete info['tls_available'];
    }
    if (conn.nonce !== null) info['nonce'] = conn.nonce;
    // server.go generateInfoJSON joins "INFO", the JSON and CRLF with spaces: note the space before CRLF.
    // `tlsFirst`: sent after a handshake_first handshake, it says tls_required (server.go createClient).
    const infoLine = (tlsFirst = false): Buffer => {
      if (tlsFirst) {
        info['tls_required'] = true;
        delete info['tls_available'];
      }
      return Buffer.from(`INFO ${JSON.stringify(info)} \r\n`);
    };
    const over = this.closing || overLimit || (this.opts.maxConnections > 0 && this.conns.size >= this.opts.maxConnections);
    if (socket instanceof net.Socket) {
      socket.setNoDelay(true);
      if (mode === 'tls' && !over) acceptTls(this, conn, socket, this.opts.tls!, this.opts.allowNonTls, infoLine);
      else this.attachSocket(conn, socket, mode !== 'onread');
    }
    if (over) {
      // INFO and the -ERR in plaintext, as nats-server's maxConnExceeded (before any TLS).
      conn.queue(infoLine());
      conn.sendErr(Errors.MAX_CONNECTIONS);
      conn.close(CloseReason.SERVER_SHUTDOWN);
      return null;
    }
    this.conns.set(cid, conn);
    if (this.readPauses > 0) conn.socket.pause();
    if (mode !== 'tls') conn.queue(infoLine());
    this.log.debug({ cid, ip: conn.ip, port: conn.port }, 'Client connection created');
    return conn;
  }

  /**
   * Registers a connection of another protocol (MQTT) that does its own greeting: counted, limited
   * by max_connections, paused with the others. False: refused (the caller closes it).
   */
  registerConnection(conn: ClientConnection, overLimit = false): boolean {
    this.totalConnections++;
    if (this.closing || overLimit || (this.opts.maxConnections > 0 && this.conns.size >= this.opts.maxConnections)) return false;
    this.conns.set(conn.cid, conn);
    if (this.readPauses > 0) conn.socket.pause();
    return true;
  }

  /** Hooks a socket's events to its connection; `readData`: reads come as 'data' events (not onread). */
  attachSocket(conn: ClientConnection, s: net.Socket, readData = true): void {
    if (readData) {
      s.on('data', (d: Buffer) => {
        conn.onRead(d);
        this.afterRead();
      });
    }
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.log.debug({ cid: conn.cid, err: err.message }, 'socket error');
      conn.close(CloseReason.READ_ERROR, true);
    });
    s.on('close', () => conn.close(CloseReason.CLIENT, true));
    s.on('end', () => conn.close(CloseReason.CLIENT));
  }

  /** INFO auth_required: not when a no_auth_user lets clients in without credentials (server.go createClient). */
  private setAuthRequired(): void {
    if (this.auth !== null && this.auth.opts.noAuthUser === null) this.infoBase['auth_required'] = true;
    else delete this.infoBase['auth_required'];
  }

  rememberClosed(conn: ClientConnection): void {
    rememberClosed(this, conn);
  }

  /** Bytes in use in each outbound peer ring, for /metrics. */
  ringUsage(): { peer: number; used: number; capacity: number }[] {
    return this.peerList.map((p) => ({ peer: p.id, used: p.out.used(), capacity: p.out.capacity }));
  }

  /** After a read batch: make its peer frames visible (ringing once if needed). */
  afterRead(): void {
    if (this.ringsPending) this.publishRings();
  }

  connectionClosed(conn: ClientConnection): void {
    if (this.conns.delete(conn.cid)) {
      this.closedIn.msgs += conn.inMsgs;
      this.closedIn.bytes += conn.inBytes;
      this.closedOut.msgs += conn.outMsgs;
      this.closedOut.bytes += conn.outBytes;
    }
    if (this.ringsPending) this.publishRings();
    this.log.debug({ cid: conn.cid, reason: conn.closeReason }, 'Client connection closed');
  }

  // ---- interest ------------------------------------------------------------------------------

  addSubscription(sub: Subscription): void {
    const acc = sub.conn.acc;
    acc.sublist.insert(sub);
    if (this.cluster !== null) this.cluster.localInterest(acc.idx, sub.subject, sub.queue, 1);
    if (this.peerList.length > 0) {
      this.broadcast(interestFrame(acc.idx, sub.subject, sub.queue, 1));
      sub.conn.ringDirty = true;
    }
  }

  removeSubscription(sub: Subscription): void {
    const acc = sub.conn.acc;
    if (!acc.sublist.remove(sub)) return;
    if (this.cluster !== null) this.cluster.localInterest(acc.idx, sub.subject, sub.queue, -1);
    if (this.peerList.length > 0) {
      this.broadcast(interestFrame(acc.idx, sub.subject, sub.queue, -1));
      sub.conn.ringDirty = true;
    }
  }

  broadcast(f: Buffer): void {
    for (const peer of this.peerList) this.enqueueFrame(peer, f);
  }

  private enqueueFrame(peer: Peer, f: Buffer): void {
    const at = peer.reserve(f.length);
    if (at >= 0) {
      f.copy(peer.out.data, at);
      peer.out.commit(f.length);
    } else this.overflow(peer, f);
    peer.enqueued = (peer.enqueued + 1) | 0;
    this.ringsPending = true;
  }

  /** A peer created a service-import reply token: learn where its reply goes. */
  private applyResponse(buf: Buffer, s: number): void {
    const acc = this.accounts[buf.readUInt16LE(s + 2)];
    const into = this.accounts[buf.readUInt16LE(s + 4)];
    if (acc === undefined || into === undefined) return;
    const tl = buf.readUInt16LE(s + 6);
    const rl = buf.readUInt16LE(s + 8);
    const token = buf.toString('latin1', s + RESPONSE_HEADER, s + RESPONSE_HEADER + tl);
    const reply = buf.toString('latin1', s + RESPONSE_HEADER + tl, s + RESPONSE_HEADER + tl + rl);
    const flags = buf[s + 1]!;
    // The JetStream worker answered a singleton request itself: nobody else will.
    if ((flags & 2) !== 0) acc.responses.delete(token);
    else acc.responses.set(token, { into, reply, expires: Date.now() + RESPONSE_TTL_MS, stream: (flags & 1) !== 0 });
  }

  // ---- routing -------------------------------------------------------------------------------

  /** Delivers a client's message to every local subscriber and forwards it to interested peers. */
  route(pub: ClientConnection, m: MsgArgs, buf: Buffer, start: number, end: number): number {
    const acc = pub.acc;
    let n = this.routeIn(acc, pub, m, buf, start, end);
    // Exports and imports are handled where the message entered the server, never again by peers.
    if (acc.streamImports !== null || acc.serviceImports !== null || acc.responses.size > 0) n += this.routeAcross(acc, m, buf, start, end);
    return n;
  }

  private routeIn(acc: Account, pub: ClientConnection | null, m: MsgArgs, buf: Buffer, start: number, end: number): number {
    const r = pub !== null && pub.acc === acc ? pub.lastMatch.match(acc.sublist, m.paBuf, m.paSubjectStart, m.paSubjectEnd) : acc.sublist.matchBytes(m.paBuf, m.paSubjectStart, m.paSubjectEnd);
    let n = 0;
    let nt = 0;
    const noEcho = pub !== null && !pub.echo;
    const psubs = r.psubs;
    for (let i = 0; i < psubs.length; i++) {
      const sub = psubs[i]!;
      const c = sub.conn;
      if (c === null) {
        const t = sub.target;
        t.plain = true;
        if (!t.touched) {
          t.touched = true;
          this.touched[nt++] = t;
        }
        continue;
      }
      if (noEcho && c === pub) continue;
      if (c.writeMsg(sub, m, buf, start, end)) n++;
    }
    const qsubs = r.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const members = qsubs[g]!;
      let total = 0;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn === null) total += q.weight;
        else if (!(noEcho && q.conn === pub)) total++;
      }
      if (total === 0) continue;
      let pick = Math.random() * total;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn === null) {
          pick -= q.weight;
          if (pick < 0) {
            const t = q.target;
            t.groups[t.ngroups++] = q.queueBytes!;
            if (!t.touched) {
              t.touched = true;
              this.touched[nt++] = t;
            }
            break;
          }
        } else if (!(noEcho && q.conn === pub)) {
          pick -= 1;
          if (pick < 0) {
            if (q.conn.writeMsg(q, m, buf, start, end)) n++;
            break;
          }
        }
      }
    }
    // Where this publisher's messages go (src/shard/migrate.ts): to one peer shard only, or not.
    if (pub !== null) {
      const f = pub.fwd;
      if (n === 0 && nt === 1 && this.touched[0]!.peer !== null) {
        const id = this.touched[0]!.peer!.id;
        if (f.peer === id) f.same++;
        else if (f.same === 0) {
          f.peer = id;
          f.same = 1;
        } else f.other++;
      } else if (n + nt > 0) f.other++;
    }
    if (nt > 0) {
      let rang = false;
      for (let i = 0; i < nt; i++) {
        const t = this.touched[i]!;
        if (t.peer !== null) {
          this.forward(t.peer, t, m, buf, start, end, acc.idx, 0);
          rang = true;
        } else t.route!.writeRouted(t, m, m.paSubjectStart, m.paSubjectEnd, buf, start, end, acc);
        t.touched = false;
        t.plain = false;
        t.ngroups = 0;
        n++;
      }
      if (rang && pub !== null) pub.ringDirty = true;
    }
    return n;
  }

  /**
   * A message crossing accounts (accounts.go): to importers of a matching stream export (subject
   * prefixed), to the exporter of an imported service (with a `_R_.` reply token that maps the
   * answer back), or an answer on such a token going back to the requester's account.
   */
  private routeAcross(acc: Account, m: MsgArgs, buf: Buffer, start: number, end: number): number {
    const subject = m.paBuf.toString('latin1', m.paSubjectStart, m.paSubjectEnd);
    const reply = m.paReplyStart >= 0 ? m.paBuf.toString('latin1', m.paReplyStart, m.paReplyEnd) : null;
    let n = 0;
    if (acc.streamImports !== null) {
      for (const si of acc.streamImports) {
        if (subjectMatches(si.subject, subject)) n += this.routeIn(si.into, null, msgView(si.prefix + subject, reply, m.paHdr, end - start), buf, start, end);
      }
    }
    if (acc.serviceImports !== null) {
      for (const im of acc.serviceImports) {
        if (!subjectMatches(im.local, subject)) continue;
        const remote = im.transform !== null ? im.transform(subject) : im.local === im.remote ? subject : im.remote;
        let token: string | null = null;
        if (reply !== null) {
          token = `_R_.${randomToken()}`;
          im.from.responses.set(token, { into: acc, reply, expires: Date.now() + RESPONSE_TTL_MS, stream: im.streamResponse });
          if (this.peerList.length > 0) this.broadcast(responseFrame(im.from.idx, acc.idx, token, reply, im.streamResponse));
        }
        n += this.routeIn(im.from, null, msgView(remote, token, m.paHdr, end - start), buf, start, end);
      }
    }
    if (acc.responses.size > 0 && subject.startsWith('_R_.')) {
      const r = acc.responses.get(subject);
      if (r !== undefined) {
        if (!r.stream) acc.responses.delete(subject); // a singleton response, as nats-server's default
        n += this.routeIn(r.into, null, msgView(r.reply, null, m.paHdr, end - start), buf, start, end);
      }
    }
    return n;
  }

  /**
   * One MSG frame to `peer` for the targets chosen in `t`; `flags`: MsgFlags.FROM_ROUTE or 0; a
   * route subject m.paBuf[rs, re) (rs < re) makes it a DELIVER frame.
   */
  forward(peer: Peer, t: ForwardTarget, m: MsgArgs, buf: Buffer, start: number, end: number, acc: number, flags: number, rs = 0, re = 0): void {
    const len = msgFrameSize(m, start, end, t, rs, re);
    const at = peer.reserve(len);
    if (at >= 0) {
      writeMsgFrame(peer.out.data, at, m, buf, start, end, t, acc, flags, rs, re);
      peer.out.commit(len);
    } else {
      const f = Buffer.allocUnsafe(len);
      writeMsgFrame(f, 0, m, buf, start, end, t, acc, flags, rs, re);
      this.overflow(peer, f);
    }
    peer.enqueued = (peer.enqueued + 1) | 0;
    this.ringsPending = true;
    if (peer === this.jsPeer && m.paReplyStart >= 0) this.expectReply = true;
  }

  /** A frame from a peer's ring. */
  private onFrame(buf: Buffer, s: number, len: number): void {
    const kind = buf[s];
    if (kind === FrameKind.INTEREST) {
      applyInterestFrame(this.currentPeer!, buf, s, this.sublistOfBound);
      if (this.cluster !== null) this.cluster.peerInterest(this.currentPeer!.id, buf, s);
      return;
    }
    if (kind === FrameKind.RESPONSE) return this.applyResponse(buf, s);
    if (kind !== FrameKind.MSG) return;
    const acc = this.accounts[buf.readUInt16LE(s + 16)];
    if (acc === undefined) return;
    const m = this.ringMsg;
    const flags = buf[s + 1]!;
    const ngroups = buf.readUInt16LE(s + 2);
    const subjLen = buf.readUInt16LE(s + 4);
    const replyLen = buf.readUInt16LE(s + 6);
    m.paBuf = buf;
    m.paHdr = buf.readInt32LE(s + 8);
    m.paSize = buf.readUInt32LE(s + 12);
    m.paSubjectStart = s + MSG_HEADER;
    m.paSubjectEnd = m.paSubjectStart + subjLen;
    if (replyLen > 0) {
      m.paReplyStart = m.paSubjectEnd;
      m.paReplyEnd = m.paReplyStart + replyLen;
    } else {
      m.paReplyStart = m.paReplyEnd = -1;
    }
    let pos = m.paSubjectEnd + replyLen;
    // DELIVER: routed by the subject after the reply (JetStream deliveries), shown with paSubject.
    let routeStart = m.paSubjectStart;
    let routeEnd = m.paSubjectEnd;
    if ((flags & MsgFlags.DELIVER) !== 0) {
      routeStart = pos;
      routeEnd = pos + buf.readUInt16LE(s + 18);
      pos = routeEnd;
    }
    const groupsAt = pos;
    for (let g = 0; g < ngroups; g++) pos += 2 + buf.readUInt16LE(pos);
    const start = pos;
    const end = s + len;
    const r = acc.sublist.matchBytes(buf, routeStart, routeEnd);
    // A message that came in from a route goes to local subscribers only (one hop in a full mesh);
    // any other also goes to the routes this shard hosts that want it.
    const toRoutes = (flags & MsgFlags.FROM_ROUTE) === 0 && this.cluster !== null;
    let nt = 0;
    if ((flags & MsgFlags.PLAIN) !== 0) {
      const psubs = r.psubs;
      for (let i = 0; i < psubs.length; i++) {
        const sub = psubs[i]!;
        if (sub.conn !== null) sub.conn.writeMsg(sub, m, buf, start, end);
        else if (toRoutes && sub.target.route !== null) {
          const t = sub.target;
          t.plain = true;
          if (!t.touched) {
            t.touched = true;
            this.touched[nt++] = t;
          }
        }
      }
    }
    pos = groupsAt;
    for (let g = 0; g < ngroups; g++) {
      const gl = buf.readUInt16LE(pos);
      nt = this.deliverToGroup(r, buf, pos + 2, pos + 2 + gl, m, start, end, toRoutes, nt);
      pos += 2 + gl;
    }
    for (let i = 0; i < nt; i++) {
      const t = this.touched[i]!;
      t.route!.writeRouted(t, m, routeStart, routeEnd, buf, start, end, acc);
      t.touched = false;
      t.plain = false;
      t.ngroups = 0;
    }
  }

  /**
   * A peer chose this shard for queue group `buf[gs, ge)`: one member here gets it, a local one or
   * (unless `toRoutes` is false) a route weighted by its member count. Returns the touched count.
   */
  private deliverToGroup(r: SublistResult<Interest>, buf: Buffer, gs: number, ge: number, m: MsgArgs, start: number, end: number, toRoutes: boolean, nt: number): number {
    const qsubs = r.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const members = qsubs[g]!;
      const qb = members[0]!.queueBytes!;
      if (qb.length !== ge - gs || buf.compare(qb, 0, qb.length, gs, ge) !== 0) continue;
      let total = 0;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn !== null) total++;
        else if (toRoutes && q.target.route !== null) total += q.weight;
      }
      if (total === 0) return nt; // the members left meanwhile: dropped, as nats-server would
      let pick = Math.random() * total;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn !== null) {
          if ((pick -= 1) < 0) {
            q.conn.writeMsg(q, m, buf, start, end);
            return nt;
          }
        } else if (toRoutes && q.target.route !== null) {
          if ((pick -= q.weight) < 0) {
            const t = q.target;
            t.groups[t.ngroups++] = q.queueBytes!;
            if (!t.touched) {
              t.touched = true;
              this.touched[nt++] = t;
            }
            return nt;
          }
        }
      }
      return nt;
    }
    return nt;
  }

  /**
   * RingHost: one slice of every inbound ring. While a local subscriber is stalled, peers' frames
   * are taken in slower (not at all until it drains or the stall expires): their rings fill and
   * they hold their publishers back. Bounded, so inbound rings are still always drained.
   */
  drainRings(): number {
    if (this.closing) return -1;
    if (this.stalled.size > 0) {
      if (!this.unstallKickQueued) {
        this.unstallKickQueued = true;
        this.unstallWaiters.push(this.unstallKickBound);
      }
      return -1;
    }
    let n = 0;
    const peers = this.peerList;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!;
      this.currentPeer = peer;
      n += peer.in.drain(this.onFrameBound, DRAIN_SLICE);
    }
    this.currentPeer = null;
    // Replies and deliveries leave now, not at the next check phase (one writev per connection
    // per drain still): a pub ack or a cross-shard reply saves an event-loop turn.
    if (n > 0) {
      if (this.dirty.length > 0) this.flushAll();
      else if (this.ringsPending) this.publishRings();
    }
    return n;
  }

  ringConsumers(): readonly RingConsumer[] {
    return this.ringIns;
  }

  // ---- ring publishing, back-pressure, PONG barrier ------------------------------------------

  publishRings(): void {
    this.ringsPending = false;
    if (this.expectReply) {
      this.expectReply = false;
      this.waiter?.expect();
    }
    for (const peer of this.peerList) peer.out.publish();
    if (this.pendingPongs.length > 0) this.schedulePongCheck();
  }

  private overflow(peer: Peer, f: Buffer): void {
    peer.overflow.push(f);
    if (!this.backpressured) {
      this.backpressured = true;
      this.pauseReading();
      void this.relieve();
    }
  }

  /** Moves overflow into the rings as peers drain them; resumes reading once all is in. */
  private async relieve(): Promise<void> {
    let spins = 0;
    while (true) {
      let done = true;
      for (const peer of this.peerList) if (peer.overflow.length > 0 && !peer.drainOverflow()) done = false;
      if (done) break;
      if (this.closing) return;
      if (++spins < 64) await nextTurn();
      else await new Promise((r) => setTimeout(r, 1));
    }
    this.backpressured = false;
    this.resumeReading();
    if (this.pendingPongs.length > 0) this.schedulePongCheck();
  }

  private pauseReading(): void {
    if (this.readPauses++ === 0) {
      for (const c of this.conns.values()) c.socket.pause();
      this.cluster?.pauseReading();
    }
  }

  private resumeReading(): void {
    if (--this.readPauses === 0) {
      // A connection on its way to another shard stays paused (src/shard/migrate.ts).
      for (const c of this.conns.values()) if (!c.closed && !c.moving) c.socket.resume();
      this.cluster?.resumeReading();
    }
  }

  /** True while reading is paused (a full ring, a stalled subscriber): new sockets start paused. */
  get readingPaused(): boolean {
    return this.readPauses > 0;
  }

  /**
   * A subscriber's socket backlog passed the stall threshold: stop reading this shard's sockets (and
   * slow the draining of peer rings) until it drains, for at most STALL_MAX_MS at a time, as
   * nats-server's client.go holds a fast producer in stalledWait rather than let a consumer that is
   * merely slower than the producer fall max_pending behind and be dropped.
   */
  stall(conn: OutConn): void {
    if (this.stalled.has(conn)) return;
    this.stalled.add(conn);
    this.pauseReading();
    if (this.stallTimer === null) {
      this.stallStarted = Date.now();
      this.stallTimer = setInterval(() => this.checkStalls(), STALL_CHECK_MS);
    }
  }

  private checkStalls(): void {
    const expired = Date.now() - this.stallStarted > STALL_MAX_MS;
    for (const c of this.stalled) {
      if (expired || c.closed || c.socket.writableLength <= this.stallThreshold / 2) {
        this.stalled.delete(c);
        this.resumeReading();
      }
    }
    if (this.stalled.size === 0 && this.stallTimer !== null) {
      clearInterval(this.stallTimer);
      this.stallTimer = null;
      const w = this.unstallWaiters;
      this.unstallWaiters = [];
      for (const f of w) f();
    } else if (expired) this.stallStarted = Date.now();
  }

  get isStalled(): boolean {
    return this.stalled.size > 0;
  }

  deferPong(conn: ClientConnection): void {
    conn.ringDirty = false;
    conn.pongsDeferred++;
    const targets: number[] = [];
    const generations: number[] = [];
    for (const peer of this.peerList) {
      targets[peer.id] = peer.enqueued;
      generations[peer.id] = peer.generation;
    }
    this.pendingPongs.push({ conn, targets, generations });
    this.ringsPending = true; // publish at the end of this read, then check
  }

  private schedulePongCheck(): void {
    if (this.pongCheckScheduled) return;
    this.pongCheckScheduled = true;
    const delay = this.pongSpins++ < 200 ? 0 : 1;
    const run = (): void => {
      this.pongCheckScheduled = false;
      this.checkPongs();
    };
    if (delay === 0) setImmediate(run);
    else setTimeout(run, 1);
  }

  private checkPongs(): void {
    const pending = this.pendingPongs;
    let kept = 0;
    for (let i = 0; i < pending.length; i++) {
      const pp = pending[i]!;
      let ready = true;
      for (const peer of this.peerList) {
        if (pp.generations[peer.id] !== peer.generation) continue; // that peer restarted
        if (((peer.out.consumed() - pp.targets[peer.id]!) | 0) < 0) {
          ready = false;
          break;
        }
      }
      if (ready) {
        if (!pp.conn.closed) pp.conn.sendDeferredPong();
      } else pending[kept++] = pp;
    }
    pending.length = kept;
    if (kept > 0) this.schedulePongCheck();
    else this.pongSpins = 0;
  }

  /** A peer died and was replaced: forget its interest, take the new rings, tell it ours. */
  resetPeer(rings: PeerRings): void {
    const peer = this.peers[rings.id];
    if (peer === undefined) return;
    this.cluster?.peerGone(peer);
    for (const ri of peer.interest.values()) this.accounts[ri.acc]!.sublist.remove(ri);
    peer.interest.clear();
    peer.reset(rings);
    this.migrator?.peerReset(peer.id);
    this.ringIns = this.peerList.map((p) => p.in);
    for (const acc of this.accounts) {
      for (const sub of acc.sublist.all()) {
        if (sub.conn !== null) this.enqueueFrame(peer, interestFrame(acc.idx, sub.subject, sub.queue, 1));
      }
    }
    if (this.cluster !== null) for (const f of this.cluster.routeInterestFrames()) this.enqueueFrame(peer, f);
    this.publishRings();
    this.waiter?.kick();
    this.checkPongs();
  }

  /** Test hook: every thread of the server collects its garbage (set by the worker entry / the server). */
  onDebugGc: () => void = () => {};

  debugHook(m: MsgArgs): void {
    const subject = m.paBuf.toString('latin1', m.paSubjectStart, m.paSubjectEnd);
    if (subject === '$TSNATS.DEBUG.SHARD_EXIT') {
      this.log.error('debug hook: shard exiting on request');
      process.exit(1); // in a worker thread this ends the thread only, like a crash would
    }
    if (subject === '$TSNATS.DEBUG.GC') this.onDebugGc();
  }

  /** Figures for /varz and friends, as plain data. */
  stats(): ShardStats {
    const st: ShardStats = {
      connections: this.conns.size,
      totalConnections: this.totalConnections,
      subscriptions: 0,
      inMsgs: this.closedIn.msgs,
      inBytes: this.closedIn.bytes,
      outMsgs: this.closedOut.msgs,
      outBytes: this.closedOut.bytes,
      slowConsumers: this.slowConsumers,
    };
    for (const c of this.conns.values()) {
      st.inMsgs += c.inMsgs;
      st.inBytes += c.inBytes;
      st.outMsgs += c.outMsgs;
      st.outBytes += c.outBytes;
      st.subscriptions += c.subs.size;
    }
    this.cluster?.addStats(st);
    return st;
  }

  /**
   * SIGHUP (nats-server reload.go): new limits, log levels, users and permissions. Connections are
   * authenticated again with the credentials they connected with: those no longer valid are closed
   * with Authorization Violation; the others get their user's new permissions (a subscription no
   * longer allowed is removed with a violation, later publishes are checked against the new rules).
   */
  reload(opts: ServerOptions): void {
    const hadAuth = this.auth !== null;
    this.opts = opts;
    this.auth = opts.auth !== null ? new Authenticator(opts.auth, opts.systemAccount, opts.tls?.map === true) : null;
    this.setAuthRequired();
    this.infoBase['max_payload'] = opts.maxPayload;
    this.log.level = opts.trace ? 'trace' : opts.debug ? 'debug' : 'info';
    this.tracing = opts.trace;
    for (const c of this.conns.values()) {
      c.parser.maxControlLine = opts.maxControlLine;
      if (this.auth === null) {
        c.perms = null;
        continue;
      }
      if (!hadAuth && c.creds === null) {
        c.sendErr(Errors.AUTH_VIOLATION);
        c.close(CloseReason.AUTH_VIOLATION);
        continue;
      }
      void c.reauthorize();
    }
    this.flushAll();
  }

  /**
   * Lame duck mode (USR2): tell every client with an INFO carrying `ldm: true` (they reconnect
   * elsewhere), then after the grace period close them evenly over the rest of the duration.
   */
  async lameDuck(durationMs: number, graceMs: number): Promise<void> {
    this.closing = true;
    const ldm = Buffer.from(`INFO ${JSON.stringify({ ...this.infoBase, ldm: true })} \r\n`);
    for (const c of this.conns.values()) if (c.natsProtocol) c.queue(ldm);
    this.flushAll();
    await new Promise((r) => setTimeout(r, Math.min(graceMs, durationMs)));
    const conns = [...this.conns.values()];
    const spread = Math.max(0, durationMs - graceMs);
    const step = conns.length > 0 ? spread / conns.length : 0;
    for (const c of conns) {
      c.close(CloseReason.SERVER_SHUTDOWN);
      if (step >= 1) await new Promise((r) => setTimeout(r, step));
    }
  }

  /**
   * Cluster: INFO fields changed (connect_urls, ws_connect_urls, cluster). With `notify`, clients that
   * take async INFO hear it at once (server.go sendAsyncInfoToClients), each with its own client_id.
   */
  updateInfo(fields: Record<string, unknown>, notify: boolean): void {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || (Array.isArray(v) && v.length === 0)) delete this.infoBase[k];
      else this.infoBase[k] = v;
    }
    if (!notify) return;
    for (const c of this.conns.values()) {
      if (c.closed || !c.connectReceived || c.protocol < 1) continue;
      const info: Record<string, unknown> = { ...this.infoBase, client_id: c.cid, client_ip: c.ip };
      if (!(c.socket instanceof net.Socket)) {
        delete info['tls_required'];
        delete info['tls_verify'];
        delete info['tls_available'];
      }
      c.queue(Buffer.from(`INFO ${JSON.stringify(info)} \r\n`));
    }
  }

  // ---- output --------------------------------------------------------------------------------

  markDirty(conn: OutConn): void {
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
    if (this.ringsPending) this.publishRings();
  }

  /** Keepalive for every connection (client.go processPingTimer). */
  private onTick(): void {
    const now = (this.now = Date.now());
    for (const acc of this.accounts) if (acc.responses.size > 0) for (const [k, r] of acc.responses) if (r.expires < now) acc.responses.delete(k);
    const interval = this.opts.pingIntervalMs;
    const deadline = this.opts.writeDeadlineMs;
    for (const c of this.conns.values()) {
      // write_deadline: output that has not drained for that long makes the client a slow consumer.
      if (c.socket.writableLength > 0) {
        if (c.stuckSince === 0) c.stuckSince = now;
        else if (deadline > 0 && now - c.stuckSince > deadline) {
          c.slowConsumer('write deadline');
          continue;
        }
      } else c.stuckSince = 0;
      if (c.closed || now < c.nextPingAt) continue;
      c.nextPingAt = now + interval;
      const needRtt = c.rttAt === 0 || now - c.rttAt > 60 * 60 * 1000;
      // Recent activity (messages, subscriptions) or a PING from the client makes a PING unnecessary.
      if ((now - c.lastIn < interval || now - c.lastPingIn < interval) && !needRtt) continue;
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
    for (const peer of this.peerList) peer.in.close();
    this.waiter?.close();
    this.migrator?.close();
    this.flushAll();
    this.cluster?.shutdown();
    const waits: Promise<void>[] = [];
    for (const c of [...this.conns.values()]) {
      waits.push(
        new Promise((resolve) => {
          if (c.socket.destroyed) return resolve();
          c.socket.once('close', () => resolve());
        }),
      );
      c.close(CloseReason.SERVER_SHUTDOWN);
    }
    // The timer is cleared: a shard on the main thread (library, `shards: 0`) must leave no timer behind.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    mqttShutdown(this);
  }
}
