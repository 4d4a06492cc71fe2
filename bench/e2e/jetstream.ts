// JetStream benchmark: the same workloads against tsnats and nats-server in one run, medians of
// several runs, and the ratio. Both servers run with `-js -sd <fresh dir>`; the client is the
// official `nats` v2 client in this process (the same for both, so it caps both alike: the ratio
// is what to read, not the absolute rates).
//
//   npm run bench:js [-- --runs N --msgs N --only pub-sync,pub-raw,pub-async,fetch-ack --server both|tsnats|nats-server --flame]
//
// Workloads (each on a fresh file stream BENCH with subject bench.>, 128-byte payloads):
//   pub-sync   js.publish awaited one at a time (a round trip per message)
//   pub-raw    the same over a raw socket (no client library): the server's own round trip; the rate
//              is 1 / mean latency, and the p50/p90 latencies are printed beside it
//   pub-async  up to 256 publishes in flight (the seed's PublishAsync pattern)
//   fetch-ack  a durable pull consumer fetching batches of 256 and acking each message (issue 7)

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, AckPolicy, type NatsConnection, type JetStreamClient } from 'nats';
import { findNatsServer, killAllServers, natsServerVersion, repoRoot, startServer, type RunningServer, type ServerKind } from './servers.js';
import { loadProfile, selfTime } from './profile.js';
import { buildTree, renderFlameSvg } from './flamegraph-svg.js';
import { median } from './report.js';
import { rawPubLatencies } from './js-raw.js';

