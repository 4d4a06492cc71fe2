// The de-duplication window (src/jetstream/msgid-window.ts): ids found while inside the window,
// forgotten after it, a re-stored id keeps its newest sequence, and the ring grows and shrinks
// without losing or resurrecting ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgIdWindow } from '../../src/jetstream/msgid-window.js';

test('find answers the stored sequence inside the window and -1 outside it', () => {
  const w = new MsgIdWindow();
  w.store('a', 1, 100);
  w.store('b', 2, 200);
  assert.equal(w.find('a', 0), 1);
  assert.equal(w.find('b', 150), 2);
  assert.equal(w.find('a', 150), -1, 'stored before the cutoff');
  assert.equal(w.find('c', 0), -1, 'never stored');
  w.expire(150);
  assert.equal(w.size, 1);
  assert.equal(w.find('a', 0), -1, 'expired ids are gone');
  assert.equal(w.find('b', 0), 2);
});

test('an id stored again keeps its newest sequence, also after the older slot expires', () => {
  const w = new MsgIdWindow();
  w.store('x', 1, 10);
  w.store('y', 2, 20);
  w.store('x', 3, 30);
  assert.equal(w.find('x', 0), 3);
  w.expire(25); // the slot of x@10 and y@20 expire; x@30 stays
  assert.equal(w.find('x', 0), 3);
  assert.equal(w.find('y', 0), -1);
  assert.equal(w.size, 1);
});

test('the ring grows past its first size and shrinks after a burst expires, ids intact', () => {
  const w = new MsgIdWindow();
  const n = 5000;
  for (let i = 0; i < n; i++) w.store(`id-${i}`, i + 1, 1000 + i);
  // Supersede every tenth id with a newer store.
  for (let i = 0; i < n; i += 10) w.store(`id-${i}`, n + i + 1, 1000 + n + i);
  assert.equal(w.size, n);
  for (let i = 0; i < n; i++) assert.equal(w.find(`id-${i}`, 0), i % 10 === 0 ? n + i + 1 : i + 1);
  w.expire(1000 + n); // everything of the first pass; the re-stored tenths remain
  assert.equal(w.size, n / 10);
  for (let i = 0; i < n; i++) assert.equal(w.find(`id-${i}`, 0), i % 10 === 0 ? n + i + 1 : -1);
  // After the shrink the ring still takes new ids in order and expires them.
  for (let i = 0; i < 3000; i++) w.store(`new-${i}`, 10_000 + i, 20_000 + i);
  w.expire(20_000 + 1500);
  assert.equal(w.find('new-1499', 0), -1);
  assert.equal(w.find('new-1500', 0), 11_500);
  assert.equal(w.find('id-0', 0), -1);
  assert.equal(w.size, 1500);
});

test('matches a Map model through random stores, re-stores, finds and expiries (the probing table wraps and shifts)', () => {
  const w = new MsgIdWindow();
  // Reference: id → { seq, ts } of its newest store, and stores in arrival order for expiry.
  const model = new Map<string, { seq: number; ts: number }>();
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let ts = 0;
  let seq = 0;
  let cutoff = 0;
  for (let round = 0; round < 40; round++) {
    const stores = 200 + rnd(3000);
    for (let k = 0; k < stores; k++) {
      // A small id space so that re-stores are common; some ids look alike (FNV's weak low bits).
      const id = rnd(4) === 0 ? `dup-${rnd(500)}` : `id-${round}-${k}`;
      ts += 1 + rnd(3);
      seq++;
      w.store(id, seq, ts);
      model.set(id, { seq, ts });
    }
    cutoff = ts - rnd(4000);
    w.expire(cutoff);
    for (const [id, e] of model) if (e.ts < cutoff) model.delete(id);
    assert.equal(w.size, model.size, `round ${round}: ids held`);
    for (const [id, e] of model) assert.equal(w.find(id, cutoff), e.seq, `round ${round}: ${id}`);
    for (let k = 0; k < 200; k++) {
      const id = `dup-${rnd(500)}`;
      assert.equal(w.find(id, cutoff), model.get(id)?.seq ?? -1, `round ${round}: ${id}`);
    }
    assert.equal(w.find(`never-${round}`, 0), -1);
  }
});
