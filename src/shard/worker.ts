// Entry point of a shard worker thread: receives connections from the main thread's hand-off and
// serves them. Control messages (shutdown, load reports) travel over the worker's MessagePort; they
// never carry messages or interest.

import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { HandoffReceiver } from '../transport/handoff.js';
import { Shard, type ServerIdentity, type ShardStats } from './shard.js';
import type { ServerOptions } from '../server/options.js';
import type { PeerRings } from './peer.js';
import type { ConnzQuery } from '../monitor/types.js';
import { shardConnz, shardMetrics, shardSubsz } from './monitor-data.js';
import { loadUws } from '../transport/uws.js';
import type { FromShardCluster, ToShardCluster } from '../cluster/messages.js';
import { mqttOf } from '../mqtt/shard-mqtt.js';
import { MQTT_TAG } from '../mqtt/listener.js';
import { hopTraceDir } from '../monitor/hoptrace.js';
import { installShardHopTrace } from '../monitor/hoptrace-shard.js';
import { MIGRATE_TAG, decodeState } from './migrate.js';

export interface ShardWorkerData {
  shardId: number;
  opts: ServerOptions;
  identity: ServerIdentity;
  handoffFd: number;
  /** Rings to and from every other shard. */
  peers: PeerRings[];
  /** Serve WebSocket clients through a uWS child App (the main thread's acceptor hands them over). */
  uwsWs: boolean;
  /** Server-wide connection id counter (Int32 at index 0), shared by every thread. */
  cidCounter: SharedArrayBuffer;
  /**
   * Load the code, then wait for main's 'go' before taking the rings: the JetStream worker boots
   * alongside, and its interest is in the rings by then (a shard drains them as it starts).
   */
  waitForGo?: boolean;
}

export type ToShard =
  | { type: 'go' }
  | { type: 'gc' }
  | { type: 'shutdown' }
  | { type: 'peer-reset'; rings: PeerRings }
  | { type: 'bcrypt-result'; id: number; ok: boolean | null }
  | { type: 'reload'; opts: ServerOptions }
  | { type: 'reopen-log' }
  | { type: 'ldm'; durationMs: number; graceMs: number }
  | { type: 'stats'; id: number }
  | { type: 'monitor'; id: number; kind: 'connz' | 'subsz' | 'metrics'; query: ConnzQuery & { list: boolean; test: string | null } }
  | { type: 'cluster'; m: ToShardCluster }
  /** The receiving end of a connection-moving pipe from another shard (src/shard/migrate.ts). */
  | { type: 'migrate-pipe'; fd: number };
export type FromShard =
  | { type: 'gc' }
  /** JSON of closed connections' ConnRecords (monitor/closed.ts). */
  | { type: 'closed'; records: string[] }
  | { type: 'ready'; uwsDescriptor?: number }
  | { type: 'load'; conns: number }
  | { type: 'stopped' }
  | { type: 'bcrypt'; id: number; password: string; hash: string; key: string; deadline: number }
  | { type: 'bcrypt-cancel'; id: number }
  | { type: 'stats'; id: number; stats: ShardStats }
  | { type: 'monitor'; id: number; data: unknown }
  | { type: 'cluster'; m: FromShardCluster }
  /** Give shard `to` the receiving end (fd) of this shard's connection-moving pipe to it. */
  | { type: 'migrate-pipe'; to: number; fd: number };

const data = workerData as ShardWorkerData;
const port = parentPort!;
// uWS loads while the gate is closed (it is the slowest import).
const uwsLoading = data.uwsWs ? loadUws(false) : null;
if (data.waitForGo === true) {
  const first = await new Promise<ToShard>((resolve) => port.once('message', resolve));
  if (first.type !== 'go') process.exit(0); // stopped before it started: nothing to close yet
}
const log = createLogger({ debug: data.opts.debug, trace: data.opts.trace, logtime: data.opts.logtime, name: `shard ${data.shardId}`, file: data.opts.logFile, channel: data.opts.workerLog });
// TSNATS_HOPTRACE=<dir>: per-hop latency histograms (bench/README.md); off, nothing is patched.
if (hopTraceDir() !== null) installShardHopTrace(hopTraceDir()!, data.shardId, data.peers, data.opts.jetstream.enabled);
const shard = new Shard(data.shardId, data.opts, data.identity, log, data.peers);
shard.closedRecords.sink = (records) => port.postMessage({ type: 'closed', records } satisfies FromShard);
// Test hook ($TSNATS.DEBUG.GC with TSNATS_DEBUG_HOOKS=1): main has every thread collect its garbage.
shard.onDebugGc = () => port.postMessage({ type: 'gc' } satisfies FromShard);

