// The main thread's handle on the JetStream worker: starts it (and waits until its streams are
// recovered, as nats-server enables JetStream before it accepts clients), forwards shard
// replacements, asks it for /jsz, and stops it after the shards, so every message a shard
// handed over is stored before the stores close.

import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { ServerOptions } from './options.js';
import type { PeerRings } from '../shard/peer.js';
import type { FromJs, JsWorkerData, ToJs } from '../jetstream/worker.js';
import { buildAccounts, GLOBAL_ACCOUNT } from '../shard/account.js';
import type { AssetHealth, HealthzOptions } from '../monitor/healthz.js';
import type { JszQuery } from '../monitor/jsz.js';

/**
 * Account names by ring index, and which have JetStream (jetstream.go enableJetStreamAccounts): with
 * no accounts configured besides $G and the system account, $G has it; otherwise exactly the accounts
 * whose config enables it. The others (not the system account) get 10039 from the API.
 */
export function jetStreamAccounts(opts: ServerOptions): { names: string[]; enabled: number[]; disabled: number[] } {
  const names = buildAccounts(opts).map((a) => a.name);
  const others = opts.accounts.filter((a) => a.name !== GLOBAL_ACCOUNT && a.name !== opts.systemAccount);
  const explicit = new Set(opts.accounts.filter((a) => a.jetstream).map((a) => a.name));
  const enabled: number[] = [];
  const disabled: number[] = [];
  names.forEach((n, i) => {
    if (others.length === 0 ? n === GLOBAL_ACCOUNT || (explicit.has(n) && n !== opts.systemAccount) : explicit.has(n) && n !== opts.systemAccount) enabled.push(i);
    else if (n !== opts.systemAccount) disabled.push(i);
  });
  return { names, enabled, disabled };
}

export class JetStreamHandle {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, (d: unknown) => void>();
  private stopped: Promise<void> = Promise.resolve();
  private stopping = false;
  private ready = false;
  /** Called when the worker ended without being asked to (the server replaces it). */
  onCrash: (code: number) => void = () => {};

  constructor(private readonly log: Logger) {}

  async start(opts: ServerOptions, identity: { serverName: string; serverId: string }, peers: PeerRings[]): Promise<void> {
    const accounts = jetStreamAccounts(opts);
    const workerData: JsWorkerData = { opts, serverName: identity.serverName, serverId: identity.serverId, peers, accounts: accounts.names, jsAccounts: accounts.enabled, noJsAccounts: accounts.disabled };
    const worker = new Worker(new URL('../jetstream/worker.js', import.meta.url), { workerData });
    this.worker = worker;
    this.ready = false;
    let onStopped: () => void = () => {};
    this.stopped = new Promise((r) => (onStopped = r));
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromJs) => {
        if (m.type === 'ready') {
          this.ready = true;
          resolve();
        }
        else if (m.type === 'failed') reject(new Error(`JetStream failed to start: ${m.error}`));
        else if (m.type === 'stopped') onStopped();
        else if (m.type === 'jsz' || m.type === 'healthz') {
          const f = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          f?.(m.data);
        }
      });
      worker.once('error', (err) => {
        this.log.error({ err: err.stack ?? err.message }, 'JetStream worker failed');
        reject(err);
      });
      worker.once('exit', (code) => {
        onStopped();
        for (const f of this.waiting.values()) f(null);
        this.waiting.clear();
        const crashed = !this.stopping && this.worker === worker;
        if (this.worker === worker) this.worker = null;
        if (crashed) this.onCrash(code);
      });
    });
  }

  /** True while a worker is up (false after a crash until its replacement is ready). */
  get running(): boolean {
    return this.worker !== null && this.ready;
  }

  resetPeer(rings: PeerRings): void {
    this.worker?.postMessage({ type: 'peer-reset', rings } satisfies ToJs);
  }

  /** The worker's /jsz figures, or null when it is not running. */
  jsz(detail?: JszQuery): Promise<Record<string, unknown> | null> {
    const w = this.worker;
    if (w === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const id = ++this.seq;
      this.waiting.set(id, resolve as (d: unknown) => void);
      w.postMessage({ type: 'jsz', id, ...(detail !== undefined ? { detail } : {}) } satisfies ToJs);
    });
  }

  /** /healthz's asset check by the worker, or null when it is not running. */
  healthz(opts: HealthzOptions): Promise<AssetHealth | null> {
    const w = this.worker;
    if (w === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const id = ++this.seq;
      this.waiting.set(id, resolve as (d: unknown) => void);
      w.postMessage({ type: 'healthz', id, opts } satisfies ToJs);
    });
  }

  /** Flushes and closes the stores, then ends the thread. */
  async stop(): Promise<void> {
    const w = this.worker;
    if (w === null) return;
    this.stopping = true;
    w.postMessage({ type: 'shutdown' } satisfies ToJs);
    await Promise.race([this.stopped, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await w.terminate();
  }
}
