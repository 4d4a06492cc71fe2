// A publisher moves to the shard its messages go to (src/shard/migrate.ts): the client sees nothing
// change (same connection, same cid, PING/PONG answered), /connz lists it once, on the new shard,
// with its counters carried over, and every subscriber, on every shard, gets every message exactly
// once and in publish order across the move. Subscribing, TLS, WebSocket and MQTT connections never
// move; TSNATS_MIGRATE=0 turns moving off.
// TSNATS_DEBUG_INFO=1 makes INFO and /connz carry `tsnats_shard` so the test places its clients and
// sees where they are; the debug log (-D) says when a connection moved.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { connect } from 'nats';
import { wsconnect } from '@nats-io/nats-core';
import { startServer, type RunningServer, usingNatsServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { TestPki } from '../helpers/certs.js';
import { startMqttServer, connectPacket, publishPacket, RawMqtt, cleanupDirs, type MqttServer } from '../mqtt/helpers.js';

const env = { TSNATS_DEBUG_INFO: '1' };

/** A raw connection (CONNECT sent, PONG seen) on shard `want`, with its cid; spares are closed. */
async function rawOnShard(port: number, want: number): Promise<{ c: WireClient; cid: number }> {
  const spare: WireClient[] = [];
  try {
    for (let i = 0; i < 32; i++) {
      const c = await connectRaw(port);
      const m = await c.expect(/^INFO (\{.*\}) ?\r\n/);
      const info = JSON.parse(m[1]!) as { tsnats_shard: number; client_id: number };
      if (info.tsnats_shard !== want) {
        spare.push(c);
        continue;
      }
      c.send('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
      await c.expect(/^PONG\r\n/);
      return { c, cid: info.client_id };
    }
    throw new Error(`no connection landed on shard ${want}`);
  } finally {
    spare.forEach((s) => s.close());
  }
}

/** A raw subscriber on shard `shard` to `subject`, collecting what it gets. */
async function subscriber(port: number, shard: number, subject: string, ordered = true): Promise<{ c: WireClient; got: Collected }> {
  const s = await rawOnShard(port, shard);
  s.c.send(`SUB ${subject} 1\r\nPING\r\n`);
  await s.c.expect(/^PONG\r\n/);
  return { c: s.c, got: collector(s.c, ordered) };
}

interface Collected {
  count(): number;
  errors: string[];
}

/**
 * Counts `MSG`/`HMSG` frames; `ordered`: each payload is a u64 sequence number, checked for gaps,
 * repeats and order.
 */
function collector(c: WireClient, ordered: boolean): Collected {
  let buf: Buffer = Buffer.alloc(0);
  let n = 0;
  const errors: string[] = [];
  c.socket.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    let at = 0;
    for (;;) {
      const nl = buf.indexOf('\r\n', at);
      if (nl < 0) break;
      const line = buf.toString('latin1', at, nl);
      if (!line.startsWith('MSG ') && !line.startsWith('HMSG ')) {
        at = nl + 2;
        continue;
      }
      const size = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (buf.length < nl + 2 + size + 2) break;
      if (ordered) {
        const v = Number(buf.readBigUInt64LE(nl + 2));
        if (v !== n && errors.length < 5) errors.push(`expected ${n}, got ${v}`);
        n = v + 1;
      } else n++;
      at = nl + 2 + size + 2;
    }
    buf = buf.subarray(at);
  });
  return { count: () => n, errors };
}

/** Per-subject sequence numbers of one publisher. */
type Seqs = Record<string, number>;

/**
 * Publishes `count` messages in writes of 1,000 frames, then PING/PONG; message i goes to `side`
 * when i % sideEvery === sideEvery - 1, else to `subject`. Each payload is its subject's next sequence number.
 */
