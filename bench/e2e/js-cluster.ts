// Replicated JetStream publish rates: an R3 file stream on a three-node tsnats cluster against the same
// on a three-node nats-server cluster, in one run (issue 15). Each cluster is configured as the seed's
// "jetstream cluster" nodes (server_name, a $SYS account, jetstream { store_dir }, cluster { name,
// listen, routes }) on loopback ports; the client (the official `nats` v2 client in this process)
// connects to the first node, wherever the stream's leader is.
//
//   npm run build && node dist/bench/e2e/js-cluster.js [--runs N] [--msgs N] [--quick] [--server both|tsnats|nats-server]
//
// Workloads (a fresh R3 stream BENCH, subject bench.>, 128-byte payloads):
//   pub-sync   js.publish awaited one at a time (each acked once a quorum stored it)
//   pub-async  up to 256 publishes in flight

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { findNatsServer, killAllServers, natsServerVersion, sparePort, startServer, type RunningServer, type ServerKind } from './servers.js';
import { median } from './report.js';

const WORKLOADS = ['pub-sync', 'pub-async'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Opts {
  runs: number;
  msgs: number;
  servers: ServerKind[];
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { runs: 3, msgs: 20_000, servers: ['tsnats', 'nats-server'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => argv[++i] ?? '';
    if (a === '--runs') o.runs = Math.max(1, Number(v()));
    else if (a === '--msgs') o.msgs = Math.max(100, Number(v()));
    else if (a === '--server') {
      const s = v();
      o.servers = s === 'both' ? ['tsnats', 'nats-server'] : [s as ServerKind];
    } else if (a === '--quick') {
      o.runs = 1;
      o.msgs = 5_000;
    }
  }
  return o;
}

const payload = Buffer.alloc(128, 0x61);

interface Cluster {
  nodes: RunningServer[];
  dir: string;
  stop(): Promise<void>;
}

async function startCluster(kind: ServerKind, bin: string | null): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jscbench-'));
  const ports = [await sparePort(), await sparePort(), await sparePort()];
  const nodes: RunningServer[] = [];
  try {
    const started = ports.map((p, i) => {
      const conf = join(dir, `n${i + 1}.conf`);
      writeFileSync(
        conf,
        [
          `server_name=n${i + 1}-c1`,
          'accounts { $SYS { users = [ { user: "admin", pass: "admin" } ] } }',
          `jetstream { store_dir=${JSON.stringify(join(dir, `s${i + 1}`))} }`,
          `cluster { name: C1, listen: 127.0.0.1:${p}, routes: [ ${ports.filter((_, j) => j !== i).map((q) => `nats://127.0.0.1:${q}`).join(', ')} ] }`,
          '',
        ].join('\n'),
      );
      return startServer({ kind }, { natsServerBin: bin ?? undefined, extraArgs: ['-c', conf], readyTimeoutMs: 20_000 });
    });
    for (const s of await Promise.allSettled(started)) {
      if (s.status === 'fulfilled') nodes.push(s.value);
      else throw s.reason;
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes,
    dir,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh R3 stream, created once the meta group has a leader (retried). */
async function freshStream(nc: NatsConnection): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      // The manager asks for account info: answered once the meta group has a leader.
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete('BENCH').catch(() => undefined);
      await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], num_replicas: 3 });
      // The first publish waits for the group's leader.
      const js = nc.jetstream();
      for (;;) {
        try {
          await js.publish('bench.warm', payload, { timeout: 2000 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
      await jsm.streams.purge('BENCH');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function runOnce(c: Cluster, w: Workload, n: number): Promise<number> {
  const nc = await connect({ servers: `127.0.0.1:${c.nodes[0]!.port}` });
  try {
    await freshStream(nc);
    const js = nc.jetstream();
    const t0 = performance.now();
    if (w === 'pub-sync') {
      for (let i = 0; i < n; i++) await js.publish('bench.x', payload);
    } else {
      const inflight = new Set<Promise<unknown>>();
      for (let i = 0; i < n; i++) {
        const p = js.publish('bench.x', payload).finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= 256) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await nc.close();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const bin = findNatsServer();
  const servers = o.servers.filter((s) => s === 'tsnats' || bin !== null);
  if (bin !== null) console.log(`nats-server: ${natsServerVersion(bin)}`);
  const rates = new Map<Workload, Partial<Record<ServerKind, number>>>();
  for (const kind of servers) {
    const samples = new Map<Workload, number[]>(WORKLOADS.map((w) => [w, []]));
    for (let r = 0; r < o.runs; r++) {
      const c = await startCluster(kind, bin);
      try {
        for (const w of WORKLOADS) samples.get(w)!.push(await runOnce(c, w, w === 'pub-sync' ? Math.ceil(o.msgs / 10) : o.msgs));
      } finally {
        await c.stop();
      }
    }
    for (const w of WORKLOADS) {
      const s = samples.get(w)!;
      const m = median(s);
      rates.set(w, { ...(rates.get(w) ?? {}), [kind]: m });
      console.log(`R3 ${w.padEnd(10)} ${kind.padEnd(12)} median ${Math.round(m).toLocaleString('en-US')} msgs/s  (runs: ${s.map((x) => Math.round(x)).join(', ')})`);
    }
  }
  console.log('\n| R3 workload | tsnats msgs/s | nats-server msgs/s | ratio |\n|---|---:|---:|---:|');
  for (const w of WORKLOADS) {
    const r = rates.get(w) ?? {};
    const a = r.tsnats;
    const b = r['nats-server'];
    const fmt = (x: number | undefined): string => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
    console.log(`| ${w} | ${fmt(a)} | ${fmt(b)} | ${a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-'} |`);
  }
}

process.on('SIGINT', () => {
  killAllServers();
  process.exit(130);
});
main().catch((err: unknown) => {
  console.error(err);
  killAllServers();
  process.exit(1);
});
