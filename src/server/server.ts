// The main thread's server: binds the client listener, starts the shard workers, hands each accepted
// connection to the least-loaded shard, and stops everything in order on a signal. It does no
// per-message work (DESIGN.md, "Threads and what each owns").

import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import type { BcryptService } from '../auth/bcrypt-pool.js';
import { startMonitor, startUwsMonitor, type MonitorServer } from '../monitor/http.js';
import { loadUws, type Uws } from '../transport/uws.js';
import { buildVarz } from '../monitor/varz.js';
import { parseJszQuery } from '../monitor/jsz.js';
import { buildAccountz, buildConnz, buildJsz, buildMetrics, buildRoutez, buildSubsz, parseConnzQuery, MonitorError } from '../monitor/endpoints.js';
import { shardConnz, shardMetrics, shardSubsz } from '../shard/monitor-data.js';
import type { ConnInfo, ConnzQuery, ShardMetrics, SubszShard } from '../monitor/types.js';
import type { MonitorSource } from '../monitor/http.js';
import type { ShardStats } from '../shard/shard.js';
import { loadConfigFile } from '../config/load.js';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { HandoffSender, handoffSupported, type TcpHandle } from '../transport/handoff.js';
import type { Shard, ServerIdentity } from '../shard/shard.js';
import type { FromShard, ShardWorkerData, ToShard } from '../shard/worker.js';
import { jetStreamDir, type ServerOptions } from './options.js';
import { createRingBuffer } from '../ring/ring.js';
import type { PeerRings } from '../shard/peer.js';
import { NATS_SERVER_COMPAT_VERSION, TSNATS_VERSION } from '../version.js';
import { JetStreamHandle } from './jetstream-handle.js';
import { ClusterManager } from '../cluster/manager.js';
import { routeMetrics } from '../cluster/metrics.js';
import { bindMqttListener, mqttListenUrl, mqttPortsUrls, MQTT_TAG, type MqttListener } from '../mqtt/listener.js';
import { mqttOf } from '../mqtt/shard-mqtt.js';
import { mqttVarz, validateMqttOptions } from '../mqtt/config.js';
import { healthz } from '../monitor/healthz.js';
import { ClosedRing } from '../monitor/closed.js';
import { AcceptGate, PortsFile, boundPort, listenTcp, listenerHosts, listenerUrls, newPortsBlock, publishPorts, wsConnectUrl, type PortsKey } from './listeners.js';

interface ShardHandle {
  id: number;
  /** uWS child App descriptor, in uWS WebSocket mode. */
  uwsDescriptor?: number;
  worker: Worker;
  sender: HandoffSender;
  /** Connections handed over and not yet reported closed. */
  load: number;
  stopped: Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A server id in nats-server's shape: 56 base32 characters starting with N (an nkey public key). */
export function newServerId(): string {
  const bytes = randomBytes(55);
  let s = 'N';
  for (const b of bytes) s += BASE32[b & 31];
  return s;
}

export class Server {
  readonly log: Logger;
  readonly identity: ServerIdentity;
  private listener: net.Server | null = null;
  private wsListener: net.Server | null = null;
  wsPort = 0;
  /** The MQTT listener (src/mqtt/listener.ts), when an mqtt block is configured. */
  private mqtt: MqttListener | null = null;
  /** The MQTT port (0: none). */
  get mqttPort(): number {
    return this.mqtt?.port ?? 0;
  }
  private shards: ShardHandle[] = [];
  /** Used when the hand-off cannot load, or asked for (`shards: 0`): one shard on the main thread. */
  private inline: Shard | null = null;
  private get inlineMode(): boolean {
    return this.opts.shards === 0 || !handoffSupported();
  }
  /** Server-wide connection ids, shared with the shards (uWS WebSocket connections are numbered there). */
  private readonly cidCounter = new SharedArrayBuffer(4);
  private readonly cids = new Int32Array(this.cidCounter);
  /** uWS WebSocket mode: the acceptor App and its listen socket. */
  private wsApp: import('uws-pack').TemplatedApp | null = null;
  private wsListenSocket: unknown = null;
  /** WebSocket through uWS child Apps (decided once uWS loaded and every shard made its App). */
  private uwsWsMode = false;
  /** The listeners' real ports, shared with every shard for INFO. */
  private readonly ports = newPortsBlock();
  /** Connections accepted while the listeners are still binding wait here (never dropped). */
  private readonly gate = new AcceptGate<'client' | 'ws' | 'mqtt'>((socket, kind) => this.onConnection(socket, kind));
  private readonly portsFile = new PortsFile();
  /** rings[i][j]: the ring peer i produces into and peer j consumes (peers: shards, then JetStream). */
  private rings: SharedArrayBuffer[][] = [];
  /** bells[i]: the word peer i sleeps on when its inbound rings are empty (src/ring/waiter.ts). */
  private bells: SharedArrayBuffer[] = [];
  /** The JetStream worker (its peer id is `jsPeer`), when JetStream is enabled. */
  private js: JetStreamHandle | null = null;
  private jsPeer = -1;
  /** When the JetStream worker crashed in the last minute (replacement stops after 5). */
  private jsCrashes: number[] = [];
  private stopping: Promise<void> | null = null;
  port = 0;
  httpPort = 0;
  private http: MonitorServer | null = null;
  /** uWS when it loads (and not --native-free); null: the native-free engines. */
  private uws: Uws | null = null;
  private bcrypt: BcryptService | null = null;
  private bcryptLoading: Promise<BcryptService> | null = null;
  private statsSeq = 0;
  private readonly statsWaiting = new Map<number, (s: ShardStats) => void>();
  private readonly monitorWaiting = new Map<number, (d: unknown) => void>();
  private readonly started = new Date();
  /** The last 10,000 closed connections, server-wide (shards send their records here). */
  private readonly closed = new ClosedRing();
  /** The route table and cluster listener (src/cluster/), when clustering is configured. */
  private cluster: ClusterManager | null = null;
  /** Options as they were merged from defaults, file and flags; a reload re-reads the file. */
  opts: ServerOptions;
  /** Re-applies the command-line flags over a reloaded file (set by main). */
  reapplyFlags: (file: Partial<ServerOptions>) => ServerOptions = (f) => ({ ...this.opts, ...f });

