// Entry point of the JetStream worker thread (DESIGN.md): one more peer on the rings. It alone
// touches the store files. Control messages (shutdown, peer resets, /jsz) travel over the worker's
// MessagePort; messages and interest only ever travel in the rings.

import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { jetStreamDir, type ServerOptions } from '../server/options.js';
import type { PeerRings } from '../shard/peer.js';
import { JsLink } from './link.js';
import { flushPendingWrites } from './store/filestore.js';
import { JetStream } from './engine.js';
import { createConsumerPlugin } from './consumer/plugin.js';
import { jszAccountDetails } from './jsz-detail.js';
import type { JszQuery } from '../monitor/jsz.js';
import type { TieredLimits } from './account-limits.js';
import type { HealthzOptions } from '../monitor/healthz.js';
import { CrossAccount } from './cross-account.js';
import { hopTraceDir } from '../monitor/hoptrace.js';
import { installJsHopTrace } from '../monitor/hoptrace-js.js';
import { clusteredJetStream } from './cluster/setup.js';

export interface JsWorkerData {
  opts: ServerOptions;
  serverName: string;
  serverId: string;
  /** Rings to and from every shard (peer id = shard id). */
  peers: PeerRings[];
  /** Account names by index (the same indices the shards use in ring frames). */
  accounts: string[];
  /** Indices of the accounts with JetStream enabled. */
  jsAccounts: number[];
  /** Indices of the other accounts (not the system account): their API requests get 10039. */
  noJsAccounts: number[];
}

export type ToJs =
  | { type: 'shutdown' }
  | { type: 'peer-reset'; rings: PeerRings }
  | { type: 'jsz'; id: number; detail?: JszQuery }
  | { type: 'healthz'; id: number; opts: HealthzOptions };
export type FromJs =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'stopped' }
  | { type: 'jsz'; id: number; data: unknown }
  | { type: 'healthz'; id: number; data: unknown };

/** Each configured account's `jetstream { ... }` limits, by ring index. */
function accountLimits(o: ServerOptions, names: string[]): Record<number, TieredLimits> {
  const out: Record<number, TieredLimits> = {};
  for (const a of o.accounts) {
    const i = names.indexOf(a.name);
    if (i >= 0 && a.jetstreamLimits) out[i] = a.jetstreamLimits;
  }
  return out;
}

const data = workerData as JsWorkerData;
const port = parentPort!;
const o = data.opts;
const log = createLogger({ debug: o.debug, trace: o.trace, logtime: o.logtime, name: 'jetstream', file: o.logFile, channel: o.workerLog });
// TSNATS_HOPTRACE=<dir>: per-hop latency histograms (bench/README.md); off, nothing is patched.
if (hopTraceDir() !== null) installJsHopTrace(hopTraceDir()!, data.peers);
const link = new JsLink(data.peers, data.accounts.length, log);
link.beforePublish = flushPendingWrites;
const js = new JetStream(
  link,
  {
    storeDir: jetStreamDir(o),
    maxMemory: o.jetstream.maxMemory,
    maxStore: o.jetstream.maxStore,
    syncIntervalMs: o.jetstream.syncIntervalMs,
    syncAlways: o.jetstream.syncAlways,
    accounts: data.accounts,
    jsAccounts: data.jsAccounts,
    noJsAccounts: data.noJsAccounts,
    serverName: data.serverName,
    serverId: data.serverId,
    domain: o.jetstream.domain ?? '',
    accountLimits: accountLimits(o, data.accounts),
  },
  createConsumerPlugin(),
);
link.onMessage = (m) => js.onMessage(m);
link.onAck = (acc, buf, subj, subjLen, data, end) => js.ackFrame(acc, buf, subj, subjLen, data, end);
// A cluster block with a name, routes and server_name: clustered JetStream (jetstream_cluster.go).
const cluster = clusteredJetStream(js, o, data);
link.cross = new CrossAccount(o, data.jsAccounts);
link.cross.announce = (exporter, importer, token, reply, stream) => link.announceResponse(exporter, importer, token, reply, stream);
if (process.env['TSNATS_DEBUG_HOOKS'] === '1') {
  // Test hook: a message on $JS.API.TSNATS.DEBUG.EXIT ends this thread, as a crash would.
  link.onMessage = (m) => {
    if (m.subject === '$JS.API.TSNATS.DEBUG.EXIT') {
      log.error('debug hook: JetStream worker exiting on request');
      process.exit(1);
    }
    js.onMessage(m);
  };
}

port.on('message', (m: ToJs) => {
  if (m.type === 'peer-reset') link.resetPeer(m.rings);
  else if (m.type === 'jsz') {
    const details = m.detail !== undefined ? jszAccountDetails(js, m.detail) : undefined;
    port.postMessage({ type: 'jsz', id: m.id, data: details !== undefined ? { ...js.jsz(), account_details: details } : js.jsz() } satisfies FromJs);
  }
  else if (m.type === 'healthz') port.postMessage({ type: 'healthz', id: m.id, data: js.healthz(m.opts) } satisfies FromJs);
  else if (m.type === 'shutdown') {
    void (cluster !== null ? cluster.stop() : Promise.resolve())
      .then(() => js.stop())
      .catch((err: unknown) => log.error({ err: String(err) }, 'JetStream did not stop cleanly'))
      .then(() => {
        link.close();
        port.postMessage({ type: 'stopped' } satisfies FromJs);
      });
  }
});

try {
  link.start();
  await js.start();
  cluster?.start();
  port.postMessage({ type: 'ready' } satisfies FromJs);
} catch (err) {
  log.error({ err: err instanceof Error ? err.stack : String(err) }, 'JetStream failed to start');
  port.postMessage({ type: 'failed', error: String(err) } satisfies FromJs);
}
