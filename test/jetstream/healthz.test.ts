// /healthz with JetStream (monitor.go healthz, nats-server 2.10): js-enabled-only / js-server-only,
// and the account / stream / consumer checks of a single server — 404 for what is not there, 400
// for a stream without an account or a consumer without a stream, `details=true` as an error list,
// and a stream directory that could not be recovered making the server unhealthy.
// nats-server 2.9.10 has only js-enabled-only / js-server-only: with TSNATS_TEST_SERVER=nats-server
// only the first test runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy } from '@nats-io/jetstream';
import { startJetStream, openJs, jsStoreDir } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';

type Get = (q: string) => Promise<{ code: number; body: Record<string, unknown> }>;

function getter(output: string): Get {
  const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(output)![1]);
  return async (q) => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz${q}`);
    return { code: r.status, body: (await r.json()) as Record<string, unknown> };
  };
}

test('/healthz: js-enabled-only and js-server-only on a healthy JetStream server', { timeout: 30_000 }, async () => {
  const env = await startJetStream(openJs, { prefix: 'tsnats-js-hz-', args: (dir) => ['-js', '-sd', dir, '-m', '-1'] });
  try {
    const get = getter(env.server.output());
    await env.jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    for (const q of ['', '?js-enabled-only=true', '?js-server-only=true', '?js-enabled-only=1&js-server-only=true']) {
      assert.deepEqual(await get(q), { code: 200, body: { status: 'ok' } }, q);
    }
  } finally {
    await env.close();
  }
});

test('/healthz: account, stream and consumer checks; details; bad requests', { skip: usingNatsServer, timeout: 30_000 }, async () => {
  const env = await startJetStream(openJs, { prefix: 'tsnats-js-hz-', args: (dir) => ['-js', '-sd', dir, '-m', '-1'] });
  try {
    const get = getter(env.server.output());
    await env.jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    await env.jsm.consumers.add('S', { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const G = '%24G';
    assert.deepEqual(await get(`?account=${G}`), { code: 200, body: { status: 'ok' } });
    assert.deepEqual(await get(`?account=${G}&stream=S`), { code: 200, body: { status: 'ok' } });
    assert.deepEqual(await get(`?account=${G}&stream=S&consumer=d`), { code: 200, body: { status: 'ok' } });
    assert.deepEqual(await get(`?account=NOPE`), { code: 404, body: { status: 'unavailable', error: 'JetStream account "NOPE" not found' } });
    assert.deepEqual(await get(`?account=${G}&stream=X`), { code: 404, body: { status: 'unavailable', error: 'JetStream stream "X" not found on account "$G"' } });
    assert.deepEqual(await get(`?account=${G}&stream=S&consumer=x`), {
      code: 404,
      body: { status: 'unavailable', error: 'JetStream consumer "x" not found for stream "S" on account "$G"' },
    });
    assert.deepEqual(await get(`?account=${G}&stream=X&details=true`), {
      code: 404,
      body: { status: 'error', errors: [{ type: 'STREAM', account: '$G', stream: 'X', error: 'JetStream stream "X" not found on account "$G"' }] },
    });
    assert.deepEqual(await get('?stream=S'), { code: 400, body: { status: 'error', error: '"account" must not be empty when checking stream health' } });
    assert.deepEqual(await get(`?account=${G}&consumer=d`), { code: 400, body: { status: 'error', error: '"stream" must not be empty when checking consumer health' } });
    assert.equal((await get('?js-enabled-only=maybe')).code, 400);
    // js-enabled-only skips the asset checks.
    assert.deepEqual(await get(`?js-enabled-only=true&account=NOPE`), { code: 200, body: { status: 'ok' } });
  } finally {
    await env.close();
  }
});

test('/healthz: a stream directory that was not recovered makes the server unhealthy', { skip: usingNatsServer, timeout: 30_000 }, async () => {
  const dir = jsStoreDir('tsnats-js-hz-broken-');
  // A stream directory without its config: recovery skips it (and logs it).
  mkdirSync(join(dir, 'jetstream', '$G', 'streams', 'BROKEN'), { recursive: true });
  const env = await startJetStream(openJs, { dir, args: (d) => ['-js', '-sd', d, '-m', '-1'] });
  try {
    const get = getter(env.server.output());
    assert.deepEqual(await get(''), { code: 503, body: { status: 'unavailable', error: "JetStream stream '$G > BROKEN' could not be recovered" } });
    assert.deepEqual(await get('?details=true'), {
      code: 503,
      body: { status: 'error', errors: [{ type: 'STREAM', account: '$G', stream: 'BROKEN', error: "JetStream stream '$G > BROKEN' could not be recovered" }] },
    });
    assert.deepEqual(await get('?js-enabled-only=true'), { code: 200, body: { status: 'ok' } });
  } finally {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