  constructor(opts: ServerOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
    this.identity = {
      serverId: newServerId(),
      serverName: '',
      version: NATS_SERVER_COMPAT_VERSION,
      tsnatsVersion: TSNATS_VERSION,
      host: opts.host,
      port: opts.port,
      wsConnectUrls: [],
      ports: this.ports,
    };
    this.identity.serverName = opts.serverName || this.identity.serverId;
    if (opts.cluster !== null) {
      this.cluster = this.newClusterManager(opts);
      this.identity.cluster = this.cluster.name;
    }
  }

  /** The route table's view of this server (cluster/manager.ts ClusterHost). */
  private newClusterManager(opts: ServerOptions): ClusterManager {
    return new ClusterManager(opts.cluster!, {
      log: this.log,
      identity: this.identity,
      nextCid: () => Atomics.add(this.cids, 0, 1) + 1,
      shardLoads: () => (this.inline !== null ? [{ id: 0, load: this.inline.conns.size }] : this.shards.filter((s) => s.load !== Number.MAX_SAFE_INTEGER).map((s) => ({ id: s.id, load: s.load }))),
      send: (id, m) => {
        if (this.inline !== null) {
          const sc = this.inline.cluster!;
          queueMicrotask(() => sc.control(m));
        } else this.shards[id]?.worker.postMessage({ type: 'cluster', m } satisfies ToShard);
      },
      handoff: (id, socket, cid) => {
        if (this.inline !== null) return this.inline.cluster!.adoptSocket(socket, cid);
        const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
        const sh = this.shards[id];
        if (handle === null || sh === undefined) return void socket.destroy();
        sh.sender.send(handle, `r${cid}`, () => socket.destroy());
      },
      clientHost: () => this.opts.host,
      clientPort: () => this.port,
      clientAdvertise: () => this.opts.clientAdvertise,
      maxPayload: () => this.opts.maxPayload,
      jsPeer: () => this.jsPeer,
    });
  }

