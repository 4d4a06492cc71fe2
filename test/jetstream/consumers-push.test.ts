// Push consumers (deliver_subject): delivery only while someone listens, queue groups, idle
// heartbeats, flow control, ephemeral clean-up after inactive_threshold, and the v3 client's push
// consumer API. Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { type RunningServer } from '../helpers/server.js';
import { startJetStream, openJs, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';
import { delay, waitFor } from '../helpers/wait.js';

describe('push consumers', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<JsClient> | undefined;
  let server: RunningServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let n = 0;
  const name = (): string => `P${++n}`;

  async function stream(count: number, size = 0): Promise<string> {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    const body = size > 0 ? new Uint8Array(size) : undefined;
    for (let i = 0; i < count; i++) await js.publish(`${s}.${i % 2}`, body ?? `m${i + 1}`);
    return s;
  }

  before(async () => {
    env = await startJetStream(openJs, { prefix: 'tsnats-push-' });
    ({ server, nc, jsm, js } = env);
  });

  after(() => env?.close());

  test('delivers to the deliver subject only once someone subscribes, with the original subjects', async () => {
    const s = await stream(5);
    const deliver = createInbox();
    await jsm.consumers.add(s, { durable_name: 'p', deliver_subject: deliver, ack_policy: AckPolicy.Explicit });
    await delay(300);
    let ci = await jsm.consumers.info(s, 'p');
    assert.equal(ci.delivered.consumer_seq, 0, 'nothing delivered without interest');
    assert.ok(!ci.push_bound);
    const got: Msg[] = [];
    const sub = nc.subscribe(deliver, { callback: (_e, m) => { got.push(m); m.respond(); } });
    await waitFor(() => got.length === 5, () => `5 messages, got ${got.length}`);
    assert.deepEqual(got.map((m) => m.subject), [0, 1, 0, 1, 0].map((i) => `${s}.${i}`));
    assert.ok(got[0]!.reply!.startsWith(`$JS.ACK.${s}.p.1.1.1.`));
    await delay(100);
    ci = await jsm.consumers.info(s, 'p');
    assert.equal(ci.push_bound, true);
    assert.equal(ci.num_ack_pending, 0, 'acked by responding to the reply');
    sub.unsubscribe();
  });

  test('deliver_group: each message goes to one member of the queue group', async () => {
    const s = await stream(20);
    const deliver = createInbox();
    await jsm.consumers.add(s, { durable_name: 'q', deliver_subject: deliver, deliver_group: 'workers', ack_policy: AckPolicy.None });
    const a: number[] = [];
    const b: number[] = [];
    const nc2 = await connect({ servers: server.hostport, reconnect: false });
    nc.subscribe(deliver, { queue: 'workers', callback: (_e, m) => { a.push(Number(m.string().slice(1))); } });
    nc2.subscribe(deliver, { queue: 'workers', callback: (_e, m) => { b.push(Number(m.string().slice(1))); } });
    await nc.flush();
    await nc2.flush();
    await waitFor(() => a.length + b.length === 20, () => `20 messages, got ${a.length + b.length}`);
    await delay(100);
    assert.deepEqual([...a, ...b].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    await nc2.close();
  });

  test('idle heartbeats carry the last consumer and stream sequences', async () => {
    const s = await stream(3);
    const deliver = createInbox();
    const got: Msg[] = [];
    nc.subscribe(deliver, { callback: (_e, m) => { got.push(m); } });
    await nc.flush();
    await jsm.consumers.add(s, { durable_name: 'hb', deliver_subject: deliver, ack_policy: AckPolicy.None, idle_heartbeat: nanos(250) });
    await waitFor(() => got.some((m) => m.headers?.code === 100), 'a heartbeat', 3000);
    const hb = got.find((m) => m.headers?.code === 100)!;
    assert.equal(hb.headers!.description, 'Idle Heartbeat');
    assert.equal(hb.headers!.get('Nats-Last-Consumer'), '3');
    assert.equal(hb.headers!.get('Nats-Last-Stream'), '3');
    assert.equal(hb.data.length, 0);
    assert.equal(got.filter((m) => m.headers?.code !== 100).length, 3);
  });

  test('flow control: delivery pauses until the FlowControl request is answered', async () => {
    const s = await stream(12, 512 * 1024); // 6 MiB
    const deliver = createInbox();
    let data = 0;
    const fc: Msg[] = [];
    nc.subscribe(deliver, {
      callback: (_e, m) => {
        if (m.headers?.code === 100 && m.headers.description === 'FlowControl Request') fc.push(m);
        else if (m.headers?.code !== 100) data++;
      },
    });
    await nc.flush();
    await jsm.consumers.add(s, { durable_name: 'fc', deliver_subject: deliver, ack_policy: AckPolicy.None, flow_control: true, idle_heartbeat: nanos(5000) });
    await waitFor(() => fc.length > 0, 'a flow control request', 5000);
    assert.ok(fc[0]!.reply!.startsWith('$JS.FC.'), `FC reply ${fc[0]!.reply}`);
    await delay(500);
    assert.ok(data < 12, `paused before the end (${data} of 12 delivered)`);
    // answer every request as it comes, the rest flows
    let answered = 0;
    const timer = setInterval(() => {
      while (answered < fc.length) fc[answered++]!.respond();
    }, 20);
    await waitFor(() => data === 12, () => `12 messages, got ${data}`, 10_000);
    clearInterval(timer);
  });

  test('an ephemeral push consumer goes away once its subscriber left for inactive_threshold', async () => {
    const s = await stream(1);
    const deliver = createInbox();
    const sub = nc.subscribe(deliver, { callback: () => {} });
    await nc.flush();
    const ci = await jsm.consumers.add(s, { deliver_subject: deliver, ack_policy: AckPolicy.None, inactive_threshold: nanos(500) });
    await delay(900);
    assert.ok(await jsm.consumers.info(s, ci.name), 'still there while subscribed');
    sub.unsubscribe();
    await nc.flush();
    const deadline = Date.now() + 5000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      await delay(200);
      gone = await jsm.consumers.info(s, ci.name).then(() => false, () => true);
    }
    assert.ok(gone, 'deleted after inactivity');
  });

  test('v3 push consumer API: getPushConsumer().consume() acks, ordered push consumer', async () => {
    const s = await stream(10);
    const deliver = createInbox();
    await jsm.consumers.add(s, { durable_name: 'pc', deliver_subject: deliver, ack_policy: AckPolicy.Explicit });
    const pc = await js.consumers.getPushConsumer(s, 'pc');
    const seqs: number[] = [];
    const it = await pc.consume({ callback: (m: JsMsg) => { seqs.push(m.seq); m.ack(); } });
    await waitFor(() => seqs.length === 10, () => `10 messages, got ${seqs.length}`);
    await it.close();
    assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 1));
    // ordered push consumer (what KV watch uses): flow control + heartbeats + ack none
    const oc = await js.consumers.getPushConsumer(s);
    const os: string[] = [];
    const it2 = await oc.consume({ callback: (m: JsMsg) => { os.push(`${m.seq}:${m.subject}`); } });
    await waitFor(() => os.length === 10, () => `10 ordered messages, got ${os.length}`);
    await it2.close();
    assert.deepEqual(os.slice(0, 3), [`1:${s}.0`, `2:${s}.1`, `3:${s}.0`]);
  });
});
