// Stream limits through the official v3 client on both storage types: max_msgs, max_bytes,
// max_msgs_per_subject (discard old and new, and discard_new_per_subject), max_msg_size, max_age
// expiring without new publishes, max_consumers, and stricter limits applied by an update.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { startJetStream, openJs, type JetStreamEnv, type JsClient, apiError } from '../helpers/jetstream.js';
import { delay } from '../helpers/wait.js';

type Storage = 'file' | 'memory';

for (const storage of ['file', 'memory'] as Storage[]) {
  describe(`stream limits (${storage} storage)`, { timeout: 60_000 }, () => {
    let env: JetStreamEnv<JsClient> | undefined;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let js: JetStreamClient;
    let n = 0;
    const name = (): string => `L${++n}`;
    const add = (cfg: Partial<StreamConfig> & { name: string }) => jsm.streams.add({ storage, ...cfg } as Partial<StreamConfig> & { name: string });
    const state = async (s: string) => (await jsm.streams.info(s)).state;

    before(async () => {
      env = await startJetStream(openJs);
      ({ nc, jsm, js } = env);
    });

    after(() => env?.close());

    test('max_msgs: discard old drops the oldest, discard new refuses (10077 maximum messages exceeded)', async () => {
      const old = name();
      await add({ name: old, max_msgs: 3 });
      for (let i = 1; i <= 5; i++) await js.publish(old, `m${i}`);
      const st = await state(old);
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [3, 3, 5]);

      const nw = name();
      await add({ name: nw, max_msgs: 2, discard: 'new' as StreamConfig['discard'] });
      await js.publish(nw, 'a');
      await js.publish(nw, 'b');
      assert.deepEqual(await apiError(js.publish(nw, 'c')), { code: 10077, message: 'maximum messages exceeded' });
      assert.deepEqual([(await state(nw)).messages, (await state(nw)).last_seq], [2, 2]);
    });

    test('max_bytes: discard old keeps under the limit, discard new refuses (10077 maximum bytes exceeded)', async () => {
      const old = name();
      await add({ name: old, max_bytes: 300 });
      for (let i = 0; i < 10; i++) await js.publish(old, 'x'.repeat(50));
      const st = await state(old);
      assert.ok(st.bytes <= 300, `bytes ${st.bytes}`);
      assert.ok(st.messages > 0 && st.messages < 10);
      assert.equal(st.last_seq, 10);

      const nw = name();
      await add({ name: nw, max_bytes: 100, discard: 'new' as StreamConfig['discard'] });
      await js.publish(nw, 'y'.repeat(40));
      assert.deepEqual(await apiError(js.publish(nw, 'y'.repeat(60))), { code: 10077, message: 'maximum bytes exceeded' });
      assert.equal((await state(nw)).messages, 1);
    });

    test('max_msgs_per_subject: old per subject, and discard_new_per_subject refuses (10077)', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`], max_msgs_per_subject: 2 });
      for (let i = 0; i < 4; i++) {
        await js.publish(`${s}.a`, `a${i}`);
        await js.publish(`${s}.b`, `b${i}`);
      }
      const st = (await jsm.streams.info(s, { subjects_filter: '>' })).state;
      assert.deepEqual(st.subjects, { [`${s}.a`]: 2, [`${s}.b`]: 2 });
      assert.equal((await jsm.streams.getMessage(s, { seq: st.first_seq }))?.string(), 'a2');

      const p = name();
      await add({ name: p, subjects: [`${p}.*`], max_msgs_per_subject: 1, discard: 'new' as StreamConfig['discard'], discard_new_per_subject: true });
      await js.publish(`${p}.a`, '1');
      await js.publish(`${p}.b`, '1');
      assert.deepEqual(await apiError(js.publish(`${p}.a`, '2')), { code: 10077, message: 'maximum messages per subject exceeded' });
    });

    test('max_msg_size: bigger messages (headers included) are refused with 10054', async () => {
      const s = name();
      await add({ name: s, max_msg_size: 16 });
      assert.equal((await js.publish(s, 'x'.repeat(16))).seq, 1);
      assert.deepEqual(await apiError(js.publish(s, 'x'.repeat(17))), { code: 10054, message: 'message size exceeds maximum allowed' });
      // Headers count: a msg id makes a short payload too big.
      assert.equal((await apiError(js.publish(s, 'x', { msgID: 'a-long-message-id' }))).code, 10054);
      assert.equal((await state(s)).messages, 1);
    });

    test('max_age: messages expire without any new publish', async () => {
      const s = name();
      await add({ name: s, max_age: 400_000_000 });
      for (let i = 0; i < 3; i++) await js.publish(s, `m${i}`);
      assert.equal((await state(s)).messages, 3);
      const deadline = Date.now() + 5000;
      let st = await state(s);
      while (st.messages > 0 && Date.now() < deadline) {
        await delay(100);
        st = await state(s);
      }
      assert.equal(st.messages, 0);
      assert.equal(st.last_seq, 3);
    });

    test('update to stricter limits applies them at once', async () => {
      const s = name();
      await add({ name: s });
      for (let i = 0; i < 10; i++) await js.publish(s, `m${i}`);
      const up = await jsm.streams.update(s, { max_msgs: 4 });
      assert.equal(up.config.max_msgs, 4);
      const st = await state(s);
      assert.deepEqual([st.messages, st.first_seq], [4, 7]);
    });

    test('max_consumers: the next consumer is refused with 10026', async (t) => {
      const s = name();
      await add({ name: s, max_consumers: 1 });
      const create = (c: string) =>
        nc.request(`$JS.API.CONSUMER.CREATE.${s}.${c}`, JSON.stringify({ stream_name: s, config: { name: c, durable_name: c, ack_policy: 'explicit' } }), { timeout: 1000 });
      let first;
      try {
        first = await create('c1');
      } catch {
        // TODO: remove once the consumer plugin (src/jetstream/consumer/plugin.ts) is wired in.
        t.skip('consumer plugin not present: consumer create is not answered');
        return;
      }
      assert.equal(first.json<Record<string, any>>()['error'], undefined);
      const second = (await create('c2')).json<Record<string, any>>();
      assert.equal(second['error']?.err_code, 10026);
      assert.equal(second['error']?.description, 'maximum consumers limit reached');
    });
  });
}
