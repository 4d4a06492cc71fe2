// JetStream durability through the whole server (issue 6's restart / crash / corruption lines):
// a real tsnats with `-js -sd DIR`, the official @nats-io/jetstream client, and the store files on disk.
// Run against nats-server too (TSNATS_TEST_SERVER=nats-server) except where a test reads our files.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, openSync, readSync, writeSync, closeSync, appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { headers, type NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, jetstream, StorageType, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { startServer, usingNatsServer, type RunningServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
function storeDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnats-js-dur-'));
  dirs.push(d);
  return d;
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(dir: string): Promise<{ server: RunningServer; nc: NatsConnection; jsm: JetStreamManager }> {
  const server = await startServer({ args: ['-js', '-sd', dir] });
  const nc = await connect({ servers: server.hostport, reconnect: false });
  const jsm = await jetstreamManager(nc);
  return { server, nc, jsm };
}

/** Every message of a stream, read one by one (no consumer needed): seq → [subject, payload, headers]. */
async function allMessages(jsm: JetStreamManager, stream: string): Promise<Map<number, string>> {
  const si = await jsm.streams.info(stream);
  const out = new Map<number, string>();
  const seqs: number[] = [];
  for (let s = si.state.first_seq; s <= si.state.last_seq && si.state.messages > 0; s++) seqs.push(s);
  for (let i = 0; i < seqs.length; i += 200) {
    const part = await Promise.all(
      seqs.slice(i, i + 200).map((seq) =>
        jsm.streams.getMessage(stream, { seq }).then(
          (m) => (m === null ? null : ([seq, `${m.subject}|${Buffer.from(m.data).toString('latin1')}|${m.header?.get('X-Mark') ?? ''}`] as const)),
          () => null,
        ),
      ),
    );
    for (const p of part) if (p !== null) out.set(p[0], p[1]);
  }
  return out;
}

/** The segment files of a stream in our store layout, oldest first. */
function segments(dir: string, stream: string): string[] {
  const d = join(dir, 'jetstream', '$G', 'streams', stream, 'msgs');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.blk'))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((f) => join(d, f));
}

