// MQTT 3.1.1 with the npm `mqtt` client (issue 14's acceptance lines on QoS, retained messages and
// the shared subject space). Two shards, so publishers, subscribers and their sessions are spread
// over both. Also checked against nats-server (TSNATS_TEST_SERVER=nats-server): 2.9.10 has no QoS 2,
// those tests say so and are skipped there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { startMqttServer, connectMqtt, collect, until, endQuietly, cleanupDirs, usingNatsServer, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';

let srv: MqttServer;
let nc: NatsConnection;

before(async () => {
  srv = await startMqttServer({ shards: 2 });
  nc = await connect({ servers: srv.server.hostport, reconnect: false });
});

after(async () => {
  await nc?.close();
  await srv?.stop();
  cleanupDirs();
});

test('a clean connect gets CONNACK 0 without a session present', async () => {
  const { client, connack } = await connectMqtt(srv.url, { clientId: 'clean-1', clean: true });
  assert.equal(connack.returnCode, 0);
  assert.equal(connack.sessionPresent, false);
  await endQuietly(client);
});

test('100 QoS 0 messages through a `+` filter, in order', async () => {
  const { client: sub } = await connectMqtt(srv.url, { clientId: 'q0-sub' });
  const got = collect(sub);
  const granted = await sub.subscribeAsync('sensors/+/temp', { qos: 0 });
  assert.deepEqual(granted.map((g) => g.qos), [0]);
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'q0-pub' });
  for (let i = 0; i < 100; i++) await pub.publishAsync(`sensors/${i}/temp`, `t${i}`, { qos: 0 });
  await until(() => got.length >= 100, '100 QoS 0 messages');
  await delay(100);
  assert.equal(got.length, 100);
  got.forEach((m, i) => {
    assert.equal(m.topic, `sensors/${i}/temp`);
    assert.equal(m.payload, `t${i}`);
    assert.equal(m.qos, 0);
    assert.equal(m.retain, false);
  });
  await endQuietly(sub, pub);
});

test('50 QoS 1 messages with PUBACK through `#` (which also matches the level itself)', async () => {
  const { client: sub } = await connectMqtt(srv.url, { clientId: 'q1-sub' });
  const got = collect(sub);
  const granted = await sub.subscribeAsync('plant/#', { qos: 1 });
  assert.deepEqual(granted.map((g) => g.qos), [1]);
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'q1-pub' });
  // publishAsync resolves on the PUBACK.
  await pub.publishAsync('plant', 'level itself', { qos: 1 });
  for (let i = 0; i < 50; i++) await pub.publishAsync(`plant/line/${i}`, `m${i}`, { qos: 1 });
  await until(() => got.length >= 51, '51 QoS 1 messages');
  await delay(200);
  assert.equal(got.length, 51);
  assert.deepEqual(got[0], { topic: 'plant', payload: 'level itself', qos: 1, retain: false, dup: false });
  got.slice(1).forEach((m, i) => {
    assert.equal(m.topic, `plant/line/${i}`);
    assert.equal(m.payload, `m${i}`);
    assert.equal(m.qos, 1);
  });
  await endQuietly(sub, pub);
});

test("a delivery's QoS is the lower of the publish's and the subscription's", async () => {
  const { client: s0 } = await connectMqtt(srv.url, { clientId: 'down-s0' });
  const { client: s1 } = await connectMqtt(srv.url, { clientId: 'down-s1' });
  const g0 = collect(s0);
  const g1 = collect(s1);
  await s0.subscribeAsync('down/x', { qos: 0 });
  await s1.subscribeAsync('down/x', { qos: 1 });
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'down-pub' });
  await pub.publishAsync('down/x', 'one', { qos: 1 });
  await pub.publishAsync('down/x', 'zero', { qos: 0 });
  await until(() => g0.length >= 2 && g1.length >= 2, 'two deliveries each');
  await delay(200);
  assert.deepEqual(
    g0.map((m) => [m.payload, m.qos]),
    [
      ['one', 0],
      ['zero', 0],
    ],
  );
  assert.deepEqual(g1.map((m) => [m.payload, m.qos]).sort(), [
    ['one', 1],
    ['zero', 0],
  ]);
  await endQuietly(s0, s1, pub);
});

