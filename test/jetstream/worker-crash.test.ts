// The JetStream worker dying (a bug, not a shutdown) does not take the server down: the shards keep
// serving core NATS, a replacement worker recovers the file streams and their durable consumers from
// disk, and clients carry on with the next sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, jetstream } from '@nats-io/jetstream';
import { rmSync } from 'node:fs';
import { jsStoreDir } from '../helpers/jetstream.js';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { delay, waitFor } from '../helpers/wait.js';

test('a crashed JetStream worker is replaced; streams and consumers come back from disk', { skip: usingNatsServer ? 'tsnats test hook' : false, timeout: 60_000 }, async () => {
  const dir = jsStoreDir('tsnats-js-crash-');
  const server = await startServer({ args: ['-js', '-sd', dir], env: { TSNATS_DEBUG_HOOKS: '1' } });
  const nc = await connect({ servers: server.hostport });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'CRASH', subjects: ['crash.>'] });
    await jsm.consumers.add('CRASH', { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    for (let i = 1; i <= 10; i++) assert.equal((await js.publish('crash.a', `m${i}`)).seq, i);
    const c = await js.consumers.get('CRASH', 'd');
    for (let i = 1; i <= 4; i++) {
      const m = await c.next({ expires: 2000 });
      assert.equal(m?.string(), `m${i}`);
      await m!.ackAck();
    }

    // Consumer state is written at most every 100 ms (nats-server also flushes it behind the acks):
    // a crash loses at most that much ack progress, and those messages come again (at least once).
    await delay(300);
    nc.publish('$JS.API.TSNATS.DEBUG.EXIT');
    await waitFor(() => /replacement JetStream worker ready/.test(server.output()), 'the replacement worker', 15_000);

    // Core NATS never stopped; JetStream is back with everything acknowledged.
    const echo = nc.subscribe('still.here', { max: 1 });
    nc.publish('still.here', 'yes');
    for await (const m of echo) assert.equal(m.string(), 'yes');
    const si = await jsm.streams.info('CRASH');
    assert.equal(si.state.messages, 10);
    assert.equal((await js.publish('crash.a', 'm11')).seq, 11);
    const ci = await jsm.consumers.info('CRASH', 'd');
    assert.equal(ci.ack_floor.stream_seq, 4);
    const m5 = await (await js.consumers.get('CRASH', 'd')).next({ expires: 2000 });
    assert.equal(m5?.string(), 'm5');
    await m5!.ackAck();
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JetStream worker that keeps crashing stays down; core NATS serves on and /healthz says so', { skip: usingNatsServer ? 'tsnats test hook' : false, timeout: 60_000 }, async () => {
  const dir = jsStoreDir('tsnats-js-crash6-');
  const server = await startServer({ args: ['-js', '-sd', dir, '-m', '-1'], env: { TSNATS_DEBUG_HOOKS: '1' } });
  const nc = await connect({ servers: server.hostport });
  try {
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]);
    const health = async (): Promise<number> => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
    assert.equal(await health(), 200);
    const ready = (): number => server.output().split('replacement JetStream worker ready').length - 1;
    for (let i = 1; i <= 5; i++) {
      nc.publish('$JS.API.TSNATS.DEBUG.EXIT');
      await waitFor(() => ready() === i, `replacement ${i}`, 15_000);
    }
    nc.publish('$JS.API.TSNATS.DEBUG.EXIT');
    await waitFor(() => /JetStream stays down until restart/.test(server.output()), 'the worker to stay down', 15_000);
    assert.equal(await health(), 503);
    const body = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; error: string };
    assert.deepEqual(body, { status: 'unavailable', error: 'JetStream not enabled' });
    // Core NATS is unaffected; JetStream requests find no responder instead of hanging.
    const echo = nc.subscribe('still.here', { max: 1 });
    nc.publish('still.here', 'yes');
    for await (const m of echo) assert.equal(m.string(), 'yes');
    await assert.rejects(nc.request('$JS.API.INFO', '', { timeout: 2000 }), /no responders|503/i);
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
