// A JetStream cluster of real nats-server processes on loopback, for tests that check our RAFT and
// meta layer against nats-server's (test/jetstream/raft/interop.test.ts). Accounts: SYS (system,
// user sys/sys) and APP (JetStream, user app/app). Every process is stopped by its pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { sparePort } from './ports.js';

/** nats-server on $NATS_SERVER_BIN or $PATH, or null. */
export function natsServerBin(): string | null {
  const env = process.env.NATS_SERVER_BIN;
  const candidates = env ? [env] : (process.env.PATH ?? '').split(delimiter).filter((d) => d).map((d) => join(d, 'nats-server'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

export interface NatsNode {
  name: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  url: string;
  proc: ChildProcess | null;
  log: string;
}

export class NatsCluster {
  readonly bin: string;
  readonly dir = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  readonly nodes: NatsNode[] = [];

  private constructor(bin: string) {
    this.bin = bin;
  }

  static async create(names: string[], bin: string): Promise<NatsCluster> {
    const c = new NatsCluster(bin);
    for (const name of names) {
      const clientPort = await sparePort();
      c.nodes.push({ name, clientPort, clusterPort: await sparePort(), httpPort: await sparePort(), url: `nats://127.0.0.1:${clientPort}`, proc: null, log: '' });
    }
    return c;
  }

  node(name: string): NatsNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  private conf(n: NatsNode): string {
    const routes = this.nodes.filter((o) => o !== n).map((o) => `nats://127.0.0.1:${o.clusterPort}`);
    return `server_name: ${n.name}
listen: 127.0.0.1:${n.clientPort}
http: 127.0.0.1:${n.httpPort}
jetstream { store_dir: "${join(this.dir, n.name)}", max_file_store: 1GB, max_mem_store: 256MB }
accounts {
  SYS: { users: [{ user: sys, password: sys }] }
  APP: { jetstream: enabled, users: [{ user: app, password: app }] }
}
system_account: SYS
cluster { name: C1, listen: 127.0.0.1:${n.clusterPort}, routes: [${routes.join(', ')}] }
`;
  }

  start(name: string): void {
    const n = this.node(name);
    const cf = join(this.dir, `${n.name}.conf`);
    writeFileSync(cf, this.conf(n));
    n.log = '';
    const p = spawn(this.bin, ['-c', cf], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d: Buffer) => (n.log += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (n.log += d.toString()));
    n.proc = p;
  }

  startAll(): void {
    for (const n of this.nodes) this.start(n.name);
  }

  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const n = this.node(name);
    const p = n.proc;
    n.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, signal);
    const t = setTimeout(() => {
      if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL');
    }, 10_000);
    await done;
    clearTimeout(t);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await this.stop(n.name).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  async jsz(name: string): Promise<Record<string, unknown>> {
    const r = await fetch(`http://127.0.0.1:${this.node(name).httpPort}/jsz`);
    return (await r.json()) as Record<string, unknown>;
  }

  /** The meta leader's server name as `name` sees it ('' if none). */
  async metaLeader(name: string): Promise<string> {
    try {
      const j = await this.jsz(name);
      return ((j['meta_cluster'] as { leader?: string } | undefined)?.leader ?? '') as string;
    } catch {
      return '';
    }
  }
}