describe('JetStream durability', { timeout: 240_000 }, () => {
  test('restart: stream configs, states and every message identical', async () => {
    const dir = storeDir();
    let { server, nc, jsm } = await start(dir);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], max_msgs_per_subject: 5, storage: StorageType.File });
    await jsm.streams.add({ name: 'EVENTS', subjects: ['events.*'], max_age: 3600 * 1e9, duplicate_window: 60 * 1e9, storage: StorageType.File, description: 'kept' });
    for (let i = 0; i < 300; i++) {
      const h = headers();
      h.set('X-Mark', `m${i}`);
      await js.publish(`orders.${i % 7}`, `order ${i}`, { headers: h });
      await js.publish(`events.${i % 3}`, `event ${i}`, { msgID: `e-${i}` });
    }
    await jsm.streams.deleteMessage('EVENTS', 10);
    await jsm.streams.deleteMessage('EVENTS', 11, false);
    await jsm.streams.purge('EVENTS', { filter: 'events.2', keep: 3 });
    const before = new Map<string, { info: unknown; msgs: Map<number, string> }>();
    for (const name of ['ORDERS', 'EVENTS']) {
      const si = await jsm.streams.info(name);
      before.set(name, { info: { config: si.config, state: { ...si.state }, created: si.created }, msgs: await allMessages(jsm, name) });
    }
    await nc.close();
    assert.equal(await server.stop(), 0);

    ({ server, nc, jsm } = await start(dir));
    try {
      const names = (await jsm.streams.names().next()).sort();
      assert.deepEqual(names, ['EVENTS', 'ORDERS']);
      for (const name of ['ORDERS', 'EVENTS']) {
        const si = await jsm.streams.info(name);
        const b = before.get(name)!;
        assert.deepEqual({ config: si.config, state: { ...si.state }, created: si.created }, b.info, `${name} info after restart`);
        const msgs = await allMessages(jsm, name);
        assert.equal(msgs.size, b.msgs.size);
        assert.deepEqual([...msgs.entries()], [...b.msgs.entries()], `${name} messages after restart`);
      }
      // Dedup ids survive too (inside the window): a re-publish is a duplicate.
      const ack = await jetstream(nc).publish('events.0', 'again', { msgID: 'e-299' });
      assert.equal(ack.duplicate, true);
    } finally {
      await nc.close();
      await server.stop();
    }
  });

  test('crash: SIGKILL during 100,000 async publishes loses no acknowledged message; a torn tail is cut', { skip: usingNatsServer ? 'reads tsnats store files' : false }, async () => {
    const dir = storeDir();
    let { server, nc, jsm } = await start(dir);
    await jsm.streams.add({ name: 'CRASH', subjects: ['crash.>'], storage: StorageType.File });
    const js = jetstream(nc);
    const acked = new Map<number, number>(); // seq -> i
    const total = 100_000;
    let killed = false;
    const inflight = new Set<Promise<void>>();
    for (let i = 0; i < total && !killed; i++) {
      const p: Promise<void> = js.publish(`crash.${i % 10}`, `payload-${i}`, { timeout: 5000 }).then(
        (a: PubAck) => {
          acked.set(a.seq, i);
        },
        () => undefined, // unacknowledged: may or may not be stored
      ).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= 256) await Promise.race(inflight);
      if (!killed && acked.size >= 20_000) {
        killed = true;
        server.proc.kill('SIGKILL');
      }
    }
    await Promise.all(inflight);
    await server.stop();
    await nc.close().catch(() => undefined);
    assert.ok(killed, `the server was killed mid-run (acked ${acked.size})`);
    assert.ok(acked.size >= 20_000 && acked.size < total, `acked ${acked.size}`);

    // A torn last record: half a frame of garbage at the end of the newest segment.
    const segs = segments(dir, 'CRASH');
    assert.ok(segs.length > 0, 'segment files exist');
    appendFileSync(segs[segs.length - 1]!, Buffer.from([0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]));

    ({ server, nc, jsm } = await start(dir));
    try {
      const si = await jsm.streams.info('CRASH');
      assert.ok(si.state.messages >= acked.size, `stored ${si.state.messages} >= acked ${acked.size}`);
      const maxAcked = Math.max(...acked.keys());
      const msgs = await allMessages(jsm, 'CRASH');
      for (const [seq, i] of acked) {
        const got = msgs.get(seq);
        assert.equal(got, `crash.${i % 10}|payload-${i}|`, `acknowledged seq ${seq} (publish ${i})`);
      }
      assert.ok(si.state.last_seq >= maxAcked);
      assert.match(server.output(), /torn|truncat/i, 'the torn tail is reported in the log');
      // The stream takes new messages after the recovered tail.
      const a = await jetstream(nc).publish('crash.x', 'after');
      assert.equal(a.seq, si.state.last_seq + 1);
    } finally {
      await nc.close();
      await server.stop();
    }
  });

  test('corrupt segment: the server starts, reports the damaged range and serves the rest', { skip: usingNatsServer ? 'reads tsnats store files' : false }, async () => {
    const dir = storeDir();
    let { server, nc, jsm } = await start(dir);
    await jsm.streams.add({ name: 'CORRUPT', subjects: ['corrupt.>'], storage: StorageType.File });
    const js = jetstream(nc);
    const n = 2000;
    const body = (i: number): string => `${String(i).padStart(6, '0')}-${'x'.repeat(200)}`;
    for (let i = 1; i <= n; i++) await js.publish('corrupt.a', body(i));
    await nc.close();
    assert.equal(await server.stop(), 0);

    // Flip bytes in the middle of the stream's data.
    const segs = segments(dir, 'CORRUPT');
    assert.ok(segs.length > 0);
    const totalSize = segs.reduce((a, f) => a + statSync(f).size, 0);
    let at = Math.floor(totalSize / 2);
    let file = segs[0]!;
    for (const f of segs) {
      const sz = statSync(f).size;
      if (at < sz) {
        file = f;
        break;
      }
      at -= sz;
    }
    const fd = openSync(file, 'r+');
    const chunk = Buffer.alloc(64);
    readSync(fd, chunk, 0, 64, at);
    for (let i = 0; i < 64; i++) chunk[i] = chunk[i]! ^ 0xff;
    writeSync(fd, chunk, 0, 64, at);
    closeSync(fd);

    ({ server, nc, jsm } = await start(dir));
    try {
      // The log names the stream and the sequence range lost.
      await waitFor(() => /corrupt|damaged/i.test(server.output()), 'the damage to be logged');
      const line = server.output().split('\n').find((l) => /corrupt|damaged/i.test(l))!;
      assert.match(line, /stream=CORRUPT/);
      const range = /first_seq=(\d+) last_seq=(\d+)/.exec(line);
      assert.ok(range !== null, `a sequence range in: ${line}`);
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      assert.ok(lo >= 1 && hi >= lo && hi - lo < 10, `a short damaged range ${lo}..${hi}`);
      const si = await jsm.streams.info('CORRUPT');
      assert.equal(si.state.messages, n - (hi - lo + 1), 'exactly the damaged range is gone');
      assert.equal(si.state.last_seq, n);
      const msgs = await allMessages(jsm, 'CORRUPT');
      assert.equal(msgs.size, si.state.messages);
      for (let seq = 1; seq <= n; seq++) {
        if (seq >= lo && seq <= hi) assert.equal(msgs.has(seq), false, `damaged seq ${seq} not served`);
        else assert.equal(msgs.get(seq), `corrupt.a|${body(seq)}|`, `seq ${seq} intact`);
      }
      // Still takes writes.
      const a = await jetstream(nc).publish('corrupt.a', 'new');
      assert.equal(a.seq, n + 1);
    } finally {
      await nc.close();
      await server.stop();
    }
  });

  test('memory streams do not survive a restart, file streams do', async () => {
    const dir = storeDir();
    let { server, nc, jsm } = await start(dir);
    await jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], storage: StorageType.Memory });
    await jsm.streams.add({ name: 'FILE', subjects: ['file.>'], storage: StorageType.File });
    await jetstream(nc).publish('mem.a', 'x');
    await jetstream(nc).publish('file.a', 'y');
    await nc.close();
    await server.stop();
    ({ server, nc, jsm } = await start(dir));
    try {
      assert.deepEqual(await jsm.streams.names().next(), ['FILE']);
      assert.equal((await jsm.streams.info('FILE')).state.messages, 1);
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
