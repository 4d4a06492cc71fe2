// Starting and stopping the servers under test, finding spare ports, and CPU accounting via /proc.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';

export const HOST = '127.0.0.1';
export const repoRoot = new URL('../../../', import.meta.url).pathname; // dist/bench/e2e -> repo root
/**
 * The tsnats entry point: dist/src/main.js, or $TSNATS_MAIN (e.g. a build of a committed tree kept
 * apart from dist/, so that a concurrent `tsc` cannot change the server in the middle of a run).
 */
export const tsnatsMain = process.env.TSNATS_MAIN !== undefined && process.env.TSNATS_MAIN !== '' ? process.env.TSNATS_MAIN : join(repoRoot, 'dist', 'src', 'main.js');

export type ServerKind = 'tsnats' | 'nats-server';

/** Where the shard-placement rows put the connections: all on shard 0, or the publisher on 0 and the subscribers on 1. */
export type Placement = 'same' | 'different';

export interface TargetSpec {
  kind: ServerKind;
  /** tsnats only: passed as --shards N when set. */
  shards?: number;
  /**
   * tsnats only: start it with TSNATS_DEBUG_INFO=1 (its INFO then names the shard a connection is on)
   * and have the load generator keep only connections that landed on the shards this placement wants.
   */
  placement?: Placement;
  /**
   * Two servers of this kind joined by a route (node A with --routes to node B): publishers connect to
   * A, subscribers to B, so every message crosses the route.
   */
  cluster?: boolean;
}

export function targetLabel(t: TargetSpec): string {
  if (t.cluster === true) return `${t.kind} pair`;
  if (t.kind !== 'tsnats') return t.kind;
  const base = t.shards !== undefined ? `tsnats --shards ${t.shards}` : 'tsnats';
  if (t.placement === 'same') return `${base}, all on one shard`;
  if (t.placement === 'different') return `${base}, pub and subs on different shards`;
  return base;
}

export interface RunningServer {
  spec: TargetSpec;
  label: string;
  port: number;
  pid: number;
  /** A cluster pair: node B's client port (subscribers go there), B's pid, and a wait for B's interest at A. */
  subPort?: number;
  extraPids?: number[];
  waitInterest?: (subject: string) => Promise<void>;
  proc: ChildProcess;
  output(): string;
  exited(): boolean;
  /** SIGTERM, wait up to 5 s, then SIGKILL. */
  stop(): Promise<void>;
}

/** nats-server on $NATS_SERVER_BIN or $PATH, or null. */
export function findNatsServer(): string | null {
  const env = process.env.NATS_SERVER_BIN;
  const candidates = env !== undefined && env !== '' ? [env] : (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, 'nats-server'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

export function natsServerVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function tsnatsBuilt(): boolean {
  return existsSync(tsnatsMain);
}

/** A port nobody is listening on right now (bind :0, read it, close). */
export async function sparePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, HOST, resolve);
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('could not get a spare port');
  return addr.port;
}

export interface StartOptions {
  natsServerBin?: string;
  /** Directory for `node --cpu-prof` output (tsnats only). */
  cpuProfDir?: string;
  /** `node --cpu-prof-interval` in µs (default: node's, 1000). */
  cpuProfIntervalUs?: number;
  readyTimeoutMs?: number;
  /** Extra flags for either server (both take the same, e.g. `-js -sd DIR`). */
  extraArgs?: string[];
  /** Extra environment for tsnats (e.g. TSNATS_HOPTRACE). */
  env?: Record<string, string>;
}

const children = new Set<ChildProcess>();
/** Best-effort: kill every server we started (used on exit / SIGINT). */
export function killAllServers(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* ignore */
      }
    }
  }
}

export async function startServer(spec: TargetSpec, opts: StartOptions = {}): Promise<RunningServer> {
  if (spec.cluster === true) return startPair(spec, opts);
  const port = await sparePort();
  const args = ['-a', HOST, '-p', String(port), ...(opts.extraArgs ?? [])];
  let cmd: string;
  let argv: string[];
  if (spec.kind === 'nats-server') {
    if (opts.natsServerBin === undefined) throw new Error('nats-server not found');
    cmd = opts.natsServerBin;
    argv = args;
  } else {
    if (!tsnatsBuilt()) throw new Error(`${tsnatsMain} does not exist (build with tsc first)`);
    if (spec.shards !== undefined) args.push('--shards', String(spec.shards));
    const nodeFlags: string[] = [];
    if (opts.cpuProfDir !== undefined) {
      mkdirSync(opts.cpuProfDir, { recursive: true });
      nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
      if (opts.cpuProfIntervalUs !== undefined) nodeFlags.push(`--cpu-prof-interval=${opts.cpuProfIntervalUs}`);
    }
    cmd = process.execPath;
    argv = [...nodeFlags, tsnatsMain, ...args];
  }
  const env =
    spec.kind === 'tsnats'
      ? // Placement rows measure a connection where the harness put it: no moving to the subscribers' shard.
        { ...process.env, ...(spec.placement !== undefined ? { TSNATS_DEBUG_INFO: '1', TSNATS_MIGRATE: '0' } : {}), ...(opts.env ?? {}) }
      : process.env;
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(proc);
  let out = '';
  const onData = (d: Buffer): void => {
    if (out.length < 1_000_000) out += d.toString();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exitedP = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (/Listening for client connections on \S+/.test(out) && /Server is ready/.test(out)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`not ready after ${timeoutMs / 1000}s`));
      }, timeoutMs);
      const onExit = (code: number | null, sig: string | null): void => {
        cleanup();
        reject(new Error(`exited (${code ?? sig}) before it was ready`));
      };
      const onErr = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        proc.stderr!.off('data', check);
        proc.off('exit', onExit);
        proc.off('error', onErr);
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
      proc.once('exit', onExit);
      proc.once('error', onErr);
    });
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    children.delete(proc);
    const tail = out.trim().split('\n').slice(-8).join('\n');
    throw new Error(`${targetLabel(spec)} failed to start: ${(e as Error).message}${tail !== '' ? `\n--- output ---\n${tail}` : ''}`);
  }
  return {
    spec,
    label: targetLabel(spec),
    port,
    pid: proc.pid!,
    proc,
    output: () => out,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exitedP;
        clearTimeout(t);
      }
      children.delete(proc);
    },
  };
}

