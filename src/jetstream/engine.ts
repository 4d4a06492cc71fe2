// The JetStream engine of the worker thread: per-account streams, `$JS.API.` dispatch (nats-server's
// jetstream_api.go apiDispatch / setJetStreamExportSubs), stream subjects → Stream.process, acks and
// flow control → the consumer plugin, and the store directory (`<storeDir>/<account>/streams/<name>/`,
// storeDir being nats-server's `<store_dir>/jetstream`).
//
// API requests are handled one at a time in arrival order: when a handler has to wait (opening or
// deleting a file store), later requests are copied and queued behind it, so a client that creates a
// stream and at once asks for its info (or adds a consumer) sees the stream — as nats-server, whose
// handlers run to completion before the next request is read.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjectMatches } from '../sublist/subject.js';
import { apiError } from './errors.js';
import { disabledAccountReply } from './api/disabled.js';
import { MemoryStore } from './store/memstore.js';
import { FileStore } from './store/filestore.js';
import { Stream } from './stream.js';
import { storeLimits } from './stream-config.js';
import { ServerResources, reservedBytes } from './resources.js';
import { accountInfo } from './api/account-api.js';
import { streamApi } from './api/stream-api.js';
import { directGet, directGetLastBySubject, msgDelete, msgGet } from './api/msg-api.js';
import { nowNs, nsToRfc3339, rfc3339ToNs } from './types.js';
import { Advisories } from './advisories.js';
import { JsDomain } from './domain.js';
import { accountResources } from './account-resources.js';
import { defaultTiers, type TieredLimits } from './account-limits.js';
import { assetHealth } from './healthz.js';
import type { AssetHealth, HealthzOptions } from '../monitor/healthz.js';
import { InternalSubs } from './internal.js';
import { Sourcing } from './sourcing/manager.js';
import type { Logger } from '../log.js';
import type { ApiErrorBody, ConsumerPlugin, EngineLike, JsHost, JsInbound, StreamConfig, StreamLike, StreamStore } from './types.js';

export interface JetStreamOptions {
  /** nats-server's `<store_dir>/jetstream`: accounts are directories below it. */
  storeDir: string;
  maxMemory: number;
  maxStore: number;
  syncIntervalMs: number;
  syncAlways: boolean;
  /** Account names by ring index. */
  accounts: string[];
  /** Ring indices of the accounts with JetStream enabled. */
  jsAccounts: number[];
  /** Accounts without JetStream (not the system account): their API requests get 10039. */
  noJsAccounts?: number[];
  /** Shown as stream info's cluster.leader, as nats-server shows its own name. */
  serverName?: string;
  serverId?: string;
  /** `jetstream { domain }`: `$JS.<domain>.API.>` is served too, and replies carry the domain. */
  domain?: string;
  /** Limits of the JetStream accounts by ring index (unlimited when absent). */
  accountLimits?: Record<number, TieredLimits>;
}

/** One JetStream-enabled account (nats-server's jsAccount). */
export interface JsAccount {
  readonly idx: number;
  readonly name: string;
  readonly streams: Map<string, Stream>;
  /** Literal subject → the stream capturing it (or null); cleared whenever streams change. */
  readonly subjectCache: Map<string, Stream | null>;
  /** JetStreamAccountLimits by tier ('' = flat). */
  limits: TieredLimits;
  apiTotal: number;
  apiErrors: number;
}

/**
 * Clustered JetStream (cluster/js-cluster.ts), when a cluster block is configured: it sees every
 * message first, places and replicates streams and consumers, and takes the subscriptions of stream
 * subjects over (only a stream's leader subscribes them, and routes hear of it).
 */
export interface EngineCluster {
  /** The system account's index: all of its messages are the cluster's (intercept). */
  readonly sysAcc: number;
  /** True when the message was the cluster's (RAFT, $JSC, the system account, the API). */
  intercept(m: JsInbound): boolean;
  /** /jsz's meta_cluster and the cluster's view of the totals. */
  jsz(): Record<string, unknown>;
  /** /healthz in a cluster (monitor.go healthz: meta leader, current, assets current). */
  healthz(o: HealthzOptions): AssetHealth;
  /** A stream's cluster block (its group's leader and replicas), null when it is not clustered here. */
  streamClusterInfo?(s: Stream): object | null;
  /** /jsz?raft=true: the stream's and its consumers' RAFT groups. */
  streamRaftGroup?(s: Stream): { stream: string; consumers: { name: string; raft_group: string }[] } | null;
}

