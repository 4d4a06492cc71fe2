// TSNATS_HOPTRACE (src/monitor/hoptrace*.ts): a tsnats started with it writes per-thread hop
// histograms; JetStream publishes and a request/reply across two shards must show up in the hops they
// travel. The instrumentation patches methods by name, so a renamed method fails here, not silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { hopTraceDir } from '../../src/monitor/hoptrace.js';

interface Hist {
  n: number;
  sum: number;
  max: number;
  buckets: [number, number][];
}

/** Every thread's hops, by name, summed over the files (the shards' "shard N:" prefixes kept). */
function readHops(dir: string): Map<string, Hist> {
  const out = new Map<string, Hist>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => /^hops-.*\.json$/.test(x))) {
    const data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { hops: Record<string, Hist> };
    for (const [k, h] of Object.entries(data.hops)) {
      const m = out.get(k);
      if (m === undefined) out.set(k, h);
      else out.set(k, { n: m.n + h.n, sum: m.sum + h.sum, max: Math.max(m.max, h.max), buckets: [...m.buckets, ...h.buckets] });
    }
  }
  return out;
}

function count(hops: Map<string, Hist>, re: RegExp): number {
  let n = 0;
  for (const [k, h] of hops) if (re.test(k)) n += h.n;
  return n;
}

test('TSNATS_HOPTRACE records the hops of JetStream publishes and of a cross-shard request/reply', { skip: usingNatsServer ? 'tsnats instrumentation' : false, timeout: 60_000 }, async () => {
  const store = mkdtempSync(join(tmpdir(), 'tsnats-hoptrace-js-'));
  const hopDir = mkdtempSync(join(tmpdir(), 'tsnats-hoptrace-'));
  const server = await startServer({ shards: 2, args: ['-js', '-sd', store], env: { TSNATS_HOPTRACE: hopDir, TSNATS_DEBUG_INFO: '1' } });
  const conns: NatsConnection[] = [];
  try {
    const shardOf = (nc: NatsConnection): number => (nc.info as unknown as { tsnats_shard: number }).tsnats_shard;
    const nc = await connect({ servers: server.hostport });
    conns.push(nc);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HOPS', subjects: ['hops.>'] });
    const js = jetstream(nc);
    for (let i = 0; i < 20; i++) assert.equal((await js.publish('hops.x', `m${i}`)).seq, i + 1);

    // A replier and a requester on different shards (least-loaded hand-off; bounded retries).
    const replier = await connect({ servers: server.hostport });
    conns.push(replier);
    replier.subscribe('svc', {
      callback: (_err, m) => {
        m.respond(m.data);
      },
    });
    await replier.flush();
    let requester: NatsConnection | null = null;
    for (let i = 0; i < 8 && requester === null; i++) {
      const c = await connect({ servers: server.hostport });
      conns.push(c);
      if (shardOf(c) !== shardOf(replier)) requester = c;
    }
    assert.ok(requester !== null, 'a requester on the other shard');
    for (let i = 0; i < 20; i++) assert.equal(new TextDecoder().decode((await requester.request('svc', `q${i}`, { timeout: 5_000 })).data), `q${i}`);

    // Dumps are written every second (and at exit): wait for the JetStream worker's to show the publishes.
    await waitFor(() => count(readHops(hopDir), /^jetstream: Stream\.process/) >= 20, 'the JetStream worker hop dump', 15_000);
    await waitFor(() => count(readHops(hopDir), /^ring shard→shard: publish → drain/) >= 20, 'the shards hop dumps', 15_000);
    // Each thread dumps once a second on its own clock: wait for every shard's latest dump too.
    await waitFor(() => count(readHops(hopDir), /^shard \d: ring drain → socket write/) >= 40 && count(readHops(hopDir), /^shard \d: socket read → ring publish/) >= 40, 'every shard\'s hop dump', 15_000);
    const hops = readHops(hopDir);
    const names = [...hops.keys()].join('\n');
    assert.ok(count(hops, /^jetstream: store append of one message/) >= 20, names);
    assert.ok(count(hops, /^jetstream: file store record encode \+ write/) >= 20, names);
    assert.ok(count(hops, /^ring shard→jetstream: publish → drain/) >= 20, names);
    assert.ok(count(hops, /^ring jetstream→shard: publish → drain/) >= 20, names);
    assert.ok(count(hops, /^jetstream: ring drain → ring publish/) >= 20, names);
    assert.ok(count(hops, /^shard \d: parse \+ route of one socket read/) >= 40, names);
    assert.ok(count(hops, /^shard \d: socket read → ring publish/) >= 40, names);
    assert.ok(count(hops, /^shard \d: ring drain → socket write/) >= 40, names);
    // Durations are durations: positive, and none of a wrapped clock (a sign error would be ~2^31 × 100 ns).
    for (const [k, h] of hops) {
      assert.ok(h.sum >= 0 && h.max < 60e9, `${k}: sum ${h.sum} max ${h.max}`);
      assert.equal(h.buckets.reduce((a, [, c]) => a + c, 0), h.n, `${k}: bucket counts add up`);
    }
  } finally {
    for (const c of conns) await c.close().catch(() => undefined);
    await server.stop();
    rmSync(store, { recursive: true, force: true });
    rmSync(hopDir, { recursive: true, force: true });
  }
});

test('TSNATS_HOPTRACE is read as a directory; empty or 0 is off', () => {
  const before = process.env['TSNATS_HOPTRACE'];
  try {
    delete process.env['TSNATS_HOPTRACE'];
    assert.equal(hopTraceDir(), null);
    process.env['TSNATS_HOPTRACE'] = '';
    assert.equal(hopTraceDir(), null);
    process.env['TSNATS_HOPTRACE'] = '0';
    assert.equal(hopTraceDir(), null);
    process.env['TSNATS_HOPTRACE'] = '/tmp/hops';
    assert.equal(hopTraceDir(), '/tmp/hops');
  } finally {
    if (before === undefined) delete process.env['TSNATS_HOPTRACE'];
    else process.env['TSNATS_HOPTRACE'] = before;
  }
});
