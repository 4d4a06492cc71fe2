// Durable consumer state survives a restart on the same store directory: nothing acknowledged comes
// back, nothing unacknowledged is lost (pull and push, limits and workqueue retention).
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createInbox, nanos, type NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { jsStoreDir, startJetStream, openNc } from '../helpers/jetstream.js';
import { waitFor } from '../helpers/wait.js';

describe('consumer state across a restart', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function withServer<T>(dir: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
    const env = await startJetStream(openNc, { dir });
    try {
      return await fn(env.nc);
    } finally {
      await env.close();
    }
  }

  for (const retention of ['limits', 'workqueue'] as const) {
    test(`pull consumer on a ${retention} stream: restart in the middle of consumption`, async () => {
      const dir = jsStoreDir('tsnats-restart-');
      dirs.push(dir);
      await withServer(dir, async (nc) => {
        const jsm = await jetstreamManager(nc);
        const js = jetstream(nc);
        await jsm.streams.add({ name: 'R', subjects: ['r.>'], retention: retention as never });
        const ps: Promise<unknown>[] = [];
        for (let i = 0; i < 100; i++) ps.push(js.publish(`r.${i}`, `m${i + 1}`));
        await Promise.all(ps);
        await jsm.consumers.add('R', { durable_name: 'd', ack_policy: AckPolicy.Explicit, ack_wait: nanos(1000) });
        const c = await js.consumers.get('R', 'd');
        const got: JsMsg[] = [];
        while (got.length < 40) for await (const m of await c.fetch({ max_messages: 40 - got.length, expires: 1000 })) got.push(m);
        // ack 1..30 and 35, leave 31..34 and 36..40 unacknowledged
        for (const m of got) if (m.seq <= 30 || m.seq === 35) await m.ackAck();
        const ci = await c.info();
        assert.equal(ci.num_ack_pending, 9);
        assert.equal(ci.ack_floor.stream_seq, 30);
      });
      await withServer(dir, async (nc) => {
        const jsm = await jetstreamManager(nc);
        const js = jetstream(nc);
        const ci = await jsm.consumers.info('R', 'd');
        assert.equal(ci.delivered.stream_seq, 40, 'delivered position restored');
        assert.equal(ci.ack_floor.stream_seq, 30, 'ack floor restored');
        assert.equal(ci.num_ack_pending, 9, 'pending restored');
        assert.equal(ci.num_pending, 60);
        const c = await js.consumers.get('R', 'd');
        const seen = new Map<number, number>();
        const deadline = Date.now() + 8000;
        while (seen.size < 69 && Date.now() < deadline) {
          for await (const m of await c.fetch({ max_messages: 100, expires: 1000 })) {
            seen.set(m.seq, (seen.get(m.seq) ?? 0) + 1);
            await m.ackAck();
          }
        }
        const expected = [31, 32, 33, 34, ...Array.from({ length: 65 }, (_, i) => i + 36)];
        assert.deepEqual([...seen.keys()].sort((a, b) => a - b), expected, 'exactly the unacknowledged ones and the rest');
        const info = await c.info();
        assert.equal(info.num_ack_pending, 0);
        assert.equal(info.ack_floor.stream_seq, 100);
        const si = await jsm.streams.info('R');
        assert.equal(si.state.messages, retention === 'workqueue' ? 0 : 100);
      });
    });
  }

  test('push consumer: restarts after its last delivered message', async () => {
    const dir = jsStoreDir('tsnats-restart-');
    dirs.push(dir);
    const deliver = createInbox();
    await withServer(dir, async (nc) => {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      await jsm.streams.add({ name: 'P', subjects: ['p.>'] });
      for (let i = 0; i < 10; i++) await js.publish(`p.${i}`, `m${i + 1}`);
      const got: number[] = [];
      const sub = nc.subscribe(deliver, { callback: (_e, m) => { got.push(got.length + 1); m.respond(); } });
      await jsm.consumers.add('P', { durable_name: 'pd', deliver_subject: deliver, ack_policy: AckPolicy.Explicit });
      await waitFor(() => got.length === 10, () => `10 messages, got ${got.length}`);
      await nc.flush();
      sub.unsubscribe();
      await waitFor(() => false, '', 200).catch(() => undefined);
      for (let i = 10; i < 15; i++) await js.publish(`p.${i}`, `m${i + 1}`);
    });
    await withServer(dir, async (nc) => {
      const seqs: string[] = [];
      nc.subscribe(deliver, { callback: (_e, m) => { seqs.push(m.string()); m.respond(); } });
      await waitFor(() => seqs.length >= 5, () => `5 messages, got ${seqs.length}`);
      await waitFor(() => false, '', 300).catch(() => undefined);
      assert.deepEqual(seqs, ['m11', 'm12', 'm13', 'm14', 'm15']);
    });
  });
});
