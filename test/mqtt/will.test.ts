// Last will, client-id takeover and keep-alive (issue 14). Also green on nats-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, RawMqtt, connectPacket, usingNatsServer, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';

let srv: MqttServer;

before(async () => {
  srv = await startMqttServer({ shards: 2 });
});

after(async () => {
  await srv?.stop();
  cleanupDirs();
});

test('the will is published when the client goes away abruptly, not on DISCONNECT', async () => {
  const watcher = await connectMqtt(srv.url, { clientId: 'will-watcher' });
  await watcher.client.subscribeAsync('wills/#', { qos: 1 });
  const abrupt = await connectMqtt(srv.url, { clientId: 'will-abrupt', will: { topic: 'wills/abrupt', payload: Buffer.from('gone'), qos: 1, retain: false } });
  const polite = await connectMqtt(srv.url, { clientId: 'will-polite', will: { topic: 'wills/polite', payload: Buffer.from('never'), qos: 1, retain: false } });
  await polite.client.endAsync(); // sends DISCONNECT
  abrupt.client.stream.destroy(); // no DISCONNECT
  await until(() => watcher.got.length >= 1, 'the will');
  await delay(500);
  assert.deepEqual(
    watcher.got.map((m) => [m.topic, m.payload]),
    [['wills/abrupt', 'gone']],
  );
  await endQuietly(watcher.client, abrupt.client);
});

test('a retained will is kept for later subscribers', async () => {
  const w = await connectMqtt(srv.url, { clientId: 'will-retained', will: { topic: 'status/dev1', payload: Buffer.from('offline'), qos: 0, retain: true } });
  w.client.stream.destroy();
  await delay(300);
  const late = await connectMqtt(srv.url, { clientId: 'will-retained-late' });
  await late.client.subscribeAsync('status/+', { qos: 0 });
  await until(() => late.got.length >= 1, 'the retained will');
  assert.deepEqual(late.got[0], { topic: 'status/dev1', payload: 'offline', qos: 0, retain: true, dup: false });
  await endQuietly(late.client);
});

test('a second connection with the same client id takes over (the first is closed, its will not sent)', async () => {
  const watcher = await connectMqtt(srv.url, { clientId: 'dup-watcher' });
  await watcher.client.subscribeAsync('dupwill/#', { qos: 1 });
  // With two shards the second connection lands on the other shard: the takeover crosses shards.
  const first = await connectMqtt(srv.url, { clientId: 'dup-id', clean: false, will: { topic: 'dupwill/x', payload: Buffer.from('first died'), qos: 1, retain: false } });
  let firstClosed = false;
  first.client.on('close', () => (firstClosed = true));
  await first.client.subscribeAsync('dup/topic', { qos: 1 });
  const second = await connectMqtt(srv.url, { clientId: 'dup-id', clean: false });
  assert.equal(second.connack.sessionPresent, true);
  await until(() => firstClosed, 'the first connection closed');
  // The session (its subscription) went to the second connection.
  const pub = await connectMqtt(srv.url, { clientId: 'dup-pub' });
  await pub.client.publishAsync('dup/topic', 'to the new owner', { qos: 1 });
  await until(() => second.got.length >= 1, 'delivery to the new connection');
  assert.equal(second.got[0]!.payload, 'to the new owner');
  await delay(300);
  assert.deepEqual(watcher.got, [], 'no will from the replaced connection');
  await endQuietly(watcher.client, first.client, second.client, pub.client);
});

test('an expired keep-alive closes the connection (1.5 × keep-alive, in whole seconds as nats-server) and sends the will', async () => {
  const watcher = await connectMqtt(srv.url, { clientId: 'ka-watcher' });
  await watcher.client.subscribeAsync('ka/will', { qos: 0 });
  const raw = await RawMqtt.connect(srv.mqttPort);
  const started = Date.now();
  // keep-alive 2 s: closed after 3 s of silence (mqtt.go: time.Duration(float64(ka)*1.5) * time.Second).
  raw.send(connectPacket({ clientId: 'ka-raw', keepAlive: 2, will: { topic: 'ka/will', message: 'timed out' } }));
  assert.deepEqual([...(await raw.read(4))], [0x20, 2, 0, 0]);
  await raw.waitClosed(10_000);
  const after = Date.now() - started;
  assert.ok(after >= 2900, `closed after ${after} ms, not before 3 s`);
  await until(() => watcher.got.length >= 1, 'the will of the silent client');
  assert.equal(watcher.got[0]!.payload, 'timed out');
  // A client that keeps talking stays.
  const alive = await RawMqtt.connect(srv.mqttPort);
  alive.send(connectPacket({ clientId: 'ka-alive', keepAlive: 2 }));
  await alive.read(4);
  for (let i = 0; i < 4; i++) {
    await delay(1000);
    alive.send(Buffer.from([0xc0, 0])); // PINGREQ
    assert.deepEqual([...(await alive.read(2))], [0xd0, 0]);
  }
  assert.equal(alive.closed, false);
  alive.destroy();
  raw.destroy();
  await endQuietly(watcher.client);
});

test('takeover within one shard', { skip: usingNatsServer ? 'tsnats shards only' : false }, async () => {
  const one = await startMqttServer({ shards: 1 });
  try {
    const first = await connectMqtt(one.url, { clientId: 'one-shard-dup', will: { topic: 'x/y', payload: Buffer.from('w'), qos: 0, retain: false } });
    let closed = false;
    first.client.on('close', () => (closed = true));
    const watcher = await connectMqtt(one.url, { clientId: 'one-shard-watcher' });
    await watcher.client.subscribeAsync('x/y', { qos: 0 });
    const second = await connectMqtt(one.url, { clientId: 'one-shard-dup' });
    await until(() => closed, 'the first closed');
    assert.equal(second.connack.returnCode, 0);
    await delay(300);
    assert.deepEqual(watcher.got, []);
    await endQuietly(first.client, second.client, watcher.client);
  } finally {
    await one.stop();
  }
});