const API_PREFIX = '$JS.API.';
const ACK_PREFIX = '$JS.ACK.';
const FC_PREFIX = '$JS.FC.';
const META_FILE = 'meta.json';
const SUBJECT_CACHE_MAX = 16_384;

export class JetStream implements EngineLike {
  readonly host: JsHost;
  readonly log: Logger;
  readonly accountNames: readonly string[];
  readonly opts: JetStreamOptions;
  readonly plugin: ConsumerPlugin | null;
  readonly serverName: string | null;
  /** max_mem_store / max_file_store: usage, reservations and the checks against them. */
  readonly resources: ServerResources;
  readonly domain: JsDomain | null;
  /** `$JS.EVENT.ADVISORY.>` / `$JS.EVENT.METRIC.>` events. */
  readonly advisories: Advisories;
  /** The engine's internal subscriptions (mirror/source inboxes and deliver subjects, snapshots). */
  readonly internal: InternalSubs;
  /** Mirrors and sources of the streams. */
  readonly sourcing: Sourcing;
  private readonly accts = new Map<number, JsAccount>();
  /** An API handler is waiting for I/O; requests queue (copied) until it is done. */
  private busy = false;
  private readonly queue: JsInbound[] = [];
  private apiTotal = 0;
  private apiErrors = 0;
  /** Clustered JetStream, set before start(); null on a single server (every path below as it was). */
  cluster: EngineCluster | null = null;
  /** While set, API replies go to this account (the cluster answers in the system account). */
  private replyOverride: { acc: number; transform: ((body: Record<string, unknown>) => Record<string, unknown>) | null } | null = null;

  constructor(host: JsHost, opts: JetStreamOptions, plugin: ConsumerPlugin | null) {
    this.host = host;
    this.log = host.log;
    this.opts = opts;
    this.plugin = plugin;
    this.accountNames = opts.accounts;
    this.serverName = opts.serverName ?? null;
    this.resources = new ServerResources(opts.maxMemory, opts.maxStore, () => this.allStreams(), this.log);
    this.domain = opts.domain ? new JsDomain(opts.domain) : null;
    this.advisories = new Advisories(host, { domain: opts.domain, serverName: opts.serverName });
    this.internal = new InternalSubs(host);
    this.sourcing = new Sourcing(this);
    for (const idx of opts.jsAccounts) {
      const name = opts.accounts[idx];
      if (name === undefined) continue;
      const limits = opts.accountLimits?.[idx] ?? defaultTiers();
      this.accts.set(idx, { idx, name, streams: new Map(), subjectCache: new Map(), limits, apiTotal: 0, apiErrors: 0 });
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** Recovers file streams, then subscribes the API, ack and flow-control subjects per account. */
  async start(): Promise<void> {
    for (const a of this.accts.values()) {
      await this.recoverAccount(a);
      this.host.subscribe(a.idx, '$JS.API.>');
      this.host.subscribe(a.idx, '$JS.ACK.>');
      this.host.subscribe(a.idx, '$JS.FC.>');
      if (this.domain !== null) this.host.subscribe(a.idx, this.domain.subscription);
    }
    for (const idx of this.opts.noJsAccounts ?? []) {
      this.host.subscribe(idx, '$JS.API.>');
      if (this.domain !== null) this.host.subscribe(idx, this.domain.subscription);
    }
    // Mirrors and sources start once every stream is back (an origin may be recovered later).
    if (this.cluster === null) for (const s of this.allStreams()) this.sourcing.attach(s);
  }

  private async recoverAccount(a: JsAccount): Promise<void> {
    const base = join(this.opts.storeDir, a.name, 'streams');
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      return;
    }
    for (const dirName of names.sort()) {
      const dir = join(base, dirName);
      let meta: { config: StreamConfig; created: string };
      try {
        meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as { config: StreamConfig; created: string };
      } catch (err) {
        this.log.warn({ err: String(err) }, `JetStream could not read the config of stream in ${dir}, skipped`);
        continue;
      }
      try {
        const cfg = meta.config;
        const store = await this.openFileStore(dir, cfg);
        const created = rfc3339ToNs(meta.created);
        const s = new Stream(this.host, a.idx, a.name, cfg, store, dir, Number.isNaN(created) ? nowNs() : created);
        s.rebuildDedupe();
        this.register(a, s);
        const st = store.state();
        this.log.info(`  Restored ${st.messages} messages for stream '${a.name} > ${cfg.name}'`);
        // Clustered: consumers come back from their assignments and groups.
        if (this.plugin !== null && this.cluster === null) await this.plugin.restore(this, s);
      } catch (err) {
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, `JetStream could not recover stream '${a.name} > ${meta.config?.name}'`);
      }
    }
  }

