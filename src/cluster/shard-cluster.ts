// A shard's part of the cluster: the route connections it hosts (accepted ones handed over by the
// main thread, solicited ones it dials when the main thread asks), and this server's interest as
// routes must hear it.
//
// Interest toward the cluster is the union of every shard's own subscribers (and nothing a route
// brought: one hop in a full mesh), per account: each shard's sublists already hold the other shards'
// interest, and INTEREST frames say whether an entry is a shard's own (localWeight) or a route's. So
// every shard keeps the same count per (account, subject, queue) and the routes it hosts send RS+ at
// 0→1 and RS- at 1→0 for plain interest, and RS+ with the new weight at every change for a queue
// group (route.go updateRouteSubscriptionMap). The JetStream worker's interest is not told to the
// cluster: a non-clustered JetStream serves the clients of its own server.

import net from 'node:net';
import type { Shard } from '../shard/shard.js';
import type { Account } from '../shard/account.js';
import { InterestFlags, INTEREST_HEADER, interestFrame, type Peer } from '../shard/peer.js';
import type { ClusterOptions } from '../server/options.js';
import { ConnPermissions } from '../auth/permissions.js';
import { goDuration, natsUptime } from '../monitor/types.js';
import { RouteConnection, RouteClose } from './route-conn.js';
import type { FromShardCluster, RemoteRoute, RouteUrl, RoutezEntry, ToShardCluster } from './messages.js';

/** nats-server DEFAULT_ROUTE_DIAL. */
const ROUTE_DIAL_MS = 1000;
/** nats-server routeMaxPingInterval. */
const ROUTE_MAX_PING_MS = 30_000;
const READ_BUFFER_SIZE = 64 * 1024;

interface InterestEntry {
  acc: number;
  subject: string;
  queue: string | null;
  n: number;
}