  /**
   * Start-up as DESIGN.md's "Start-up order": the JetStream worker (recovering its streams) and the
   * shards boot in parallel, the shards take the rings once JetStream's interest is in them, and only
   * then do the listeners bind, each with its handler attached as it binds; the ports file comes
   * last. A connection that reaches any port is served from its first byte (nats-server's Start
   * likewise accepts clients only once JetStream is enabled).
   */
  async start(): Promise<void> {
    const { log, opts } = this;
    const mqttInvalid = validateMqttOptions(opts);
    if (mqttInvalid !== null) throw new Error(mqttInvalid);
    if (opts.pidFile) writeFileSync(opts.pidFile, String(process.pid));
    const n = this.inlineMode ? 1 : Math.max(1, opts.shards);
    // JetStream is one more peer on the rings, after the shards; its rings among themselves are unused.
    const peers = n + (opts.jetstream.enabled ? 1 : 0);
    if (opts.jetstream.enabled) this.jsPeer = n;
    for (let i = 0; i < peers; i++) {
      this.bells[i] = new SharedArrayBuffer(64);
      this.rings[i] = [];
      for (let j = 0; j < peers; j++) if (i !== j && (i < n || j < n)) this.rings[i]![j] = this.newRing();
    }
    let jsReady: Promise<void> | null = null;
    if (this.jsPeer >= 0) {
      // Recovered before any client can publish, as nats-server enables JetStream first.
      this.js = new JetStreamHandle(log);
      this.js.onCrash = (code) => this.replaceJetStream(code);
      jsReady = this.js.start(opts, this.identity, this.peerRingsOf(this.jsPeer));
      jsReady.catch(() => {}); // awaited below; a failure is reported there
    }
    // The workers boot on their own threads while this one logs and loads what it needs.
    const senders = this.inlineMode ? [] : await Promise.all(Array.from({ length: n }, () => HandoffSender.create()));
    const starting = senders.map((sender, i) => this.startShard(i, jsReady ?? undefined, sender));
    log.info(`Starting tsnats ${TSNATS_VERSION} (nats-server ${NATS_SERVER_COMPAT_VERSION} protocol)`);
    log.info(`Node.js: ${process.version}`);
    log.info(`Server name: ${this.identity.serverName}`);
    log.info(`ID: ${this.identity.serverId}`);
    const uwsLoading = opts.httpPort !== 0 || opts.websocket !== null ? loadUws(opts.nativeFree) : null;
    if (!this.inlineMode) {
      const [shards] = await Promise.all([Promise.all(starting), jsReady]);
      this.shards = shards;
      if (jsReady !== null) log.info(`JetStream enabled, store directory ${jetStreamDir(opts)}`);
      log.info(`Started ${n} shard${n === 1 ? '' : 's'}`);
    } else {
      if (opts.shards !== 0) log.warn('Connection hand-off is not available on this platform: serving on the main thread');
      const [{ Shard }] = await Promise.all([import('../shard/shard.js'), jsReady]);
      if (jsReady !== null) log.info(`JetStream enabled, store directory ${jetStreamDir(opts)}`);
      this.inline = new Shard(0, opts, this.identity, log, this.peerRingsOf(0));
      this.inline.closedRecords.sink = (records) => this.closed.add(records);
      this.inline.onDebugGc = () => this.debugGc();
      this.inline.bcrypt = (password, hash, ticket) =>
        this.bcryptService().then((svc) => {
          const h = svc.compare({ password, hash, key: ticket.key, deadline: ticket.deadline });
          ticket.cancel = h.cancel;
          return h.verdict;
        });
      if (this.inline.cluster !== null) this.inline.cluster.post = (m) => queueMicrotask(() => this.cluster?.onShardMessage(0, m));
    }
    if (uwsLoading !== null) {
      const u = await uwsLoading;
      this.uws = u.mod;
      log.info(u.mod !== null ? 'HTTP/WebSocket engine: uWS (uws-pack)' : `HTTP/WebSocket engine: native-free (node:http and the pure-Node WebSocket transport): ${u.reason}`);
    }
    if (this.stopping !== null) return;
    await this.bindListeners();
    if (opts.auth !== null) log.info(`Authorization required: ${opts.auth.users.length} user(s), ${opts.auth.nkeys.length} nkey(s)${opts.auth.token !== null ? ', token' : ''}`);
    log.info(`Listening for client connections on ${opts.host}:${this.port}`);
    if (this.cluster !== null) {
      await this.cluster.start();
      this.portsFile.set('cluster', this.cluster.portsFileUrls(listenerHosts));
    }
    if (opts.portsFileDir) this.portsFile.write(opts.portsFileDir);
    log.info('Server is ready');
  }