  /** Flushes and closes every store (server shutdown); the data stays. */
  async stop(): Promise<void> {
    this.sourcing.stopAll();
    for (const a of this.accts.values()) {
      for (const s of a.streams.values()) {
        try {
          await s.stop();
        } catch (err) {
          this.log.error({ err: String(err) }, `JetStream could not stop stream '${a.name} > ${s.name}'`);
        }
      }
    }
  }

  // ---- messages from the rings ------------------------------------------------------------------

  onMessage(m: JsInbound): void {
    if (this.cluster !== null && this.cluster.intercept(m)) return;
    // Internal subscriptions first; a delivery the engine made to itself goes nowhere else.
    const to = m.to;
    if (this.internal.size > 0 || (to !== undefined && to !== null)) {
      if (this.internal.dispatch(m.acc, to ?? m.subject, m)) return;
      if (to !== undefined && to !== null) return;
    }
    // `$JS.<domain>.API.>`: the domain's subject mappings (m is the link's own reusable object).
    let viaDomain = false;
    if (this.domain !== null && m.subject.startsWith(this.domain.prefix)) {
      const mapped = this.domain.map(m.subject);
      if (mapped === null) return;
      m.subject = mapped;
      viaDomain = true;
    }
    const a = this.accts.get(m.acc);
    if (a === undefined) {
      const body = m.reply !== null ? disabledAccountReply(m.subject) : null;
      if (body !== null) this.host.publish(m.acc, m.reply!, null, null, body);
      return;
    }
    const subject = m.subject;
    if (subject.charCodeAt(0) === 36 /* $ */) {
      if (subject.startsWith(API_PREFIX)) {
        // Counted when answered (reply / replyError), as nats-server's sendAPIResponse does.
        this.advisories.apiRequest(a.idx, a.name, subject, m.reply, m.data);
        if (this.busy) this.queue.push(copyInbound(m));
        else this.runApi(a, m);
        return;
      }
      if (subject.startsWith(ACK_PREFIX)) {
        this.plugin?.ack(this, m.acc, m);
        return;
      }
      if (subject.startsWith(FC_PREFIX)) {
        this.plugin?.flowControl(this, m.acc, m);
        return;
      }
    }
    const s = this.streamFor(a, subject);
    if (s !== null) s.process(m);
    else if (viaDomain && m.reply !== null) noResponders(this.host, a.idx, m.reply);
  }

  /**
   * JsLink.onAck: a plain ack straight from the ring frame, when nothing else could want it (not the
   * system account of a cluster, no internal subscriptions); false sends it the general way.
   */
  ackFrame(acc: number, buf: Buffer, subj: number, subjLen: number, data: number, end: number): boolean {
    const plugin = this.plugin;
    if (plugin === null || plugin.ackBytes === undefined || this.internal.size > 0) return false;
    if (this.cluster !== null && acc === this.cluster.sysAcc) return false;
    if (!this.accts.has(acc)) return false;
    return plugin.ackBytes(this, acc, buf, subj, subjLen, data, end);
  }

  private streamFor(a: JsAccount, subject: string): Stream | null {
    const hit = a.subjectCache.get(subject);
    if (hit !== undefined) return hit;
    let found: Stream | null = null;
    outer: for (const s of a.streams.values()) {
      for (const p of s.config.subjects) {
        if (subjectMatches(p, subject)) {
          found = s;
          break outer;
        }
      }
    }
    if (a.subjectCache.size >= SUBJECT_CACHE_MAX) a.subjectCache.clear();
    a.subjectCache.set(subject, found);
    return found;
  }

