// Doorbell micro-benchmark: how fast a thread that drains a ring (src/ring/ring.ts) learns that the
// other thread published, and what it costs in CPU. Two threads (this one and a worker), a ring each
// way, 8-byte frames. Issue 18: the doorbell wake sits twice on every JetStream publish and every
// cross-shard request/reply; this measures the alternatives so the optimisation can choose.
//
// Strategies (the same on both sides):
//   waitAsync        what the shards and the JetStream worker do today: drain; if the ring is empty,
//                    Atomics.waitAsync until the producer's Atomics.notify (only when the consumer
//                    said it sleeps)
//   spin-N           as waitAsync, but first spin up to N µs on the ring's HEAD (the event loop is
//                    blocked meanwhile, so N must stay small on a shard)
//   turn-1           after a drain that handled frames, one more event-loop turn (setImmediate)
//                    before sleeping: a pipeline's next batch often lands meanwhile
//   poll-N           keep coming back through setImmediate (the event loop keeps running: sockets
//                    are served) for N µs after the last frame, then waitAsync
//   messageport      the producer wakes a sleeping consumer with MessagePort.postMessage instead
//                    of Atomics.notify
//   atomics.wait     blocking Atomics.wait (reference only: a shard's event loop cannot block)
// Patterns:
//   ping-pong        one frame in flight: A sends, B echoes, A sends the next (two wakes per round trip)
//   64 in flight     A keeps 64 frames outstanding; each side publishes once per drained batch
//
// Figures: round trips per second, round-trip p50 / p99 (µs, measured on A), CPU µs per round trip
// of the whole process (both threads; process.cpuUsage), and doorbells (a publish that found the
// consumer asleep: Atomics.notify or postMessage) per round trip, both directions.
//
// Caution: on an oversubscribed machine (load average above the core count) spinning and polling
// threads lose the scheduler's preference for threads that slept, and the figures say more about
// the machine than about the strategy. Compare the strategies on a quiet machine.
//
//   npm run bench:micro -- --only doorbell      or      node dist/bench/micro/doorbell.js [--time MS]

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RingConsumer, RingProducer, createRingBuffer } from '../../src/ring/ring.js';

export type Strategy = 'waitAsync' | 'turn-1' | 'spin-2' | 'spin-5' | 'spin-20' | 'spin-50' | 'poll-50' | 'poll-200' | 'messageport' | 'atomics.wait';
export const STRATEGIES: Strategy[] = ['waitAsync', 'turn-1', 'spin-2', 'spin-5', 'spin-20', 'spin-50', 'poll-50', 'poll-200', 'messageport', 'atomics.wait'];

const HEAD = 0;
const SLEEPING = 18;
/** messageport: the consumer's own "sleeping" word, so RingProducer.publish never notifies. */
const MP_SLEEPING = 19;
const STOP = -1;

interface Side {
  /** Publishes that found the consumer asleep (a doorbell rang). */
  bells: number;
  out: RingProducer;
  in: RingConsumer;
  /** The port the other side listens on (messageport) and ours. */
  port: MessagePort;
  strategy: Strategy;
}

/** Makes published frames visible and wakes the other side the strategy's way. */
function publish(s: Side): void {
  if (s.out.pending && Atomics.load(s.out.ctl, SLEEPING) === 1) s.bells++;
  s.out.publish(); // Atomics.notify when the consumer sleeps in waitAsync / Atomics.wait
  if (s.strategy === 'messageport' && Atomics.load(s.out.ctl, MP_SLEEPING) === 1) {
    s.bells++;
    Atomics.store(s.out.ctl, MP_SLEEPING, 0);
    s.port.postMessage(0);
  }
}

function send(s: Side, v: number): boolean {
  const at = s.out.reserve(8);
  if (at < 0) return false;
  s.out.data.writeDoubleLE(v, at);
  s.out.commit(8);
  return true;
}

function param(st: Strategy): number {
  const m = /-(\d+)$/.exec(st);
  return m !== null ? Number(m[1]) : 0;
}

/**
 * Drains `s.in` until `done()`: `onFrame` per frame, `afterBatch` after each drain that handled
 * frames. The waiting between drains is the strategy.
 */