async function publish(c: WireClient, seqs: Seqs, subject: string, count: number, side = '', sideEvery = 0): Promise<void> {
  for (let i = 0; i < count; ) {
    const frames: Buffer[] = [];
    for (let k = 0; k < 1000 && i < count; k++, i++) {
      const subj = sideEvery > 0 && i % sideEvery === sideEvery - 1 ? side : subject;
      const f = Buffer.from(`PUB ${subj} 8\r\n12345678\r\n`);
      f.writeBigUInt64LE(BigInt(seqs[subj] ?? 0), f.length - 10);
      seqs[subj] = (seqs[subj] ?? 0) + 1;
      frames.push(f);
    }
    if (!c.socket.write(Buffer.concat(frames))) await new Promise((r) => c.socket.once('drain', r));
  }
  c.send('PING\r\n');
  await c.expect(/PONG\r\n/, 30_000);
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function monitorBase(server: RunningServer): string {
  return `http://127.0.0.1:${/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]}`;
}

interface Conn {
  cid: number;
  name?: string;
  mqtt_client?: string;
  in_msgs: number;
  tsnats_shard?: number;
}

async function connz(server: RunningServer, query = ''): Promise<Conn[]> {
  const r = await fetch(`${monitorBase(server)}/connz?limit=1000${query}`);
  return ((await r.json()) as { connections: Conn[] }).connections;
}

const movedLine = (cid: number): RegExp => new RegExp(`Client connection moved here \\(cid=${cid}\\)`);

describe('connection moves between shards', { skip: usingNatsServer }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ shards: 3, env, args: ['-D', '-m', '-1'] });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test("a publisher moves to its subscribers' shard: same cid, /connz on the new shard, order and count hold on every shard", { timeout: 120_000 }, async () => {
    // Most messages go to mv.x, whose only subscriber is on shard 1; one in 50 goes to mv.side,
    // with a subscriber on every shard (the publisher's old shard, its new one, and a third).
    const x = await subscriber(server.port, 1, 'mv.x');
    const sides = [await subscriber(server.port, 0, 'mv.side'), await subscriber(server.port, 1, 'mv.side'), await subscriber(server.port, 2, 'mv.side')];
    const pub = await rawOnShard(server.port, 0);
    const seqs: Seqs = {};
    // Published in rounds, so the move happens in the middle of the stream.
    for (let round = 0; round < 40 && !movedLine(pub.cid).test(server.output()); round++) {
      await publish(pub.c, seqs, 'mv.x', 10_000, 'mv.side', 50);
      await sleep(30);
    }
    assert.match(server.output(), movedLine(pub.cid), 'the publisher never moved');
    const movedAfter = (seqs['mv.x'] ?? 0) + (seqs['mv.side'] ?? 0);
    let listed = await connz(server, `&cid=${pub.cid}`);
    assert.equal(listed.length, 1, 'listed once');
    assert.equal(listed[0]!.tsnats_shard, 1, 'on the shard of its subscribers');
    // More after the move (the stream crosses the move, never pauses for it).
    for (let round = 0; round < 10; round++) await publish(pub.c, seqs, 'mv.x', 10_000, 'mv.side', 50);
    const total = seqs['mv.x']! + seqs['mv.side']!;
    assert.ok(total > movedAfter);
    await until(() => x.got.count() >= seqs['mv.x']! && sides.every((s) => s.got.count() >= seqs['mv.side']!), 30_000);
    assert.deepEqual(x.got.errors, []);
    assert.equal(x.got.count(), seqs['mv.x']);
    for (const [i, s] of sides.entries()) {
      assert.deepEqual(s.got.errors, [], `side subscriber on shard ${i}`);
      assert.equal(s.got.count(), seqs['mv.side'], `side subscriber on shard ${i}`);
    }
    // The counters moved with it: /connz counts everything it published, before and after.
    listed = await connz(server, `&cid=${pub.cid}`);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.in_msgs, total);
    assert.equal(listed[0]!.tsnats_shard, 1);
    // The moved connection still answers and publishes to a subscriber on yet another shard.
    const y = await subscriber(server.port, 2, 'mv.y');
    await publish(pub.c, seqs, 'mv.y', 5000);
    await until(() => y.got.count() >= 5000, 10_000);
    assert.deepEqual(y.got.errors, []);
    assert.equal(y.got.count(), 5000);
    // Same connection: the server closed nothing and sent no second INFO.
    assert.equal(pub.c.isClosed(), false);
    assert.doesNotMatch(pub.c.buffered(), /INFO/);
    for (const s of [x, y, ...sides]) s.c.close();
    pub.c.close();
  });

  test('a subscriber never moves, nor a publisher whose messages go to several shards', { timeout: 60_000 }, async () => {
    const a = await subscriber(server.port, 1, 'sp.x');
    const b = await subscriber(server.port, 2, 'sp.x');
    // The publisher (on shard 0) also subscribes to something: it has subscriptions, it stays.
    const pub = await rawOnShard(server.port, 0);
    pub.c.send('SUB other 9\r\n');
    const seqs: Seqs = {};
    for (let r = 0; r < 5; r++) {
      await publish(pub.c, seqs, 'sp.x', 10_000);
      await sleep(50);
    }
    // And a pure publisher to two shards does not move either.
    const pub2 = await rawOnShard(server.port, 0);
    const seqs2: Seqs = { 'sp.x': 50_000 };
    for (let r = 0; r < 5; r++) {
      await publish(pub2.c, seqs2, 'sp.x', 10_000);
      await sleep(50);
    }
    await until(() => a.got.count() >= 100_000 && b.got.count() >= 100_000, 20_000);
    assert.equal(a.got.count(), 100_000);
    assert.equal(b.got.count(), 100_000);
    assert.deepEqual([...a.got.errors, ...b.got.errors], []);
    for (const cid of [pub.cid, pub2.cid]) assert.doesNotMatch(server.output(), movedLine(cid));
    for (const cid of [pub.cid, pub2.cid]) assert.equal((await connz(server, `&cid=${cid}`))[0]!.tsnats_shard, 0);
    for (const x of [a, b, pub, pub2]) x.c.close();
  });
});