test('20 QoS 2 messages are delivered exactly once, at QoS 2 (nats-server 2.10 behaviour)', { skip: usingNatsServer ? 'nats-server 2.9.10 has no MQTT QoS 2' : false }, async () => {
  const { client: sub } = await connectMqtt(srv.url, { clientId: 'q2-sub' });
  const got = collect(sub);
  const granted = await sub.subscribeAsync('exact/once', { qos: 2 });
  assert.deepEqual(granted.map((g) => g.qos), [2]);
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'q2-pub' });
  // publishAsync resolves on the PUBCOMP (PUBLISH, PUBREC, PUBREL, PUBCOMP).
  for (let i = 0; i < 20; i++) await pub.publishAsync('exact/once', `e${i}`, { qos: 2 });
  await until(() => got.length >= 20, '20 QoS 2 messages');
  await delay(500);
  assert.equal(got.length, 20, `exactly 20, got ${got.map((m) => m.payload).join(',')}`);
  assert.deepEqual(
    got.map((m) => m.payload).sort(),
    Array.from({ length: 20 }, (_, i) => `e${i}`).sort(),
  );
  for (const m of got) assert.equal(m.qos, 2);
  // A QoS 2 publish to a QoS 1 subscription arrives at QoS 1.
  const { client: s1 } = await connectMqtt(srv.url, { clientId: 'q2-s1' });
  const g1 = collect(s1);
  await s1.subscribeAsync('exact/down', { qos: 1 });
  await pub.publishAsync('exact/down', 'two-to-one', { qos: 2 });
  await until(() => g1.length >= 1, 'the downgraded message');
  assert.equal(g1[0]!.qos, 1);
  // A retained QoS 2 publish is retained once released.
  await pub.publishAsync('exact/kept', 'kept at two', { qos: 2, retain: true });
  const late = await connectMqtt(srv.url, { clientId: 'q2-late' });
  await late.client.subscribeAsync('exact/kept', { qos: 2 });
  await until(() => late.got.length >= 1, 'the retained QoS 2 message');
  assert.deepEqual(late.got[0], { topic: 'exact/kept', payload: 'kept at two', qos: 2, retain: true, dup: false });
  await endQuietly(sub, pub, s1, late.client);
});

test('retained: a late subscriber gets it with the retain flag; after an empty retained publish, nothing', async () => {
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'ret-pub' });
  await pub.publishAsync('home/kitchen/temp', '21.5', { qos: 1, retain: true });
  await pub.publishAsync('home/kitchen/temp', '22.0', { qos: 1, retain: true }); // replaces
  const { client: late } = await connectMqtt(srv.url, { clientId: 'ret-late' });
  const got = collect(late);
  await late.subscribeAsync('home/#', { qos: 1 });
  await until(() => got.length >= 1, 'the retained message');
  await delay(200);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], { topic: 'home/kitchen/temp', payload: '22.0', qos: 1, retain: true, dup: false });
  // A live subscriber gets later publishes without the flag.
  await pub.publishAsync('home/kitchen/temp', '23.0', { qos: 0, retain: true });
  await until(() => got.length >= 2, 'the live message');
  assert.equal(got[1]!.retain, false);
  assert.equal(got[1]!.payload, '23.0');
  // Cleared by an empty retained publish.
  await pub.publishAsync('home/kitchen/temp', '', { qos: 1, retain: true });
  const { client: later } = await connectMqtt(srv.url, { clientId: 'ret-later' });
  const got2 = collect(later);
  await later.subscribeAsync('home/#', { qos: 1 });
  await delay(500);
  assert.deepEqual(got2, []);
  await endQuietly(pub, late, later);
});

test('MQTT `a/b` reaches NATS `a.b` (with the Nmqtt-Pub header), NATS `a.b` reaches MQTT `a/b`', async () => {
  const sub = nc.subscribe('bridge.a.b');
  const natsGot: { subject: string; data: string; pub: string | undefined }[] = [];
  void (async () => {
    for await (const m of sub) natsGot.push({ subject: m.subject, data: m.string(), pub: m.headers?.get('Nmqtt-Pub') });
  })();
  await nc.flush();
  const { client } = await connectMqtt(srv.url, { clientId: 'bridge' });
  const got = collect(client);
  await client.subscribeAsync('bridge/a/b', { qos: 1 });
  await client.publishAsync('bridge/a/b', 'from mqtt', { qos: 1 });
  await until(() => natsGot.length >= 1, 'the NATS subscriber');
  assert.deepEqual(natsGot[0], { subject: 'bridge.a.b', data: 'from mqtt', pub: '1' });
  // A NATS message (headers or not) is delivered at QoS 0, with its payload only.
  const h = natsHeaders();
  h.set('X-Extra', 'yes');
  nc.publish('bridge.a.b', 'from nats', { headers: h });
  await until(() => got.some((m) => m.payload === 'from nats'), 'the NATS message over MQTT');
  const m = got.find((x) => x.payload === 'from nats')!;
  assert.equal(m.topic, 'bridge/a/b');
  assert.equal(m.qos, 0);
  sub.unsubscribe();
  await endQuietly(client);
});

test('300 MQTT clients all get a fan-out', async () => {
  const n = 300;
  const clients: MqttClient[] = [];
  const counts = new Array<number>(n).fill(0);
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => connectMqtt(srv.url, { clientId: `fan-${i + k}` })));
      batch.forEach(({ client }, k) => {
        clients.push(client);
        client.on('message', () => counts[i + k]!++);
      });
    }
    await Promise.all(clients.map((c) => c.subscribeAsync('fan/out', { qos: 0 })));
    const { client: pub } = await connectMqtt(srv.url, { clientId: 'fan-pub' });
    clients.push(pub);
    await pub.publishAsync('fan/out', 'everyone', { qos: 1 });
    await until(() => counts.every((c) => c >= 1), `all ${n} clients`, 30_000);
    await delay(200);
    assert.ok(counts.every((c) => c === 1), 'each exactly once');
  } finally {
    await endQuietly(...clients);
  }
});