  /**
   * Binds every listener now that the shards serve: handlers are attached as each binds, and what
   * arrives before the last one is bound (and the real ports are published to the shards for INFO)
   * waits in the accept gate. uWS's acceptor gets its shards' child Apps before it listens, so it
   * never accepts a connection it cannot pass on.
   */
  private async bindListeners(): Promise<void> {
    const { log, opts } = this;
    const w = opts.websocket;
    this.uwsWsMode = w !== null && w.tls === null && this.uws !== null && this.shards.length > 0 && this.shards.every((sh) => sh.uwsDescriptor !== undefined);
    try {
      const binding: Promise<unknown>[] = [
        listenTcp(opts.host, opts.port, (sock) => this.gate.accept(sock, 'client'), 'client connections').then((l) => {
          this.listener = l;
          this.port = boundPort(l);
          this.identity.port = this.port;
          l.on('error', (err) => log.error({ err: err.message }, 'listener error'));
        }),
      ];
      if (w !== null && !this.uwsWsMode) {
        binding.push(
          listenTcp(w.host, w.port, (sock) => this.gate.accept(sock, 'ws'), 'websocket').then((l) => {
            this.wsListener = l;
            this.wsPort = boundPort(l);
          }),
        );
      }
      if (opts.httpPort !== 0) {
        binding.push(
          (this.uws !== null ? startUwsMonitor(this.uws, opts.httpHost, opts.httpPort, this.monitorSource()) : startMonitor(opts.httpHost, opts.httpPort, this.monitorSource())).then((m) => {
            this.http = m;
            this.httpPort = m.port;
            log.info(`Starting http monitor on ${opts.httpHost}:${this.httpPort} (${this.uws !== null ? 'uWS' : 'node:http'})`);
          }),
        );
      }
      if (opts.mqtt !== null) {
        binding.push(
          bindMqttListener(opts, (sock) => this.gate.accept(sock, 'mqtt')).then((m) => {
            this.mqtt = m;
            m?.server.on('error', (err) => log.error({ err: err.message }, 'MQTT listener error'));
          }),
        );
      }
      await Promise.all(binding);
      if (w !== null && this.uwsWsMode) {
        // uWS: the acceptor's children first, then listen (its callback runs synchronously, so the
        // ports below are published before the acceptor can take its first connection).
        const app = this.uws!.App();
        this.wsApp = app;
        for (const sh of this.shards) this.addChild(sh.uwsDescriptor!);
        app.listen(w.host, w.port < 0 ? 0 : w.port, (ls) => {
          this.wsListenSocket = ls || null;
        });
        if (this.wsListenSocket === null) throw new Error(`could not listen on ${w.host}:${w.port} for websocket`);
        this.wsPort = this.uws!.us_socket_local_port(this.wsListenSocket as Parameters<Uws['us_socket_local_port']>[0]);
      }
    } catch (err) {
      this.gate.abort();
      throw err;
    }
    if (w !== null) this.identity.wsConnectUrls = [wsConnectUrl(w.host, this.wsPort)];
    publishPorts(this.ports, this.port, this.wsPort);
    this.gate.open();
    this.portsFile.set('nats', listenerUrls(opts.tls !== null ? 'tls' : 'nats', opts.host, this.port));
    if (this.http !== null) this.portsFile.set('monitoring', listenerUrls('http', opts.httpHost, this.httpPort));
    if (w !== null) {
      this.portsFile.set('websocket', listenerUrls(w.tls !== null ? 'wss' : 'ws', w.host, this.wsPort));
      log.info(`Listening for websocket clients on ${w.tls !== null ? 'wss' : 'ws'}://${w.host}:${this.wsPort} (${this.uwsWsMode ? 'uWS, one child App per shard' : 'native-free WebSocket transport'})`);
    }
    if (this.mqtt !== null) {
      this.portsFile.set('mqtt', mqttPortsUrls(opts, this.mqtt.port, listenerHosts));
      log.info(`Listening for MQTT clients on ${mqttListenUrl(opts, this.mqtt.port)}`);
    }
  }

  /**
   * A listener of another room (routes, MQTT) joins the ports file: `key` as nats-server's Ports
   * struct names it. Call it once the listener is bound; a file already written is rewritten.
   */
  registerPorts(key: PortsKey, scheme: string, host: string, port: number): void {
    this.portsFile.set(key, listenerUrls(scheme, host, port));
  }

  /**
   * bcrypt: a pool with the cores the shards leave, behind a fair queue (src/auth/bcrypt-pool.ts).
   * Loaded (piscina with it) on the first check, so start-up pays nothing for it.
   */
  private bcryptService(): Promise<BcryptService> {
    this.bcryptLoading ??= import('../auth/bcrypt-pool.js').then(({ BcryptService }) => {
      this.bcrypt = new BcryptService(handoffSupported() ? Math.max(1, this.opts.shards) : 1);
      return this.bcrypt;
    });
    return this.bcryptLoading;
  }

  /** Test hook (TSNATS_DEBUG_HOOKS=1, `$TSNATS.DEBUG.GC`): this thread and every shard collect garbage. */
  private debugGc(): void {
    if (process.env['TSNATS_DEBUG_HOOKS'] !== '1') return;
    void import('./debug-gc.js').then(({ collectGarbage }) => this.log.info(`debug hook: main thread ${collectGarbage()}`));
    for (const sh of this.shards) sh.worker.postMessage({ type: 'gc' } satisfies ToShard);
  }