async function pump(s: Side, onFrame: (v: number) => void, afterBatch: () => void, done: () => boolean): Promise<void> {
  const c = s.in;
  const handler = (buf: Buffer, start: number): void => onFrame(buf.readDoubleLE(start));
  const st = s.strategy;
  const n = param(st);
  let wake: (() => void) | null = null;
  if (st === 'messageport') s.port.on('message', () => wake?.());
  // A pending Atomics.waitAsync does not keep a Node event loop alive (a shard has its sockets and
  // port for that): a timer does, here.
  const keepAlive = setInterval(() => {}, 1000);
  let lastFrame = performance.now();
  let fresh = false;
  while (!done()) {
    if (c.drain(handler) > 0) {
      afterBatch();
      lastFrame = performance.now();
      fresh = true;
      continue;
    }
    if (done()) break;
    if (st === 'turn-1' && fresh) {
      fresh = false;
      await nextTurn();
      continue;
    }
    fresh = false;
    if (st === 'atomics.wait') {
      Atomics.store(c.ctl, SLEEPING, 1);
      const h = Atomics.load(c.ctl, HEAD);
      if (!c.hasData()) Atomics.wait(c.ctl, HEAD, h, 50);
      Atomics.store(c.ctl, SLEEPING, 0);
      continue;
    }
    if (st.startsWith('spin-')) {
      const until = performance.now() + n / 1000;
      while (!c.hasData() && performance.now() < until) {
        /* spin */
      }
      if (c.hasData()) continue;
    }
    if (st.startsWith('poll-') && performance.now() - lastFrame < n / 1000) {
      await nextTurn();
      continue;
    }
    if (st === 'messageport') {
      Atomics.store(c.ctl, MP_SLEEPING, 1);
      if (c.hasData()) {
        Atomics.store(c.ctl, MP_SLEEPING, 0);
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        // A lost wake-up cannot hang the benchmark.
        setTimeout(resolve, 50).unref();
      });
      wake = null;
      Atomics.store(c.ctl, MP_SLEEPING, 0);
      continue;
    }
    const w = c.wait();
    if (w !== null) await w;
  }
  clearInterval(keepAlive);
  if (st === 'messageport') s.port.removeAllListeners('message');
}

export interface DoorbellResult {
  strategy: Strategy;
  inflight: number;
  roundTrips: number;
  perSec: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerRt: number;
  bellsPerRt: number;
  /**
   * Times the watchdog found no progress for 3 s and rang both doorbells again (each a lost
   * wake-up: the consumer slept with frames in its ring), with the rings' words at that moment.
   */
  stalls: string[];
}

/** One case: A (this thread) against B (a worker running the same strategy). */
export async function runDoorbell(strategy: Strategy, inflight: number, timeMs: number): Promise<DoorbellResult> {
  // Held for the whole case: between phases nothing else may keep this event loop alive.
  const hold = setInterval(() => {}, 1000);
  try {
    return await doorbellCase(strategy, inflight, timeMs);
  } finally {
    clearInterval(hold);
  }
}

async function doorbellCase(strategy: Strategy, inflight: number, timeMs: number): Promise<DoorbellResult> {
  const ab = createRingBuffer(1 << 16);
  const ba = createRingBuffer(1 << 16);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL(import.meta.url), { workerData: { ab, ba, port: port2, strategy }, transferList: [port2] });
  // The worker's messages in order ('ready', then its doorbell count); its error or exit ends waiting.
  const inbox: unknown[] = [];
  let waiting: ((m: unknown) => void) | null = null;
  let failure: Error | null = null;
  let fail: ((e: Error) => void) | null = null;
  worker.on('message', (m: unknown) => {
    if (waiting !== null) {
      const w = waiting;
      waiting = null;
      w(m);
    } else inbox.push(m);
  });
  const onEnd = (e: Error): void => {
    failure ??= e;
    fail?.(failure);
  };
  worker.on('error', (e) => onEnd(e));
  worker.on('exit', (code) => onEnd(new Error(`doorbell worker exited (${code}) early`)));
  const fromWorker = (): Promise<unknown> =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : failure !== null
        ? Promise.reject(failure)
        : new Promise((resolve, reject) => {
            waiting = resolve;
            fail = reject;
          });
  await fromWorker();
  const a: Side = { bells: 0, out: new RingProducer(ab), in: new RingConsumer(ba), port: port1, strategy };
  const sentAt = new Float64Array(inflight);
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let outstanding = 0;
  let running = true;
  // Watchdog: no round trip for 3 s means a consumer sleeps although frames wait for it (a lost
  // wake-up). Note both rings' words, ring both doorbells again, and carry on.
  const stalls: string[] = [];
  const ctlAB = new Int32Array(ab, 0, 32);
  const ctlBA = new Int32Array(ba, 0, 32);
  const words = (c: Int32Array): string => `HEAD ${Atomics.load(c, HEAD)} TAIL ${Atomics.load(c, 16)} SLEEPING ${Atomics.load(c, SLEEPING)} MP ${Atomics.load(c, MP_SLEEPING)}`;
  let seen = -1;
  let still = 0;
  const watchdog = setInterval(() => {
    if (n !== seen) {
      seen = n;
      still = 0;
      return;
    }
    if (++still < 3) return;
    still = 0;
    stalls.push(`after ${n} round trips: A→B ${words(ctlAB)}; B→A ${words(ctlBA)}`);
    process.stderr.write(`doorbell ${strategy}: stalled ${stalls[stalls.length - 1]}; ringing both doorbells\n`);
    Atomics.notify(ctlAB, HEAD);
    Atomics.notify(ctlBA, HEAD);
    if (strategy === 'messageport') port1.postMessage(0);
  }, 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + timeMs;
  for (let slot = 0; slot < inflight; slot++) {
    sentAt[slot] = performance.now();
    send(a, slot);
    outstanding++;
  }
  publish(a);
  await pump(
    a,
    (slot) => {
      const now = performance.now();
      if (n === samples.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(samples);
        samples = bigger;
      }
      samples[n++] = (now - sentAt[slot]!) * 1000;
      outstanding--;
      if (running && now < deadline) {
        sentAt[slot] = now;
        send(a, slot);
        outstanding++;
      } else running = false;
    },
    () => publish(a),
    () => !running && outstanding === 0,
  );
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(watchdog);
  const bellsA = a.bells;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  send(a, STOP);
  publish(a);
  const bells = bellsA + ((await fromWorker()) as number);
  await exited;
  port1.close();
  const s = samples.subarray(0, n).slice().sort();
  const q = (p: number): number => (n === 0 ? 0 : s[Math.min(n - 1, Math.floor(p * n))]!);
  return { strategy, inflight, roundTrips: n, perSec: n / (elapsed / 1000), p50Us: q(0.5), p99Us: q(0.99), cpuUsPerRt: n === 0 ? 0 : (cpu.user + cpu.system) / n, bellsPerRt: n === 0 ? 0 : bells / n, stalls };
}

