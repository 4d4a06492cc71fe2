// Consumers with the nats v2 client (`nats` package): js.fetch, pull subscriptions, push
// subscriptions with manual acks, and its ordered push consumer (flow control + heartbeats).
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, consumerOpts, StringCodec, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { startJetStream, openJsV2, type JetStreamEnv, type JsClientV2 } from '../helpers/jetstream.js';

const sc = StringCodec();

describe('consumers with the nats v2 client', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<JsClientV2> | undefined;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let n = 0;
  const name = (): string => `V${++n}`;

  async function stream(count: number): Promise<string> {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    for (let i = 0; i < count; i++) await js.publish(`${s}.${i % 3}`, sc.encode(`m${i + 1}`));
    return s;
  }

  before(async () => {
    env = await startJetStream(openJsV2, { prefix: 'tsnats-v2-' });
    ({ nc, jsm, js } = env);
  });

  after(() => env?.close());

  test('js.fetch in batches with expires, then no_wait on an empty consumer ends at once', async () => {
    const s = await stream(25);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const seqs: number[] = [];
    while (seqs.length < 25) {
      const it = js.fetch(s, 'd', { batch: 10, expires: 1000 });
      for await (const m of it) {
        seqs.push(m.seq);
        assert.equal(m.subject, `${s}.${(m.seq - 1) % 3}`);
        m.ack();
      }
    }
    assert.deepEqual(seqs, Array.from({ length: 25 }, (_, i) => i + 1));
    const t0 = Date.now();
    const it = js.fetch(s, 'd', { batch: 5, no_wait: true });
    let got = 0;
    for await (const m of it) {
      got++;
      m.ack();
    }
    assert.equal(got, 0);
    assert.ok(Date.now() - t0 < 1000, 'no_wait returned at once');
    await nc.flush();
    const ci = await jsm.consumers.info(s, 'd');
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.stream_seq, 25);
  });

  test('pull subscription: pull() batches, acks, consumer state', async () => {
    const s = await stream(12);
    const opts = consumerOpts().durable('ps').ackExplicit().manualAck();
    const sub = await js.pullSubscribe(`${s}.>`, opts);
    const seqs: number[] = [];
    const done = (async () => {
      for await (const m of sub) {
        seqs.push(m.seq);
        m.ack();
        if (seqs.length === 12) break;
      }
    })();
    while (seqs.length < 12) {
      sub.pull({ batch: 5, expires: 500 });
      await new Promise((r) => setTimeout(r, 200));
    }
    await done;
    assert.deepEqual(seqs, Array.from({ length: 12 }, (_, i) => i + 1));
    await nc.flush();
    const ci = await jsm.consumers.info(s, 'ps');
    assert.equal(ci.delivered.stream_seq, 12);
  });

  test('push subscription with manual acks, and the ordered push consumer', async () => {
    const s = await stream(9);
    const opts = consumerOpts().durable('push').ackExplicit().manualAck().deliverTo(`deliver.${s}`);
    const got: JsMsg[] = [];
    const sub = await js.subscribe(`${s}.>`, opts);
    const loop = (async () => {
      for await (const m of sub) {
        got.push(m);
        m.ack();
        if (got.length === 9) break;
      }
    })();
    await loop;
    assert.deepEqual(got.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const oo = consumerOpts().orderedConsumer();
    const osub = await js.subscribe(`${s}.>`, oo);
    const os: string[] = [];
    for await (const m of osub) {
      os.push(`${m.seq}:${m.subject}:${sc.decode(m.data)}`);
      if (os.length === 9) break;
    }
    assert.deepEqual(os.slice(0, 4), [`1:${s}.0:m1`, `2:${s}.1:m2`, `3:${s}.2:m3`, `4:${s}.0:m4`]);
  });
});
