// Clustered JetStream in the JetStream worker (jetstream_cluster.go: setupMetaGroup, monitorCluster,
// processStreamAssignment / processConsumerAssignment and their removals; jetstream_api.go's clustered
// request paths). One per server when a cluster block and JetStream are configured; the engine hands
// it every message first (EngineCluster.intercept).
//
//   - RAFT: the meta group `_meta_` (MetaController) and a group per replicated stream and consumer
//     this server is a member of, all over one LinkTransport in the system account ($NRG.>), whose
//     interest the routes hear of.
//   - The API, as nats-server serves it in a cluster: every server subscribes the system account's
//     `$JS.API.>`; a client's request in its own account is taken by its server, which answers it as
//     one of the cluster's servers and forwards it into the system account (with its ClientInfo in
//     Nats-Request-Info and a `_R_` reply that routes bring back here). Only the responsible server
//     answers: the meta leader for placement and listings, the stream or consumer leader for info.
//   - Assignments the meta group commits become local streams and consumers with their groups
//     (stream-group.ts, consumer-group.ts); statsz (statsz.ts) feeds placement.

import { join } from 'node:path';
import { InterestFlags } from '../../shard/peer.js';
import { LinkTransport } from '../raft/link-transport.js';
import { META_GROUP, STORE_DIR_NAME, peerId, randomToken } from '../raft/ids.js';
import type { RaftLog, RaftTiming } from '../raft/types.js';
import { MetaController } from './meta-controller.js';
import type { MetaChange } from './meta-state.js';
import { Statsz, type JetStreamStatsz } from './statsz.js';
import { SysSubs } from './sys-subs.js';
import { serviceAccount, type ClientInfo, type ConsumerAssignment, type StreamAssignment } from './assignments.js';
import { ClusterApi } from './cluster-api.js';
import { StreamGroup } from './stream-group.js';
import { ConsumerGroup } from './consumer-group.js';
import { clusterInfoOf, type ClusterInfoJson } from './cluster-info.js';
import { checkStreamConfig } from '../stream-config.js';
import { buildHeaders, getHeader } from '../headers.js';
import type { JetStream, EngineCluster, JsAccount } from '../engine.js';
import type { AssetHealth, HealthzError, HealthzOptions } from '../../monitor/healthz.js';
import type { JsHost, JsInbound } from '../types.js';
import type { Stream } from '../stream.js';
import type { PlacementContext } from './placement.js';

/** events.go ClientInfoHdr. */
export const CLIENT_INFO_HDR = 'Nats-Request-Info';
/** How long a forwarded request's answer is waited for (nats-server's response threshold). */
const RESPONSE_TTL_MS = 120_000;
/** jetstream_cluster.go isLeaderless: no meta leader for this long after start. */
const LEADERLESS_MS = 10_000;

export interface JsClusterOptions {
  serverName: string;
  serverId: string;
  clusterName: string;
  host: string;
  /** Configured routes (the meta group's bootstrap size estimate). */
  routes: number;
  sysAcc: number;
  sysAccountName: string;
  /** `<store_dir>/jetstream` */
  jsDir: string;
  maxMemory: number;
  maxStore: number;
  tags: string[];
  version: string;
  uniqueTag?: string;
  timing?: Partial<RaftTiming>;
}

interface PendingReply {
  acc: number;
  reply: string;
  expires: number;
}

