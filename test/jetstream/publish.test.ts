// Publishing into streams with the official v3 client: pub acks, Nats-Msg-Id de-duplication inside
// and outside the window, every Nats-Expected-* header, rollups, interest retention without
// consumers, and no responders when no stream captures the subject. Both storage types.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { headers, errors, type NatsConnection } from '@nats-io/nats-core';
import { type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { startJetStream, openJs, type JetStreamEnv, type JsClient, apiError } from '../helpers/jetstream.js';
import { delay } from '../helpers/wait.js';

type Storage = 'file' | 'memory';

for (const storage of ['file', 'memory'] as Storage[]) {
  describe(`publish into streams (${storage} storage)`, { timeout: 60_000 }, () => {
    let env: JetStreamEnv<JsClient> | undefined;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let js: JetStreamClient;
    let n = 0;
    const name = (): string => `P${++n}`;
    const add = (cfg: Partial<StreamConfig> & { name: string }) => jsm.streams.add({ storage, ...cfg } as Partial<StreamConfig> & { name: string });

    before(async () => {
      env = await startJetStream(openJs);
      ({ nc, jsm, js } = env);
    });

    after(() => env?.close());

    test('acks carry the stream and increasing sequences; the raw ack is nats-server\'s', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.>`] });
      for (let i = 1; i <= 5; i++) {
        const pa = await js.publish(`${s}.x.${i}`, `m${i}`);
        assert.equal(pa.stream, s);
        assert.equal(pa.seq, i);
        assert.equal(pa.duplicate, false);
      }
      const raw = await nc.request(`${s}.raw`, 'r', { timeout: 2000 });
      assert.equal(raw.string(), `{"stream":"${s}", "seq":6}`);
      // Without a reply subject the message is stored and nothing is answered.
      nc.publish(`${s}.noreply`, 'quiet');
      await nc.flush();
      const st = (await jsm.streams.info(s)).state;
      assert.deepEqual([st.messages, st.last_seq], [7, 7]);
    });

    test('Nats-Msg-Id: a duplicate inside the window is acked as duplicate and not stored again', async () => {
      const s = name();
      await add({ name: s });
      const a = await js.publish(s, 'one', { msgID: 'id-1' });
      const b = await js.publish(s, 'other', { msgID: 'id-2' });
      const dup = await js.publish(s, 'one again', { msgID: 'id-1' });
      assert.deepEqual([a.seq, b.seq], [1, 2]);
      assert.equal(dup.duplicate, true);
      assert.equal(dup.seq, 1);
      const h = headers();
      h.set('Nats-Msg-Id', 'id-2');
      const raw = await nc.request(s, 'x', { headers: h, timeout: 2000 });
      assert.equal(raw.string(), `{"stream":"${s}", "seq":2,"duplicate": true}`);
      assert.equal((await jsm.streams.info(s)).state.messages, 2);
    });

    test('Nats-Msg-Id: outside a short duplicate window the same id is stored again', async () => {
      const s = name();
      await add({ name: s, duplicate_window: 200_000_000 });
      assert.equal((await js.publish(s, 'a', { msgID: 'same' })).seq, 1);
      assert.equal((await js.publish(s, 'a', { msgID: 'same' })).duplicate, true);
      await delay(350);
      const again = await js.publish(s, 'a', { msgID: 'same' });
      assert.equal(again.duplicate, false);
      assert.equal(again.seq, 2);
      assert.equal((await jsm.streams.info(s)).state.messages, 2);
    });

    test('expected headers: stream 10060, last sequence 10071, last msg id 10070, last subject sequence 10071', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`] });
      await js.publish(`${s}.a`, '1', { msgID: 'm1' });
      await js.publish(`${s}.b`, '2', { msgID: 'm2' });

      const e1 = await apiError(js.publish(`${s}.a`, 'x', { expect: { streamName: 'NotIt' } }));
      assert.deepEqual(e1, { code: 10060, message: 'expected stream does not match' });
      assert.equal((await js.publish(`${s}.a`, '3', { expect: { streamName: s } })).seq, 3);

      const e2 = await apiError(js.publish(`${s}.a`, 'x', { expect: { lastSequence: 1 } }));
      assert.deepEqual(e2, { code: 10071, message: 'wrong last sequence: 3' });
      assert.equal((await js.publish(`${s}.a`, '4', { expect: { lastSequence: 3 } })).seq, 4);

      const e3 = await apiError(js.publish(`${s}.a`, 'x', { expect: { lastMsgID: 'm1' } }));
      assert.deepEqual(e3, { code: 10070, message: 'wrong last msg ID: ' }); // seq 4 had no id
      await js.publish(`${s}.a`, '5', { msgID: 'm5' });
      assert.equal((await js.publish(`${s}.a`, '6', { expect: { lastMsgID: 'm5' } })).seq, 6);

      const e4 = await apiError(js.publish(`${s}.b`, 'x', { expect: { lastSubjectSequence: 1 } }));
      assert.deepEqual(e4, { code: 10071, message: 'wrong last sequence: 2' });
      assert.equal((await js.publish(`${s}.b`, '7', { expect: { lastSubjectSequence: 2 } })).seq, 7);
      // 0 means "no message on this subject yet" (KV create).
      assert.equal((await js.publish(`${s}.c`, '8', { expect: { lastSubjectSequence: 0 } })).seq, 8);
      assert.equal((await apiError(js.publish(`${s}.c`, 'x', { expect: { lastSubjectSequence: 0 } }))).code, 10071);

      // The raw error ack: error first, then the stream and a zero sequence.
      const h = headers();
      h.set('Nats-Expected-Stream', 'nope');
      const raw = await nc.request(`${s}.a`, 'x', { headers: h, timeout: 2000 });
      assert.deepEqual(raw.json(), { error: { code: 400, err_code: 10060, description: 'expected stream does not match' }, stream: s, seq: 0 });
      assert.equal((await jsm.streams.info(s)).state.messages, 8);
    });

    test('Nats-Rollup: sub keeps the newest on the subject, all keeps only the new message; refused without allow_rollup_hdrs', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`], allow_rollup_hdrs: true });
      for (let i = 0; i < 3; i++) {
        await js.publish(`${s}.a`, `a${i}`);
        await js.publish(`${s}.b`, `b${i}`);
      }
      const sub = headers();
      sub.set('Nats-Rollup', 'sub');
      await js.publish(`${s}.a`, 'a-rolled', { headers: sub });
      let st = (await jsm.streams.info(s, { subjects_filter: '>' })).state;
      assert.deepEqual(st.subjects, { [`${s}.a`]: 1, [`${s}.b`]: 3 });
      const all = headers();
      all.set('Nats-Rollup', 'all');
      const pa = await js.publish(`${s}.b`, 'everything', { headers: all });
      st = (await jsm.streams.info(s)).state;
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [1, pa.seq, pa.seq]);

      const plain = name();
      await add({ name: plain });
      const e = await apiError(js.publish(plain, 'x', { headers: sub }));
      assert.deepEqual(e, { code: 10111, message: 'rollup not permitted' });
    });

    test('interest retention with no consumer: acked, not kept', async () => {
      const s = name();
      await add({ name: s, retention: 'interest' as StreamConfig['retention'] });
      const pa = await js.publish(s, 'nobody listens');
      assert.equal(pa.seq, 1);
      const st = (await jsm.streams.info(s)).state;
      assert.deepEqual([st.messages, st.last_seq], [0, 1]);
    });

    test('no stream on the subject: no responders', async () => {
      await assert.rejects(js.publish(`nostream.${n}`, 'x'), (err: unknown) => {
        // The client turns no responders into JetStreamNotEnabled, keeping the cause.
        const cause = (err as Error).cause;
        assert.ok(cause instanceof errors.RequestError && cause.isNoResponders(), String(err));
        return true;
      });
      await assert.rejects(nc.request(`nostream.${n}`, 'x', { timeout: 2000 }), (err: unknown) => {
        assert.ok(err instanceof errors.RequestError && err.isNoResponders());
        return true;
      });
    });
  });
}
