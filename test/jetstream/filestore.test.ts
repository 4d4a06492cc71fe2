// The file store alone: persistence across reopen, the index file, torn tails, corruption in the
// middle of a block, block roll-over and fsync modes.

import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/jetstream/store/filestore.js';
import type { Logger } from '../../src/log.js';
import type { StoreLimits, StoredMsg, StreamStore } from '../../src/jetstream/types.js';
import { UNLIMITED } from '../helpers/store.js';

interface Captured {
  log: Logger;
  warn: [Record<string, unknown>, string][];
  error: [Record<string, unknown>, string][];
}

function captureLog(): Captured {
  const c: Captured = { log: null as unknown as Logger, warn: [], error: [] };
  const noop = (): void => {};
  c.log = {
    info: noop,
    debug: noop,
    trace: noop,
    fatal: noop,
    warn: (o: Record<string, unknown>, m: string) => c.warn.push([o, m]),
    error: (o: Record<string, unknown>, m: string) => c.error.push([o, m]),
  } as unknown as Logger;
  return c;
}

let dirs: string[] = [];
let stores: StreamStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  stores = [];
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnats-fs-'));
  dirs.push(d);
  return d;
}

async function openStore(dir: string, opts: Parameters<typeof FileStore.open>[2] = {}, limits: Partial<StoreLimits> = {}): Promise<FileStore> {
  const s = await FileStore.open(dir, { ...UNLIMITED, ...limits }, opts);
  stores.push(s);
  return s;
}

async function close(s: FileStore): Promise<void> {
  await s.stop();
  stores = stores.filter((x) => x !== s);
}

function blocks(dir: string): string[] {
  return readdirSync(join(dir, 'msgs'))
    .filter((n) => n.endsWith('.blk'))
    .sort((a, b) => parseInt(a) - parseInt(b));
}

function plain(m: StoredMsg | null): unknown {
  return m === null ? null : { subject: m.subject, seq: m.seq, ts: m.ts, hdr: m.hdr?.toString() ?? null, data: m.data.toString() };
}

function snapshot(s: StreamStore): unknown[] {
  const st = s.state();
  const out: unknown[] = [st];
  for (let q = st.first_seq; q <= st.last_seq; q++) out.push(plain(s.loadMsg(q)));
  out.push([...s.subjectsState('>').entries()].sort());
  return out;
}

const HDR = Buffer.from('NATS/1.0\r\nNats-Msg-Id: 7\r\n\r\n');

async function populate(s: FileStore, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) s.storeMsg(`s.${i % 3}`, i % 2 === 0 ? HDR : null, Buffer.from(`payload-${i}`.padEnd(40, '.')));
}

/** Removes the index file, so the next open rebuilds the state by scanning the blocks. */
function dropIndex(dir: string): void {
  rmSync(join(dir, 'msgs', 'index.bin'));
}

/** A new directory with n messages (populate), closed and without its index file. */
async function closedWithoutIndex(n: number): Promise<string> {
  const dir = tmp();
  const s = await openStore(dir);
  await populate(s, n);
  await close(s);
  dropIndex(dir);
  return dir;
}

/** Where the n-th record (1-based) of a block starts: records are laid out back to back; walk the lengths. */
function recordOffset(buf: Buffer, n: number): number {
  let pos = 0;
  for (let i = 1; i < n; i++) pos += buf.readUInt32LE(pos) & 0x7fffffff;
  return pos;
}

/** Opens dir with a captured log. */
async function openLogged(dir: string, opts: Parameters<typeof FileStore.open>[2] = {}): Promise<{ r: FileStore; log: Captured }> {
  const log = captureLog();
  return { r: await openStore(dir, { ...opts, log: log.log }), log };
}

