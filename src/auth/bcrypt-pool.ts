// The bcrypt service of the main thread: a piscina pool with one thread per core the shards leave
// free (at least one), fed by the fair, deadline-aware queue of bcrypt-queue.ts. Shards send
// `bcrypt` requests (with an id of theirs) and may cancel them; each gets one `bcrypt-result`.

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { BcryptQueue, type BcryptJob, type BcryptVerdict } from './bcrypt-queue.js';

/** Pool threads: the cores beyond the shards' needs, at least 1 (TSNATS_BCRYPT_THREADS overrides). */
export function bcryptThreads(shards: number): number {
  const forced = Number(process.env['TSNATS_BCRYPT_THREADS'] ?? 0);
  if (forced > 0) return Math.floor(forced);
  return Math.max(1, availableParallelism() - shards);
}

export class BcryptService {
  readonly threads: number;
  private readonly pool: Piscina;
  readonly queue: BcryptQueue;
  /** Cancel functions of waiting checks, by requester and its id. */
  private readonly cancels = new Map<string, () => void>();

  constructor(shards: number) {
    this.threads = bcryptThreads(shards);
    this.pool = new Piscina({ filename: new URL('./bcrypt-worker.js', import.meta.url).href, minThreads: 1, maxThreads: this.threads, idleTimeout: 30_000 });
    this.queue = new BcryptQueue((password, hash) => this.pool.run({ password, hash }) as Promise<boolean>, this.threads);
  }

  /** Queues a check for requester `from` (a shard worker's threadId) under its own `id`; `reply` gets the verdict once. */
  request(from: number, id: number, job: BcryptJob, reply: (v: BcryptVerdict) => void): void {
    const key = `${from}:${id}`;
    const h = this.queue.submit(job);
    this.cancels.set(key, h.cancel);
    void h.verdict.then((v) => {
      if (this.cancels.delete(key)) reply(v);
    });
  }

  cancel(from: number, id: number): void {
    const key = `${from}:${id}`;
    const c = this.cancels.get(key);
    this.cancels.delete(key);
    c?.();
  }

  /** Checks for code on the main thread (the inline shard): a promise, and a way to cancel it. */
  compare(job: BcryptJob): { verdict: Promise<BcryptVerdict>; cancel: () => void } {
    return this.queue.submit(job);
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
