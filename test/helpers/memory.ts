// Reading a server process's resident memory for the memory tests: VmRSS from /proc (Linux), after a
// settle step the test controls. tsnats (started with TSNATS_DEBUG_HOOKS=1) takes `$TSNATS.DEBUG.GC`
// as "every thread collect its garbage"; for nats-server the same message is just a message and the
// settle step is only time (its scavenger returns memory by itself).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { delay } from './wait.js';

export const procAvailable = process.platform === 'linux';

/** Resident set of `pid` in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Asks every thread of the server to collect its garbage (twice, a little apart). */
export async function collectGarbage(port: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  s.write('CONNECT {"verbose":false}\r\nPUB $TSNATS.DEBUG.GC 0\r\n\r\nPING\r\n');
  await delay(300);
  s.write('PUB $TSNATS.DEBUG.GC 0\r\n\r\nPING\r\n');
  await delay(300);
  s.destroy();
}

/**
 * RSS once the server has settled: garbage collected every `stepMs` and RSS read, for at least
 * `minMs` and then until it is at or under `limitMb` or `maxMs` passed; returns the lowest reading
 * and all of them (for messages). V8 hands back its young generation only after a few seconds of
 * low allocation, hence the loop.
 */
export async function settledRss(pid: number, port: number, limitMb = 0, opts: { minMs?: number; maxMs?: number; stepMs?: number } = {}): Promise<{ rss: number; readings: number[] }> {
  const { minMs = 8000, maxMs = 30_000, stepMs = 2000 } = opts;
  const readings: number[] = [];
  const t0 = Date.now();
  for (;;) {
    await collectGarbage(port);
    await delay(stepMs);
    readings.push(Math.round(rssMb(pid) * 10) / 10);
    const low = Math.min(...readings);
    const elapsed = Date.now() - t0;
    if ((elapsed >= minMs && limitMb > 0 && low <= limitMb) || elapsed > maxMs) return { rss: low, readings };
  }
}

/** Runs `n` tasks, `width` at a time. */
export async function inBatches(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** Monitoring port from the server's log ("Starting http monitor on HOST:PORT"). */
export function monitorPort(output: string): number {
  const m = /Starting http monitor on \S*:(\d+)/.exec(output);
  if (m === null) throw new Error(`no monitoring port in:\n${output}`);
  return Number(m[1]);
}

/**
 * The server's last "heap after gc" lines (one per thread, logged by the `$TSNATS.DEBUG.GC` hook):
 * for a failure message, so a memory test that fails says whether V8's heaps or native memory
 * hold the difference. Empty for nats-server.
 */
export function heapLines(output: string, threads: number): string {
  const lines = output.split('\n').filter((l) => l.includes('heap after gc'));
  return lines.slice(-threads).map((l) => l.replace(/^.*debug hook: /, '')).join('; ');
}
