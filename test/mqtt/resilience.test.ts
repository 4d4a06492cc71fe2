// MQTT through a JetStream worker crash (tsnats only: a test hook ends the worker): the shards' MQTT
// subscriptions reach the replacement, sessions and QoS 1 delivery carry on, new clients connect.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, usingNatsServer } from './helpers.js';

after(() => cleanupDirs());

test('MQTT carries on after the JetStream worker is replaced', { skip: usingNatsServer ? 'tsnats test hook' : false, timeout: 60_000 }, async () => {
  const s2 = await startMqttServer({ shards: 2, env: { TSNATS_DEBUG_HOOKS: '1' } });
  try {
    const sub = await connectMqtt(s2.url, { clientId: 'crash-sub', clean: false });
    await sub.client.subscribeAsync('crash/+', { qos: 1 });
    const nc = await connect({ servers: s2.server.hostport, reconnect: false });
    nc.publish('$JS.API.TSNATS.DEBUG.EXIT');
    await nc.flush();
    await until(() => /replacement JetStream worker ready/.test(s2.server.output()), 'the replacement worker', 20_000);
    await nc.close();
    const pub = await connectMqtt(s2.url, { clientId: 'crash-pub' });
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`crash/${i}`, `c${i}`, { qos: 1 });
    await until(() => sub.got.length >= 5, 'QoS 1 deliveries after the replacement', 20_000);
    assert.deepEqual(
      sub.got.map((m) => m.payload),
      ['c0', 'c1', 'c2', 'c3', 'c4'],
    );
    await endQuietly(sub.client, pub.client);
  } finally {
    await s2.stop();
  }
});
