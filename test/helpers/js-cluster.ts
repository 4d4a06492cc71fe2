// A JetStream cluster of server processes configured as the seed's "jetstream cluster" nodes
// (test/fixtures/seed/js-cluster-n*.conf: server_name, a $SYS account with a user, jetstream
// { store_dir }, cluster { name: C1, listen, routes to the others }), on loopback ports. Nodes are
// tsnats by default; any may be a real nats-server (mixed clusters). A node can be SIGKILLed and
// restarted with the same store and cluster port. Every process is stopped by its pid (stop()).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, sparePort, type ClusterNode, type NodeKind } from './cluster.js';
import { delay } from './wait.js';

export interface JsNode {
  name: string;
  kind: NodeKind;
  clusterPort: number;
  /** Client port, kept across restarts (clients reconnect to the URLs they were given). */
  port: number;
  storeDir: string;
  conf: string;
  node: ClusterNode | null;
}

export class JsClusterHarness {
  readonly nodes: JsNode[] = [];
  readonly root = mkdtempSync(join(tmpdir(), 'tsnats-jscluster-'));
  readonly env: Record<string, string>;

  private constructor(env: Record<string, string>) {
    this.env = env;
  }

  /** Starts `kinds.length` nodes named n1-c1, n2-c1, ... (all tsnats unless told otherwise). */
  static async start(kinds: NodeKind[] = ['tsnats', 'tsnats', 'tsnats'], env: Record<string, string> = {}, tags: string[][] = []): Promise<JsClusterHarness> {
    const h = new JsClusterHarness(env);
    const ports: number[] = [];
    const clientPorts: number[] = [];
    for (let i = 0; i < kinds.length; i++) {
      ports.push(await sparePort());
      clientPorts.push(await sparePort());
    }
    kinds.forEach((kind, i) => {
      const name = `n${i + 1}-c1`;
      const storeDir = join(h.root, name);
      const routes = ports.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
      const conf = [
        `server_name=${name}`,
        ...(tags[i] !== undefined ? [`server_tags: ${JSON.stringify(tags[i])}`] : []),
        'accounts {',
        '  $SYS { users = [ { user: "admin", pass: "admin" } ] }',
        '}',
        'jetstream {',
        `   store_dir=${JSON.stringify(storeDir)}`,
        '}',
        'cluster {',
        '  name: C1',
        `  listen: 127.0.0.1:${ports[i]}`,
        '  routes: [',
        ...routes.map((r) => `    ${r}`),
        '  ]',
        '}',
        '',
      ].join('\n');
      h.nodes.push({ name, kind, clusterPort: ports[i]!, port: clientPorts[i]!, storeDir, conf, node: null });
    });
    try {
      await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
    } catch (err) {
      await h.stop();
      throw err;
    }
    return h;
  }

  async startNode(i: number): Promise<ClusterNode> {
    const n = this.nodes[i]!;
    n.node = await startNode({ kind: n.kind, conf: n.conf, clusterFlag: false, port: n.port, shards: 2, env: this.env });
    return n.node;
  }

  /** SIGKILL, as a crash. */
  async kill(i: number): Promise<void> {
    const n = this.nodes[i]!;
    if (n.node === null) return;
    await n.node.stop('SIGKILL');
    n.node = null;
  }

  url(i: number): string {
    const n = this.nodes[i]!.node;
    if (n === null) throw new Error(`node ${i} is down`);
    return `nats://${n.hostport}`;
  }

  /** Client URLs of the nodes that are up. */
  urls(): string[] {
    return this.nodes.filter((n) => n.node !== null).map((n) => `nats://${n.node!.hostport}`);
  }

  indexOf(name: string): number {
    return this.nodes.findIndex((n) => n.name === name);
  }

  async jsz(i: number, query = ''): Promise<Record<string, unknown>> {
    return this.nodes[i]!.node!.json(`/jsz${query}`);
  }

  async healthz(i: number): Promise<{ status: string; error?: string }> {
    return (await this.nodes[i]!.node!.json('/healthz')) as { status: string; error?: string };
  }

  /** Waits until every running node names the same meta leader and it lists all as current. */
  async waitMetaLeader(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const leaders = new Set<string>();
        for (let i = 0; i < this.nodes.length; i++) {
          if (this.nodes[i]!.node === null) continue;
          const mc = (await this.jsz(i))['meta_cluster'] as { leader?: string } | undefined;
          leaders.add(mc?.leader ?? '');
        }
        const [leader] = [...leaders];
        if (leaders.size === 1 && leader) {
          const li = this.indexOf(leader);
          const mc = (await this.jsz(li))['meta_cluster'] as { replicas?: { current: boolean }[] };
          const up = this.nodes.filter((n) => n.node !== null).length;
          if ((mc.replicas ?? []).filter((r) => r.current).length >= up - 1) return leader;
        }
        last = JSON.stringify([...leaders]);
      } catch (err) {
        last = String(err);
      }
      await delay(250);
    }
    throw new Error(`no meta leader agreed on in ${timeoutMs} ms (${last})`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.node?.stop('SIGKILL')));
    for (const n of this.nodes) n.node = null;
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Retries fn until it resolves (bounded by time). */
export async function retry<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000, pauseMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      lastErr = err;
      await delay(pauseMs);
    }
  }
  throw new Error(`${what}: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
}
