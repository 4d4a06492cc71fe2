// MQTT over WebSocket at /mqtt on the WebSocket port (nats-server 2.10), on both engines: uWS (where
// it loads) and the native-free transport. nats-server 2.9.10 has no MQTT over WebSocket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, usingNatsServer } from './helpers.js';

after(() => cleanupDirs());

for (const engine of ['default', 'native-free'] as const) {
  test(`MQTT over WebSocket at /mqtt works (${engine} engine), beside MQTT over TCP`, { skip: usingNatsServer ? 'nats-server 2.9.10 has no MQTT over WebSocket' : false }, async () => {
    const srv = await startMqttServer({ websocket: true, shards: 2, ...(engine === 'native-free' ? { args: ['--native-free'] } : {}) });
    try {
      assert.ok(srv.wsUrl !== '', 'a websocket listener');
      const ws = await connectMqtt(srv.wsUrl, { clientId: `ws-${engine}` });
      assert.equal(ws.connack.returnCode, 0);
      await ws.client.subscribeAsync('ws/+/in', { qos: 1 });
      const tcp = await connectMqtt(srv.url, { clientId: `tcp-${engine}` });
      await tcp.client.subscribeAsync('ws/out', { qos: 0 });
      for (let i = 0; i < 10; i++) await tcp.client.publishAsync(`ws/${i}/in`, `to-ws-${i}`, { qos: 1 });
      await ws.client.publishAsync('ws/out', 'from-ws', { qos: 1 });
      await until(() => ws.got.length >= 10 && tcp.got.length >= 1, 'both directions');
      assert.deepEqual(
        ws.got.map((m) => [m.topic, m.payload, m.qos]),
        Array.from({ length: 10 }, (_, i) => [`ws/${i}/in`, `to-ws-${i}`, 1]),
      );
      assert.equal(tcp.got[0]!.payload, 'from-ws');
      await endQuietly(ws.client, tcp.client);
      assert.match(srv.server.output(), engine === 'native-free' ? /native-free/ : /engine/);
    } finally {
      await srv.stop();
    }
  });
}
