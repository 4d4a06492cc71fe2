// Cluster nodes for tests: tsnats or a real nats-server (2.9.10 at /usr/bin/nats-server in CI), each a
// separate process on loopback ports, with the client, route and monitoring ports read back from the
// log lines both servers print. Every node is stopped by its pid (stopAll in a finally).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { mainJs } from './server.js';
import { delay } from './wait.js';

export type NodeKind = 'tsnats' | 'nats-server';

export interface NodeSpec {
  kind?: NodeKind;
  /** Config file text (written to a temp dir and passed with -c). */
  conf?: string;
  /** Extra flags. */
  args?: string[];
  /** Cluster port; -1 (default) picks one. */
  clusterPort?: number;
  /** Client port; -1 (default) picks one. */
  port?: number;
  /** Adds `--cluster nats://127.0.0.1:<clusterPort>` (default true; false when the conf has a cluster block). */
  clusterFlag?: boolean;
  clusterName?: string;
  routes?: string[];
  /** tsnats only (default 2). */
  shards?: number;
  env?: Record<string, string>;
}

export interface ClusterNode {
  kind: NodeKind;
  spec: NodeSpec;
  proc: ChildProcess;
  pid: number;
  port: number;
  clusterPort: number;
  httpPort: number;
  /** "127.0.0.1:PORT" */
  hostport: string;
  /** nats://127.0.0.1:CLUSTERPORT */
  routeUrl: string;
  output(): string;
  /** SIGTERM (or the given signal), then wait; SIGKILL after 10 s. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited(): boolean;
  json(path: string): Promise<Record<string, unknown>>;
  text(path: string): Promise<string>;
  serverId(): Promise<string>;
}

/** The real nats-server binary, or null when it is not installed. */
export function natsServerBin(): string | null {
  const env = process.env.NATS_SERVER_BIN;
  const candidates = env ? [env] : [...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'nats-server')), '/usr/bin/nats-server'];
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

/** A port nobody listens on right now. */
export { sparePort } from './ports.js';

const started = new Set<ClusterNode>();

export async function startNode(spec: NodeSpec = {}): Promise<ClusterNode> {
  const kind = spec.kind ?? 'tsnats';
  const args = ['-a', '127.0.0.1', '-p', String(spec.port ?? -1), '-m', '-1'];
  if (spec.conf !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-cluster-'));
    const file = join(dir, 'nats.conf');
    writeFileSync(file, spec.conf);
    args.push('-c', file);
  }
  if (spec.clusterFlag ?? spec.conf === undefined) args.push('--cluster', `nats://127.0.0.1:${spec.clusterPort ?? -1}`);
  if (spec.clusterName !== undefined) args.push('--cluster_name', spec.clusterName);
  if (spec.routes !== undefined && spec.routes.length > 0) args.push('--routes', spec.routes.join(','));
  args.push(...(spec.args ?? []));
  let cmd: string;
  let argv: string[];
  if (kind === 'nats-server') {
    const bin = natsServerBin();
    if (bin === null) throw new Error('nats-server is not installed');
    cmd = bin;
    argv = args;
  } else {
    cmd = process.execPath;
    argv = [mainJs, ...args, '--shards', String(spec.shards ?? 2)];
  }
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...spec.env } });
  let out = '';
  const ports = await new Promise<{ port: number; clusterPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start in 15s:\n${out}`)), 15_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const c = /Listening for client connections on [^\s]*:(\d+)/.exec(out);
      const r = /Listening for route connections on [^\s]*:(\d+)/.exec(out);
      const h = /Starting http monitor on [^\s]*:(\d+)/.exec(out);
      if (c && r && h && /Server is ready/.test(out)) {
        clearTimeout(timer);
        resolve({ port: Number(c[1]), clusterPort: Number(r[1]), httpPort: Number(h[1]) });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited with ${code} before it was ready:\n${out}`));
    });
  }).catch((err: unknown) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    throw err;
  });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  const base = `http://127.0.0.1:${ports.httpPort}`;
  let id = '';
  const node: ClusterNode = {
    kind,
    spec,
    proc,
    pid: proc.pid!,
    ...ports,
    hostport: `127.0.0.1:${ports.port}`,
    routeUrl: `nats://127.0.0.1:${ports.clusterPort}`,
    output: () => out,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      started.delete(node);
    },
    async json(path: string) {
      const r = await fetch(base + path);
      return (await r.json()) as Record<string, unknown>;
    },
    async text(path: string) {
      return (await fetch(base + path)).text();
    },
    async serverId() {
      if (id === '') id = String((await node.json('/varz'))['server_id']);
      return id;
    },
  };
  started.add(node);
  return node;
}

/** Stops every node still running (SIGKILL after 10 s each). */
export async function stopAll(nodes: Iterable<ClusterNode | undefined> = started): Promise<void> {
  await Promise.all([...nodes].filter((n): n is ClusterNode => n !== undefined).map((n) => n.stop()));
}

interface RouteEntry {
  remote_id: string;
  did_solicit: boolean;
  is_configured: boolean;
}

export async function routesOf(node: ClusterNode): Promise<RouteEntry[]> {
  return ((await node.json('/routez'))['routes'] as RouteEntry[]) ?? [];
}

/** Waits until every node has a route to every other node, and only those. */
export async function waitMesh(nodes: ClusterNode[], timeoutMs = 30_000): Promise<void> {
  const ids = await Promise.all(nodes.map((n) => n.serverId()));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    let ok = true;
    const seen: string[] = [];
    for (const [i, n] of nodes.entries()) {
      const remotes = (await routesOf(n)).map((r) => r.remote_id).sort();
      const want = ids.filter((_, j) => j !== i).sort();
      seen.push(`${n.kind}:${n.port} -> [${remotes.map((r) => r.slice(0, 6)).join(',')}]`);
      if (JSON.stringify(remotes) !== JSON.stringify(want)) ok = false;
    }
    last = seen.join('; ');
    if (ok) return;
    await delay(100);
  }
  throw new Error(`no full mesh after ${timeoutMs} ms: ${last}`);
}

/**
 * Waits until at least `n` of `node`'s routes told it of interest in `subject` (exactly as subscribed,
 * e.g. `foo.>`), per `/routez?subs=1`, which both servers answer alike: the other nodes' interest
 * has arrived there.
 */
export async function waitInterest(node: ClusterNode, subject: string, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let count = 0;
  while (Date.now() < deadline) {
    count = await routeInterest(node, subject);
    if (count >= n) return;
    await delay(50);
  }
  throw new Error(`${node.kind}:${node.port}: ${count} of ${n} routes have interest in ${subject}`);
}

/** How many of `node`'s routes told it of interest in `subject` (exactly as subscribed). */
export async function routeInterest(node: ClusterNode, subject: string): Promise<number> {
  const routes = ((await node.json('/routez?subs=1'))['routes'] as { subscriptions_list?: string[] }[] | undefined) ?? [];
  return routes.filter((r) => (r.subscriptions_list ?? []).includes(subject)).length;
}