  /** Every shard's figures (plus the inline shard's). */
  async shardStats(): Promise<ShardStats[]> {
    if (this.inline !== null) return [this.inline.stats()];
    return Promise.all(
      this.shards.map(
        (s) =>
          new Promise<ShardStats>((resolve) => {
            const id = ++this.statsSeq;
            this.statsWaiting.set(id, resolve);
            s.worker.postMessage({ type: 'stats', id } satisfies ToShard);
          }),
      ),
    );
  }

  /** Asks every shard (or the inline one) for monitoring data of one kind. */
  private monitorQuery<T>(kind: 'connz' | 'subsz' | 'metrics', query: ConnzQuery & { list: boolean; test: string | null }): Promise<T[]> {
    if (this.inline !== null) {
      const sh = this.inline;
      return Promise.resolve([(kind === 'connz' ? shardConnz(sh, query) : kind === 'subsz' ? shardSubsz(sh, query.list, query.test) : shardMetrics(sh)) as T]);
    }
    return Promise.all(
      this.shards.map(
        (s) =>
          new Promise<T>((resolve) => {
            const id = ++this.statsSeq;
            this.monitorWaiting.set(id, resolve as (d: unknown) => void);
            s.worker.postMessage({ type: 'monitor', id, kind, query } satisfies ToShard);
          }),
      ),
    );
  }

  private monitorSource(): MonitorSource {
    const q0 = { subs: 'none' as const, state: 'open' as const, cid: 0, auth: false, list: false, test: null };
    return {
      varz: () => this.varz(),
      connz: async (p) => {
        const q = parseConnzQuery(p);
        // Shards hand over their closed connections' records before they answer.
        const per = await this.monitorQuery<ConnInfo[]>('connz', { ...q, list: false, test: null });
        const all = per.flat();
        if (q.state !== 'open') for (const c of this.closed.infos(q)) all.push(c);
        return buildConnz(this.identity, q, p, all);
      },
      subsz: async (p) => {
        const subs = p.get('subs');
        const list = subs === '1' || subs === 'true' || subs === 'detail';
        const test = p.get('test');
        return buildSubsz(this.identity, p, await this.monitorQuery<SubszShard>('subsz', { ...q0, list, test: test === '' ? null : test }));
      },
      routez: (p) => {
        if (this.cluster === null) return Promise.resolve(buildRoutez(this.identity));
        const subs = p.get('subs');
        return this.cluster.routez(subs === 'detail' ? 'detail' : subs === '1' || subs === 'true' ? 'list' : 'none');
      },
      accountz: (p) => Promise.resolve(buildAccountz(this.identity, this.opts, p)),
      jsz: async (p) => {
        const q = parseJszQuery(p);
        const base = buildJsz(this.identity, this.opts);
        const live = this.js !== null ? await this.js.jsz(q) : null;
        // leader-only: only the meta leader answers (a single server is its own leader).
        const meta = live?.['meta_cluster'] as { leader?: string } | undefined;
        if (q.leaderOnly === true && meta !== undefined && meta.leader !== this.identity.serverName) throw new MonitorError('filtered response: not leader');
        return live === null ? base : { ...base, ...live };
      },
      healthz: (p) => {
        const js = this.js;
        return healthz(p, { jetstream: js === null ? null : { running: js.running, assets: (o) => js.healthz(o) } });
      },
      metrics: async () => {
        const [stats, metrics, routez] = await Promise.all([this.shardStats(), this.monitorQuery<ShardMetrics>('metrics', q0), this.cluster?.routez('none') ?? null]);
        const text = buildMetrics(stats, metrics, { uptimeSeconds: (Date.now() - this.started.getTime()) / 1000, rssBytes: process.memoryUsage.rss() });
        return routez === null ? text : text + routeMetrics(routez);
      },
    };
  }

  async varz(): Promise<Record<string, unknown>> {
    const [shards, jetstream] = await Promise.all([this.shardStats(), this.js !== null ? this.js.jsz() : Promise.resolve(null)]);
    const cluster = this.cluster !== null ? { block: this.cluster.varzCluster(), routes: this.cluster.numRoutes() } : undefined;
    return buildVarz({ identity: this.identity, opts: this.opts, start: this.started, shards, httpPort: this.httpPort, jetstream, mqtt: mqttVarz(this.opts, this.mqtt?.port ?? 0), ...(cluster !== undefined ? { cluster } : {}) });
  }