/**
 * Drives `publishRound` (a few thousand messages to the subject of the other shard's subscriber)
 * in rounds long enough for several review windows; returns the shard /connz shows before and after.
 */
async function drive(server: RunningServer, find: (c: Conn) => boolean, publishRound: (subject: string) => Promise<void>, counters: Collected[]): Promise<{ cid: number; before: number; after: number }> {
  let me: Conn | undefined;
  for (let i = 0; i < 50 && me === undefined; i++) {
    me = (await connz(server)).find(find);
    if (me === undefined) await sleep(50);
  }
  assert.ok(me !== undefined && me.tsnats_shard !== undefined, 'connection in /connz');
  const other = 1 - me.tsnats_shard;
  const want = counters[other]!.count() + 30_000;
  for (let r = 0; r < 10; r++) {
    await publishRound(`nm.${other}`);
    await sleep(20);
  }
  // The messages did cross to the other shard (so a move was on the table).
  await until(() => counters[other]!.count() >= want, 30_000);
  assert.equal(counters[other]!.count(), want);
  const now = (await connz(server, `&cid=${me.cid}`))[0];
  assert.ok(now !== undefined);
  return { cid: me.cid, before: me.tsnats_shard, after: now.tsnats_shard! };
}

describe('connections that never move', { skip: usingNatsServer }, () => {
  let mq: MqttServer;
  before(async () => {
    const g = globalThis as { WebSocket?: unknown };
    g.WebSocket ??= WebSocket;
    mq = await startMqttServer({ shards: 2, websocket: true, env, args: ['-D', '-m', '-1'] });
  });
  after(async () => {
    await mq.stop();
    cleanupDirs();
  });

  test('WebSocket and MQTT publishers stay where they are; a plain TCP one in the same server moves', { timeout: 120_000 }, async () => {
    const server = mq.server;
    const subs = [await subscriber(server.port, 0, 'nm.0', false), await subscriber(server.port, 1, 'nm.1', false)];
    const counters = subs.map((s) => s.got);

    const ws = await wsconnect({ servers: mq.wsUrl.replace(/\/mqtt$/, ''), name: 'ws-pub' });
    const w = await drive(server, (c) => c.name === 'ws-pub', async (subject) => {
      for (let i = 0; i < 3000; i++) ws.publish(subject, 'abcdefgh');
      await ws.flush();
    }, counters);
    assert.equal(w.after, w.before, 'the WebSocket publisher moved');
    assert.doesNotMatch(server.output(), movedLine(w.cid));

    const m = await RawMqtt.connect(mq.mqttPort);
    m.send(connectPacket({ clientId: 'mq-pub' }));
    assert.equal((await m.read(4)).toString('hex'), '20020000');
    const q = await drive(server, (c) => c.mqtt_client === 'mq-pub', async (subject) => {
      m.send(Buffer.concat(Array.from({ length: 3000 }, () => publishPacket(subject.replace('.', '/'), 'abcdefgh'))));
      await sleep(10);
    }, counters);
    assert.equal(q.after, q.before, 'the MQTT publisher moved');
    assert.doesNotMatch(server.output(), movedLine(q.cid));

    // The control: the same traffic from a plain NATS TCP connection does move.
    const raw = await rawOnShard(server.port, 0);
    const seqs: Seqs = {};
    for (let r = 0; r < 40 && !movedLine(raw.cid).test(server.output()); r++) {
      await publish(raw.c, seqs, 'nm.1', 3000);
      await sleep(20);
    }
    assert.match(server.output(), movedLine(raw.cid));
    assert.equal((await connz(server, `&cid=${raw.cid}`))[0]!.tsnats_shard, 1);

    await ws.close();
    m.destroy();
    raw.c.close();
    for (const s of subs) s.c.close();
  });

  test('TLS publishers stay where they are', { timeout: 120_000 }, async () => {
    const pki = new TestPki();
    pki.server();
    const conf = pki.f('tls.conf');
    writeFileSync(conf, `allow_non_tls: true\ntls {\n  cert_file: "${pki.f('server.pem')}"\n  key_file: "${pki.f('server.key')}"\n  timeout: 2\n}\n`);
    const server = await startServer({ shards: 2, env, args: ['-c', conf, '-D', '-m', '-1'] });
    try {
      const subs = [await subscriber(server.port, 0, 'nm.0', false), await subscriber(server.port, 1, 'nm.1', false)];
      const nc = await connect({ servers: server.url, name: 'tls-pub', tls: { caFile: pki.f('ca.pem') } });
      const t = await drive(server, (c) => c.name === 'tls-pub', async (subject) => {
        for (let i = 0; i < 3000; i++) nc.publish(subject, 'abcdefgh');
        await nc.flush();
      }, subs.map((s) => s.got));
      assert.equal(t.after, t.before, 'the TLS publisher moved');
      assert.doesNotMatch(server.output(), /Client connection moved here/);
      await nc.close();
      for (const s of subs) s.c.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('connection moves can be turned off', { skip: usingNatsServer }, () => {
  test('TSNATS_MIGRATE=0: the publisher stays', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: 2, env: { ...env, TSNATS_MIGRATE: '0' }, args: ['-D', '-m', '-1'] });
    try {
      const sub = await subscriber(server.port, 1, 'off.x');
      const pub = await rawOnShard(server.port, 0);
      const seqs: Seqs = {};
      for (let r = 0; r < 10; r++) {
        await publish(pub.c, seqs, 'off.x', 10_000);
        await sleep(50);
      }
      await until(() => sub.got.count() >= 100_000, 20_000);
      assert.equal(sub.got.count(), 100_000);
      assert.deepEqual(sub.got.errors, []);
      assert.doesNotMatch(server.output(), /Client connection moved here/);
      assert.equal((await connz(server, `&cid=${pub.cid}`))[0]!.tsnats_shard, 0);
      pub.c.close();
      sub.c.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