// ------------------------------------------------------------------------------------------ CPU time

let clkTck = 0;
function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface ProcStat {
  ppid: number;
  ticks: number; // utime + stime
}

function readStat(pid: number): ProcStat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) state ppid ..." - comm may contain spaces and parentheses: split after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); utime is field 14, stime field 15.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/**
 * utime+stime (clock ticks) of `pid` and all its descendants (a server that forks shard processes is
 * charged for them; threads are included in a process's own figures).
 */
export function cpuTicksOfTree(pid: number): Map<number, number> {
  const result = new Map<number, number>();
  const root = readStat(pid);
  if (root === null) return result;
  result.set(pid, root.ticks);
  let byParent: Map<number, number[]> | null = null;
  try {
    byParent = new Map();
    for (const name of readdirSync('/proc')) {
      const p = Number(name);
      if (!Number.isInteger(p) || p <= 0 || p === pid) continue;
      const st = readStat(p);
      if (st === null) continue;
      const list = byParent.get(st.ppid);
      if (list === undefined) byParent.set(st.ppid, [p]);
      else list.push(p);
    }
  } catch {
    byParent = null;
  }
  if (byParent !== null) {
    const stack = [pid];
    while (stack.length > 0) {
      const parent = stack.pop()!;
      for (const child of byParent.get(parent) ?? []) {
        const st = readStat(child);
        if (st === null) continue;
        result.set(child, st.ticks);
        stack.push(child);
      }
    }
  }
  return result;
}

/** CPU seconds used by the tree between two snapshots (processes that appeared count in full). */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / ticksPerSecond();
}

// ------------------------------------------------------------------------------------------ cluster pair

/**
 * Node B (cluster listener), then node A soliciting it, both with a monitoring port; resolves once
 * A has a route. Publishers use A's port, subscribers B's (RunningServer.subPort); both processes are
 * charged as server CPU.
 */
async function startPair(spec: TargetSpec, opts: StartOptions): Promise<RunningServer> {
  const one = { ...spec, cluster: false };
  const [bRoute, aHttp, bHttp] = [await sparePort(), await sparePort(), await sparePort()];
  const common = ['--cluster_name', 'bench'];
  const b = await startServer(one, { ...opts, extraArgs: [...(opts.extraArgs ?? []), ...common, '--cluster', `nats://${HOST}:${bRoute}`, '-m', String(bHttp)] });
  let a: RunningServer;
  try {
    a = await startServer(one, { ...opts, extraArgs: [...(opts.extraArgs ?? []), ...common, '--cluster', `nats://${HOST}:${await sparePort()}`, '--routes', `nats://${HOST}:${bRoute}`, '-m', String(aHttp)] });
  } catch (e) {
    await b.stop();
    throw e;
  }
  const routez = async (httpPort: number, subs = false): Promise<{ num_routes?: number; routes?: { subscriptions_list?: string[] }[] }> => {
    const r = await fetch(`http://${HOST}:${httpPort}/routez${subs ? '?subs=1' : ''}`);
    return (await r.json()) as { num_routes?: number; routes?: { subscriptions_list?: string[] }[] };
  };
  const until = async (what: string, cond: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!(await cond().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`${targetLabel(spec)}: ${what} within 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until('no route between the two nodes', async () => (await routez(aHttp)).num_routes === 1 && (await routez(bHttp)).num_routes === 1);
  } catch (e) {
    await Promise.all([a.stop(), b.stop()]);
    throw e;
  }
  return {
    spec,
    label: targetLabel(spec),
    port: a.port,
    pid: a.pid,
    subPort: b.port,
    extraPids: [b.pid],
    // Publishing before B's interest reached A would drop messages: the harness waits for it.
    waitInterest: (subject) => until(`node A never heard of interest in ${subject}`, async () => ((await routez(aHttp, true)).routes ?? []).some((r) => (r.subscriptions_list ?? []).includes(subject))),
    proc: a.proc,
    output: () => `${a.output()}\n--- node B ---\n${b.output()}`,
    exited: () => a.exited() || b.exited(),
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}