  /** SIGHUP: re-read the config file and hand the new options to every shard. */
  reload(): void {
    if (!this.opts.configFile) {
      this.log.warn('Reload: no configuration file to reload');
      return;
    }
    try {
      const loaded = loadConfigFile(this.opts.configFile);
      for (const w of loaded.warnings) this.log.warn(w);
      const next = this.reapplyFlags(loaded.opts);
      // What cannot change without a restart stays as it is.
      next.host = this.opts.host;
      next.port = this.opts.port;
      next.shards = this.opts.shards;
      next.accounts = this.opts.accounts;
      next.cluster = this.opts.cluster;
      this.opts = next;
      this.log.level = next.trace ? 'trace' : next.debug ? 'debug' : 'info';
      if (this.inline !== null) this.inline.reload(next);
      for (const sh of this.shards) sh.worker.postMessage({ type: 'reload', opts: next } satisfies ToShard);
      this.log.info('Reloaded server configuration');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'Failed to reload server configuration');
    }
  }

  reopenLog(): void {
    this.log.reopen?.();
    for (const sh of this.shards) sh.worker.postMessage({ type: 'reopen-log' } satisfies ToShard);
  }

  /** USR2: stop accepting, tell clients (INFO ldm), close them over lame_duck_duration, then stop. */
  lameDuck(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.log.info('Entering lame duck mode, stop accepting new clients');
    const { lameDuckDurationMs, lameDuckGracePeriodMs } = this.opts;
    this.stopping = (async () => {
      await this.closeListeners();
      this.cluster?.lameDuck();
      if (this.inline !== null) await this.inline.lameDuck(lameDuckDurationMs, lameDuckGracePeriodMs);
      for (const s of this.shards) s.worker.postMessage({ type: 'ldm', durationMs: lameDuckDurationMs, graceMs: lameDuckGracePeriodMs } satisfies ToShard);
      await Promise.all(this.shards.map((s) => s.stopped));
      await this.finish();
    })();
    return this.stopping;
  }

  /** A ring big enough that any frame (max_payload plus its control data) fits in half of it. */
  private newRing(): SharedArrayBuffer {
    // TSNATS_RING_SIZE (bytes) lets tests force tiny rings to exercise back-pressure.
    const forced = Number(process.env['TSNATS_RING_SIZE'] ?? 0);
    const min = 2 * (this.opts.maxPayload + 8 * 1024) + 1024;
    return createRingBuffer(forced > 0 ? Math.max(forced, min) : Math.max(4 * 1024 * 1024, 4 * (this.opts.maxPayload + 64 * 1024)));
  }

  /** New rings between peer `id` and every peer it talks to: a replaced peer starts from empty rings. */
  private renewRings(id: number): void {
    this.bells[id] = new SharedArrayBuffer(64);
    for (let j = 0; j < this.rings.length; j++) {
      if (j === id || this.rings[id]![j] === undefined) continue;
      this.rings[id]![j] = this.newRing();
      this.rings[j]![id] = this.newRing();
    }
  }

  /** The rings between `peer` and `id`, as `peer` sees them. */
  private ringsTo(peer: number, id: number): PeerRings {
    return { id, out: this.rings[peer]![id]!, in: this.rings[id]![peer]!, bell: this.bells[id]!, ownBell: this.bells[peer]! };
  }

  private peerRingsOf(id: number): PeerRings[] {
    const out: PeerRings[] = [];
    for (let j = 0; j < this.rings.length; j++) {
      const o = this.rings[id]![j];
      const i = this.rings[j]![id];
      if (j !== id && o !== undefined && i !== undefined) out.push({ id: j, out: o, in: i, bell: this.bells[j]!, ownBell: this.bells[id]! });
    }
    return out;
  }