export class ShardCluster {
  readonly shard: Shard;
  readonly opts: ClusterOptions;
  readonly routes = new Map<number, RouteConnection>();
  /** To the main thread's route table (set by the worker entry, or the inline server). */
  post: (m: FromShardCluster) => void = () => {};
  clusterName: string;
  /** No name was configured: a configured peer's name is adopted (server.go setClusterName). */
  dynamicName: boolean;
  /** Account names as bytes, by index (RMSG lines). */
  readonly accountNames: Buffer[];
  readonly pingIntervalMs: number;
  private readonly pingMax: number;
  private initialized = false;
  private readonly waiting: (() => void)[] = [];
  private routeInfo: Record<string, unknown> = {};
  private jsPeer = -1;
  private lastAcc: Account | null = null;
  private readonly perms: ConnPermissions | null;
  private readonly interest = new Map<string, InterestEntry>();
  private readonly timer: NodeJS.Timeout;
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);

  constructor(shard: Shard, opts: ClusterOptions) {
    this.shard = shard;
    this.opts = opts;
    this.clusterName = shard.identity.cluster ?? opts.name;
    this.dynamicName = opts.name === '';
    this.accountNames = shard.accounts.map((a) => Buffer.from(a.name, 'latin1'));
    this.perms = opts.permissions !== null ? new ConnPermissions({ publish: opts.permissions.import, subscribe: opts.permissions.export, allowResponses: null }) : null;
    this.pingIntervalMs = Math.min(opts.pingIntervalMs > 0 ? opts.pingIntervalMs : shard.opts.pingIntervalMs, ROUTE_MAX_PING_MS);
    this.pingMax = opts.pingMax > 0 ? opts.pingMax : shard.opts.pingMax;
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(1000, Math.floor(this.pingIntervalMs / 4))));
    this.timer.unref();
  }

  // ---- control from the main thread ----------------------------------------------------------

  control(m: ToShardCluster): void {
    switch (m.type) {
      case 'init':
        this.routeInfo = m.routeInfo;
        this.jsPeer = m.jsPeer;
        this.initialized = true;
        for (const f of this.waiting.splice(0)) f();
        break;
      case 'dial':
        this.whenReady(() => this.dial(m.cid, m.url, m.explicit));
        break;
      case 'verdict':
        this.routes.get(m.cid)?.verdict(m.ok);
        break;
      case 'gossip': {
        const line = `INFO ${JSON.stringify(m.info)}\r\n`;
        for (const r of this.routes.values()) if (r.registered && !r.closed && r.remoteId !== m.exclude) r.queueProto(line);
        break;
      }
      case 'client-info':
        this.shard.updateInfo(m.fields, m.notify);
        break;
      case 'ldm': {
        // server.go sendLDMToRoutes: one INFO with ldm set.
        const line = `INFO ${JSON.stringify({ ...this.routeInfo, ldm: true })}\r\n`;
        for (const r of this.routes.values()) if (r.registered && !r.closed) r.queueProto(line);
        break;
      }
      case 'close': {
        const r = this.routes.get(m.cid);
        if (r !== undefined) {
          r.close(m.reason);
          this.shard.afterRead();
        }
        break;
      }
      case 'cluster-name':
        this.setClusterName(m.name);
        break;
      case 'routez':
        this.post({ type: 'routez', id: m.id, data: this.routez(m.subs) });
        break;
    }
  }

  private whenReady(f: () => void): void {
    if (this.initialized) f();
    else this.waiting.push(f);
  }

  /** The INFO every new route connection gets first. */
  routeInfoLine(): string {
    return `INFO ${JSON.stringify(this.routeInfo)}\r\n`;
  }

  // ---- route connections -------------------------------------------------------------------------

  /** An accepted route socket from the main thread's cluster listener. */
  adoptAccepted(handle: unknown, cid: number): void {
    this.whenReady(() => {
      let route: RouteConnection | null = null;
      const socket = new net.Socket({
        handle,
        readable: true,
        writable: true,
        onread: { buffer: this.readBuffer, callback: (n: number, buf: Uint8Array) => this.onRead(route, n, buf) },
      } as net.SocketConstructorOpts);
      route = new RouteConnection(this, socket, cid, null, false);
      this.attach(route);
      if (this.shard.closing) return route.close(RouteClose.SERVER_SHUTDOWN, true);
      route.begin();
    });
  }

  /** An accepted route socket on the main thread (no hand-off: the inline shard). */
  adoptSocket(socket: net.Socket, cid: number): void {
    this.whenReady(() => {
      const route = new RouteConnection(this, socket, cid, null, false);
      this.attach(route);
      socket.on('data', (d: Buffer) => {
        route.onRead(d);
        this.shard.afterRead();
      });
      socket.resume();
      route.begin();
    });
  }

  private onRead(route: RouteConnection | null, n: number, buf: Uint8Array): boolean {
    if (route !== null) {
      route.onRead((buf as Buffer).subarray(0, n));
      this.shard.afterRead();
    }
    return true;
  }

  /** Solicits a route (route.go connectToRoute, one attempt: the main thread owns retries). */
  private dial(cid: number, url: RouteUrl, explicit: boolean): void {
    if (this.shard.closing) return this.post({ type: 'dial-failed', cid, err: 'shutting down' });
    let route: RouteConnection | null = null;
    let settled = false;
    const socket = net.connect({
      host: url.host,
      port: url.port,
      onread: { buffer: this.readBuffer, callback: (n: number, buf: Uint8Array) => this.onRead(route, n, buf) },
    } as net.NetConnectOpts);
    const fail = (err: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      this.post({ type: 'dial-failed', cid, err });
    };
    const timer = setTimeout(() => fail('i/o timeout'), ROUTE_DIAL_MS);
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      route = new RouteConnection(this, socket, cid, url, explicit);
      this.attach(route);
      if (this.shard.closing) return route.close(RouteClose.SERVER_SHUTDOWN, true);
      route.begin();
      this.shard.flushAll();
    });
  }

  private attach(route: RouteConnection): void {
    const s = route.socket;
    s.setNoDelay(true);
    this.routes.set(route.cid, route);
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.shard.log.debug({ rid: route.cid, err: err.message }, 'route socket error');
      route.close(RouteClose.READ_ERROR, true);
    });
    s.on('close', () => route.close(RouteClose.CLIENT, true));
    s.on('end', () => route.close(RouteClose.CLIENT));
    if (this.shard.readingPaused) s.pause();
  }

  register(route: RouteConnection, remote: RemoteRoute): void {
    this.post({ type: 'register', cid: route.cid, remote, didSolicit: route.didSolicit });
  }

  implicit(remote: RemoteRoute): void {
    this.post({ type: 'implicit', remote });
  }

  remoteLameDuck(route: RouteConnection): void {
    this.post({ type: 'remote-ldm', cid: route.cid });
  }

  routeClosed(route: RouteConnection): void {
    if (this.routes.get(route.cid) === route) this.routes.delete(route.cid);
    this.shard.log.info({ rid: route.cid, remote: route.remoteId || undefined, reason: route.closeReason }, 'Route connection closed');
    this.post({ type: 'closed', cid: route.cid, remoteId: route.infoReceived ? route.remoteId : '', reason: route.closeReason, noReconnect: route.noReconnect });
    this.shard.afterRead();
  }

  /**
   * A peer's cluster name differs from ours: with a dynamic name, a configured name (or a greater
   * dynamic one) is adopted and every other route closed (processRouteConnect). False: reject it.
   */
  adoptClusterName(name: string, remoteDynamic: boolean, route: RouteConnection): boolean {
    if (!this.dynamicName || name === '') return false;
    if (remoteDynamic && !(this.clusterName < name)) return false;
    this.setClusterName(name);
    this.post({ type: 'cluster-name', name, cid: route.cid });
    return true;
  }

  private setClusterName(name: string): void {
    if (name === this.clusterName) return;
    this.clusterName = name;
    this.dynamicName = false;
    this.routeInfo = { ...this.routeInfo, cluster: name };
    delete this.routeInfo['cluster_dynamic'];
    this.shard.updateInfo({ cluster: name }, false);
  }

  // ---- interest ----------------------------------------------------------------------------------

  /** A local subscription came or went. */
  localInterest(acc: number, subject: string, queue: string | null, delta: number): void {
    this.change(acc, subject, queue, delta);
  }

  /** An INTEREST frame from another peer (already applied to the sublist): count its own part. */
  peerInterest(peer: number, buf: Buffer, s: number): void {
    if ((buf[s + 1]! & InterestFlags.ROUTE) !== 0 || peer === this.jsPeer) return;
    const acc = buf.readUInt16LE(s + 2);
    const delta = buf.readInt32LE(s + 4);
    const sl = buf.readUInt16LE(s + 8);
    const ql = buf.readUInt16LE(s + 10);
    const subject = buf.toString('latin1', s + INTEREST_HEADER, s + INTEREST_HEADER + sl);
    const queue = ql > 0 ? buf.toString('latin1', s + INTEREST_HEADER + sl, s + INTEREST_HEADER + sl + ql) : null;
    this.change(acc, subject, queue, delta);
  }

  /** A peer shard died: its subscribers are gone. */
  peerGone(peer: Peer): void {
    if (peer.id === this.jsPeer) return;
    for (const ri of peer.interest.values()) if (ri.localWeight > 0) this.change(ri.acc, ri.subject, ri.queue, -ri.localWeight);
  }

  private change(acc: number, subject: string, queue: string | null, delta: number): void {
    const key = `${acc}\0${subject}\0${queue ?? ''}`;
    const e = this.interest.get(key);
    const old = e?.n ?? 0;
    const n = Math.max(0, old + delta);
    if (n === 0) this.interest.delete(key);
    else if (e === undefined) this.interest.set(key, { acc, subject, queue, n });
    else e.n = n;
    if (this.routes.size === 0) return;
    let send = -1;
    if (queue === null) {
      if (old === 0 && n > 0) send = 1;
      else if (old > 0 && n === 0) send = 0;
    } else if (n !== old) send = n;
    if (send < 0 || !this.canImport(subject)) return;
    const name = this.shard.accounts[acc]!.name;
    for (const r of this.routes.values()) if (r.registered && !r.closed) r.sendInterest(name, subject, queue, send);
  }

  /** All of this server's interest to a route just registered (route.go sendSubsToRoute). */
  sendAllInterest(route: RouteConnection): void {
    for (const e of this.interest.values()) {
      if (this.canImport(e.subject)) route.sendInterest(this.shard.accounts[e.acc]!.name, e.subject, e.queue, e.n);
    }
  }

  /** Import permission (route.go canImport): do we want the cluster's messages on this subject? */
  private canImport(subject: string): boolean {
    if (this.perms === null) return true;
    const b = Buffer.from(subject, 'latin1');
    return this.perms.canPublish(b, 0, b.length, Date.now());
  }

  /** Export permission (canExport): may the cluster have our messages on this subject? */
  canExport(subject: string): boolean {
    return this.perms === null || this.perms.canSubscribe(subject);
  }

  accountByName(name: string): Account | null {
    return this.shard.accountByName.get(name) ?? null;
  }

  /** The account named by buf[s, e): the last one found is checked first (no string made). */
  lookupAccount(buf: Buffer, s: number, e: number): Account | null {
    const last = this.lastAcc;
    if (last !== null && sameBytes(this.accountNames[last.idx]!, buf, s, e)) return last;
    const names = this.accountNames;
    for (let i = 0; i < names.length; i++) {
      if (sameBytes(names[i]!, buf, s, e)) {
        this.lastAcc = this.shard.accounts[i]!;
        return this.lastAcc;
      }
    }
    this.shard.log.debug(`Unknown account "${buf.toString('latin1', s, e)}" for routed message`);
    return null;
  }

  // ---- housekeeping --------------------------------------------------------------------------------

  /** Keepalive for every route (client.go processPingTimer). */
  private tick(): void {
    const now = Date.now();
    const deadline = this.shard.opts.writeDeadlineMs;
    for (const r of this.routes.values()) {
      if (r.closed) continue;
      if (r.socket.writableLength > 0) {
        if (r.stuckSince === 0) r.stuckSince = now;
        else if (deadline > 0 && now - r.stuckSince > deadline) {
          r.close(RouteClose.SLOW_CONSUMER, true);
          continue;
        }
      } else r.stuckSince = 0;
      if (now < r.nextPingAt) continue;
      r.nextPingAt = now + this.pingIntervalMs;
      if (!r.registered) continue;
      if (r.pingsOut + 1 > this.pingMax) {
        r.sendErr('Stale Connection');
        r.close(RouteClose.STALE);
        continue;
      }
      r.sendPing();
    }
    this.shard.afterRead();
  }

  pauseReading(): void {
    for (const r of this.routes.values()) r.socket.pause();
  }

  resumeReading(): void {
    for (const r of this.routes.values()) if (!r.closed) r.socket.resume();
  }

  /** Route figures count in the server's totals (/varz in_msgs and friends include routes). */
  addStats(st: { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }): void {
    for (const r of this.routes.values()) {
      st.inMsgs += r.inMsgs;
      st.inBytes += r.inBytes;
      st.outMsgs += r.outMsgs;
      st.outBytes += r.outBytes;
    }
  }

  /** /routez entries of the registered routes here (monitor.go Routez). */
  routez(subs: 'none' | 'list' | 'detail'): RoutezEntry[] {
    const now = Date.now();
    const out: RoutezEntry[] = [];
    for (const r of this.routes.values()) {
      if (!r.registered || r.closed) continue;
      const e: RoutezEntry = {
        rid: r.cid,
        remote_id: r.remoteId,
        remote_name: r.remoteName,
        did_solicit: r.didSolicit,
        is_configured: r.explicit,
        ip: r.ip,
        port: r.port,
        start: new Date(r.start).toISOString(),
        last_activity: new Date(r.lastIn).toISOString(),
        rtt: goDuration(r.rtt),
        uptime: natsUptime(now - r.start),
        idle: natsUptime(now - r.lastIn),
        ...(r.remoteImport !== undefined ? { import: r.remoteImport } : {}),
        ...(r.remoteExport !== undefined ? { export: r.remoteExport } : {}),
        pending_size: r.socket.writableLength,
        in_msgs: r.inMsgs,
        out_msgs: r.outMsgs,
        in_bytes: r.inBytes,
        out_bytes: r.outBytes,
        subscriptions: r.subs.size,
      };
      if (subs !== 'none' && r.subs.size > 0) {
        const list = [...r.subs.entries()].map(([sid, ri]) => ({ ri, sid: `${this.shard.accounts[ri.acc]!.name} ${sid.slice(sid.indexOf(' ') + 1)}` }));
        if (subs === 'detail') {
          e.subscriptions_list_detail = list.map(({ ri, sid }) => ({ subject: ri.subject, ...(ri.queue !== null ? { qgroup: ri.queue } : {}), sid, msgs: 0, cid: r.cid }));
        } else e.subscriptions_list = list.map(({ ri }) => ri.subject);
      }
      out.push(e);
    }
    return out;
  }

  /** The interest of the routes hosted here, as INTEREST frames for a replaced peer shard. */
  routeInterestFrames(): Buffer[] {
    const out: Buffer[] = [];
    for (const r of this.routes.values()) for (const ri of r.subs.values()) out.push(interestFrame(ri.acc, ri.subject, ri.queue, ri.weight, InterestFlags.ROUTE));
    return out;
  }

  /**
   * /subsz counts route subscriptions (they are in the sublists) but lists only local ones, as
   * nats-server's Subsz does (sl.localSubs).
   */
  subsz(r: { num_subscriptions: number }): void {
    for (const route of this.routes.values()) r.num_subscriptions += route.subs.size;
  }

  shutdown(): void {
    clearInterval(this.timer);
    for (const r of [...this.routes.values()]) {
      r.noReconnect = true;
      r.close(RouteClose.SERVER_SHUTDOWN);
    }
  }
}

function sameBytes(a: Buffer, b: Buffer, s: number, e: number): boolean {
  const n = a.length;
  if (e - s !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[s + i]) return false;
  return true;
}