// bcrypt runs on the main thread's piscina pool, never on this event loop; a connection that goes
// away (or times out) cancels its waiting check there.
let bcryptSeq = 0;
const bcryptWaiting = new Map<number, (ok: boolean | null) => void>();
shard.bcrypt = (password, hash, ticket) =>
  new Promise((resolve) => {
    const id = ++bcryptSeq;
    bcryptWaiting.set(id, resolve);
    ticket.cancel = () => {
      if (!bcryptWaiting.delete(id)) return;
      port.postMessage({ type: 'bcrypt-cancel', id } satisfies FromShard);
      resolve(null);
    };
    port.postMessage({ type: 'bcrypt', id, password, hash, key: ticket.key, deadline: ticket.deadline } satisfies FromShard);
  });

let lastReported = -1;
const reportLoad = (): void => {
  const n = shard.conns.size;
  if (n !== lastReported) {
    lastReported = n;
    port.postMessage({ type: 'load', conns: n } satisfies FromShard);
  }
};

if (shard.cluster !== null) shard.cluster.post = (m) => port.postMessage({ type: 'cluster', m } satisfies FromShard);

const onHandle = (handle: unknown, tag: string): void => {
  // Tag: m<base64 json>: a connection moved here from another shard (src/shard/migrate.ts).
  if (tag.startsWith(MIGRATE_TAG)) {
    shard.adoptMigrated(handle, decodeState(tag));
    return;
  }
  // Tag: r<cid>: a cluster route accepted on the cluster port.
  if (tag.startsWith('r')) {
    shard.cluster?.adoptAccepted(handle, Number(tag.slice(1)));
    return;
  }
  // Tag: [!][w|q]<cid>: '!' the main thread found the server full (max_connections); 'w' a WebSocket;
  // 'q' an MQTT connection.
  const over = tag.startsWith('!');
  const t = over ? tag.slice(1) : tag;
  if (t.startsWith(MQTT_TAG)) {
    const conn = mqttOf(shard).adopt(handle, Number(t.slice(1)), over);
    conn?.socket.once('close', reportLoad);
    reportLoad();
    return;
  }
  const ws = t.startsWith('w');
  const cid = Number(ws ? t.slice(1) : t);
  if (ws) {
    void shard.adoptWebSocket(handle, cid, over).then((conn) => {
      conn?.socket.once('close', reportLoad);
      reportLoad();
    });
    return;
  }
  const conn = shard.adopt(handle, cid, over);
  conn?.socket.once('close', reportLoad);
  reportLoad();
};
const receiver = new HandoffReceiver(data.handoffFd, onHandle);
/** Pipes other shards move connections here through. */
const migrateReceivers: HandoffReceiver[] = [];
shard.loadChanged = reportLoad;
if (shard.migrator !== null) shard.migrator.postPipe = (to, fd) => port.postMessage({ type: 'migrate-pipe', to, fd } satisfies FromShard);

port.on('message', (m: ToShard) => {
  if (m.type === 'gc') {
    if (shard.debugHooks) void import('../server/debug-gc.js').then(({ collectGarbage }) => log.info(`debug hook: ${collectGarbage()}`));
    return;
  }
  if (m.type === 'bcrypt-result') {
    const f = bcryptWaiting.get(m.id);
    bcryptWaiting.delete(m.id);
    f?.(m.ok);
  } else if (m.type === 'stats') {
    port.postMessage({ type: 'stats', id: m.id, stats: shard.stats() } satisfies FromShard);
  } else if (m.type === 'monitor') {
    const data = m.kind === 'connz' ? shardConnz(shard, m.query) : m.kind === 'subsz' ? shardSubsz(shard, m.query.list, m.query.test) : shardMetrics(shard);
    port.postMessage({ type: 'monitor', id: m.id, data } satisfies FromShard);
  } else if (m.type === 'cluster') {
    shard.cluster?.control(m.m);
  } else if (m.type === 'reload') {
    shard.reload(m.opts);
  } else if (m.type === 'reopen-log') {
    log.reopen?.();
  } else if (m.type === 'ldm') {
    receiver.close();
    void shard
      .lameDuck(m.durationMs, m.graceMs)
      .then(() => shard.shutdown())
      .then(() => {
        shard.closeUwsApp();
        port.postMessage({ type: 'stopped' } satisfies FromShard);
      });
  } else if (m.type === 'migrate-pipe') {
    migrateReceivers.push(new HandoffReceiver(m.fd, onHandle));
  } else if (m.type === 'peer-reset') {
    log.warn({ peer: m.rings.id }, 'peer shard restarted: resynchronising interest');
    shard.resetPeer(m.rings);
  } else if (m.type === 'shutdown') {
    receiver.close();
    for (const r of migrateReceivers) r.close();
    void shard.shutdown().then(() => {
      shard.closeUwsApp();
      port.postMessage({ type: 'stopped' } satisfies FromShard);
    });
  }
});

let uwsDescriptor: number | undefined;
if (uwsLoading !== null) {
  const u = await uwsLoading;
  const counter = new Int32Array(data.cidCounter);
  if (u.mod !== null) uwsDescriptor = shard.startUwsApp(u.mod, () => Atomics.add(counter, 0, 1) + 1);
}
port.postMessage({ type: 'ready', ...(uwsDescriptor !== undefined ? { uwsDescriptor } : {}) } satisfies FromShard);