  private startShard(id: number, gate?: Promise<void>, handoff?: HandoffSender): Promise<ShardHandle> {
    return (async () => {
      const sender = handoff ?? (await HandoffSender.create());
      const w = this.opts.websocket;
      const workerData: ShardWorkerData = {
        shardId: id,
        opts: this.opts,
        identity: this.identity,
        handoffFd: sender.receiverFd,
        peers: this.peerRingsOf(id),
        // A child App where uWS may serve WebSocket (not with TLS there: native-free serves that).
        uwsWs: w !== null && w.tls === null && !this.opts.nativeFree,
        cidCounter: this.cidCounter,
        waitForGo: gate !== undefined,
      };
      const worker = new Worker(new URL('../shard/worker.js', import.meta.url), { workerData });
      gate?.then(
        () => worker.postMessage({ type: 'go' } satisfies ToShard),
        () => {},
      );
      let onStopped: () => void = () => {};
      const handle: ShardHandle = { id, worker, sender, load: 0, stopped: new Promise((r) => (onStopped = r)) };
      await new Promise<void>((resolve, reject) => {
        worker.on('message', (m: FromShard) => {
          if (m.type === 'ready') {
            if (m.uwsDescriptor !== undefined) handle.uwsDescriptor = m.uwsDescriptor;
            resolve();
          }
          else if (m.type === 'load') handle.load = m.conns;
          // A shard's pipe for moving connections to another (src/shard/migrate.ts): its receiving end.
          else if (m.type === 'migrate-pipe') this.shards.find((s) => s.id === m.to)?.worker.postMessage({ type: 'migrate-pipe', fd: m.fd } satisfies ToShard);
          else if (m.type === 'closed') this.closed.add(m.records);
          else if (m.type === 'gc') this.debugGc();
          else if (m.type === 'stopped') onStopped();
          else if (m.type === 'bcrypt') {
            void this.bcryptService().then((svc) =>
              svc.request(worker.threadId, m.id, { password: m.password, hash: m.hash, key: m.key, deadline: m.deadline }, (ok) =>
                worker.postMessage({ type: 'bcrypt-result', id: m.id, ok } satisfies ToShard),
              ),
            );
          } else if (m.type === 'bcrypt-cancel') {
            this.bcrypt?.cancel(worker.threadId, m.id);
          } else if (m.type === 'monitor') {
            const f = this.monitorWaiting.get(m.id);
            this.monitorWaiting.delete(m.id);
            f?.(m.data);
          } else if (m.type === 'stats') {
            const f = this.statsWaiting.get(m.id);
            this.statsWaiting.delete(m.id);
            f?.(m.stats);
          } else if (m.type === 'cluster') {
            this.cluster?.onShardMessage(id, m.m);
          }
        });
        worker.once('error', (err) => {
          this.log.error({ shard: id, err: err.message }, 'shard failed');
          reject(err);
        });
        worker.once('exit', (code) => {
          onStopped();
          if (this.stopping === null) this.replaceShard(handle, code);
        });
      });
      return handle;
    })();
  }

  /**
   * A shard died: its connections died with it. Give the others new rings to and from its
   * replacement (they drop its interest and send theirs), then start the replacement.
   */
  private replaceShard(dead: ShardHandle, code: number): void {
    const id = dead.id;
    this.log.error({ shard: id, code }, 'shard exited unexpectedly; its connections are closed; starting a replacement');
    dead.sender.close();
    if (this.wsApp !== null && dead.uwsDescriptor !== undefined) this.childApps(dead.uwsDescriptor, false);
    dead.load = Number.MAX_SAFE_INTEGER; // no new connections until replaced
    this.cluster?.shardGone(id);
    this.renewRings(id);
    for (const s of this.shards) if (s.id !== id) s.worker.postMessage({ type: 'peer-reset', rings: this.ringsTo(s.id, id) } satisfies ToShard);
    this.js?.resetPeer(this.ringsTo(this.jsPeer, id));
    setTimeout(() => {
      if (this.stopping !== null) return;
      this.startShard(id).then(
        (h) => {
          this.shards[id] = h;
          if (this.wsApp !== null && h.uwsDescriptor !== undefined) this.addChild(h.uwsDescriptor);
          this.cluster?.shardStarted(id);
          this.log.info({ shard: id }, 'replacement shard ready');
        },
        (err: unknown) => this.log.error({ shard: id, err: String(err) }, 'replacement shard failed to start'),
      );
    }, 100);
  }

