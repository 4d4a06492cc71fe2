// The main thread's route table (server.go / route.go on the Server side): the cluster listener,
// which remote servers are connected and over which route, duplicate routes, gossip of new routes to
// the known ones (so a partial `routes` list still forms a full mesh), implicit routes, reconnects,
// and the client connect URLs every node learns from its routes.
//
// Route connections themselves live in the shards (shard-cluster.ts): an accepted socket is handed
// to a shard as a client's is (tag `r<cid>`); a solicited one is dialed by the shard the table picks.
// The table only hears of handshakes (`register`), ends (`closed`) and gossip, never of messages.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../log.js';
import type { ClusterOptions } from '../server/options.js';
import type { ServerIdentity } from '../shard/shard.js';
import type { FromShardCluster, RemoteRoute, RouteUrl, RoutezEntry, ToShardCluster } from './messages.js';

/** nats-server DEFAULT_ROUTE_CONNECT / DEFAULT_ROUTE_RECONNECT and the backoff cap (DEFAULT_ROUTE_CONNECT_MAX). */
const ROUTE_CONNECT_MS = 1000;
const ROUTE_RECONNECT_MS = 1000;
const ROUTE_CONNECT_MAX_MS = 30_000;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** What the table needs from the server it belongs to. */
export interface ClusterHost {
  log: Logger;
  identity: ServerIdentity;
  nextCid(): number;
  /** Shards that can take a route now (alive), with their client load. */
  shardLoads(): { id: number; load: number }[];
  send(shard: number, m: ToShardCluster): void;
  /** Hands an accepted cluster-port socket to a shard (tag `r<cid>`). */
  handoff(shard: number, socket: net.Socket, cid: number): void;
  clientHost(): string;
  clientPort(): number;
  clientAdvertise(): string;
  maxPayload(): number;
  /** The JetStream worker's peer id, -1 without JetStream. */
  jsPeer(): number;
}

/** A solicitation in progress (route.go connectToRoute's loop). */
interface Attempt {
  url: RouteUrl;
  explicit: boolean;
  tryForever: boolean;
  first: boolean;
  attempts: number;
  delayMs: number;
  /** An implicit route: the remote server id it is for (one dial at a time per server). */
  implicitId: string | null;
}

interface RouteRec {
  cid: number;
  shard: number;
  didSolicit: boolean;
  url: RouteUrl | null;
  explicit: boolean;
  /** Dialing (no socket yet): failures come back as dial-failed. */
  attempt: Attempt | null;
  registered: boolean;
  remoteId: string;
  remoteName: string;
  /** Reconnect even if not solicited (route.go addRoute: both sides dropped the duplicate). */
  retry: boolean;
  connectUrls: string[];
  wsConnectUrls: string[];
}

/** A cluster name when none is configured (nats-server uses a nuid). */
function generatedName(): string {
  let s = '';
  for (const b of randomBytes(22)) s += BASE62[b % 62];
  return s;
}