/** Side B: echoes every frame, publishing once per drained batch, until STOP. */
async function workerMain(): Promise<void> {
  const d = workerData as { ab: SharedArrayBuffer; ba: SharedArrayBuffer; port: MessagePort; strategy: Strategy };
  const b: Side = { bells: 0, out: new RingProducer(d.ba), in: new RingConsumer(d.ab), port: d.port, strategy: d.strategy };
  let stop = false;
  parentPort!.postMessage('ready');
  await pump(
    b,
    (v) => {
      if (v === STOP) stop = true;
      else if (!send(b, v)) throw new Error('doorbell: echo ring full');
    },
    () => publish(b),
    () => stop,
  );
  parentPort!.postMessage(b.bells);
  d.port.close();
}

export function doorbellTable(rows: DoorbellResult[]): string {
  const out = ['| strategy | in flight | round trips/s | RTT p50 µs | RTT p99 µs | CPU µs per round trip (both threads) | doorbells per round trip | stalls |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    out.push(`| ${r.strategy} | ${r.inflight} | ${Math.round(r.perSec).toLocaleString('en-US')} | ${r.p50Us.toFixed(1)} | ${r.p99Us.toFixed(1)} | ${r.cpuUsPerRt.toFixed(2)} | ${r.bellsPerRt.toFixed(3)} | ${r.stalls.length} |`);
  }
  const stalled = rows.filter((r) => r.stalls.length > 0);
  if (stalled.length > 0) {
    out.push('', 'Stalls (a consumer asleep with frames waiting; the watchdog rang again after 3 s):');
    for (const r of stalled) for (const st of r.stalls) out.push(`- ${r.strategy}, ${r.inflight} in flight: ${st}`);
  }
  return out.join('\n');
}

export async function runAllDoorbells(timeMs: number, log: (s: string) => void): Promise<DoorbellResult[]> {
  const rows: DoorbellResult[] = [];
  for (const inflight of [1, 64]) {
    for (const st of STRATEGIES) {
      const r = await runDoorbell(st, inflight, timeMs);
      log(`doorbell ${st.padEnd(12)} ${String(inflight).padStart(2)} in flight: ${Math.round(r.perSec).toLocaleString('en-US')} rt/s, p50 ${r.p50Us.toFixed(1)} µs, p99 ${r.p99Us.toFixed(1)} µs, ${r.cpuUsPerRt.toFixed(2)} CPU µs/rt, ${r.bellsPerRt.toFixed(3)} doorbells/rt`);
      rows.push(r);
    }
  }
  return rows;
}

if (!isMainThread) {
  await workerMain();
} else if (process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1]) {
  // Run directly: node dist/bench/micro/doorbell.js [--time MS]
  const i = process.argv.indexOf('--time');
  const timeMs = i > 0 ? Number(process.argv[i + 1]) : 1000;
  const rows = await runAllDoorbells(timeMs, (s) => process.stderr.write(s + '\n'));
  process.stdout.write('\n' + doorbellTable(rows) + '\n');
}
