// MQTT through the library entry (`startServer`): on the inline shard (the library's default, served
// on the calling thread) and on worker shards; `mqttUrl` names the port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/index.js';
import { connectMqtt, until, endQuietly, usingNatsServer } from './helpers.js';

for (const shards of [0, 2]) {
  test(`startServer with an mqtt block (${shards === 0 ? 'inline shard' : `${shards} shards`})`, { skip: usingNatsServer ? 'the tsnats library' : false, timeout: 60_000 }, async () => {
    await using server = await startServer({ serverName: 'lib-mqtt', jetstream: true, mqtt: { port: 0 }, shards });
    assert.match(server.mqttUrl ?? '', /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const sub = await connectMqtt(server.mqttUrl!, { clientId: `lib-sub-${shards}` });
    await sub.client.subscribeAsync('lib/+', { qos: 1 });
    const pub = await connectMqtt(server.mqttUrl!, { clientId: `lib-pub-${shards}` });
    await pub.client.publishAsync('lib/x', 'via the library', { qos: 1, retain: true });
    await until(() => sub.got.length >= 1, 'the message');
    assert.deepEqual(sub.got[0], { topic: 'lib/x', payload: 'via the library', qos: 1, retain: false, dup: false });
    const late = await connectMqtt(server.mqttUrl!, { clientId: `lib-late-${shards}` });
    await late.client.subscribeAsync('lib/x', { qos: 0 });
    await until(() => late.got.length >= 1, 'the retained message');
    assert.equal(late.got[0]!.retain, true);
    await endQuietly(sub.client, pub.client, late.client);
  });
}

test('startServer refuses an mqtt block without a server name, as nats-server', { skip: usingNatsServer ? 'the tsnats library' : false }, async () => {
  await assert.rejects(startServer({ jetstream: true, mqtt: { port: 0 } }), /mqtt requires server name to be explicitly set/);
});