export class JsCluster implements EngineCluster {
  readonly js: JetStream;
  readonly host: JsHost;
  readonly opts: JsClusterOptions;
  readonly ourId: string;
  readonly sysAcc: number;
  readonly subs: SysSubs;
  readonly transport: LinkTransport;
  readonly statsz: Statsz;
  readonly meta: MetaController;
  readonly api: ClusterApi;
  readonly raftLog: RaftLog;
  /** Streams this server holds a replica of, by `account\0stream`. */
  readonly streams = new Map<string, StreamGroup>();
  /** Consumers this server is a member of, by `account\0stream\0consumer`. */
  readonly consumers = new Map<string, ConsumerGroup>();
  readonly created = Date.now();
  private readonly respPrefix: string;
  private readonly pending = new Map<string, PendingReply>();
  private readonly reqPrefix: string;
  private readonly requests = new Map<string, (m: JsInbound) => void>();
  private changes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(js: JetStream, opts: JsClusterOptions) {
    this.js = js;
    this.host = js.host;
    this.opts = opts;
    this.ourId = peerId(opts.serverName);
    this.sysAcc = opts.sysAcc;
    const log = js.log;
    this.raftLog = { debug: (m) => log.debug(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
    this.subs = new SysSubs(this.host);
    this.transport = new LinkTransport(this.host, opts.sysAcc);
    this.statsz = new Statsz(this.host, this.subs, opts.sysAcc, { name: opts.serverName, id: opts.serverId, host: opts.host, cluster: opts.clusterName, version: opts.version, tags: opts.tags }, () => this.statszJs());
    this.respPrefix = `_R_.${randomToken(6)}.`;
    this.reqPrefix = `$JSC.R.${randomToken(6)}.`;
    this.meta = new MetaController({
      jsDir: opts.jsDir,
      sysAccount: opts.sysAccountName,
      id: this.ourId,
      transport: this.transport,
      knownPeers: [this.ourId],
      routes: opts.routes,
      placement: () => this.placement(),
      onChanges: (c) => this.onMetaChanges(c),
      onLeaderChange: (l) => this.onMetaLeader(l),
      timing: opts.timing,
      log: this.raftLog,
    });
    this.api = new ClusterApi(this);
  }

  /** After the engine recovered its streams: statsz, the API subscriptions, the meta group. */
  start(): void {
    this.statsz.start();
    this.statsz.onNewNode = () => {};
    // Every server takes API requests in the system account, as nats-server's jsAllAPI sysSubscribe.
    this.subs.subscribe(this.sysAcc, '$JS.API.>', (m) => this.onSysApi(m));
    this.subs.subscribe(this.sysAcc, `${this.respPrefix}>`, (m) => this.onResponse(m));
    this.subs.subscribe(this.sysAcc, `${this.reqPrefix}*`, (m) => this.requests.get(m.subject)?.(m));
    this.meta.start();
    this.timer = setInterval(() => this.sweep(), 10_000);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.statsz.sendShutdown();
    this.statsz.stop();
    await this.changes.catch(() => {});
    for (const cg of this.consumers.values()) await cg.stop(false);
    for (const sg of this.streams.values()) sg.stop(false);
    this.meta.stop();
  }

  // ---- messages ----------------------------------------------------------------------------------

  intercept(m: JsInbound): boolean {
    if (m.acc === this.sysAcc) {
      if (this.transport.deliver(m.acc, m.subject, m.reply, m.data)) return true;
      this.subs.dispatch(m);
      return true;
    }
    const subject = m.subject;
    if (subject.charCodeAt(0) !== 36 /* $ */ || !subject.startsWith('$JS.API.')) return false;
    const a = this.js.accountByIndex(m.acc);
    if (a === undefined) return false; // not a JetStream account: the engine answers 10039
    this.api.fromAccount(a, m);
    return true;
  }

  /**
   * A client's API request in its account, here as in nats-server's service import into the system
   * account: to every other server (routes) with the ClientInfo header and a `_R_` reply of ours, and
   * handled here as one of the cluster's servers. Answers come back on the `_R_` reply.
   */
  forwardRequest(a: JsAccount, m: JsInbound): { ci: ClientInfo; reply: string } {
    const ci: ClientInfo = { acc: a.name, server: this.opts.serverName, cluster: this.opts.clusterName };
    let reply = '';
    if (m.reply !== null) {
      reply = this.respPrefix + randomToken(10);
      this.pending.set(reply, { acc: a.idx, reply: m.reply, expires: Date.now() + RESPONSE_TTL_MS });
    }
    const hdr = buildHeaders(null, [[CLIENT_INFO_HDR, JSON.stringify(ci)]]);
    this.host.publishOut!(this.sysAcc, m.subject, reply === '' ? null : reply, hdr, m.data);
    return { ci, reply };
  }

  /** An answer on one of our `_R_` replies: to the client, in its account. */
  private onResponse(m: JsInbound): void {
    const p = this.pending.get(m.subject);
    if (p === undefined) return;
    this.pending.delete(m.subject);
    this.host.publish(p.acc, p.reply, null, m.hdr, m.data);
  }

  /** `$JS.API.>` in the system account: a forwarded request (with ClientInfo) or a system user's. */
  private onSysApi(m: JsInbound): void {
    const cij = getHeader(m.hdr, CLIENT_INFO_HDR);
    if (cij === null) {
      this.api.fromSystem(m);
      return;
    }
    let ci: ClientInfo;
    try {
      ci = JSON.parse(cij) as ClientInfo;
    } catch {
      return;
    }
    const idx = this.js.accountNames.indexOf(serviceAccount(ci));
    const a = idx < 0 ? undefined : this.js.accountByIndex(idx);
    if (a === undefined) return;
    this.api.handle(ci, a, m.subject, m.reply ?? '', Buffer.from(m.data));
  }

  /** An API answer (or a cluster-internal one) in the system account. */
  respond(a: JsAccount | null, reply: string, body: Record<string, unknown>, isError = false): void {
    if (a !== null) {
      a.apiTotal++;
      if (isError) a.apiErrors++;
    }
    this.js.countApi(isError);
    if (reply === '') return;
    this.host.publish(this.sysAcc, reply, null, null, Buffer.from(JSON.stringify(body)));
  }

  /** A request in the system account (`$JSC.SI`, `$JSC.CI`): the first answer, or null on timeout. */
  request(subject: string, data: Buffer, timeoutMs: number): Promise<Buffer | null> {
    const inbox = this.reqPrefix + randomToken(10);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.requests.delete(inbox);
        resolve(null);
      }, timeoutMs);
      this.requests.set(inbox, (m) => {
        clearTimeout(t);
        this.requests.delete(inbox);
        resolve(Buffer.from(m.data));
      });
      this.host.publish(this.sysAcc, subject, inbox, null, data);
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, p] of this.pending) if (p.expires < now) this.pending.delete(k);
  }

  // ---- meta --------------------------------------------------------------------------------------

  isMetaLeader(): boolean {
    return this.meta.isLeader();
  }

  /** jetstream_cluster.go isLeaderless: no meta leader, and we have been up long enough to know. */
  isLeaderless(): boolean {
    return this.meta.node.groupLeader() === '' && Date.now() - this.created > LEADERLESS_MS;
  }

  placement(): PlacementContext {
    return { peers: this.meta.node.peerNames(), nodes: this.statsz.nodes, uniqueTag: this.opts.uniqueTag };
  }

  private onMetaLeader(isLeader: boolean): void {
    if (isLeader) this.js.log.info('JetStream cluster: self is new metadata leader');
    // The meta leader takes the system account's stepdown requests (jetstream_cluster.go startUpdatesSub).
    this.statsz.send();
  }

  /** Meta changes are applied one at a time, in order (stream creation waits for its file store). */
  private onMetaChanges(changes: MetaChange[]): void {
    for (const c of changes) {
      this.changes = this.changes
        .then(() => this.applyChange(c))
        .catch((err: unknown) => this.js.log.error({ err: err instanceof Error ? err.stack : String(err) }, `JetStream cluster failed to apply ${c.op}`));
    }
  }

  private async applyChange(c: MetaChange): Promise<void> {
    if (this.stopped) return;
    switch (c.op) {
      case 'stream-assign':
        this.api.inflightDone(c.sa);
        if (!c.isMember) return this.dropStream(c.sa);
        return this.assignStream(c.sa);
      case 'stream-update': {
        const sg = this.streams.get(streamKey(c.sa));
        if (!c.isMember) return this.dropStream(c.sa);
        if (sg === undefined) return this.assignStream(c.sa);
        return sg.update(c.sa);
      }
      case 'stream-remove':
        return this.removeStream(c.sa, c.isMember);
      case 'consumer-assign':
        return this.assignConsumer(c.ca, c.isMember);
      case 'consumer-remove':
        return this.removeConsumer(c.ca, c.isMember);
      default:
        return;
    }
  }

  private async assignStream(sa: StreamAssignment): Promise<void> {
    const key = streamKey(sa);
    const existing = this.streams.get(key);
    if (existing !== undefined) {
      if (existing.sa.group.name === sa.group.name) return existing.reassign(sa);
      // A new group for the same stream (re-placed): start over with the new one.
      existing.stop(true);
      this.streams.delete(key);
    }
    const idx = this.js.accountNames.indexOf(serviceAccount(sa.client));
    const a = idx < 0 ? undefined : this.js.accountByIndex(idx);
    if (a === undefined) return;
    const r = checkStreamConfig(sa.stream);
    if (!r.ok) {
      this.js.log.warn(`JetStream cluster could not use the config of stream '${a.name} > ${String(sa.stream['name'])}': ${r.error.description}`);
      return;
    }
    let s: Stream | undefined = a.streams.get(r.config.name);
    if (s === undefined) {
      s = await this.js.createStream(a, r.config, createdNs(sa.created));
    } else if (JSON.stringify(s.config) !== JSON.stringify(r.config)) {
      this.js.updateStream(a, s, r.config);
    }
    const sg = new StreamGroup(this, a, s, sa);
    this.streams.set(key, sg);
    sg.start();
  }

  /** The assignment moved this stream off this server: its replica goes. */
  private async dropStream(sa: StreamAssignment): Promise<void> {
    const key = streamKey(sa);
    const sg = this.streams.get(key);
    if (sg === undefined) return;
    this.streams.delete(key);
    for (const [k, cg] of this.consumers) if (cg.sg === sg) {
      this.consumers.delete(k);
      await cg.stop(true);
    }
    sg.stop(true);
    await this.js.deleteStream(sg.account, sg.stream);
  }

  /** processStreamRemoval / processClusterDeleteStream. */
  private async removeStream(sa: StreamAssignment, isMember: boolean): Promise<void> {
    const key = streamKey(sa);
    const sg = this.streams.get(key);
    const wasLeader = sg?.isLeader() ?? false;
    const hadLeader = sg === undefined || sg.hasLeader();
    let err: string | null = null;
    if (sg !== undefined) {
      this.streams.delete(key);
      for (const [k, cg] of this.consumers) if (cg.sg === sg) {
        this.consumers.delete(k);
        await cg.stop(true);
      }
      sg.stop(true);
      try {
        await this.js.deleteStream(sg.account, sg.stream);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
    }
    // The leader answers; without one every member does (and the meta leader if nobody else can).
    if (!isMember || (hadLeader && !wasLeader)) {
      if (!(this.isMetaLeader() && this.api.allPeersOffline(sa.group.peers))) return;
    }
    const a = this.accountOf(sa.client);
    if (a === undefined) return;
    this.api.answer(a, sa.reply, 'io.nats.jetstream.api.v1.stream_delete_response', err === null ? { success: true } : null, err === null ? null : { code: 500, err_code: 10051, description: err });
  }

  private async assignConsumer(ca: ConsumerAssignment, isMember: boolean): Promise<void> {
    const skey = `${serviceAccount(ca.client)}\0${ca.stream}`;
    const key = `${skey}\0${ca.name}`;
    const existing = this.consumers.get(key);
    if (!isMember) {
      if (existing !== undefined) {
        this.consumers.delete(key);
        await existing.stop(true);
      }
      return;
    }
    if (existing !== undefined) {
      if (existing.ca.group.name === ca.group.name) return existing.reassign(ca);
      this.consumers.delete(key);
      await existing.stop(true);
    }
    const sg = this.streams.get(skey);
    if (sg === undefined) {
      this.js.log.warn(`JetStream cluster has no stream '${skey.replace('\0', ' > ')}' for consumer '${ca.name}'`);
      return;
    }
    const cg = new ConsumerGroup(this, sg, ca);
    this.consumers.set(key, cg);
    cg.start();
  }

  private async removeConsumer(ca: ConsumerAssignment, isMember: boolean): Promise<void> {
    const key = `${serviceAccount(ca.client)}\0${ca.stream}\0${ca.name}`;
    const cg = this.consumers.get(key);
    const wasLeader = cg?.isLeader() ?? false;
    const hadLeader = cg === undefined || cg.hasLeader();
    if (cg !== undefined) {
      this.consumers.delete(key);
      await cg.stop(true);
    }
    if (!isMember || (hadLeader && !wasLeader)) {
      if (!(this.isMetaLeader() && this.api.allPeersOffline(ca.group.peers))) return;
    }
    const a = this.accountOf(ca.client);
    if (a === undefined) return;
    this.api.answer(a, ca.reply, 'io.nats.jetstream.api.v1.consumer_delete_response', { success: true }, null);
  }

  accountOf(ci: ClientInfo | undefined): JsAccount | undefined {
    const idx = this.js.accountNames.indexOf(serviceAccount(ci));
    return idx < 0 ? undefined : this.js.accountByIndex(idx);
  }

  /** Subscribes an account subject the cluster must hear of (stream and consumer leaders). */
  subscribeAnnounced(acc: number, subject: string, queue: string | null = null): () => void {
    this.host.subscribe(acc, subject, InterestFlags.ANNOUNCE, queue);
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      this.host.unsubscribe(acc, subject, InterestFlags.ANNOUNCE, queue);
    };
  }

  /** `<store_dir>/jetstream/<system account>/_js_/<group>` */
  groupDir(group: string): string {
    return join(this.opts.jsDir, this.opts.sysAccountName, STORE_DIR_NAME, group);
  }

  serverNameOf(id: string): string {
    if (id === this.ourId) return this.opts.serverName;
    return this.statsz.name(id) ?? '';
  }

  // ---- monitoring --------------------------------------------------------------------------------

  private statszJs(): JetStreamStatsz {
    const j = this.js.jsz();
    const leader = this.meta === undefined ? '' : this.meta.node.groupLeader();
    return {
      config: { max_memory: this.opts.maxMemory < 0 ? 0 : this.opts.maxMemory, max_storage: this.opts.maxStore < 0 ? 0 : this.opts.maxStore, store_dir: this.opts.jsDir },
      stats: {
        memory: Number(j['memory'] ?? 0),
        storage: Number(j['storage'] ?? 0),
        reserved_memory: Number(j['reserved_memory'] ?? 0),
        reserved_storage: Number(j['reserved_storage'] ?? 0),
        accounts: Number(j['accounts'] ?? 0),
        ha_assets: this.haAssets(),
        api: (j['api'] as { total: number; errors: number }) ?? { total: 0, errors: 0 },
      },
      ...(this.meta === undefined ? {} : { meta: { name: META_GROUP, leader: this.serverNameOf(leader), peer: leader, cluster_size: this.meta.node.clusterSize() } }),
    };
  }

  /** RAFT groups of this server (the meta group included), as nats-server's numRaftNodes. */
  haAssets(): number {
    let n = 1;
    for (const sg of this.streams.values()) if (sg.node !== null) n++;
    for (const cg of this.consumers.values()) if (cg.node !== null) n++;
    return n;
  }

  jsz(): Record<string, unknown> {
    const node = this.meta.node;
    const leaderId = node.groupLeader();
    const mc: Record<string, unknown> = { name: this.opts.clusterName };
    if (leaderId !== '') {
      mc['leader'] = this.serverNameOf(leaderId);
      mc['peer'] = leaderId;
    }
    if (node.isLeader()) mc['replicas'] = clusterInfoOf(this, node, node.peerNames(), false).replicas ?? [];
    mc['cluster_size'] = node.clusterSize();
    return { ha_assets: this.haAssets(), meta_cluster: mc };
  }

  /** Cluster info of a stream or consumer this server holds (stream/consumer info, /jsz). */
  streamClusterInfo(s: Stream): ClusterInfoJson | null {
    const sg = this.streams.get(`${s.account}\0${s.name}`);
    return sg === undefined ? null : sg.clusterInfo();
  }

  streamRaftGroup(s: Stream): { stream: string; consumers: { name: string; raft_group: string }[] } | null {
    const sg = this.streams.get(`${s.account}\0${s.name}`);
    if (sg === undefined) return null;
    const consumers: { name: string; raft_group: string }[] = [];
    for (const cg of this.consumers.values()) if (cg.sg === sg) consumers.push({ name: cg.ca.name, raft_group: cg.ca.group.name });
    return { stream: sg.sa.group.name, consumers };
  }

  /** monitor.go healthz, clustered. */
  healthz(o: HealthzOptions): AssetHealth {
    const fail = (e: HealthzError): AssetHealth => (o.details ? { code: 503, status: 'error', errors: [e] } : { code: 503, status: 'unavailable', error: e.error });
    const node = this.meta.node;
    if (node.groupLeader() === '') return fail({ type: 'JETSTREAM', error: 'JetStream has not established contact with a meta leader' });
    if (!node.current()) return fail({ type: 'JETSTREAM', error: 'JetStream is not current with the meta leader' });
    if (o.jsServerOnly) return { code: 200, status: 'ok' };
    for (const sg of this.streams.values()) {
      if (o.account !== '' && sg.account.name !== o.account) continue;
      if (o.stream !== '' && sg.stream.name !== o.stream) continue;
      if (!sg.isCurrent()) return fail({ type: 'STREAM', account: sg.account.name, stream: sg.stream.name, error: `JetStream stream '${sg.account.name} > ${sg.stream.name}' is not current` });
    }
    for (const cg of this.consumers.values()) {
      if (o.account !== '' && cg.sg.account.name !== o.account) continue;
      if (o.stream !== '' && cg.sg.stream.name !== o.stream) continue;
      if (o.consumer !== '' && cg.ca.name !== o.consumer) continue;
      if (!cg.isCurrent()) {
        return fail({ type: 'CONSUMER', account: cg.sg.account.name, stream: cg.sg.stream.name, consumer: cg.ca.name, error: `JetStream consumer '${cg.sg.account.name} > ${cg.sg.stream.name} > ${cg.ca.name}' is not current` });
      }
    }
    return { code: 200, status: 'ok' };
  }
}

export function streamKey(sa: StreamAssignment): string {
  return `${serviceAccount(sa.client)}\0${String(sa.stream['name'] ?? '')}`;
}

/** An assignment's Go time as epoch ns (undefined when it does not parse). */
function createdNs(created: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(created);
  if (m === null) return undefined;
  const base = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(base) || base < 0) return undefined;
  return base * 1e6 + Number((m[2] ?? '').padEnd(9, '0') || '0');
}
