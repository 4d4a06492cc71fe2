// The sharded engine, seen from clients: connections on different shards behave as on one server.
// TSNATS_DEBUG_INFO=1 makes INFO carry `tsnats_shard`, so each test can place its clients on the
// shards it needs; TSNATS_DEBUG_HOOKS=1 lets a test end a shard's thread as a crash would.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { startServer, type RunningServer, usingNatsServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';

const SHARDS = 4;
const env = { TSNATS_DEBUG_INFO: '1', TSNATS_DEBUG_HOOKS: '1' };

function shardOf(nc: NatsConnection): number {
  return (nc.info as unknown as { tsnats_shard: number }).tsnats_shard;
}

/** Opens client connections until `n` of them sit on distinct shards; closes the spares. */
async function onePerShard(url: string, n: number, reconnect = true): Promise<NatsConnection[]> {
  const by: (NatsConnection | undefined)[] = [];
  const spare: NatsConnection[] = [];
  for (let i = 0; i < 64 && by.filter(Boolean).length < n; i++) {
    const nc = await connect({ servers: url, reconnect });
    const s = shardOf(nc);
    if (by[s] === undefined) by[s] = nc;
    else spare.push(nc);
  }
  await Promise.all(spare.map((c) => c.close()));
  const placed = by.filter((c): c is NatsConnection => c !== undefined);
  assert.equal(placed.length, n, 'could not place a connection on every shard');
  // Dense, in shard order (with n below the shard count, which shards they are varies).
  return placed;
}

