// Start-up of the library against nats-server's process start, in one run (issue 19): from the
// moment the server is asked for to the first INFO a client receives, the client connecting in a
// loop from that moment (as test harnesses do). Targets, alternating start by start:
//
//   nats-server                 spawn `nats-server -a H -p P` → first INFO (the reference)
//   tsnats CLI                  spawn `node dist/src/main.js -a H -p P` → first INFO
//   library, fresh process      spawn a script that imports 'tsnats' and calls startServer → first INFO
//   library, in-process         `await startServer({ port })` in this already-running process → first
//                               INFO, with the library's default `shards: 0` (served on the calling
//                               thread) and with one worker-thread shard
//
// The goal: start to first connection served ≤ 1.5× nats-server's process start. With --js each
// target also runs with JetStream (a fresh store directory per start).
//
//   npm run bench:startup-lib                 # 15 starts per target
//   npm run bench:startup-lib -- --runs 30 --js
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { findNatsServer, natsServerVersion, sparePort, tsnatsMain, repoRoot, HOST } from './servers.js';
import { median } from './report.js';
import { startServer } from 'tsnats';

const childScript = join(repoRoot, 'dist', 'bench', 'e2e', 'startup-lib-child.js');

interface Target {
  label: string;
  js: boolean;
  /** Starts the server on `port`; resolves to a stopper. Timing starts before the call. */
  start(port: number, storeDir: string | null): Promise<() => Promise<void>>;
}

const ORPHAN_MS = 1000;
/** Connections that were accepted and never got an INFO (each cost ORPHAN_MS). */
let orphaned = 0;

/** Connects in a loop from now until a connection yields INFO; resolves with the time it arrived. */
function firstInfo(port: number, t0: number, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (performance.now() > deadline) return reject(new Error('no INFO before the deadline'));
      const s = net.connect(port, HOST);
      let got = false;
      // A connection accepted but never served (a listener bound before its handler) would hang
      // the poll: give up on it after a while and connect again; the time lost counts.
      const giveUp = setTimeout(() => {
        if (!got) {
          orphaned++;
          s.destroy();
          attempt();
        }
      }, ORPHAN_MS);
      s.once('data', (d: Buffer) => {
        clearTimeout(giveUp);
        got = true;
        const at = performance.now() - t0;
        s.destroy();
        if (d.subarray(0, 5).toString() === 'INFO ') resolve(at);
        else reject(new Error(`first bytes were not INFO: ${JSON.stringify(d.subarray(0, 40).toString())}`));
      });
      s.once('error', () => {
        clearTimeout(giveUp);
        s.destroy();
        if (!got) setTimeout(attempt, 1); // refused: not listening yet
      });
      s.once('close', () => {
        if (!got && !s.errored && !s.destroyed) {
          clearTimeout(giveUp);
          setTimeout(attempt, 1); // accepted and closed without a byte
        }
      });
    };
    attempt();
  });
}

function spawned(cmd: string, args: string[]): () => Promise<() => Promise<void>> {
  return () => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return Promise.resolve(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const k = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(k);
    });
  };
}

function targets(natsBin: string | null, withJs: boolean): Target[] {
  const out: Target[] = [];
  for (const js of withJs ? [false, true] : [false]) {
    const sfx = js ? ' -js' : '';
    if (natsBin !== null) out.push({ label: `nats-server${sfx}`, js, start: (port, dir) => spawned(natsBin, ['-a', HOST, '-p', String(port), ...(dir !== null ? ['-js', '-sd', dir] : [])])() });
    out.push({ label: `tsnats CLI${sfx}`, js, start: (port, dir) => spawned(process.execPath, [tsnatsMain, '-a', HOST, '-p', String(port), ...(dir !== null ? ['-js', '-sd', dir] : [])])() });
    out.push({ label: `library, fresh process${sfx}`, js, start: (port) => spawned(process.execPath, [childScript, String(port), js ? 'js' : ''])() });
    for (const shards of [0, 1]) {
      out.push({
        label: `library, in-process, shards: ${shards}${sfx}`,
        js,
        start: async (port) => {
          const h = await startServer({ port, jetstream: js, shards });
          return () => h.stop();
        },
      });
    }
  }
  return out;
}

async function once(t: Target, timeoutMs: number): Promise<number> {
  const port = await sparePort();
  const dir = t.js ? mkdtempSync(join(os.tmpdir(), 'tsnats-startup-lib-')) : null;
  const t0 = performance.now();
  const info = firstInfo(port, t0, t0 + timeoutMs);
  let stop: (() => Promise<void>) | null = null;
  try {
    stop = await t.start(port, dir);
    return await info;
  } finally {
    await info.catch(() => {});
    if (stop !== null) await stop();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${median(s).toFixed(1).padStart(6)} ms (${s[0]!.toFixed(0)}–${s[s.length - 1]!.toFixed(0)})`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const runsAt = argv.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 15;
  const natsBin = findNatsServer();
  if (natsBin === null) console.error('nats-server not found ($PATH or $NATS_SERVER_BIN): no reference, tsnats rows only');
  const list = targets(natsBin, argv.includes('--js'));
  const samples = new Map<string, number[]>(list.map((t) => [t.label, []]));
  const load0 = os.loadavg();
  console.error(`start-up (library): ${runs} starts per target, alternating; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  // One start of each first, not counted: the in-process row measures a warm process, as a test file's second server.
  for (const t of list) {
    await once(t, 15_000);
  }
  for (let r = 0; r < runs; r++) {
    for (const t of list) samples.get(t.label)!.push(await once(t, 15_000));
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const load1 = os.loadavg();
  console.log(`Start to first INFO, median of ${runs} (min–max); ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}${natsBin !== null ? `, ${natsServerVersion(natsBin)}` : ''}`);
  console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}\n`);
  if (orphaned > 0) console.log(`${orphaned} connection(s) were accepted and never served (each counted ${ORPHAN_MS} ms before connecting again)\n`);
  console.log('| target | start → first INFO | ÷ nats-server (goal ≤ 1.5) |');
  console.log('|---|---|---|');
  for (const t of list) {
    const s = samples.get(t.label)!;
    const ref = samples.get(t.js ? 'nats-server -js' : 'nats-server');
    const ratio = ref !== undefined && !t.label.startsWith('nats-server') ? (median([...s].sort((a, b) => a - b)) / median([...ref].sort((a, b) => a - b))).toFixed(2) : '';
    console.log(`| ${t.label} | ${fmt(s)} | ${ratio} |`);
  }
}

await main();
