// The RAFT log stores, one suite for both kinds (as the stream stores' store.test.ts), plus the file
// WAL's recovery: reopen, compaction point, torn and corrupt tails, group-commit fsync.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWal, MemoryWal, type Wal } from '../../../src/jetstream/raft/wal.js';
import { waitFor } from '../../helpers/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'wal-test-'));
  dirs.push(d);
  return d;
}

const b = (s: string): Buffer => Buffer.from(s);

const KINDS: { name: string; make(): Wal }[] = [
  { name: 'memory', make: () => new MemoryWal() },
  { name: 'file', make: () => new FileWal(tmp(), { segmentBytes: 256 }) },
];

for (const kind of KINDS) {
  describe(`${kind.name} WAL`, () => {
    test('append assigns consecutive indexes from 1; load returns the bytes', () => {
      const w = kind.make();
      assert.deepEqual(w.state(), { first: 1, last: 0, msgs: 0, bytes: 0 });
      for (let i = 1; i <= 50; i++) assert.equal(w.append(b(`entry-${i}`)), i);
      assert.equal(w.load(1)!.toString(), 'entry-1');
      assert.equal(w.load(50)!.toString(), 'entry-50');
      assert.equal(w.load(51), null);
      assert.equal(w.load(0), null);
      const st = w.state();
      assert.equal(st.msgs, 50);
      assert.equal(st.last, 50);
      w.stop();
    });

    test('truncate keeps up to the index; appends continue after it', () => {
      const w = kind.make();
      for (let i = 1; i <= 40; i++) w.append(b(`e${i}`));
      w.truncate(25);
      assert.equal(w.state().last, 25);
      assert.equal(w.load(26), null);
      assert.equal(w.append(b('new-26')), 26);
      assert.equal(w.load(26)!.toString(), 'new-26');
      assert.equal(w.load(25)!.toString(), 'e25');
      w.truncate(100);
      assert.equal(w.state().last, 26);
      w.stop();
    });

    test('compact drops entries below the index; past the end empties the log at that index', () => {
      const w = kind.make();
      for (let i = 1; i <= 40; i++) w.append(b(`e${i}`));
      w.compact(30);
      assert.equal(w.state().first, 30);
      assert.equal(w.state().msgs, 11);
      assert.equal(w.load(29), null);
      assert.equal(w.load(30)!.toString(), 'e30');
      w.compact(100);
      assert.deepEqual(w.state(), { first: 100, last: 99, msgs: 0, bytes: 0 });
      assert.equal(w.append(b('e100')), 100);
      assert.equal(w.load(100)!.toString(), 'e100');
      w.truncate(50);
      assert.deepEqual(w.state(), { first: 51, last: 50, msgs: 0, bytes: 0 });
      w.stop();
    });

    test('sync calls back once appends are durable', async () => {
      const w = kind.make();
      const order: number[] = [];
      w.append(b('x'));
      w.sync(() => order.push(1));
      w.append(b('y'));
      w.sync(() => order.push(2));
      w.sync(() => order.push(3));
      await waitFor(() => order.length === 3, 'three sync callbacks', 10_000);
      assert.deepEqual(order, [1, 2, 3]);
      w.stop();
    });
  });
}

describe('file WAL recovery', () => {
  test('reopen finds every entry across segments, and the compaction point', () => {
    const d = tmp();
    let w = new FileWal(d, { segmentBytes: 200 });
    for (let i = 1; i <= 100; i++) w.append(b(`value-${i}`));
    w.compact(37);
    w.stop();
    assert.ok(readdirSync(join(d, 'wal')).filter((n) => n.endsWith('.seg')).length > 3, 'several segments');
    w = new FileWal(d, { segmentBytes: 200 });
    assert.equal(w.state().first, 37);
    assert.equal(w.state().last, 100);
    assert.equal(w.load(37)!.toString(), 'value-37');
    assert.equal(w.load(100)!.toString(), 'value-100');
    assert.equal(w.append(b('value-101')), 101);
    w.stop();
  });

  test('a torn last record is cut off; appends continue', () => {
    const d = tmp();
    let w = new FileWal(d);
    for (let i = 1; i <= 10; i++) w.append(b(`v${i}`));
    w.stop();
    const seg = join(d, 'wal', readdirSync(join(d, 'wal')).find((n) => n.endsWith('.seg'))!);
    truncateSync(seg, statSync(seg).size - 2);
    const warnings: string[] = [];
    w = new FileWal(d, { warn: (m) => warnings.push(m) });
    assert.equal(w.state().last, 9);
    assert.equal(warnings.length, 1);
    assert.equal(w.append(b('v10-again')), 10);
    w.stop();
    w = new FileWal(d);
    assert.equal(w.load(10)!.toString(), 'v10-again');
    w.stop();
  });

  test('a corrupt record ends the log there (the tail is refetched from the leader)', () => {
    const d = tmp();
    let w = new FileWal(d);
    for (let i = 1; i <= 10; i++) w.append(b(`v${i}`));
    w.stop();
    const seg = join(d, 'wal', readdirSync(join(d, 'wal')).find((n) => n.endsWith('.seg'))!);
    const data = readFileSync(seg);
    // Flip a payload byte of record 5 (records are 16 + 2 or 3 bytes).
    let off = 0;
    for (let i = 1; i < 5; i++) off += 16 + data.readUInt32LE(off);
    data[off + 16] = data[off + 16]! ^ 0xff;
    writeFileSync(seg, data);
    w = new FileWal(d, { warn: () => {} });
    assert.equal(w.state().last, 4);
    w.stop();
  });

  test('garbage appended after the last record is cut off', () => {
    const d = tmp();
    let w = new FileWal(d);
    for (let i = 1; i <= 3; i++) w.append(b(`v${i}`));
    w.stop();
    const seg = join(d, 'wal', readdirSync(join(d, 'wal')).find((n) => n.endsWith('.seg'))!);
    appendFileSync(seg, Buffer.from('garbage that is not a record'));
    w = new FileWal(d, { warn: () => {} });
    assert.equal(w.state().last, 3);
    assert.equal(w.append(b('v4')), 4);
    w.stop();
  });

  test('fsync off: sync callbacks are immediate', () => {
    const w = new FileWal(tmp(), { fsync: false });
    w.append(b('a'));
    let called = false;
    w.sync(() => (called = true));
    assert.ok(called);
    w.stop();
  });
});