  private runApi(a: JsAccount, m: JsInbound): void {
    let p: Promise<void> | void;
    try {
      p = this.dispatch(a, m);
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err) }, `JetStream API request on ${m.subject} failed`);
      return;
    }
    if (p instanceof Promise) {
      this.busy = true;
      void p
        .catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.stack : String(err) }, `JetStream API request failed`))
        .then(() => this.drain());
    }
  }

  private drain(): void {
    this.busy = false;
    while (!this.busy && this.queue.length > 0) {
      const m = this.queue.shift()!;
      const a = this.accts.get(m.acc);
      if (a !== undefined) this.runApi(a, m);
    }
  }

  /** `$JS.API.<tokens>`: only the subjects nats-server subscribes; anything else gets no reply. */
  private dispatch(a: JsAccount, m: JsInbound): Promise<void> | void {
    const t = m.subject.slice(API_PREFIX.length).split('.');
    switch (t[0]) {
      case 'INFO':
        if (t.length === 1) accountInfo(this, a, m);
        return;
      case 'STREAM':
        if (t[1] === 'MSG' && t.length === 4) {
          if (t[2] === 'GET') msgGet(this, a, t[3]!, m);
          else if (t[2] === 'DELETE') msgDelete(this, a, t[3]!, m);
          return;
        }
        return streamApi(this, a, t, m);
      case 'DIRECT':
        if (t[1] !== 'GET' || t.length < 3) return;
        if (t.length === 3) directGet(this, a, t[2]!, m);
        else directGetLastBySubject(this, a, t[2]!, t.slice(3).join('.'), m);
        return;
      case 'CONSUMER':
        if (this.plugin !== null) this.plugin.api(this, m.acc, t.slice(1), m);
        return;
      default:
        return;
    }
  }

  // ---- EngineLike -------------------------------------------------------------------------------

  stream(acc: number, name: string): StreamLike | undefined {
    return this.accts.get(acc)?.streams.get(name);
  }

  /** An API response (sendAPIResponse): counted in the API statistics, audited, sent. */
  reply(acc: number, to: string | null, body: Record<string, unknown>): void {
    this.apiTotal++;
    const a = this.accts.get(acc);
    if (a !== undefined) a.apiTotal++;
    if (to === null || to === '') return;
    const ro = this.replyOverride;
    if (ro !== null && ro.transform !== null) body = ro.transform(body);
    const json = JSON.stringify(body);
    this.host.publish(ro !== null ? ro.acc : acc, to, null, null, Buffer.from(json));
    this.advisories.apiResponse(acc, to, json);
  }

  /** An API error response (sendAPIErrResponse): counted as an error too. */
  replyError(acc: number, to: string | null, type: string, err: ApiErrorBody): void {
    this.apiErrors++;
    const a = this.accts.get(acc);
    if (a !== undefined) a.apiErrors++;
    this.reply(acc, to, apiError(type, err));
  }

  /**
   * Runs a (synchronous) API handler whose replies go to account `acc` instead of the request's
   * (the cluster answers requests in the system account), each body passed through `transform`.
   */
  withReplies(acc: number, transform: ((body: Record<string, unknown>) => Record<string, unknown>) | null, fn: () => void): void {
    const prev = this.replyOverride;
    this.replyOverride = { acc, transform };
    try {
      fn();
    } finally {
      this.replyOverride = prev;
    }
  }

  /** The account's limits by tier (the consumer plugin's max_consumers / max_ack_pending). */
  limitsFor(acc: number): TieredLimits | null {
    return this.accts.get(acc)?.limits ?? null;
  }

  // ---- streams (used by api/) -------------------------------------------------------------------

  streamDir(a: JsAccount, name: string): string {
    return join(this.opts.storeDir, a.name, 'streams', name);
  }

  /** Creates the store and the stream, persists the config and subscribes the subjects. */
  async createStream(a: JsAccount, cfg: StreamConfig, createdNs?: number): Promise<Stream> {
    const created = createdNs ?? nowNs();
    let store: StreamStore;
    let dir: string | null = null;
    if (cfg.storage === 'memory') {
      store = new MemoryStore(storeLimits(cfg), { firstSeq: cfg.first_seq });
    } else {
      dir = this.streamDir(a, cfg.name);
      rmSync(dir, { recursive: true, force: true }); // leftovers of a stream deleted while down
      mkdirSync(dir, { recursive: true });
      this.writeMeta(dir, cfg, created);
      store = await this.openFileStore(dir, cfg);
    }
    const s = new Stream(this.host, a.idx, a.name, cfg, store, dir, created);
    this.register(a, s);
    if (this.cluster === null) this.sourcing.attach(s);
    return s;
  }

  private openFileStore(dir: string, cfg: StreamConfig): Promise<StreamStore> {
    return FileStore.open(dir, storeLimits(cfg), {
      firstSeq: cfg.first_seq,
      syncIntervalMs: this.opts.syncIntervalMs,
      syncAlways: this.opts.syncAlways,
      // Damage reports name the stream (and its directory) they concern.
      log: this.log.child({ stream: cfg.name, dir }),
    });
  }

  /** A stream directory put in place by a restore: opened as on recovery, then served. */
  async openRestoredStream(a: JsAccount, dir: string, cfg: StreamConfig, created: number): Promise<Stream> {
    const store = await this.openFileStore(dir, cfg);
    const s = new Stream(this.host, a.idx, a.name, cfg, store, dir, created);
    s.rebuildDedupe();
    this.register(a, s);
    if (this.plugin !== null) await this.plugin.restore(this, s);
    this.sourcing.attach(s);
    return s;
  }

  /** meta.json: the config and creation time, replaced atomically. */
  writeMeta(dir: string, cfg: StreamConfig, created: number): void {
    const tmp = join(dir, `${META_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify({ config: cfg, created: nsToRfc3339(created) }));
    renameSync(tmp, join(dir, META_FILE));
  }

  private register(a: JsAccount, s: Stream): void {
    s.resources = accountResources(this.resources, a);
    if (this.domain !== null) s.setDomain(this.domain.name);
    a.streams.set(s.name, s);
    a.subjectCache.clear();
    // Clustered: the stream's leader subscribes (and announces) its subjects.
    if (this.cluster === null) for (const subj of s.config.subjects) this.host.subscribe(a.idx, subj);
  }

  /** Applies a validated update: subjects re-subscribed, limits to the store, config persisted. */
  updateStream(a: JsAccount, s: Stream, cfg: StreamConfig): void {
    const before = new Set(s.config.subjects);
    const after = new Set(cfg.subjects);
    if (this.cluster === null) {
      for (const subj of after) if (!before.has(subj)) this.host.subscribe(a.idx, subj);
      for (const subj of before) if (!after.has(subj)) this.host.unsubscribe(a.idx, subj);
    }
    const old = s.config;
    s.update(cfg);
    this.sourcing.updated(s, old);
    a.subjectCache.clear();
    if (s.dir !== null) this.writeMeta(s.dir, cfg, s.created);
  }

  /** Removes the stream at once (no more messages reach it), then destroys consumers and store. */
  async deleteStream(a: JsAccount, s: Stream): Promise<void> {
    this.sourcing.detach(s);
    a.streams.delete(s.name);
    a.subjectCache.clear();
    if (this.cluster === null) for (const subj of s.config.subjects) this.host.unsubscribe(a.idx, subj);
    // mset.stop(deleteFlag, advisory): each consumer's delete advisory, then the stream's.
    for (const c of s.consumers.keys()) this.advisories.consumerAction(a.idx, s.name, c, 'delete');
    await s.destroy();
    if (s.dir !== null) rmSync(s.dir, { recursive: true, force: true });
    this.advisories.streamAction(a.idx, s.name, 'delete');
  }

  /** True when another stream of the account has a subject colliding with one of these. */
  overlaps(a: JsAccount, subjects: readonly string[], self: Stream | null, collide: (x: string, y: string) => boolean): boolean {
    for (const s of a.streams.values()) {
      if (s === self) continue;
      for (const x of s.config.subjects) for (const y of subjects) if (collide(x, y)) return true;
    }
    return false;
  }

  // ---- numbers ----------------------------------------------------------------------------------

  /** A JetStream-enabled account by ring index. */
  accountByIndex(idx: number): JsAccount | undefined {
    return this.accts.get(idx);
  }

  /** An API answer sent by the cluster layer (the server-wide API statistics). */
  countApi(isError: boolean): void {
    this.apiTotal++;
    if (isError) this.apiErrors++;
  }

  /** The JetStream-enabled accounts (/jsz account_details). */
  accounts(): IterableIterator<JsAccount> {
    return this.accts.values();
  }

  /** Every stream of every account (server-wide resource accounting). */
  *allStreams(): IterableIterator<Stream> {
    for (const a of this.accts.values()) yield* a.streams.values();
  }

  /** The account's reservations (jsAccount.reservedStorage): max_bytes of its streams that set one. */
  reserved(a: JsAccount): { memory: number; storage: number } {
    return { memory: reservedBytes(a.streams.values(), 'memory'), storage: reservedBytes(a.streams.values(), 'file') };
  }

  /** Usage of one account (JetStreamAccountStats minus limits and api). */
  usage(a: JsAccount): { memory: number; storage: number; streams: number; consumers: number; messages: number; bytes: number } {
    let memory = 0;
    let storage = 0;
    let consumers = 0;
    let messages = 0;
    for (const s of a.streams.values()) {
      const st = s.store.state();
      if (s.config.storage === 'memory') memory += st.bytes;
      else storage += st.bytes;
      messages += st.messages;
      consumers += s.publicConsumerCount();
    }
    return { memory, storage, streams: a.streams.size, consumers, messages, bytes: memory + storage };
  }

  /** /healthz's asset check (healthz.ts): the store's stream directories against the live streams. */
  healthz(o: HealthzOptions): AssetHealth {
    if (this.cluster !== null) return this.cluster.healthz(o);
    return assetHealth(
      {
        storeDir: this.opts.storeDir,
        account: (name) => {
          const idx = this.accountNames.indexOf(name);
          if (idx < 0) return null;
          const a = this.accts.get(idx);
          return { stream: (s) => a?.streams.get(s) };
        },
      },
      o,
    );
  }

  /** Numbers for /jsz. */
  jsz(): Record<string, unknown> {
    let memory = 0;
    let storage = 0;
    let streams = 0;
    let consumers = 0;
    let messages = 0;
    for (const a of this.accts.values()) {
      const u = this.usage(a);
      memory += u.memory;
      storage += u.storage;
      streams += u.streams;
      consumers += u.consumers;
      messages += u.messages;
    }
    // JSInfo (jetStream.usageStats): usage and reservations. `config` (the limits) comes from the
    // server's options (monitor/endpoints.ts buildJsz), which these figures are merged over.
    return {
      memory,
      storage,
      reserved_memory: this.resources.reserved('memory'),
      reserved_storage: this.resources.reserved('file'),
      streams,
      consumers,
      messages,
      bytes: memory + storage,
      api: { total: this.apiTotal, errors: this.apiErrors },
      accounts: this.accts.size,
      ...(this.cluster !== null ? this.cluster.jsz() : {}),
    };
  }
}

const NO_RESPONDERS = Buffer.from('NATS/1.0 503\r\n\r\n', 'latin1');

/**
 * A `$JS.<domain>.API.$KV.>` / `$OBJ.>` publish no stream captures: nats-server's mapping leaves it
 * without a subscriber, so the publisher gets no responders rather than waiting for a timeout.
 */
function noResponders(host: JsHost, acc: number, reply: string): void {
  host.publish(acc, reply, null, NO_RESPONDERS, null);
}

/** A copy of an inbound message that outlives the ring (for queued API requests). */
export function copyInbound(m: JsInbound): JsInbound {
  return { acc: m.acc, subject: m.subject, reply: m.reply, hdr: m.hdr === null ? null : Buffer.from(m.hdr), data: Buffer.from(m.data), to: m.to ?? null, fromRoute: m.fromRoute ?? false, queued: m.queued ?? false };
}