const WORKLOADS = ['pub-sync', 'pub-raw', 'pub-async', 'fetch-ack'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Opts {
  runs: number;
  msgs: number;
  only: Workload[];
  servers: ServerKind[];
  /** Profile tsnats (one run per workload) and write flamegraphs/js-<workload>.svg of the JetStream worker. */
  flame: boolean;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { runs: 3, msgs: 20_000, only: [...WORKLOADS], servers: ['tsnats', 'nats-server'], flame: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => argv[++i] ?? '';
    if (a === '--runs') o.runs = Math.max(1, Number(v()));
    else if (a === '--msgs') o.msgs = Math.max(100, Number(v()));
    else if (a === '--only') o.only = v().split(',').filter((x): x is Workload => (WORKLOADS as readonly string[]).includes(x));
    else if (a === '--server') {
      const s = v();
      o.servers = s === 'both' ? ['tsnats', 'nats-server'] : [s as ServerKind];
    } else if (a === '--flame') {
      o.flame = true;
      o.runs = 1;
      o.servers = ['tsnats'];
    } else if (a === '--quick') {
      o.runs = 2;
      o.msgs = 5_000;
    }
  }
  return o;
}

const payload = Buffer.alloc(128, 0x61);

async function freshStream(nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete('BENCH').catch(() => undefined);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'] });
}

async function pubSync(js: JetStreamClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await js.publish('bench.x', payload);
}

async function pubAsync(js: JetStreamClient, n: number, window: number): Promise<void> {
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const p = js.publish('bench.x', payload).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

async function fetchAck(nc: NatsConnection, n: number): Promise<number> {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add('BENCH', { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
  const consumer = await nc.jetstream().consumers.get('BENCH', 'bench');
  const t0 = performance.now();
  let got = 0;
  while (got < n) {
    // Never ask for more than is left: a short batch would wait out its expiry.
    const batch = await consumer.fetch({ max_messages: Math.min(256, n - got), expires: 2000 });
    for await (const m of batch) {
      m.ack();
      got++;
    }
  }
  await nc.flush();
  return performance.now() - t0;
}

async function runOnce(server: RunningServer, w: Workload, n: number): Promise<number> {
  const nc = await connect({ servers: `127.0.0.1:${server.port}` });
  try {
    await freshStream(nc);
    const js = nc.jetstream();
    if (w === 'pub-raw') {
      const lats = (await rawPubLatencies(server.port, 'bench.x', n)).sort((a, b) => a - b);
      const mean = lats.reduce((a, b) => a + b, 0) / lats.length;
      console.log(`  ${server.spec.kind}: p50 ${lats[Math.floor(lats.length / 2)]!.toFixed(0)} µs, p90 ${lats[Math.floor(lats.length * 0.9)]!.toFixed(0)} µs`);
      return 1e6 / mean;
    }
    if (w === 'fetch-ack') {
      await pubAsync(js, n, 256);
      const ms = await fetchAck(nc, n);
      return n / (ms / 1000);
    }
    const t0 = performance.now();
    if (w === 'pub-sync') await pubSync(js, n);
    else await pubAsync(js, n, 256);
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
  const rows: { workload: Workload; rates: Partial<Record<ServerKind, number>> }[] = [];
  for (const w of o.only) {
    const rates: Partial<Record<ServerKind, number>> = {};
    for (const kind of servers) {
      const samples: number[] = [];
      for (let r = 0; r < o.runs; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsbench-'));
        const profDir = o.flame ? mkdtempSync(join(tmpdir(), 'tsnats-jsflame-')) : undefined;
        const srv = await startServer({ kind }, { natsServerBin: bin ?? undefined, extraArgs: ['-js', '-sd', dir], cpuProfDir: profDir });
        try {
          // pub-sync is a round trip per message: a tenth of the count keeps it short.
          samples.push(await runOnce(srv, w, w === 'pub-sync' || w === 'pub-raw' ? Math.ceil(o.msgs / 10) : o.msgs));
        } finally {
          await srv.stop();
          rmSync(dir, { recursive: true, force: true });
        }
        if (profDir !== undefined) {
          writeJsFlamegraph(profDir, w, samples[samples.length - 1]!);
          rmSync(profDir, { recursive: true, force: true });
        }
      }
      rates[kind] = median(samples);
      console.log(`${w.padEnd(10)} ${kind.padEnd(12)} median ${Math.round(rates[kind]!).toLocaleString('en-US')} msgs/s  (runs: ${samples.map((x) => Math.round(x)).join(', ')})`);
    }
    rows.push({ workload: w, rates });
  }
  console.log('\n| workload | tsnats msgs/s | nats-server msgs/s | ratio |\n|---|---:|---:|---:|');
  for (const r of rows) {
    const a = r.rates.tsnats;
    const b = r.rates['nats-server'];
    const fmt = (x: number | undefined): string => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
    console.log(`| ${r.workload} | ${fmt(a)} | ${fmt(b)} | ${a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-'} |`);
  }
}

/** The JetStream worker thread's profile as flamegraphs/js-<workload>.svg. */
function writeJsFlamegraph(profDir: string, w: Workload, rate: number): void {
  const profiles = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => loadProfile(join(profDir, f), repoRoot))
    .filter((p) => p.isJetStream);
  if (profiles.length === 0) {
    console.log(`flamegraph ${w}: no JetStream worker profile found`);
    return;
  }
  const { busy, frames } = selfTime(profiles);
  const svg = renderFlameSvg(buildTree(profiles.flatMap((p) => p.stacks), 'JetStream worker'), {
    title: `tsnats JetStream ${w}: the JetStream worker thread`,
    subtitle: [
      `${Math.round(rate).toLocaleString('en-US')} msgs/s under the profiler; ${busy.toLocaleString('en-US')} busy samples (idle left out)`,
      `${new Date().toISOString().slice(0, 10)}, Node ${process.version}: npm run bench:js -- --flame --only ${w}`,
    ],
  });
  const out = join(repoRoot, 'flamegraphs', `js-${w}.svg`);
  mkdirSync(join(repoRoot, 'flamegraphs'), { recursive: true });
  writeFileSync(out, svg);
  console.log(`flamegraph: ${out}`);
  for (const f of frames.slice(0, 10)) console.log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
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
