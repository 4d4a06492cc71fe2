// JetStream in the monitoring endpoints: /jsz figures from the JetStream worker, and /varz's
// `jetstream` block (config and stats) in nats-server's shape. Also checks nats-server's answers
// when run with TSNATS_TEST_SERVER=nats-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy } from '@nats-io/jetstream';
import { startJetStream, openJs } from '../helpers/jetstream.js';
import { startServer } from '../helpers/server.js';

test('/jsz and /varz report JetStream', { timeout: 30_000 }, async () => {
  const env = await startJetStream(openJs, { prefix: 'tsnats-js-mon-', args: (dir) => ['-js', '-sd', dir, '-m', '-1'] });
  try {
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(env.server.output())![1]);
    const get = async (path: string): Promise<Record<string, unknown>> => (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as Record<string, unknown>;
    await env.jsm.streams.add({ name: 'MON', subjects: ['mon.>'] });
    for (let i = 0; i < 3; i++) await env.js.publish('mon.a', 'x');
    await env.jsm.consumers.add('MON', { durable_name: 'd', ack_policy: AckPolicy.Explicit });

    const jsz = await get('/jsz');
    assert.equal(jsz['disabled'], undefined, 'disabled is left out while JetStream runs (omitempty)');
    assert.equal(jsz['streams'], 1);
    assert.equal(jsz['consumers'], 1);
    assert.equal(jsz['messages'], 3);
    assert.ok((jsz['bytes'] as number) > 0);
    assert.ok((jsz['storage'] as number) > 0);
    assert.equal(jsz['memory'], 0);
    const cfg = jsz['config'] as Record<string, unknown>;
    assert.match(String(cfg['store_dir']), /jetstream$/);
    assert.equal(cfg['max_memory'] !== undefined && cfg['max_storage'] !== undefined, true);
    assert.ok(((jsz['api'] as { total: number }).total) >= 3, 'API requests counted');

    const hz = await fetch(`http://127.0.0.1:${port}/healthz?js-enabled-only=true`);
    assert.equal(hz.status, 200);
    assert.deepEqual(await hz.json(), { status: 'ok' });

    const varz = await get('/varz');
    const vj = varz['jetstream'] as { config: Record<string, unknown>; stats: Record<string, unknown> };
    assert.equal(vj.config['store_dir'], cfg['store_dir']);
    assert.ok((vj.stats['storage'] as number) > 0);
    assert.ok(((vj.stats['api'] as { total: number }).total) >= 3);
  } finally {
    await env.close();
  }
});

test('/healthz without JetStream stays ok, js-enabled-only or not (as nats-server)', { timeout: 30_000 }, async () => {
  const server = await startServer({ args: ['-m', '-1'] });
  try {
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]);
    for (const q of ['', '?js-enabled-only=true']) {
      const r = await fetch(`http://127.0.0.1:${port}/healthz${q}`);
      assert.equal(r.status, 200, q);
      assert.deepEqual(await r.json(), { status: 'ok' });
    }
  } finally {
    await server.stop();
  }
});