/** nats-route://[user:pass@]host[:port] → RouteUrl. */
export function parseRouteUrl(u: string): RouteUrl {
  const url = new URL(u);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port !== '' ? Number(url.port) : 6222;
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  return { host, port, user, pass, redacted: `${url.protocol}//${user !== '' ? `${user}:xxxxx@` : ''}${host.includes(':') ? `[${host}]` : host}:${port}` };
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class ClusterManager {
  readonly opts: ClusterOptions;
  private readonly host: ClusterHost;
  name: string;
  dynamic: boolean;
  /** The cluster port actually bound. */
  port = 0;
  private listener: net.Server | null = null;
  private readonly routes = new Map<number, RouteRec>();
  /** Remote server id → the cid of its registered route. */
  private readonly remotes = new Map<string, number>();
  /** Implicit routes being dialed, by remote server id (gossip comes from every route). */
  private readonly implicitPending = new Set<string>();
  private readonly configured: RouteUrl[];
  private stopping = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** This server's client URLs, and the other nodes' (reference-counted: several routes may name one). */
  private ownUrls: string[] = [];
  private ownWsUrls: string[] = [];
  private readonly otherUrls = new Map<string, number>();
  private readonly otherWsUrls = new Map<string, number>();
  private urlsAnnounced = false;
  private routezSeq = 0;
  private readonly routezWaiting = new Map<number, { left: number; data: RoutezEntry[]; done: (d: RoutezEntry[]) => void }>();
  private routeInfo: Record<string, unknown> = {};

  constructor(opts: ClusterOptions, host: ClusterHost) {
    this.opts = opts;
    this.host = host;
    this.dynamic = opts.name === '';
    this.name = this.dynamic ? generatedName() : opts.name;
    this.configured = opts.routes.map(parseRouteUrl);
  }

  /**
   * Binds the cluster port, tells every shard what routes need (route INFO), then solicits the
   * configured routes (route.go startRouteAcceptLoop). The connection handler is attached before
   * listening, so no accepted socket is ever left unserved.
   */
  async start(): Promise<void> {
    const { log } = this.host;
    const o = this.opts;
    log.info(`Cluster name is ${this.name}`);
    if (this.dynamic) log.warn('Cluster name was dynamically generated, consider setting one');
    const l = net.createServer({ pauseOnConnect: true });
    l.on('connection', (socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      l.once('error', reject);
      l.listen({ host: o.host, port: o.port < 0 ? 0 : o.port, backlog: 1024 }, () => {
        l.off('error', reject);
        resolve();
      });
    });
    l.on('error', (err) => log.error({ err: err.message }, 'route listener error'));
    this.listener = l;
    this.port = (l.address() as net.AddressInfo).port;
    log.info(`Listening for route connections on ${hostPort(o.host, this.port)}`);
    this.ownUrls = this.clientUrls();
    this.ownWsUrls = [...this.host.identity.wsConnectUrls];
    this.routeInfo = this.buildRouteInfo();
    for (const { id } of this.host.shardLoads()) this.host.send(id, { type: 'init', routeInfo: this.routeInfo, jsPeer: this.host.jsPeer() });
    for (const url of this.configured) this.connect({ url, explicit: true, tryForever: true, first: true, attempts: 0, delayMs: ROUTE_CONNECT_MS, implicitId: null });
  }

  /** A replacement shard needs the same facts the others got at start. */
  shardStarted(id: number): void {
    if (this.listener === null) return;
    this.host.send(id, { type: 'init', routeInfo: this.routeInfo, jsPeer: this.host.jsPeer() });
    this.host.send(id, { type: 'client-info', fields: this.clientInfoFields(), notify: false });
  }

  /** The cluster URL for the ports file. */
  portsFileUrls(hosts: (h: string) => string[]): string[] {
    return hosts(this.opts.host).map((h) => `nats://${h}:${this.port}`);
  }

  /** Route INFO (route.go startRouteAcceptLoop / setRouteInfoHostPortAndIP). */
  private buildRouteInfo(): Record<string, unknown> {
    const o = this.opts;
    const id = this.host.identity;
    let host = o.host;
    let port = this.port;
    let ip = '';
    if (o.advertise !== '') {
      const i = o.advertise.lastIndexOf(':');
      if (i > 0 && /^\d+$/.test(o.advertise.slice(i + 1))) {
        host = o.advertise.slice(0, i).replace(/^\[|\]$/g, '');
        port = Number(o.advertise.slice(i + 1));
      } else host = o.advertise;
      ip = `nats-route://${hostPort(host, port)}/`;
    }
    const info: Record<string, unknown> = {
      server_id: id.serverId,
      server_name: id.serverName,
      version: id.version,
      proto: 2, // RouteProtoV2: accounts in RS+/RMSG
      go: `node${process.versions.node}`,
      host,
      port,
      headers: true,
      ...(o.username !== '' ? { auth_required: true } : {}),
      max_payload: this.host.maxPayload(),
      ...(ip !== '' ? { ip } : {}),
      ...(!o.noAdvertise && this.ownUrls.length > 0 ? { connect_urls: this.ownUrls } : {}),
      ...(!o.noAdvertise && this.ownWsUrls.length > 0 ? { ws_connect_urls: this.ownWsUrls } : {}),
      cluster: this.name,
      ...(this.dynamic ? { cluster_dynamic: true } : {}),
      ...(o.permissions?.import ? { import: o.permissions.import } : {}),
      ...(o.permissions?.export ? { export: o.permissions.export } : {}),
      lnoc: true,
    };
    return info;
  }

  /** server.go getClientConnectURLs: client_advertise, the bound host, or every non-loopback address. */
  private clientUrls(): string[] {
    const adv = this.host.clientAdvertise();
    const port = this.host.clientPort();
    if (adv !== '') return [/:\d+$/.test(adv) ? adv : hostPort(adv, port)];
    const h = this.host.clientHost();
    if (h !== '0.0.0.0' && h !== '::' && h !== '') return [hostPort(h, port)];
    const out: string[] = [];
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (!i.internal && (i.family === 'IPv4' || !i.address.startsWith('fe80'))) out.push(hostPort(i.address, port));
    return out;
  }

  // ---- accepting and soliciting ------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const cid = this.host.nextCid();
    const shard = this.pickShard();
    if (shard < 0) {
      socket.destroy();
      return;
    }
    this.routes.set(cid, { cid, shard, didSolicit: false, url: null, explicit: false, attempt: null, registered: false, remoteId: '', remoteName: '', retry: false, connectUrls: [], wsConnectUrls: [] });
    this.host.handoff(shard, socket, cid);
  }

  /** The shard hosting the fewest routes (then the fewest clients): routes carry the cluster's traffic. */
  private pickShard(): number {
    const counts = new Map<number, number>();
    for (const r of this.routes.values()) counts.set(r.shard, (counts.get(r.shard) ?? 0) + 1);
    let best = -1;
    let bestRoutes = Infinity;
    let bestLoad = Infinity;
    for (const { id, load } of this.host.shardLoads()) {
      const n = counts.get(id) ?? 0;
      if (n < bestRoutes || (n === bestRoutes && load < bestLoad)) {
        best = id;
        bestRoutes = n;
        bestLoad = load;
      }
    }
    return best;
  }

  /** One connection attempt of a solicitation; failures come back as dial-failed. */
  private connect(a: Attempt): void {
    if (this.stopping) return;
    if (a.implicitId !== null && this.remotes.has(a.implicitId)) {
      this.implicitPending.delete(a.implicitId);
      return;
    }
    if (a.tryForever && a.explicit && !this.configured.some((u) => u.host === a.url.host && u.port === a.url.port)) return;
    const shard = this.pickShard();
    if (shard < 0) return this.later(() => this.connect(a), ROUTE_CONNECT_MS);
    const cid = this.host.nextCid();
    this.routes.set(cid, { cid, shard, didSolicit: true, url: a.url, explicit: a.explicit, attempt: a, registered: false, remoteId: '', remoteName: '', retry: false, connectUrls: [], wsConnectUrls: [] });
    this.host.log.debug(`Trying to connect to route on ${a.url.redacted}`);
    this.host.send(shard, { type: 'dial', cid, url: a.url, explicit: a.explicit });
  }

  private later(f: () => void, ms: number): void {
    if (this.stopping) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) f();
    }, ms);
    this.timers.add(t);
  }

  // ---- what the shards report ----------------------------------------------------------------------

  onShardMessage(shard: number, m: FromShardCluster): void {
    switch (m.type) {
      case 'register':
        return this.register(shard, m.cid, m.remote, m.didSolicit);
      case 'closed':
        return this.closed(m.cid, m.remoteId, m.noReconnect);
      case 'dial-failed':
        return this.dialFailed(m.cid, m.err);
      case 'implicit':
        return this.implicitRoute(m.remote);
      case 'remote-ldm': {
        const r = this.routes.get(m.cid);
        if (r === undefined) return;
        this.removeUrls(r.connectUrls, r.wsConnectUrls);
        r.connectUrls = [];
        r.wsConnectUrls = [];
        return;
      }
      case 'cluster-name':
        return this.adoptName(m.name, m.cid);
      case 'routez': {
        const w = this.routezWaiting.get(m.id);
        if (w === undefined) return;
        w.data.push(...m.data);
        if (--w.left === 0) {
          this.routezWaiting.delete(m.id);
          w.done(w.data);
        }
        return;
      }
    }
  }

  /** server.go addRoute: the first route to a server wins; a later one is a duplicate. */
  private register(shard: number, cid: number, remote: RemoteRoute, didSolicit: boolean): void {
    let rec = this.routes.get(cid);
    if (rec === undefined) {
      rec = { cid, shard, didSolicit, url: null, explicit: false, attempt: null, registered: false, remoteId: '', remoteName: '', retry: false, connectUrls: [], wsConnectUrls: [] };
      this.routes.set(cid, rec);
    }
    rec.attempt = null;
    rec.remoteId = remote.id;
    rec.remoteName = remote.name;
    this.implicitPending.delete(remote.id);
    const existing = this.remotes.get(remote.id);
    const other = existing !== undefined ? this.routes.get(existing) : undefined;
    if (this.stopping || (other !== undefined && other.cid !== cid)) {
      this.host.send(shard, { type: 'verdict', cid, ok: false });
      if (other !== undefined) {
        // Keep what the duplicate knew: it was solicited (and configured), so the kept one
        // reconnects; both sides may drop opposite connections, hence `retry`.
        if (didSolicit && !other.didSolicit) {
          other.didSolicit = true;
          other.url = rec.url;
        }
        if (rec.explicit) other.explicit = true;
        other.retry = true;
      }
      return;
    }
    rec.registered = true;
    this.remotes.set(remote.id, cid);
    if (rec.url === null && remote.port > 0) rec.url = parseRouteUrlSafe(remote.ip) ?? null;
    this.host.send(shard, { type: 'verdict', cid, ok: true });
    this.host.log.info(`Route to ${remote.name || remote.id} (${remote.id}) registered on shard ${shard}${didSolicit ? ' (solicited)' : ''}`);
    // Tell the servers we already know about the new one; they connect to it (gossip).
    let registered = 0;
    for (const r of this.routes.values()) if (r.registered) registered++;
    if (registered > 1) for (const { id } of this.host.shardLoads()) this.host.send(id, { type: 'gossip', exclude: remote.id, info: remote.info });
    if (!this.opts.noAdvertise) {
      rec.connectUrls = remote.connectUrls;
      rec.wsConnectUrls = remote.wsConnectUrls;
      this.addUrls(remote.connectUrls, remote.wsConnectUrls);
    }
  }

  /** client.go closeConnection + reconnect for a route. */
  private closed(cid: number, remoteId: string, noReconnect: boolean): void {
    const rec = this.routes.get(cid);
    if (rec === undefined) return;
    this.routes.delete(cid);
    if (rec.attempt?.implicitId) this.implicitPending.delete(rec.attempt.implicitId);
    if (rec.registered && this.remotes.get(rec.remoteId) === cid) this.remotes.delete(rec.remoteId);
    if (rec.registered) this.removeUrls(rec.connectUrls, rec.wsConnectUrls);
    if (this.stopping || noReconnect) return;
    const rid = remoteId || rec.remoteId;
    const retryImplicit = rec.retry || (rec.didSolicit && !rec.explicit);
    if (!(rec.didSolicit || retryImplicit) || rec.url === null) return;
    if (rid !== '' && this.remotes.has(rid)) {
      this.host.log.debug(`Not attempting reconnect for solicited route, already connected to "${rid}"`);
      return;
    }
    if (rid === this.host.identity.serverId) return;
    if (!rec.explicit && !retryImplicit) return;
    const url = rec.url;
    this.host.log.debug(`Attempting reconnect for solicited route "${url.redacted}"`);
    // route.go reConnectToRoute: a random pause so two servers that dropped each other's duplicate
    // do not collide again; a configured route also waits DEFAULT_ROUTE_RECONNECT.
    const delay = Math.floor(Math.random() * 100) + (rec.explicit ? ROUTE_RECONNECT_MS : 0);
    const implicitId = rec.explicit || rid === '' ? null : rid;
    if (implicitId !== null) this.implicitPending.add(implicitId);
    this.later(() => this.connect({ url, explicit: rec.explicit, tryForever: rec.explicit, first: false, attempts: 0, delayMs: ROUTE_CONNECT_MS, implicitId }), delay);
  }

  private dialFailed(cid: number, err: string): void {
    const rec = this.routes.get(cid);
    if (rec === undefined) return;
    this.routes.delete(cid);
    const a = rec.attempt;
    if (a === null || this.stopping) return;
    a.attempts++;
    const text = `Error trying to connect to route (attempt ${a.attempts}): ${err}`;
    // server.go shouldReportConnectErr: on a first connect the first failure (and every 3600th) is an
    // error, the others debug; a reconnect reports every failure (reconnect_error_reports: 1).
    if (!a.first || a.attempts === 1 || a.attempts % 3600 === 0) this.host.log.error({ route: a.url.redacted }, text);
    else this.host.log.debug({ route: a.url.redacted }, text);
    if (!a.tryForever && (this.opts.connectRetries <= 0 || a.attempts > this.opts.connectRetries)) {
      if (a.implicitId !== null) this.implicitPending.delete(a.implicitId);
      return;
    }
    const delay = a.delayMs;
    if (this.opts.connectBackoff) a.delayMs = Math.min(a.delayMs * 2, ROUTE_CONNECT_MAX_MS);
    this.later(() => this.connect(a), delay);
  }

  /** route.go processImplicitRoute: connect to a server a route told us about, unless known. */
  private implicitRoute(remote: RemoteRoute): void {
    if (this.stopping) return;
    const id = remote.id;
    if (id === this.host.identity.serverId || this.remotes.has(id) || this.implicitPending.has(id)) return;
    // hasThisRouteConfigured: a configured route reaches it (or will).
    const hp = hostPort(remote.host, remote.port).toLowerCase();
    if (this.configured.some((u) => hostPort(u.host, u.port).toLowerCase() === hp)) return;
    const url = parseRouteUrlSafe(remote.ip);
    if (url === null) {
      this.host.log.error(`Error parsing URL from INFO: "${remote.ip}"`);
      return;
    }
    if (remote.authRequired) {
      url.user = this.opts.username;
      url.pass = this.opts.password;
    }
    this.implicitPending.add(id);
    this.connect({ url, explicit: false, tryForever: false, first: true, attempts: 0, delayMs: ROUTE_CONNECT_MS, implicitId: id });
  }

  /** A shard adopted a peer's configured cluster name: every shard takes it, other routes are closed. */
  private adoptName(name: string, cid: number): void {
    if (name === this.name) return;
    this.host.log.info(`Cluster name updated to ${name}`);
    this.name = name;
    this.dynamic = false;
    this.host.identity.cluster = name;
    this.routeInfo = { ...this.routeInfo, cluster: name };
    delete this.routeInfo['cluster_dynamic'];
    for (const { id } of this.host.shardLoads()) {
      this.host.send(id, { type: 'cluster-name', name });
      this.host.send(id, { type: 'init', routeInfo: this.routeInfo, jsPeer: this.host.jsPeer() });
    }
    for (const r of this.routes.values()) if (r.cid !== cid && r.attempt === null) this.host.send(r.shard, { type: 'close', cid: r.cid, reason: 'Cluster Name Conflict' });
  }

  /** A shard died: the routes it hosted are gone (and reconnect as any closed route would). */
  shardGone(shard: number): void {
    for (const r of [...this.routes.values()]) {
      if (r.shard !== shard) continue;
      if (r.attempt !== null) {
        const a = r.attempt;
        this.routes.delete(r.cid);
        this.later(() => this.connect(a), ROUTE_CONNECT_MS);
      } else this.closed(r.cid, r.remoteId, false);
    }
  }

  // ---- client connect URLs ---------------------------------------------------------------------------

  private addUrls(curls: string[], wsurls: string[]): void {
    let changed = false;
    for (const u of curls) if (refAdd(this.otherUrls, u)) changed = true;
    for (const u of wsurls) if (refAdd(this.otherWsUrls, u)) changed = true;
    if (changed) this.announceUrls();
  }

  private removeUrls(curls: string[], wsurls: string[]): void {
    let changed = false;
    for (const u of curls) if (refRemove(this.otherUrls, u)) changed = true;
    for (const u of wsurls) if (refRemove(this.otherWsUrls, u)) changed = true;
    if (changed) this.announceUrls();
  }

  /** server.go updateServerINFOAndSendINFOToClients: this server's URLs first, then the others'. */
  private clientInfoFields(): Record<string, unknown> {
    if (!this.urlsAnnounced) return {};
    return {
      connect_urls: [...this.ownUrls, ...this.otherUrls.keys()],
      ws_connect_urls: this.ownWsUrls.length + this.otherWsUrls.size > 0 ? [...this.ownWsUrls, ...this.otherWsUrls.keys()] : undefined,
    };
  }

  private announceUrls(): void {
    this.urlsAnnounced = true;
    const fields = this.clientInfoFields();
    for (const { id } of this.host.shardLoads()) this.host.send(id, { type: 'client-info', fields, notify: true });
  }

  // ---- lame duck, shutdown, monitoring ----------------------------------------------------------------

  /** Stop accepting routes (lame duck or shutdown). */
  closeListener(): void {
    this.listener?.close();
    this.listener = null;
  }

  /**
   * Lame duck mode (server.go sendLDMToRoutes / sendLDMToClients): routes get INFO ldm; clients will
   * get the other nodes' URLs only (the shards send the INFO with ldm set).
   */
  lameDuck(): void {
    const fields = { connect_urls: this.opts.noAdvertise ? undefined : [...this.otherUrls.keys()], ws_connect_urls: this.opts.noAdvertise ? undefined : [...this.otherWsUrls.keys()] };
    for (const { id } of this.host.shardLoads()) {
      this.host.send(id, { type: 'ldm' });
      this.host.send(id, { type: 'client-info', fields, notify: false });
    }
  }

  stop(): void {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closeListener();
  }

  numRoutes(): number {
    return this.remotes.size;
  }

  /** /routez (monitor.go Routez). */
  async routez(subs: 'none' | 'list' | 'detail'): Promise<Record<string, unknown>> {
    const shards = this.host.shardLoads();
    const data = await new Promise<RoutezEntry[]>((resolve) => {
      if (shards.length === 0) return resolve([]);
      const id = ++this.routezSeq;
      this.routezWaiting.set(id, { left: shards.length, data: [], done: resolve });
      for (const s of shards) this.host.send(s.id, { type: 'routez', id, subs });
      // A shard that died meanwhile must not hang the endpoint.
      setTimeout(() => {
        const w = this.routezWaiting.get(id);
        if (w === undefined) return;
        this.routezWaiting.delete(id);
        w.done(w.data);
      }, 2000).unref();
    });
    data.sort((a, b) => a.rid - b.rid);
    const id = this.host.identity;
    const perms = this.opts.permissions;
    return {
      server_id: id.serverId,
      server_name: id.serverName,
      now: new Date().toISOString(),
      ...(perms?.import ? { import: perms.import } : {}),
      ...(perms?.export ? { export: perms.export } : {}),
      num_routes: data.length,
      routes: data,
    };
  }

  /** /varz `cluster` (monitor.go ClusterOptsVarz). */
  varzCluster(): Record<string, unknown> {
    const o = this.opts;
    return {
      name: this.name,
      addr: o.host,
      cluster_port: this.port,
      auth_timeout: o.authTimeoutMs / 1000,
      ...(this.configured.length > 0 ? { urls: this.configured.map((u) => hostPort(u.host, u.port)) } : {}),
      ...(o.poolSize > 0 ? { pool_size: o.poolSize } : {}),
    };
  }
}

function parseRouteUrlSafe(u: string): RouteUrl | null {
  try {
    return parseRouteUrl(u);
  } catch {
    return null;
  }
}

function refAdd(m: Map<string, number>, k: string): boolean {
  const n = m.get(k) ?? 0;
  m.set(k, n + 1);
  return n === 0;
}

function refRemove(m: Map<string, number>, k: string): boolean {
  const n = m.get(k);
  if (n === undefined) return false;
  if (n <= 1) {
    m.delete(k);
    return true;
  }
  m.set(k, n - 1);
  return false;
}