  /**
   * The JetStream worker died (a bug, not a shutdown): the shards get new rings to its replacement
   * (they drop its interest and send theirs again), and a new worker recovers the streams from disk.
   * Acknowledged messages of file streams are on disk; memory streams are lost, as after a restart.
   */
  private replaceJetStream(code: number): void {
    const id = this.jsPeer;
    const now = Date.now();
    this.jsCrashes = this.jsCrashes.filter((t) => now - t < 60_000);
    this.jsCrashes.push(now);
    const giveUp = this.jsCrashes.length > 5;
    // Fresh rings either way: the shards drop the dead worker's interest (its subjects answer
    // "no responders" instead of filling a ring nobody drains) and tell a replacement theirs.
    this.renewRings(id);
    for (const s of this.shards) s.worker.postMessage({ type: 'peer-reset', rings: this.ringsTo(s.id, id) } satisfies ToShard);
    this.inline?.resetPeer(this.ringsTo(0, id));
    if (giveUp) {
      // A worker that dies again at once (say, on recovering some stream) would only loop.
      this.log.error({ code }, 'JetStream worker exited unexpectedly again (6 times in a minute); JetStream stays down until restart');
      return;
    }
    this.log.error({ code }, 'JetStream worker exited unexpectedly; starting a replacement (file streams are recovered from disk)');
    setTimeout(() => {
      if (this.stopping !== null || this.js === null) return;
      this.js.start(this.opts, this.identity, this.peerRingsOf(id)).then(
        () => this.log.info('replacement JetStream worker ready'),
        (err: unknown) => this.log.error({ err: String(err) }, 'replacement JetStream worker failed to start'),
      );
    }, 100);
  }

  private onConnection(socket: net.Socket, kind: 'client' | 'ws' | 'mqtt'): void {
    const cid = Atomics.add(this.cids, 0, 1) + 1;
    if (this.inline !== null) {
      if (kind === 'ws') void this.inline.acceptWs(socket, cid).then(() => socket.resume());
      else if (kind === 'mqtt') {
        mqttOf(this.inline).adoptSocket(socket, cid);
        socket.resume();
      }
      else {
        this.inline.addConnection(socket, cid, this.opts.tls !== null ? 'tls' : 'data');
        socket.resume();
      }
      return;
    }
    // Least-loaded shard.
    let target = this.shards[0]!;
    for (const s of this.shards) if (s.load < target.load) target = s;
    // max_connections is server-wide: the main thread sees every shard's load. An over-limit
    // connection is still handed over (negative id) so its shard can send INFO and the -ERR.
    let total = 0;
    for (const sh of this.shards) if (sh.load !== Number.MAX_SAFE_INTEGER) total += sh.load;
    const over = this.opts.maxConnections > 0 && total >= this.opts.maxConnections;
    const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
    if (handle === null) return; // gone while it waited in the accept gate
    target.load++;
    target.sender.send(handle, `${over ? '!' : ''}${kind === 'ws' ? 'w' : kind === 'mqtt' ? MQTT_TAG : ''}${cid}`, () => {
      // Sent (or the shard is gone): either way main's own copy of the descriptor goes now.
      socket.destroy();
    });
  }

  /** Stop accepting, let shards flush and close their connections, then stop the workers. */
  shutdown(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.log.info('Initiating Shutdown...');
      this.cluster?.stop();
      await this.closeListeners();
      if (this.inline !== null) await this.inline.shutdown();
      for (const s of this.shards) s.worker.postMessage({ type: 'shutdown' } satisfies ToShard);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.shards.map((s) => s.stopped)), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      await this.finish();
    })();
    return this.stopping;
  }

  /**
   * Stop accepting. Not awaiting close()'s callback: it waits for every accepted socket to end, and
   * in the main-thread fallback those are the live clients, closed only after this.
   */
  private async closeListeners(): Promise<void> {
    for (const l of [this.listener, this.wsListener, this.mqtt?.server ?? null]) l?.close();
    this.cluster?.closeListener();
    // uWS order (DESIGN.md): the acceptor lets go of the children before any shard closes its App.
    if (this.wsApp !== null) {
      for (const sh of this.shards) if (sh.uwsDescriptor !== undefined) this.childApps(sh.uwsDescriptor, false);
      this.uws!.us_listen_socket_close(this.wsListenSocket as Parameters<Uws['us_listen_socket_close']>[0]);
    }
  }

  private addChild(descriptor: number): void {
    this.childApps(descriptor, true);
  }

  private childApps(descriptor: number, add: boolean): void {
    const app = this.wsApp as unknown as { addChildAppDescriptor(d: number): void; removeChildAppDescriptor(d: number): void };
    if (add) app.addChildAppDescriptor(descriptor);
    else app.removeChildAppDescriptor(descriptor);
  }

  private async finish(): Promise<void> {
    for (const s of this.shards) {
      s.sender.close();
      await s.worker.terminate();
    }
    // After the shards: whatever they handed over is in the stores before those close.
    if (this.js !== null) await this.js.stop();
    if (this.http !== null) await this.http.close();
    this.wsApp?.close();
    if (this.bcrypt !== null) await this.bcrypt.destroy();
    if (this.opts.pidFile) rmSync(this.opts.pidFile, { force: true });
    this.portsFile.remove();
    this.log.info('Server Exiting..');
  }
}
