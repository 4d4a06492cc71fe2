// Raw MQTT packets at the edges (issue 14: "raw packets for the edges"): what nats-server answers
// (CONNACK codes) or that it closes, and that bad input never disturbs other clients. Also green on
// nats-server (TSNATS_TEST_SERVER=nats-server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMqttServer, connectMqtt, until, endQuietly, cleanupDirs, usingNatsServer, RawMqtt, connectPacket, publishPacket, subscribePacket, rawPacket, type MqttServer } from './helpers.js';
import { delay } from '../helpers/wait.js';

let srv: MqttServer;

before(async () => {
  srv = await startMqttServer({ shards: 2 });
});

after(async () => {
  await srv?.stop();
  cleanupDirs();
});

/** Sends bytes on a fresh connection; resolves to everything the server sent before closing it. */
async function closedAfter(...packets: Buffer[]): Promise<number[]> {
  const raw = await RawMqtt.connect(srv.mqttPort);
  for (const p of packets) raw.send(p);
  const rest = await raw.waitClosed(8000);
  raw.destroy();
  return [...rest];
}

async function connected(clientId: string): Promise<RawMqtt> {
  const raw = await RawMqtt.connect(srv.mqttPort);
  raw.send(connectPacket({ clientId }));
  assert.deepEqual([...(await raw.read(4))], [0x20, 2, 0, 0]);
  return raw;
}

test('CONNECT refusals: return code 1 (protocol level), 2 (empty id without clean session), none for the rest', async () => {
  assert.deepEqual(await closedAfter(connectPacket({ level: 3, clientId: 'x' })), [0x20, 2, 0, 1]);
  assert.deepEqual(await closedAfter(connectPacket({ flags: 0, clientId: '' })), [0x20, 2, 0, 2]);
  assert.deepEqual(await closedAfter(connectPacket({ protocol: 'MQIsdp', level: 3, clientId: 'x' })), []);
  assert.deepEqual(await closedAfter(connectPacket({ protocol: 'XYZ', clientId: 'x' })), []);
  assert.deepEqual(await closedAfter(connectPacket({ flags: 0x03, clientId: 'x' })), [], 'reserved flag');
  assert.deepEqual(await closedAfter(connectPacket({ flags: 0x22, clientId: 'x' })), [], 'will retain without will');
  assert.deepEqual(await closedAfter(connectPacket({ flags: 0x42, clientId: 'x' })), [], 'password without user name');
});

test('an empty client id with a clean session is given one', async () => {
  const raw = await RawMqtt.connect(srv.mqttPort);
  raw.send(connectPacket({ clientId: '' }));
  assert.deepEqual([...(await raw.read(4))], [0x20, 2, 0, 0]);
  raw.destroy();
});

test('the first packet must be CONNECT; an HTTP request on the MQTT port is closed', async () => {
  assert.deepEqual(await closedAfter(publishPacket('a', 'b')), []);
  assert.deepEqual(await closedAfter(Buffer.from('GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n')), []);
  assert.deepEqual(await closedAfter(Buffer.from([0xc0, 0])), [], 'PINGREQ before CONNECT');
});

test('protocol errors after CONNECT close the connection', async () => {
  const cases: [string, Buffer][] = [
    ['a second CONNECT', connectPacket({ clientId: 'again' })],
    ['an unknown packet type', Buffer.from([0xf0, 0])],
    ['a CONNACK from the client', Buffer.from([0x20, 2, 0, 0])],
    ['SUBSCRIBE with wrong reserved flags', subscribePacket(1, [['a', 0]], 0)],
    ['SUBSCRIBE with QoS 3', subscribePacket(1, [['a', 3]])],
    ['SUBSCRIBE without filters', rawPacket(0x82, Buffer.from([0, 1]))],
    ['PUBLISH with QoS 3', publishPacket('a', 'x', 3, 1)],
    ['PUBLISH with a wildcard topic', publishPacket('a/+', 'x')],
    ['PUBLISH with an empty topic', publishPacket('', 'x')],
    ['PUBLISH QoS 1 with packet identifier 0', publishPacket('a', 'x', 1, 0)],
    ['PUBACK with packet identifier 0', Buffer.from([0x40, 2, 0, 0])],
    ['a malformed remaining length', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])],
  ];
  for (const [what, p] of cases) {
    const raw = await connected(`err-${what.replace(/\W+/g, '-')}`);
    raw.send(p);
    const rest = await raw.waitClosed(8000).catch(() => null);
    raw.destroy();
    assert.notEqual(rest, null, `${what}: connection closed`);
  }
});