describe('file store', () => {
  test('reopen gives the same state and messages (from the index), deletes included', async () => {
    const dir = tmp();
    const s = await openStore(dir);
    await populate(s, 50);
    s.removeMsg(7);
    s.removeMsg(1);
    s.purge({ filter: 's.2', keep: 3 });
    const before = snapshot(s);
    await close(s);
    assert.ok(existsSync(join(dir, 'msgs', 'index.bin')));
    const r = await openStore(dir);
    assert.equal(r.recoveredFrom, 'index');
    assert.deepEqual(snapshot(r), before);
    assert.ok(!existsSync(join(dir, 'msgs', 'index.bin')), 'the index is not trusted twice');
    assert.equal(r.loadMsg(7), null);
    assert.equal(r.storeMsg('next', null, Buffer.from('x')).seq, 51);
  });

  test('index file deleted: rebuilt by scanning, same state; deletes survive', async () => {
    const dir = tmp();
    const s = await openStore(dir, { blockSize: 1024 });
    await populate(s, 60);
    s.removeMsg(30);
    s.removeMsg(2);
    const before = snapshot(s);
    await close(s);
    dropIndex(dir);
    const { r, log } = await openLogged(dir, { blockSize: 1024 });
    assert.equal(r.recoveredFrom, 'scan');
    assert.deepEqual(snapshot(r), before);
    assert.equal(r.loadMsg(30), null);
    assert.deepEqual(log.warn, []);
    assert.deepEqual(log.error, []);
  });

  test('a stale index (blocks changed after it was written) is not trusted', async () => {
    const dir = tmp();
    const s = await openStore(dir);
    await populate(s, 10);
    await close(s);
    // Keep a copy of this index, then change the store and put the old index back.
    const idx = readFileSync(join(dir, 'msgs', 'index.bin'));
    const r = await openStore(dir);
    r.storeMsg('more', null, Buffer.from('x'));
    r.removeMsg(3);
    await close(r);
    writeFileSync(join(dir, 'msgs', 'index.bin'), idx);
    const t = await openStore(dir);
    assert.equal(t.recoveredFrom, 'scan');
    const st = t.state();
    assert.deepEqual([st.messages, st.last_seq], [10, 11]);
    assert.equal(t.loadMsg(3), null);
    assert.equal(t.loadMsg(11)!.subject, 'more');
  });

  test('crash without stop: everything written is recovered by a scan', async () => {
    const dir = tmp();
    const s = await openStore(dir, { blockSize: 1500 });
    await populate(s, 40);
    s.removeMsg(5);
    const before = snapshot(s);
    // No stop(): a second store opens the same directory as a restart after a crash would.
    const r = await openStore(dir, { blockSize: 1500 });
    assert.equal(r.recoveredFrom, 'scan');
    assert.deepEqual(snapshot(r), before);
  });

  test('purge and limit evictions survive reopen; sequences never go back', async () => {
    const dir = tmp();
    const s = await openStore(dir, { blockSize: 1024 }, { max_msgs: 5 });
    await populate(s, 30);
    assert.deepEqual([s.state().messages, s.state().first_seq], [5, 26]);
    await close(s);
    let r = await openStore(dir, { blockSize: 1024 });
    assert.deepEqual([r.state().messages, r.state().first_seq, r.state().last_seq], [5, 26, 30]);
    assert.ok(blocks(dir).length <= 2, `emptied blocks are unlinked: ${blocks(dir).join(',')}`);
    r.purge({});
    await close(r);
    dropIndex(dir);
    r = await openStore(dir);
    const st = r.state();
    assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 31, 30]);
    assert.equal(r.storeMsg('x', null, Buffer.from('y')).seq, 31);
    r.purge({ seq: 100 });
    await close(r);
    dropIndex(dir);
    r = await openStore(dir);
    assert.deepEqual([r.state().first_seq, r.state().last_seq], [100, 99]);
  });

  test('first_seq of a new store persists', async () => {
    const dir = tmp();
    const s = await openStore(dir, { firstSeq: 50 });
    assert.equal(s.state().first_seq, 50);
    await close(s);
    dropIndex(dir);
    const r = await openStore(dir);
    assert.deepEqual([r.state().first_seq, r.state().last_seq], [50, 49]);
    assert.equal(r.storeMsg('a', null, Buffer.from('b')).seq, 50);
  });

  test('torn tail (last record cut short) is truncated and logged', async () => {
    const dir = await closedWithoutIndex(5);
    const blk = join(dir, 'msgs', blocks(dir).at(-1)!);
    const size = statSync(blk).size;
    truncateSync(blk, size - 7);
    const { r, log } = await openLogged(dir);
    const st = r.state();
    assert.deepEqual([st.messages, st.last_seq], [4, 4]);
    assert.equal(log.warn.length, 1);
    assert.match(log.warn[0]![1], /torn tail/);
    assert.equal(r.loadMsg(4)!.data.toString().startsWith('payload-4'), true);
    // Appends go after the last good record, and the next reopen is clean.
    assert.equal(r.storeMsg('after', null, Buffer.from('z')).seq, 5);
    await close(r);
    dropIndex(dir);
    const { r: t, log: log2 } = await openLogged(dir);
    assert.deepEqual([t.state().messages, t.loadMsg(5)!.subject], [5, 'after']);
    assert.deepEqual(log2.warn, []);
  });

  test('garbage appended to the last block is truncated and logged', async () => {
    const dir = await closedWithoutIndex(5);
    const blk = join(dir, 'msgs', blocks(dir).at(-1)!);
    const size = statSync(blk).size;
    appendFileSync(blk, Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
    const { r, log } = await openLogged(dir);
    assert.deepEqual([r.state().messages, r.state().last_seq], [5, 5]);
    assert.equal(log.warn.length, 1);
    assert.equal(statSync(blk).size, size);
  });

  test('a corrupt record in the middle is skipped; the rest is served; the lost range is logged', async () => {
    const dir = await closedWithoutIndex(10);
    const blk = join(dir, 'msgs', blocks(dir)[0]!);
    const buf = readFileSync(blk);
    const pos = recordOffset(buf, 5);
    buf[pos + 30] = buf[pos + 30]! ^ 0xff; // inside the subject/payload
    buf[pos + 31] = buf[pos + 31]! ^ 0x55;
    writeFileSync(blk, buf);
    const { r, log } = await openLogged(dir);
    const st = r.state();
    assert.deepEqual([st.messages, st.first_seq, st.last_seq, st.num_deleted], [9, 1, 10, 1]);
    assert.equal(r.loadMsg(5), null);
    for (const q of [1, 2, 3, 4, 6, 7, 8, 9, 10]) assert.equal(r.loadMsg(q)!.data.toString().startsWith(`payload-${q}.`), true, `seq ${q}`);
    assert.equal(log.error.length, 1);
    const [o] = log.error[0]!;
    assert.deepEqual([o['first_seq'], o['last_seq']], [5, 5]);
    assert.deepEqual(log.warn, []);
  });

  test('a corrupt length field in the middle: resync finds the next record', async () => {
    const dir = await closedWithoutIndex(10);
    const blk = join(dir, 'msgs', blocks(dir)[0]!);
    const buf = readFileSync(blk);
    const pos = recordOffset(buf, 3);
    buf.writeUInt32LE(0x12345, pos); // record 3's length
    writeFileSync(blk, buf);
    const { r, log } = await openLogged(dir);
    assert.equal(r.state().messages, 9);
    assert.equal(r.loadMsg(3), null);
    assert.equal(r.loadMsg(4)!.seq, 4);
    assert.deepEqual([log.error[0]![0]['first_seq'], log.error[0]![0]['last_seq']], [3, 3]);
  });

  test('damage after open: an old (uncached) record that fails its crc loads as null and is logged', async () => {
    const dir = tmp();
    const log = captureLog();
    const s = await openStore(dir, { log: log.log, blockSize: 64 * 1024 });
    for (let i = 1; i <= 1500; i++) s.storeMsg('x', null, Buffer.from(`m${i}`.padEnd(20, '-')));
    await s.flush();
    const blk = join(dir, 'msgs', blocks(dir)[0]!);
    const buf = readFileSync(blk);
    buf[30] = buf[30]! ^ 0xff; // record 1's payload
    writeFileSync(blk, buf);
    assert.equal(s.loadMsg(1), null);
    assert.equal(log.error.length, 1);
    assert.equal(s.loadMsg(2)!.data.toString().startsWith('m2-'), true);
  });

  test('roll-over: small blocks make several segment files; emptied ones are unlinked', async () => {
    const dir = tmp();
    const s = await openStore(dir, { blockSize: 1024 });
    for (let i = 0; i < 100; i++) s.storeMsg('roll', null, Buffer.alloc(100, i));
    const n = blocks(dir).length;
    assert.ok(n >= 10, `expected many blocks, got ${n}`);
    for (const name of blocks(dir)) assert.ok(statSync(join(dir, 'msgs', name)).size <= 1024 + 200);
    assert.deepEqual(s.loadMsg(1)!.data, Buffer.alloc(100, 0));
    assert.deepEqual(s.loadMsg(57)!.data, Buffer.alloc(100, 56));
    s.purge({ seq: 60 });
    assert.ok(blocks(dir).length < n / 2, `blocks below 60 are gone: ${blocks(dir).length}`);
    await close(s);
    const r = await openStore(dir, { blockSize: 1024 });
    assert.deepEqual([r.state().messages, r.state().first_seq], [41, 60]);
    assert.deepEqual(r.loadMsg(60)!.data, Buffer.alloc(100, 59));
    r.purge({});
    assert.equal(blocks(dir).length, 1);
  });

  test('syncAlways: records are durable as soon as storeMsg returns', async () => {
    const dir = tmp();
    const s = await openStore(dir, { syncAlways: true, blockSize: 512 });
    await populate(s, 20);
    s.removeMsg(4);
    const r = await openStore(dir, { syncAlways: true });
    assert.deepEqual(snapshot(r), snapshot(s));
  });

  test('syncIntervalMs: a short interval runs without harm', async () => {
    const dir = tmp();
    const s = await openStore(dir, { syncIntervalMs: 10 });
    await populate(s, 5);
    await new Promise((r) => setTimeout(r, 40));
    s.storeMsg('later', null, Buffer.from('x'));
    await s.flush();
    assert.equal(s.state().messages, 6);
  });

  test('max_age is applied to recovered messages', async () => {
    const dir = tmp();
    const s = await openStore(dir);
    s.storeMsg('old', null, Buffer.from('x'), Date.now() * 1e6 - 10e9);
    s.storeMsg('new', null, Buffer.from('y'));
    await close(s);
    const r = await openStore(dir, {}, { max_age: 5e9 });
    assert.deepEqual([r.state().messages, r.state().first_seq], [1, 2]);
  });

  test('destroy removes the files', async () => {
    const dir = tmp();
    const s = await openStore(dir);
    await populate(s, 3);
    await s.destroy();
    stores = stores.filter((x) => x !== s);
    assert.equal(existsSync(join(dir, 'msgs')), false);
  });
});
