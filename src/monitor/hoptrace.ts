// Per-hop latency instrumentation, opt-in: TSNATS_HOPTRACE=<dir> (read once, when a worker starts).
// It exists to find where a reply-bound message (request/reply, a JetStream publish and its pub ack)
// spends its time between the socket it came in on and the socket its answer leaves by:
//
//   socket → shard: read → parse/route → ring publish → [ring: doorbell wake] → JetStream worker:
//   drain → stream.process → store append → ring publish → [ring] → shard: drain → socket write
//
// Off (the default), nothing here runs and nothing is patched: the hot paths carry no check at all.
// On, each worker thread (src/shard/worker.ts, src/jetstream/worker.ts) calls its install function
// before it builds its shard or engine, and this module wraps methods on the prototypes:
//
// - RingProducer.publish: when it makes frames visible in a ring that was empty (the consumer had
//   everything), it stamps the time into the ring header (Int32 words 2 and 3, on the producer's
//   cache line, unused otherwise; see src/ring/ring.ts) with whether the consumer was asleep (the
//   doorbell rings). RingConsumer.drain takes the stamp: "ring <label>: publish → drain" is the
//   latency of the oldest frame of the batch, split by doorbell (the consumer slept in waitAsync) and
//   awake (it was busy and came back to the ring by itself).
// - Origins and outputs per thread: an origin is a socket read (ClientConnection.onRead) or a ring
//   drain that handled frames; an output is a ring publish or a socket flush (Shard.flushAll). The
//   earliest origin not yet followed by an output of a kind, and that produced work of that kind
//   (ring frames committed, connections marked dirty), gives "<thread>: <origin> → <output>".
// - Method timers (wrapMethod): how long one call takes (parse of a read, stream.process, store append).
//
// Each thread keeps log-scale histograms (8 buckets per octave, ns) and writes them to
// `<dir>/hops-<pid>-<threadId>.json` every second and when it exits; `npm run bench -- --hops`
// (bench/e2e/hops.ts) merges the files of a run and prints the table.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../ring/ring.js';

/** The directory from TSNATS_HOPTRACE, or null (off). */
export function hopTraceDir(): string | null {
  const d = process.env['TSNATS_HOPTRACE'];
  return d !== undefined && d !== '' && d !== '0' ? d : null;
}

// Ring header words (Int32 indices): see the layout in src/ring/ring.ts.
const HEAD = 0;
const TAIL = 16;
const SLEEPING = 18;
const STAMP = 2;
const BELL = 3;

const SUB = 8; // buckets per octave
const NBUCKETS = 40 * SUB; // up to 2^40 ns (18 min)

/** A log-scale histogram of durations in ns. */
export class Hist {
  readonly counts = new Float64Array(NBUCKETS);
  n = 0;
  sum = 0;
  max = 0;

  add(ns: number): void {
    const v = ns < 1 ? 1 : ns;
    const i = Math.min(NBUCKETS - 1, Math.floor(Math.log2(v) * SUB));
    this.counts[i]!++;
    this.n++;
    this.sum += ns;
    if (ns > this.max) this.max = ns;
  }

