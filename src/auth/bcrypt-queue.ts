// The main thread's queue in front of the bcrypt pool. nats-server runs every bcrypt comparison on
// the connection's own goroutine; here a few pool threads serve every shard, so the order in which
// waiting checks get a thread decides who can log in while others hammer the server:
//
// - fair: waiting checks are grouped by (client IP, user name) and the groups take turns, so a
//   hundred wrong-password clients make one long line of their own, not one in front of everybody;
// - bounded: a check carries its connection's authorization deadline and is dropped, never run, once
//   that has passed (the shard closes the connection with 'Authentication Timeout'), or when its
//   connection went away; past MAX_WAITING checks in all, new ones are refused at once;
// - no repeated work: identical comparisons (same hash, same password) waiting or running at the
//   same time share one run (a fleet reconnecting with one user's password costs one bcrypt), and a
//   comparison that failed is remembered (bcrypt is deterministic), so the same wrong password tried
//   again costs nothing. Successes are never remembered.

import { createHash } from 'node:crypto';

export interface BcryptJob {
  password: string;
  hash: string;
  /** Fairness group: client IP and user name. */
  key: string;
  /** Epoch ms after which the result is of no use (the connection's authorization timeout). */
  deadline: number;
}

/** The outcome: true/false from bcrypt, or null when the check was dropped without being run. */
export type BcryptVerdict = boolean | null;

/** A connection's pending check, as the shard tracks it: `cancel` is set once the check is queued. */
export interface BcryptTicket {
  key: string;
  deadline: number;
  cancel: (() => void) | null;
}

interface Waiter {
  deadline: number;
  resolve: (v: BcryptVerdict) => void;
  cancelled: boolean;
}

/** One comparison to make, for every connection waiting on the same (hash, password). */
interface Job {
  password: string;
  hash: string;
  digest: string;
  waiters: Waiter[];
}

/** Most checks waiting at once, server-wide; beyond this a check is refused (null) at once. */
export const MAX_WAITING = 10_000;
/** Failed (hash, password) pairs remembered. */
const FAILED_MAX = 10_000;

export class BcryptQueue {
  private readonly run: (password: string, hash: string) => Promise<boolean>;
  private readonly concurrency: number;
  /** Waiting jobs per fairness group. */
  private readonly groups = new Map<string, Job[]>();
  /** When each group was last served (a sequence number): the least recently served goes next. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  private waiting = 0;
  private running = 0;
  /** Jobs waiting or running, by digest: an identical check joins the job instead of adding one. */
  private readonly jobs = new Map<string, Job>();
  private readonly failed = new Set<string>();
  /** Comparisons run, checks that joined another's, answered from memory, dropped, refused. */
  readonly stats = { run: 0, shared: 0, remembered: 0, dropped: 0, refused: 0 };

  constructor(run: (password: string, hash: string) => Promise<boolean>, concurrency: number) {
    this.run = run;
    this.concurrency = Math.max(1, concurrency);
  }

  /** Queues a comparison. `cancel()` on the handle drops it (resolving null) if it is not answered yet. */
  submit(job: BcryptJob): { verdict: Promise<BcryptVerdict>; cancel: () => void } {
    const digest = createHash('sha256').update(job.hash).update('\0').update(job.password).digest('base64');
    if (this.failed.has(digest)) {
      this.stats.remembered++;
      return { verdict: Promise.resolve(false), cancel: () => {} };
    }
    if (this.waiting >= MAX_WAITING) {
      this.stats.refused++;
      return { verdict: Promise.resolve(null), cancel: () => {} };
    }
    let w!: Waiter;
    const verdict = new Promise<BcryptVerdict>((resolve) => (w = { deadline: job.deadline, resolve, cancelled: false }));
    this.waiting++;
    const same = this.jobs.get(digest);
    if (same !== undefined) {
      this.stats.shared++;
      same.waiters.push(w);
    } else {
      const j: Job = { password: job.password, hash: job.hash, digest, waiters: [w] };
      this.jobs.set(digest, j);
      let q = this.groups.get(job.key);
      if (q === undefined) {
        q = [];
        this.groups.set(job.key, q);
      }
      q.push(j);
      this.pump();
    }
    return {
      verdict,
      cancel: () => {
        if (w.cancelled) return;
        w.cancelled = true;
        w.resolve(null);
      },
    };
  }

  /** Checks waiting for an answer (queued or running). */
  get pending(): number {
    return this.waiting;
  }

  /** Starts jobs while threads are free, taking the groups in turn. */
  private pump(): void {
    while (this.running < this.concurrency) {
      const j = this.next();
      if (j === null) break;
      // Connections gone or past their deadline are answered null; a job nobody waits for is dropped.
      const now = Date.now();
      j.waiters = j.waiters.filter((w) => {
        if (w.cancelled || w.deadline <= now) {
          if (!w.cancelled) w.resolve(null);
          this.waiting--;
          this.stats.dropped++;
          return false;
        }
        return true;
      });
      if (j.waiters.length === 0) {
        this.jobs.delete(j.digest);
        continue;
      }
      this.start(j);
    }
  }

  private start(j: Job): void {
    this.running++;
    this.stats.run++;
    const done = (ok: boolean): void => {
      this.running--;
      this.jobs.delete(j.digest);
      if (!ok) {
        if (this.failed.size >= FAILED_MAX) this.failed.clear();
        this.failed.add(j.digest);
      }
      for (const w of j.waiters) {
        this.waiting--;
        if (!w.cancelled) w.resolve(ok);
      }
      this.pump();
    };
    this.run(j.password, j.hash).then(done, () => done(false));
  }

  /**
   * The head of the group served least recently (never served first, then in arrival order): groups
   * take turns, also when a group's line empties and fills again between two turns.
   */
  private next(): Job | null {
    let best: string | null = null;
    let bestAt = Infinity;
    for (const key of this.groups.keys()) {
      const at = this.lastServed.get(key) ?? -1;
      if (at < bestAt) {
        best = key;
        bestAt = at;
        if (at < 0) break;
      }
    }
    if (best === null) return null;
    const q = this.groups.get(best)!;
    const j = q.shift()!;
    if (q.length === 0) this.groups.delete(best);
    if (this.lastServed.size >= MAX_WAITING) for (const k of this.lastServed.keys()) if (!this.groups.has(k)) this.lastServed.delete(k);
    this.lastServed.set(best, ++this.served);
    return j;
  }
}