/** A raw connection (INFO read, CONNECT sent) and the shard it landed on. */
async function rawOn(port: number): Promise<{ c: WireClient; shard: number }> {
  const c = await connectRaw(port);
  const m = await c.expect(/^INFO (\{.*\}) ?\r\n/);
  const info = JSON.parse(m[1]!) as { tsnats_shard: number };
  c.send('CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n');
  await c.expect(/^PONG\r\n/);
  return { c, shard: info.tsnats_shard };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

describe('sharded engine (4 shards)', { skip: usingNatsServer }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ shards: SHARDS, env });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test('request/reply race: fresh inbox subscribed and used at once, responder on another shard, 10,000 times', { timeout: 120_000 }, async () => {
    const [responder] = await onePerShard(server.url, 1);
    const rs = shardOf(responder!);
    responder!.subscribe('race.svc', { callback: (_e, m) => m.respond(m.data) });
    await responder!.flush();
    // A raw requester on another shard.
    let req: { c: WireClient; shard: number } | null = null;
    const extra: WireClient[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await rawOn(server.port);
      if (r.shard !== rs) {
        req = r;
        break;
      }
      extra.push(r.c);
    }
    extra.forEach((c) => c.close());
    assert.ok(req !== null, 'no connection on another shard');
    const total = 10_000;
    const window = 50;
    let received = 0;
    let buf = '';
    const seen = new Set<number>();
    const done = new Promise<void>((resolve) => {
      req!.c.socket.on('data', (d) => {
        buf += d.toString('latin1');
        let m: RegExpExecArray | null;
        const re = /MSG race\.inbox\.(\d+) (\d+) (\d+)\r\n/y;
        let at = 0;
        while (true) {
          re.lastIndex = at;
          m = re.exec(buf);
          if (m === null) break;
          const len = Number(m[3]);
          const end = re.lastIndex + len + 2;
          if (buf.length < end) break;
          const i = Number(m[1]);
          assert.equal(buf.slice(re.lastIndex, re.lastIndex + len), `q${i}`);
          seen.add(i);
          received++;
          at = end;
          if (next < total) send(next++);
          if (received === total) resolve();
        }
        buf = buf.slice(at);
      });
    });
    let next = 0;
    const send = (i: number): void => {
      const body = `q${i}`;
      // SUB the fresh inbox and publish the request in the same write: no PING in between.
      req!.c.send(`SUB race.inbox.${i} ${i + 1}\r\nUNSUB ${i + 1} 1\r\nPUB race.svc race.inbox.${i} ${body.length}\r\n${body}\r\n`);
    };
    while (next < window) send(next++);
    const timer = setTimeout(() => {}, 0);
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${received} of ${total} replies`)), 90_000))]);
    clearTimeout(timer);
    assert.equal(received, total);
    assert.equal(seen.size, total);
    req!.c.close();
    await responder!.close();
  });

  test('queue group with members on 4 shards: 100,000 messages exactly once, each member >= 10%', { timeout: 120_000 }, async () => {
    const conns = await onePerShard(server.url, SHARDS);
    const counts = new Array<number>(SHARDS).fill(0);
    const seen = new Uint8Array(100_000);
    let dups = 0;
    let total = 0;
    conns.forEach((nc, i) =>
      nc.subscribe('qg.work', {
        queue: 'workers',
        callback: (_e, m) => {
          const id = m.data.length === 4 ? Buffer.from(m.data).readUInt32LE(0) : -1;
          if (seen[id] === 1) dups++;
          seen[id] = 1;
          counts[i]!++;
          total++;
        },
      }),
    );
    await Promise.all(conns.map((c) => c.flush()));
    const pub = conns[0]!;
    const b = Buffer.alloc(4);
    for (let i = 0; i < 100_000; i++) {
      b.writeUInt32LE(i, 0);
      pub.publish('qg.work', new Uint8Array(b));
      if (i % 5000 === 4999) await pub.flush();
    }
    await pub.flush();
    const deadline = Date.now() + 60_000;
    while (total < 100_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(conns.map((c) => c.flush()));
    assert.equal(dups, 0);
    assert.equal(total, 100_000, `got ${total}`);
    assert.equal(seen.reduce((a, v) => a + v, 0), 100_000);
    for (const c of counts) assert.ok(c >= 10_000, `member counts ${counts.join(',')}`);
    await Promise.all(conns.map((c) => c.close()));
  });

  test('fan-out to subscribers on every shard: every message, in publish order', { timeout: 60_000 }, async () => {
    const conns = await onePerShard(server.url, SHARDS);
    const got: number[][] = conns.map(() => []);
    conns.forEach((nc, i) => {
      nc.subscribe('fan.x', { callback: (_e, m) => got[i]!.push(Buffer.from(m.data).readUInt32LE(0)) });
      nc.subscribe('fan.*', { callback: (_e, m) => got[i]!.push(-1 - Buffer.from(m.data).readUInt32LE(0)) });
    });
    await Promise.all(conns.map((c) => c.flush()));
    // Publish from two shards.
    const n = 5000;
    const b = Buffer.alloc(4);
    for (let i = 0; i < n; i++) {
      b.writeUInt32LE(i, 0);
      conns[1]!.publish('fan.x', new Uint8Array(b));
    }
    await conns[1]!.flush();
    await Promise.all(conns.map((c) => c.flush()));
    for (let i = 0; i < SHARDS; i++) {
      const plain = got[i]!.filter((v) => v >= 0);
      const wild = got[i]!.filter((v) => v < 0).map((v) => -1 - v);
      assert.deepEqual(plain, Array.from({ length: n }, (_, k) => k), `shard ${i} fan.x`);
      assert.deepEqual(wild, Array.from({ length: n }, (_, k) => k), `shard ${i} fan.*`);
    }
    await Promise.all(conns.map((c) => c.close()));
  });

  test('no-responders, echo:false and UNSUB-with-max behave as with one shard', { timeout: 30_000 }, async () => {
    const conns = await onePerShard(server.url, 2);
    const [a, b] = conns as [NatsConnection, NatsConnection];
    await assert.rejects(a.request('nobody.home', new Uint8Array(0), { timeout: 2000 }), (e: Error & { code?: string }) => e.code === '503');
    // UNSUB with max on b, publishes from a.
    let n = 0;
    const sub = b.subscribe('max.x', { callback: () => n++ });
    sub.unsubscribe(3);
    await b.flush();
    for (let i = 0; i < 10; i++) a.publish('max.x');
    await a.flush();
    await b.flush();
    assert.equal(n, 3);
    assert.equal(b.stats().inMsgs, 3);
    // echo:false across shards: the other shard's subscriber still gets it.
    const ne = await connect({ servers: server.url, noEcho: true });
    let own = 0;
    let other = 0;
    ne.subscribe('echo.x', { callback: () => own++ });
    b.subscribe('echo.x', { callback: () => other++ });
    await ne.flush();
    await b.flush();
    ne.publish('echo.x');
    await ne.flush();
    await b.flush();
    assert.equal(own, 0);
    assert.equal(other, 1);
    await Promise.all([a.close(), b.close(), ne.close()]);
  });
});

describe('back-pressure between shards', { skip: usingNatsServer }, () => {
  test('fast publisher, slow subscriber on another shard, tiny rings: nothing lost, memory bounded', { timeout: 120_000 }, async () => {
    const server = await startServer({ shards: 2, maxPayload: 4096, env: { ...env, TSNATS_RING_SIZE: String(64 * 1024) } });
    try {
      const sub = await rawOn(server.port);
      let pub = await rawOn(server.port);
      const spares: WireClient[] = [];
      while (pub.shard === sub.shard) {
        spares.push(pub.c);
        pub = await rawOn(server.port);
      }
      spares.forEach((c) => c.close());
      sub.c.send('SUB bp.x 1\r\nPING\r\n');
      await sub.c.expect(/^PONG\r\n/);
      const rss0 = rssKb(server.proc.pid!);
      let peak = rss0;
      const sampler = setInterval(() => (peak = Math.max(peak, rssKb(server.proc.pid!))), 50);
      const total = 400_000;
      const size = 100;
      // Subscriber: counts MSG frames, checks order, and reads slowly (pauses 100 ms every ~4 MB).
      let count = 0;
      let bad = 0;
      let pending: Buffer = Buffer.alloc(0);
      let sinceP = 0;
      const got = new Promise<void>((resolve) => {
        sub.c.socket.removeAllListeners('data');
        sub.c.socket.on('data', (d: Buffer) => {
          pending = pending.length > 0 ? Buffer.concat([pending, d]) : d;
          let at = 0;
          while (true) {
            const nl = pending.indexOf(10, at);
            if (nl < 0) break;
            const line = pending.toString('latin1', at, nl - 1);
            const m = /^MSG bp\.x 1 (\d+)$/.exec(line);
            if (m === null) {
              at = nl + 1; // PING/PONG
              continue;
            }
            const len = Number(m[1]);
            if (pending.length < nl + 1 + len + 2) break;
            if (pending.readUInt32LE(nl + 1) !== count) bad++;
            count++;
            at = nl + 1 + len + 2;
          }
          pending = pending.subarray(at);
          sinceP += d.length;
          if (sinceP > 4 * 1024 * 1024) {
            sinceP = 0;
            sub.c.socket.pause();
            setTimeout(() => sub.c.socket.resume(), 100);
          }
          if (count >= total) resolve();
        });
      });
      // Publisher: as fast as the socket takes it.
      const frame = (i: number): Buffer => {
        const head = Buffer.from(`PUB bp.x ${size}\r\n`);
        const body = Buffer.alloc(size + 2, 0x61);
        body.writeUInt32LE(i, 0);
        body[size] = 13;
        body[size + 1] = 10;
        return Buffer.concat([head, body]);
      };
      const batch = 1000;
      for (let i = 0; i < total; i += batch) {
        const parts: Buffer[] = [];
        for (let k = i; k < i + batch; k++) parts.push(frame(k));
        if (!pub.c.socket.write(Buffer.concat(parts))) await new Promise((r) => pub.c.socket.once('drain', r));
      }
      pub.c.send('PING\r\n');
      await pub.c.expect(/PONG\r\n/, 60_000);
      await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error(`got ${count} of ${total}`)), 60_000))]);
      clearInterval(sampler);
      assert.equal(bad, 0);
      assert.equal(count, total);
      const growthMb = (peak - rss0) / 1024;
      // 40 MB went through; the shard may hold the slow reader's pending bytes plus read chunks.
      assert.ok(growthMb < 160, `server RSS grew by ${growthMb.toFixed(1)} MB`);
      pub.c.close();
      sub.c.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('shard death', { skip: usingNatsServer }, () => {
  test('a shard that dies is replaced; the other shards keep serving', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: 3, env });
    try {
      const conns = await onePerShard(server.url, 3, false);
      const [victim, a, b] = conns as [NatsConnection, NatsConnection, NatsConnection];
      for (const c of conns) c.closed().catch(() => {});
      const got: string[] = [];
      b.subscribe('alive.x', { callback: (_e, m) => got.push(Buffer.from(m.data).toString()) });
      await b.flush();
      a.publish('alive.x', Buffer.from('before'));
      await a.flush();
      const victimClosed = victim.closed();
      victim.publish('$TSNATS.DEBUG.SHARD_EXIT');
      await victimClosed.catch(() => {});
      // Existing connections on other shards carry on.
      a.publish('alive.x', Buffer.from('after'));
      await a.flush();
      await b.flush();
      assert.deepEqual(got, ['before', 'after']);
      // The main thread logs the death and starts a replacement.
      for (let i = 0; i < 100 && !/replacement shard ready/.test(server.output()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(server.output(), /shard exited unexpectedly/);
      assert.match(server.output(), /replacement shard ready/);
      // New connections are served, including on the replacement shard, and route across shards.
      await new Promise((r) => setTimeout(r, 300));
      const fresh = await onePerShard(server.url, 3);
      const got2: number[] = [];
      fresh.forEach((nc, i) => nc.subscribe('again.x', { callback: () => got2.push(i) }));
      await Promise.all(fresh.map((c) => c.flush()));
      a.publish('again.x');
      await a.flush();
      await Promise.all(fresh.map((c) => c.flush()));
      assert.deepEqual(got2.sort(), [0, 1, 2]);
      await Promise.all([...fresh, a, b].map((c) => c.close()));
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
