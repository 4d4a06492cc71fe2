// MQTT sessions kept in JetStream (issue 14: persistent sessions, clean sessions, and both across a
// server restart, with a retained message). Also green on nats-server (TSNATS_TEST_SERVER=nats-server).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, usingNatsServer, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';

after(() => cleanupDirs());

/** Lets the server see the subscriber gone before anything is published for it. */
const AWAY_MS = 300;

test('persistent session: QoS 1 messages published while away arrive in order on resume; a clean connect drops it', async () => {
  const srv = await startMqttServer({ shards: 2, mqtt: 'ack_wait: "2s"' });
  try {
    const first = await connectMqtt(srv.url, { clientId: 'persist-1', clean: false });
    assert.equal(first.connack.sessionPresent, false);
    assert.deepEqual((await first.client.subscribeAsync('orders/+', { qos: 1 })).map((g) => g.qos), [1]);
    await endQuietly(first.client);
    await delay(AWAY_MS);

    const { client: pub } = await connectMqtt(srv.url, { clientId: 'persist-pub' });
    for (let i = 0; i < 5; i++) await pub.publishAsync(`orders/${i}`, `o${i}`, { qos: 1 });

    const again = await connectMqtt(srv.url, { clientId: 'persist-1', clean: false });
    const got = again.got;
    assert.equal(again.connack.sessionPresent, true);
    await until(() => got.length >= 5, '5 messages on resume');
    await delay(200);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload, m.qos]),
      Array.from({ length: 5 }, (_, i) => [`orders/${i}`, `o${i}`, 1]),
    );
    await endQuietly(again.client);
    await delay(AWAY_MS);

    // A clean connect discards the session (and is not told one was there)...
    const clean = await connectMqtt(srv.url, { clientId: 'persist-1', clean: true });
    assert.equal(clean.connack.sessionPresent, false);
    await endQuietly(clean.client);
    await delay(AWAY_MS);
    await pub.publishAsync('orders/9', 'after clean', { qos: 1 });
    // ...so a later persistent connect starts from nothing: no session, no subscription.
    const fresh = await connectMqtt(srv.url, { clientId: 'persist-1', clean: false });
    const got2 = fresh.got;
    assert.equal(fresh.connack.sessionPresent, false);
    await delay(500);
    assert.deepEqual(got2, []);
    await endQuietly(fresh.client, pub);
  } finally {
    await srv.stop();
  }
});

test('a persistent session, its pending messages and a retained message survive a server restart', async () => {
  let srv: MqttServer = await startMqttServer({ shards: 2 });
  const storeDir = srv.storeDir;
  try {
    const sub = await connectMqtt(srv.url, { clientId: 'restart-sub', clean: false });
    await sub.client.subscribeAsync('plant/+/alarm', { qos: 1 });
    await endQuietly(sub.client);
    await delay(AWAY_MS);
    const { client: pub } = await connectMqtt(srv.url, { clientId: 'restart-pub' });
    for (let i = 0; i < 3; i++) await pub.publishAsync(`plant/${i}/alarm`, `a${i}`, { qos: 1 });
    await pub.publishAsync('plant/state', 'running', { qos: 1, retain: true });
    await endQuietly(pub);

    await srv.stop();
    srv = await startMqttServer({ shards: 2, storeDir });

    const back = await connectMqtt(srv.url, { clientId: 'restart-sub', clean: false });
    const got = back.got;
    assert.equal(back.connack.sessionPresent, true);
    await until(() => got.length >= 3, 'the 3 pending messages after the restart');
    assert.deepEqual(
      got.map((m) => m.payload),
      ['a0', 'a1', 'a2'],
    );
    const late = await connectMqtt(srv.url, { clientId: 'restart-late' });
    const rgot = late.got;
    await late.client.subscribeAsync('plant/state', { qos: 1 });
    await until(() => rgot.length >= 1, 'the retained message after the restart');
    assert.deepEqual(rgot[0], { topic: 'plant/state', payload: 'running', qos: 1, retain: true, dup: false });
    // And the restored subscription is live.
    const { client: pub2 } = await connectMqtt(srv.url, { clientId: 'restart-pub' });
    await pub2.publishAsync('plant/7/alarm', 'live', { qos: 1 });
    await until(() => got.some((m) => m.payload === 'live'), 'a live message on the restored subscription');
    await endQuietly(back.client, late.client, pub2);
  } finally {
    await srv.stop();
  }
});

for (const named of [false, true]) {
  const what = named ? "named in the mqtt block's js_domain" : "the server's";
  test(`with a JetStream domain (${what}), sessions and retained messages work`, { skip: named && usingNatsServer ? 'nats-server 2.9.10 standalone does not answer its own $JS.<domain>.API for MQTT' : false }, async () => {
    const srv = await startMqttServer({ shards: 2, jetstream: 'domain: hub', ...(named ? { mqtt: 'js_domain: hub' } : {}) });
    try {
      const first = await connectMqtt(srv.url, { clientId: 'dom-1', clean: false });
      await first.client.subscribeAsync('dom/+', { qos: 1 });
      await first.client.publishAsync('dom/r', 'kept', { qos: 1, retain: true });
      await endQuietly(first.client);
      await delay(AWAY_MS);
      const again = await connectMqtt(srv.url, { clientId: 'dom-1', clean: false });
      assert.equal(again.connack.sessionPresent, true);
      const late = await connectMqtt(srv.url, { clientId: 'dom-late' });
      await late.client.subscribeAsync('dom/r', { qos: 0 });
      await until(() => late.got.length >= 1, 'the retained message');
      assert.equal(late.got[0]!.payload, 'kept');
      await endQuietly(again.client, late.client);
    } finally {
      await srv.stop();
    }
  });
}
