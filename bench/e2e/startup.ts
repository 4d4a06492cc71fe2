// Start-up time, tsnats against nats-server in one run (issue 12): from the moment the process is
// spawned to (a) the "Server is ready" log line and (b) the first INFO a client receives, the client
// connecting in a loop from the moment of the spawn (as the official clients' test harnesses and a
// reconnecting fleet do). Targets alternate start by start, so a change in machine load hits them
// alike; the table shows medians (and the spread).
//
//   npm run bench:startup                    # 15 starts per target (~1 min on 2 cores)
//   npm run bench:startup -- --runs 30
//   npm run bench:startup -- --baseline /other/checkout/dist/src/main.js   # adds "tsnats (baseline)" rows
//   npm run bench:startup -- --only tsnats   # or nats-server
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { findNatsServer, natsServerVersion, sparePort, tsnatsMain, HOST } from './servers.js';
import { median } from './report.js';

interface Target {
  label: string;
  cmd: string;
  /** Arguments before `-a HOST -p PORT ...` (node's script). */
  prefix: string[];
  js: boolean;
}

interface Sample {
  readyMs: number;
  infoMs: number;
  /** Connections accepted and never served before the first INFO came. */
  orphans: number;
}

/** A connection accepted but silent this long counts as orphaned (the official clients' default connect timeout). */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * Polls `connect` from `t0` until a connection yields INFO; resolves with its arrival time and how
 * many accepted connections got nothing (closed, or silent for CONNECT_TIMEOUT_MS) before that.
 */
function firstInfo(port: number, t0: number, deadline: number): Promise<{ at: number; orphans: number }> {
  let orphans = 0;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (performance.now() > deadline) return reject(new Error(`no INFO before the deadline (${orphans} connection(s) accepted and left without INFO)`));
      const s = net.connect(port, HOST);
      let done = false;
      const retry = (orphaned: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        if (orphaned) orphans++;
        // Refused: not listening yet. Retry at once, sleeping 1 ms so the poller does not take a core.
        setTimeout(attempt, 1);
      };
      const timer = setTimeout(() => retry(true), CONNECT_TIMEOUT_MS);
      s.once('data', (d) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const at = performance.now() - t0;
        s.destroy();
        if (d.subarray(0, 5).toString() === 'INFO ') resolve({ at, orphans });
        else reject(new Error(`first bytes were not INFO: ${JSON.stringify(d.subarray(0, 40).toString())}`));
      });
      let connected = false;
      s.once('connect', () => (connected = true));
      s.once('error', () => retry(connected));
      s.once('close', () => retry(connected));
    };
    attempt();
  });
}

async function startOnce(t: Target, timeoutMs: number): Promise<Sample> {
  const port = await sparePort();
  const dir = t.js ? mkdtempSync(join(os.tmpdir(), 'tsnats-startup-')) : null;
  const args = [...t.prefix, '-a', HOST, '-p', String(port), ...(dir !== null ? ['-js', '-sd', dir] : [])];
  const t0 = performance.now();
  const proc = spawn(t.cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let readyMs = -1;
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (readyMs < 0 && /Server is ready/.test(out)) readyMs = performance.now() - t0;
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    const { at: infoMs, orphans } = await firstInfo(port, t0, t0 + timeoutMs);
    const until = performance.now() + timeoutMs;
    while (readyMs < 0 && performance.now() < until && proc.exitCode === null) await new Promise((r) => setTimeout(r, 2));
    if (readyMs < 0) throw new Error(`no "Server is ready" line:\n${out.slice(-500)}`);
    return { readyMs, infoMs, orphans };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const k = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(k);
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${median(s).toFixed(0).padStart(5)} ms  (${s[0]!.toFixed(0)}–${s[s.length - 1]!.toFixed(0)})`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const runs = Number(opt('--runs') ?? 15);
  const only = opt('--only');
  const baseline = opt('--baseline');
  const natsBin = findNatsServer();
  const targets: Target[] = [];
  if (only !== 'nats-server') {
    targets.push({ label: 'tsnats', cmd: process.execPath, prefix: [tsnatsMain], js: false });
    targets.push({ label: 'tsnats -js', cmd: process.execPath, prefix: [tsnatsMain], js: true });
    if (baseline !== undefined) {
      targets.push({ label: 'tsnats (baseline)', cmd: process.execPath, prefix: [baseline], js: false });
      targets.push({ label: 'tsnats -js (baseline)', cmd: process.execPath, prefix: [baseline], js: true });
    }
  }
  if (only !== 'tsnats') {
    if (natsBin === null) console.error('nats-server not found ($PATH or $NATS_SERVER_BIN): tsnats only');
    else {
      targets.push({ label: 'nats-server', cmd: natsBin, prefix: [], js: false });
      targets.push({ label: 'nats-server -js', cmd: natsBin, prefix: [], js: true });
    }
  }
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.label, []]));
  const load0 = os.loadavg();
  console.error(`start-up: ${runs} starts per target, alternating; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  for (let r = 0; r < runs; r++) {
    for (const t of targets) samples.get(t.label)!.push(await startOnce(t, 10_000));
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const load1 = os.loadavg();
  const rows = targets.map((t) => {
    const s = samples.get(t.label)!;
    const orphaned = s.filter((x) => x.orphans > 0).length;
    return `| ${t.label} | ${fmt(s.map((x) => x.readyMs))} | ${fmt(s.map((x) => x.infoMs))} | ${orphaned} of ${s.length} |`;
  });
  console.log(`Start-up, median of ${runs} starts (min–max); ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}${natsBin !== null ? `, ${natsServerVersion(natsBin)}` : ''}`);
  console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}\n`);
  console.log('| server | spawn → "Server is ready" | spawn → first INFO received | starts that left a connection without INFO |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
