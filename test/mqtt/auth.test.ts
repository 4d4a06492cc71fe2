// MQTT authentication and authorization (issue 14): the server's users (plain and bcrypt), the mqtt
// block's own username/password or token, CONNACK codes as nats-server (5 for a refused login, 4 for
// an empty user name), and permissions applied to the NATS subjects topics map to. Also green on
// nats-server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { connect } from '@nats-io/transport-node';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, RawMqtt, connectPacket, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';

after(() => cleanupDirs());

/** The CONNACK return code a connection attempt gets (0: accepted). */
async function returnCode(url: string, opts: Parameters<typeof connectMqtt>[1]): Promise<number> {
  try {
    const { client, connack } = await connectMqtt(url, opts);
    await endQuietly(client);
    return connack.returnCode ?? 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

test("the server's users: wrong password, unknown user and no credentials get CONNACK 5", async () => {
  const hash = bcrypt.hashSync('hashed-pw', 4);
  const srv = await startMqttServer({
    conf: `authorization { users: [ { user: alice, password: "alice-pw" }, { user: carol, password: "${hash}" } ] }`,
  });
  try {
    assert.equal(await returnCode(srv.url, { clientId: 'a1', username: 'alice', password: 'wrong' }), 5);
    assert.equal(await returnCode(srv.url, { clientId: 'a2', username: 'nobody', password: 'x' }), 5);
    assert.equal(await returnCode(srv.url, { clientId: 'a3' }), 5);
    assert.equal(await returnCode(srv.url, { clientId: 'a4', username: 'alice', password: 'alice-pw' }), 0);
    assert.equal(await returnCode(srv.url, { clientId: 'a5', username: 'carol', password: 'hashed-pw' }), 0);
    assert.equal(await returnCode(srv.url, { clientId: 'a6', username: 'carol', password: 'nope' }), 5);
    // An empty user name is CONNACK 4 (mqttParseConnect).
    const raw = await RawMqtt.connect(srv.mqttPort);
    raw.send(connectPacket({ clientId: 'a7', username: '', password: 'x' }));
    assert.deepEqual([...(await raw.read(4))], [0x20, 2, 0, 4]);
    await raw.waitClosed();
  } finally {
    await srv.stop();
  }
});

test("the mqtt block's own username/password applies to MQTT clients only", async () => {
  const srv = await startMqttServer({ mqtt: 'authorization { username: "device", password: "dev-pw" }' });
  try {
    assert.equal(await returnCode(srv.url, { clientId: 'm1', username: 'device', password: 'bad' }), 5);
    assert.equal(await returnCode(srv.url, { clientId: 'm2' }), 5);
    assert.equal(await returnCode(srv.url, { clientId: 'm3', username: 'device', password: 'dev-pw' }), 0);
    const nc = await connect({ servers: srv.server.hostport, reconnect: false });
    await nc.flush();
    await nc.close();
  } finally {
    await srv.stop();
  }
});

test("the mqtt block's token is the MQTT password", async () => {
  const srv = await startMqttServer({ mqtt: 'authorization { token: "s3cret" }' });
  try {
    assert.equal(await returnCode(srv.url, { clientId: 't1', username: 'anyone', password: 's3cret' }), 0);
    assert.equal(await returnCode(srv.url, { clientId: 't2', username: 'anyone', password: 'other' }), 5);
  } finally {
    await srv.stop();
  }
});

test('permissions apply to the NATS subjects of MQTT topics', async () => {
  let srv: MqttServer | null = null;
  try {
    srv = await startMqttServer({
      conf: `authorization { users: [
        { user: admin, password: admin }
        { user: bob, password: bob, permissions: { publish: { allow: ["perm.>"] }, subscribe: { allow: ["perm.>", "$MQTT.sub.>"] } } }
      ] }`,
    });
    const watcher = await connectMqtt(srv.url, { clientId: 'perm-watch', username: 'admin', password: 'admin' });
    await watcher.client.subscribeAsync('#', { qos: 0 });
    const bob = await connectMqtt(srv.url, { clientId: 'perm-bob', username: 'bob', password: 'bob' });
    // mqtt.js rejects a SUBACK holding a failure (0x80); the codes are in the error's packet.
    let codes: number[];
    try {
      codes = (await bob.client.subscribeAsync({ 'perm/ok': { qos: 0 }, 'other/x': { qos: 0 }, 'perm/q1': { qos: 1 } })).map((g) => g.qos);
    } catch (err) {
      codes = (err as { packet: { granted: number[] } }).packet.granted;
    }
    assert.deepEqual(codes, [0, 128, 1]);
    // A publish without permission is acknowledged but goes nowhere; an allowed one goes out.
    await bob.client.publishAsync('other/x', 'denied', { qos: 1 });
    await bob.client.publishAsync('perm/ok', 'allowed', { qos: 1 });
    await until(() => watcher.got.some((m) => m.payload === 'allowed'), 'the allowed publish');
    await delay(200);
    assert.ok(!watcher.got.some((m) => m.payload === 'denied'));
    assert.deepEqual(
      bob.got.map((m) => [m.topic, m.payload]),
      [['perm/ok', 'allowed']],
    );
    await endQuietly(watcher.client, bob.client);
  } finally {
    await srv?.stop();
  }
});