test('internal subjects cannot be subscribed; `#` and `+` do not match `$` topics (nats-server 2.10 behaviour)', { skip: usingNatsServer ? 'nats-server 2.9.10 accepts `$MQTT/sub/...` and shows `#` its $MQTT.sess records' : false }, async () => {
  const raw = await connected('reserved');
  raw.send(subscribePacket(7, [['$MQTT/sub/x', 0], ['#', 0], ['+/x', 0], ['$sys/#', 0]]));
  assert.deepEqual([...(await raw.read(8))], [0x90, 6, 0, 7, 0x80, 0, 0, 0]);
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'reserved-pub' });
  await pub.publishAsync('$sys/x', 'dollar', { qos: 0 });
  await pub.publishAsync('plain/x', 'plain', { qos: 0 });
  await delay(300);
  // `#` and `+/x` get plain/x (one each); `$sys/x` comes once, through `$sys/#` only.
  const got = await raw.read(2 * (2 + 2 + 7 + 5) + (2 + 2 + 6 + 6));
  const text = got.toString('latin1');
  assert.equal(text.split('$sys/xdollar').length - 1, 1);
  assert.equal(text.split('plain/xplain').length - 1, 2);
  raw.destroy();
  await endQuietly(pub);
});

test('garbage on some connections does not disturb the others', async () => {
  const { client: sub, got } = await connectMqtt(srv.url, { clientId: 'steady-sub' });
  await sub.subscribeAsync('steady/+', { qos: 1 });
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'steady-pub' });
  const junk: RawMqtt[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await RawMqtt.connect(srv.mqttPort);
    junk.push(r);
    r.send(i % 2 === 0 ? Buffer.from(Array.from({ length: 300 }, (_, k) => (k * 37 + i) & 0xff)) : Buffer.concat([connectPacket({ clientId: `junk-${i}` }), Buffer.alloc(64, 0xff)]));
  }
  for (let i = 0; i < 20; i++) await pub.publishAsync(`steady/${i}`, `s${i}`, { qos: 1 });
  await until(() => got.length >= 20, '20 messages');
  assert.deepEqual(
    got.map((m) => m.payload),
    Array.from({ length: 20 }, (_, i) => `s${i}`),
  );
  for (const r of junk) r.destroy();
  await endQuietly(sub, pub);
});

test('random packet bodies of every type never take a shard down', async () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const { client: sub, got } = await connectMqtt(srv.url, { clientId: 'fuzz-steady' });
  await sub.subscribeAsync('fuzz/ok', { qos: 1 });
  for (let i = 0; i < 60; i++) {
    const raw = await RawMqtt.connect(srv.mqttPort);
    raw.send(connectPacket({ clientId: `fuzz-${i}` }));
    for (let k = 0; k < 5; k++) {
      const type = (1 + rnd(14)) << 4;
      const flags = rnd(16);
      const body = Buffer.from(Array.from({ length: rnd(40) }, () => rnd(256)));
      raw.send(rawPacket(type | flags, body));
    }
    await delay(5);
    raw.destroy();
  }
  const { client: pub } = await connectMqtt(srv.url, { clientId: 'fuzz-pub' });
  await pub.publishAsync('fuzz/ok', 'still here', { qos: 1 });
  await until(() => got.length >= 1, 'a delivery after the fuzzing');
  if (process.env['MQTT_FUZZ_LOG'] === '1') console.log(srv.server.output());
  assert.doesNotMatch(srv.server.output(), /shard exited unexpectedly|uncaught|TypeError|RangeError|Cannot read|is not a function|out of range/i);
  await endQuietly(sub, pub);
});
