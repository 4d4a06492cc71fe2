// A JetStream cluster of server processes configured as the seed's "jetstream cluster" nodes
// (test/fixtures/seed/js-cluster-n*.conf: server_name, a $SYS account with a user, jetstream
// { store_dir }, cluster { name: C1, listen, routes to the others }), on loopback ports. Nodes are
// tsnats by default; any may be a real nats-server (mixed clusters). A node can be SIGKILLed and
// restarted with the same store and cluster port. Every process is stopped by its pid (stop()).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, sparePort, type ClusterNode, type NodeKind } from './cluster.js';
import { AckPolicy, DeliverPolicy, nanos, type NatsConnection } from 'nats';
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
    // TSNATS_JSC_DEBUG=1: nodes log at debug level (RAFT elections, with TSNATS_JSC_DUMP to keep it).
    const args = process.env['TSNATS_JSC_DEBUG'] === '1' ? ['-D'] : [];
    n.node = await startNode({ kind: n.kind, conf: n.conf, clusterFlag: false, port: n.port, shards: 2, env: this.env, args });
    return n.node;
  }

  /** SIGKILL, as a crash. */
  async kill(i: number): Promise<void> {
    const n = this.nodes[i]!;
    if (n.node === null) return;
    await n.node.stop('SIGKILL');
    dumpOutput(n);
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
    // TSNATS_JSC_DUMP=<dir>: every node's output is kept there (diagnosing a failure).
    for (const n of this.nodes) dumpOutput(n);
    await Promise.all(this.nodes.map((n) => n.node?.stop('SIGKILL')));
    for (const n of this.nodes) n.node = null;
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** TSNATS_JSC_DUMP=<dir>: a node's output is written there when it is killed or stopped (diagnosis). */
function dumpOutput(n: JsNode): void {
  const dir = process.env['TSNATS_JSC_DUMP'];
  if (dir === undefined || n.node === null) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${n.name}-${n.node.pid}.log`), n.node.output());
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

/** Resolves with `p`, or with `fallback` after ms (the timer is cleared either way). */
export async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | null = null;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/**
 * The messages of `stream` from sequence `from` to `to`, by sequence, as text. Read with an ephemeral
 * pull consumer (no acks) through nc; every step is bounded in time: a batch that stalls (a leader
 * changing) is stopped and the read goes on from the next sequence with a new consumer; the whole read
 * is bounded by timeoutMs.
 */
export async function readStream(nc: NatsConnection, stream: string, from: number, to: number, timeoutMs = 120_000): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const dec = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  let next = from;
  while (next <= to && Date.now() < deadline) {
    let name = '';
    try {
      const jsm = await nc.jetstreamManager();
      const ci = await jsm.consumers.add(stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: next,
        inactive_threshold: nanos(30_000),
        mem_storage: true,
        num_replicas: 1,
      });
      name = ci.name;
      const c = await nc.jetstream().consumers.get(stream, name);
      while (next <= to && Date.now() < deadline) {
        const before = next;
        const batch = await within(c.fetch({ max_messages: Math.min(1000, to - next + 1), expires: 2000 }), 10_000, null);
        if (batch === null) break;
        const drained = (async () => {
          for await (const m of batch) {
            out.set(m.seq, dec.decode(m.data));
            if (m.seq >= next) next = m.seq + 1;
          }
          return true;
        })();
        if (!(await within(drained, 10_000, false))) {
          batch.stop();
          break;
        }
        if (next === before) break;
      }
    } catch {
      await delay(250);
    }
    if (name !== '') await within(nc.jetstreamManager().then((m) => m.consumers.delete(stream, name)), 5_000, false).catch(() => false);
  }
  return out;
}
