// QoS 1 delivery details with a raw subscriber that decides when to PUBACK (issue 14: redelivery after
// ack_wait until PUBACK, max_ack_pending), and the mqtt block's no_auth_user. Also green on nats-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMqttServer, connectMqtt, endQuietly, cleanupDirs, RawMqtt, connectPacket, subscribePacket, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';

let srv: MqttServer;

before(async () => {
  srv = await startMqttServer({ mqtt: 'ack_wait: "1s"\nmax_ack_pending: 2' });
});

after(async () => {
  await srv?.stop();
  cleanupDirs();
});

interface Publish {
  topic: string;
  payload: string;
  qos: number;
  dup: boolean;
  pi: number;
}

/** Reads one PUBLISH packet (short ones: a one-byte remaining length). */
async function readPublish(raw: RawMqtt, timeoutMs = 5000): Promise<Publish> {
  const h = await raw.read(2, timeoutMs);
  assert.equal(h[0]! & 0xf0, 0x30, `a PUBLISH, got ${h.toString('hex')}`);
  const body = await raw.read(h[1]!, timeoutMs);
  const qos = (h[0]! >> 1) & 3;
  const tl = (body[0]! << 8) | body[1]!;
  const topic = body.toString('utf8', 2, 2 + tl);
  let p = 2 + tl;
  let pi = 0;
  if (qos > 0) {
    pi = (body[p]! << 8) | body[p + 1]!;
    p += 2;
  }
  return { topic, payload: body.toString('utf8', p), qos, dup: (h[0]! & 0x08) !== 0, pi };
}

async function rawSubscriber(clientId: string, filter: string): Promise<RawMqtt> {
  const raw = await RawMqtt.connect(srv.mqttPort);
  raw.send(connectPacket({ clientId }));
  assert.deepEqual([...(await raw.read(4))], [0x20, 2, 0, 0]);
  raw.send(subscribePacket(1, [[filter, 1]]));
  assert.deepEqual([...(await raw.read(5))], [0x90, 3, 0, 1, 1]);
  return raw;
}

const puback = (pi: number): Buffer => Buffer.from([0x40, 2, pi >> 8, pi & 0xff]);

test('a QoS 1 delivery not acknowledged is redelivered after ack_wait, with DUP and the same packet identifier, until PUBACK', async () => {
  const raw = await rawSubscriber('redeliver-sub', 'rd/x');
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'redeliver-pub' });
  await pub.publishAsync('rd/x', 'again', { qos: 1 });
  const first = await readPublish(raw);
  assert.deepEqual({ ...first, pi: 0 }, { topic: 'rd/x', payload: 'again', qos: 1, dup: false, pi: 0 });
  const second = await readPublish(raw, 5000);
  assert.deepEqual(second, { ...first, dup: true });
  raw.send(puback(second.pi));
  await delay(2500);
  assert.equal(raw.closed, false);
  await assert.rejects(raw.read(1, 100), 'nothing after the PUBACK');
  raw.destroy();
  await endQuietly(pub);
});

test('max_ack_pending bounds the QoS 1 messages awaiting PUBACK; a PUBACK lets the next one out', async () => {
  const raw = await rawSubscriber('pending-sub', 'mp/x');
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'pending-pub' });
  for (let i = 0; i < 4; i++) await pub.publishAsync('mp/x', `p${i}`, { qos: 1 });
  // Only two are out; the unacknowledged ones come again after ack_wait (DUP), never a third.
  const firsts: Publish[] = [];
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline) {
    const m = await readPublish(raw, deadline - Date.now()).catch(() => null);
    if (m === null) break;
    if (!m.dup) firsts.push(m);
  }
  assert.deepEqual(
    firsts.map((m) => m.payload),
    ['p0', 'p1'],
  );
  for (const m of firsts) raw.send(puback(m.pi));
  const next: Publish[] = [];
  while (next.length < 2) {
    const m = await readPublish(raw, 5000);
    if (!m.dup && !firsts.some((f) => f.payload === m.payload)) next.push(m);
  }
  assert.deepEqual(
    next.map((m) => m.payload),
    ['p2', 'p3'],
  );
  raw.destroy();
  await endQuietly(pub);
});

test("the mqtt block's no_auth_user is who a client without credentials is", async () => {
  const s2 = await startMqttServer({
    conf: 'authorization { users: [ { user: dev, password: dev, permissions: { publish: "ok.>", subscribe: "ok.>" } }, { user: other, password: other } ] }',
    mqtt: 'no_auth_user: dev',
  });
  try {
    const { client, connack, got } = await connectMqtt(s2.url, { clientId: 'nau' });
    assert.equal(connack.returnCode, 0);
    // dev's permissions: ok/# allowed, the rest refused.
    let codes: number[];
    try {
      codes = (await client.subscribeAsync({ 'ok/x': { qos: 0 }, 'no/x': { qos: 0 } })).map((g) => g.qos);
    } catch (err) {
      codes = (err as { packet: { granted: number[] } }).packet.granted;
    }
    assert.deepEqual(codes, [0, 128]);
    await client.publishAsync('ok/x', 'hi', { qos: 1 });
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await delay(10);
    assert.equal(got[0]?.payload, 'hi');
    await endQuietly(client);
  } finally {
    await s2.stop();
  }
});