  toJSON(): { n: number; sum: number; max: number; buckets: [number, number][] } {
    const buckets: [number, number][] = [];
    for (let i = 0; i < NBUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { n: this.n, sum: this.sum, max: this.max, buckets };
  }
}

/** Lower edge (ns) of bucket i; bucket i holds [edge(i), edge(i + 1)). */
export function bucketEdge(i: number): number {
  return 2 ** (i / SUB);
}

// Monotonic ns comparable across the process's threads: performance.now() is relative to each
// thread's own origin, so each thread aligns it once with hrtime (the same clock in every thread).
const base = Number(process.hrtime.bigint()) - performance.now() * 1e6;
export function nowNs(): number {
  return performance.now() * 1e6 + base;
}
const TWO31 = 2 ** 31;
/** A ring stamp: the time in 100 ns units modulo 2^31 (never 0, which means "no stamp"). */
function stampOf(ns: number): number {
  return Math.floor(ns / 100) % TWO31 || 1;
}
function stampDiffNs(later: number, earlier: number): number {
  let d = later - earlier;
  if (d < 0) d += TWO31;
  return d * 100;
}

const hists = new Map<string, Hist>();
export function hist(name: string): Hist {
  let h = hists.get(name);
  if (h === undefined) {
    h = new Hist();
    hists.set(name, h);
  }
  return h;
}

// ---- origins and outputs ---------------------------------------------------------------------------

export const Origin = { READ: 0, DRAIN: 1 } as const;
export const Output = { RING: 0, SOCKET: 1 } as const;
const ORIGIN_NAMES = ['socket read', 'ring drain'];
const OUTPUT_NAMES = ['ring publish', 'socket write'];
/** pending[origin * 2 + output]: start of the earliest origin waiting for that output, 0 if none. */
const pending = new Float64Array(4);
let threadName = 'thread';
/** Work counters: ring frames committed, connections marked dirty (sampled around an origin). */
export const work = { ring: 0, socket: 0 };

/** An origin that started at t0 and did `ring`/`socket` work (counter deltas) waits for those outputs. */
export function originDone(origin: number, t0: number, ringBefore: number, socketBefore: number): void {
  if (work.ring !== ringBefore && pending[origin * 2 + Output.RING] === 0) pending[origin * 2 + Output.RING] = t0;
  if (work.socket !== socketBefore && pending[origin * 2 + Output.SOCKET] === 0) pending[origin * 2 + Output.SOCKET] = t0;
}

/** An output happened: every origin waiting for it gets its hop recorded. */
export function output(out: number): void {
  const now = nowNs();
  for (let o = 0; o < 2; o++) {
    const t = pending[o * 2 + out]!;
    if (t === 0) continue;
    pending[o * 2 + out] = 0;
    hist(`${threadName}: ${ORIGIN_NAMES[o]} → ${OUTPUT_NAMES[out]}`).add(now - t);
  }
}

// ---- patching ----------------------------------------------------------------------------------------

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/** Wraps `proto[name]` so each call's duration goes into histogram `hop`. */
export function timeMethod(proto: object, name: string, hop: string): void {
  const p = proto as Record<string, AnyFn>;
  const orig = p[name];
  if (typeof orig !== 'function') throw new Error(`hoptrace: no method ${name} to time`);
  const h = hist(hop);
  p[name] = function (this: unknown, ...args: unknown[]): unknown {
    const t0 = nowNs();
    try {
      return orig.apply(this, args);
    } finally {
      h.add(nowNs() - t0);
    }
  };
}

/** Wraps `proto[name]` so `before` runs ahead of each call and `after` (with the result) behind it. */
export function wrapMethod(proto: object, name: string, around: (orig: AnyFn) => AnyFn): void {
  const p = proto as Record<string, AnyFn>;
  const orig = p[name];
  if (typeof orig !== 'function') throw new Error(`hoptrace: no method ${name} to wrap`);
  p[name] = around(orig);
}

let installed = false;

/**
 * Patches the rings and starts the dumps for this thread. `ringLabels`: the inbound rings' buffers
 * and what to call them ("shard→jetstream"); an unknown ring (replaced after a peer restart) is "ring".
 */
export function installHopTrace(dir: string, thread: string, ringLabels: Map<SharedArrayBuffer, string>): void {
  if (installed) return;
  installed = true;
  threadName = thread;
  const labelOf = (c: RingConsumer): string => ringLabels.get(c.ctl.buffer as SharedArrayBuffer) ?? 'ring';

  const notifyCost = hist(`${thread}: ring publish that rings the doorbell (Atomics.notify)`);
  wrapMethod(RingProducer.prototype, 'publish', (orig) =>
    function (this: unknown): unknown {
      const self = this as { head: number; publishedHead: number; ctl: Int32Array };
      const ctl = self.ctl;
      const pend = self.head !== self.publishedHead;
      const sleeping = pend && Atomics.load(ctl, SLEEPING) === 1;
      if (pend && Atomics.load(ctl, TAIL) === self.publishedHead) {
        // The consumer had everything: this publish starts its next batch. Stamp it (unless a
        // stamp is still waiting) with whether the consumer sleeps (the doorbell rings).
        Atomics.store(ctl, BELL, sleeping ? 1 : 0);
        Atomics.compareExchange(ctl, STAMP, 0, stampOf(nowNs()));
      }
      const t0 = sleeping ? nowNs() : 0;
      const r = orig.call(this);
      if (sleeping) notifyCost.add(nowNs() - t0);
      if (pend) output(Output.RING);
      return r;
    },
  );
  wrapMethod(RingProducer.prototype, 'commit', (orig) =>
    function (this: unknown, len: unknown): unknown {
      work.ring++;
      return orig.call(this, len);
    },
  );
  const drainTime = hist(`${thread}: one ring drain (frames handled)`);
  wrapMethod(RingConsumer.prototype, 'drain', (orig) =>
    function (this: unknown, handler: unknown, maxBytes: unknown): unknown {
      const c = this as RingConsumer;
      const ctl = c.ctl;
      // The stamp first, then the clock: a stamp is written before its frames are published, so
      // the time read after taking it is never earlier (the threads' clocks agree to well under 1 µs).
      const st = Atomics.load(ctl, HEAD) !== (c as unknown as { tail: number }).tail ? Atomics.exchange(ctl, STAMP, 0) : 0;
      const t0 = nowNs();
      if (st !== 0) {
        const d = stampDiffNs(stampOf(t0), st);
        // A difference near 2^31 units is a stamp from a hair later than t0 (clock rounding): 0.
        hist(`ring ${labelOf(c)}: publish → drain, ${Atomics.load(ctl, BELL) === 1 ? 'doorbell (consumer was asleep)' : 'consumer awake'}`).add(d > 100e9 ? 0 : d);
      }
      const r0 = work.ring;
      const s0 = work.socket;
      const n = orig.call(this, handler, maxBytes) as number;
      if (n > 0) {
        drainTime.add(nowNs() - t0);
        originDone(Origin.DRAIN, t0, r0, s0);
      }
      return n;
    },
  );

  const file = join(dir, `hops-${process.pid}-${threadId}.json`);
  const dump = (): void => {
    try {
      mkdirSync(dir, { recursive: true });
      const out: Record<string, unknown> = {};
      for (const [k, h] of hists) out[k] = h.toJSON();
      // Written aside and renamed: a reader (the bench, a test) never sees half a file.
      writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, threadId, thread, written: Date.now(), hops: out }));
      renameSync(`${file}.tmp`, file);
    } catch {
      /* a dump that cannot be written is not worth failing the server for */
    }
  };
  setInterval(dump, 1000).unref();
  process.on('exit', dump);
}
