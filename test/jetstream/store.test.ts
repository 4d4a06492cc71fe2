// One suite for both stream stores (as nats-server's store_test.go): every case runs against the
// memory store and the file store (small blocks, so the file cases cross block boundaries).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/jetstream/store/memstore.js';
import { FileStore } from '../../src/jetstream/store/filestore.js';
import { StoreError, StoreRefusal } from '../../src/jetstream/types.js';
import type { StoreLimits, StreamStore } from '../../src/jetstream/types.js';
import { UNLIMITED } from '../helpers/store.js';

interface Kind {
  name: string;
  make(limits?: Partial<StoreLimits>, firstSeq?: number): Promise<StreamStore>;
  /** nats-server's accounting for one message. */
  size(subject: string, hdr: Buffer | null, data: Buffer): number;
}

const dirs: string[] = [];
const open: StreamStore[] = [];
after(async () => {
  for (const s of open) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const KINDS: Kind[] = [
  {
    name: 'memory',
    async make(limits = {}, firstSeq) {
      const s = new MemoryStore({ ...UNLIMITED, ...limits }, firstSeq === undefined ? {} : { firstSeq });
      open.push(s);
      return s;
    },
    size: (subj, hdr, data) => Buffer.byteLength(subj) + (hdr?.length ?? 0) + data.length + 16,
  },
  {
    name: 'file',
    async make(limits = {}, firstSeq) {
      const d = mkdtempSync(join(tmpdir(), 'tsnats-store-'));
      dirs.push(d);
      const s = await FileStore.open(d, { ...UNLIMITED, ...limits }, { firstSeq, blockSize: 2048 });
      open.push(s);
      return s;
    },
    size: (subj, hdr, data) => (hdr === null ? 22 + Buffer.byteLength(subj) + data.length + 8 : 22 + Buffer.byteLength(subj) + 4 + hdr.length + data.length + 8),
  },
];

const b = (s: string): Buffer => Buffer.from(s);
const HDR = b('NATS/1.0\r\nX: 1\r\n\r\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function refusal(fn: () => unknown, r: StoreRefusal): void {
  assert.throws(fn, (e: unknown) => e instanceof StoreError && e.refusal === r);
}

async function fill(s: StreamStore, subjects: string[]): Promise<void> {
  for (const subj of subjects) s.storeMsg(subj, null, b(`${subj}-data`));
}

for (const K of KINDS) {
  describe(`${K.name} store`, () => {
    test('sequences increase from 1, messages load back, bytes as nats-server accounts them', async () => {
      const s = await K.make();
      const r1 = s.storeMsg('foo', null, b('one'));
      const r2 = s.storeMsg('bar', HDR, b('two'), 12345);
      const r3 = s.storeMsg('foo', null, b(''));
      assert.deepEqual([r1.seq, r2.seq, r3.seq], [1, 2, 3]);
      assert.equal(r2.ts, 12345);
      assert.ok(r1.ts > 0 && r3.ts >= r1.ts);
      const m1 = s.loadMsg(1)!;
      assert.equal(m1.subject, 'foo');
      assert.equal(m1.hdr, null);
      assert.equal(m1.data.toString(), 'one');
      assert.equal(m1.ts, r1.ts);
      const m2 = s.loadMsg(2)!;
      assert.deepEqual([m2.subject, m2.seq, m2.ts, m2.hdr?.toString(), m2.data.toString()], ['bar', 2, 12345, HDR.toString(), 'two']);
      assert.equal(s.loadMsg(3)!.data.length, 0);
      assert.equal(s.loadMsg(4), null);
      assert.equal(s.loadMsg(0), null);
      const st = s.state();
      assert.equal(st.messages, 3);
      assert.equal(st.bytes, K.size('foo', null, b('one')) + K.size('bar', HDR, b('two')) + K.size('foo', null, b('')));
      assert.deepEqual([st.first_seq, st.last_seq, st.num_subjects, st.num_deleted], [1, 3, 2, 0]);
      assert.equal(st.first_ts_ns, r1.ts);
      assert.equal(st.last_ts_ns, r3.ts);
    });

    test('first_seq option: an empty store starts there', async () => {
      const s = await K.make({}, 100);
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 100, 99]);
      assert.equal(s.storeMsg('a', null, b('x')).seq, 100);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [1, 100, 100]);
    });

    test('loadNextMsg and loadLastMsg with literal and wildcard filters', async () => {
      const s = await K.make();
      await fill(s, ['a.1', 'b.1', 'a.2', 'a.x.y', 'b.2', 'a.1']);
      assert.equal(s.loadNextMsg('', 1)!.seq, 1);
      assert.equal(s.loadNextMsg('>', 2)!.seq, 2);
      assert.equal(s.loadNextMsg('a.*', 2)!.seq, 3);
      assert.equal(s.loadNextMsg('a.*', 4)!.seq, 6);
      assert.equal(s.loadNextMsg('a.>', 4)!.seq, 4);
      assert.equal(s.loadNextMsg('*.2', 1)!.seq, 3);
      assert.equal(s.loadNextMsg('b.1', 1)!.seq, 2);
      assert.equal(s.loadNextMsg('b.1', 3), null);
      assert.equal(s.loadNextMsg('a.1', 2)!.seq, 6);
      assert.equal(s.loadNextMsg('nope', 1), null);
      assert.equal(s.loadNextMsg('nope.*', 1), null);
      assert.equal(s.loadNextMsg('', 7), null);
      assert.equal(s.loadNextMsg('a.*', 0)!.seq, 1);
      assert.equal(s.loadLastMsg('')!.seq, 6);
      assert.equal(s.loadLastMsg('b.*')!.seq, 5);
      assert.equal(s.loadLastMsg('a.x.*')!.seq, 4);
      assert.equal(s.loadLastMsg('a.2')!.seq, 3);
      assert.equal(s.loadLastMsg('c'), null);
      // The same filter again after a new subject appears (the filter cache must see it).
      s.storeMsg('a.3', null, b('z'));
      assert.equal(s.loadLastMsg('a.*')!.seq, 7);
      assert.equal(s.loadNextMsg('a.*', 7)!.subject, 'a.3');
    });

    test('removeMsg leaves a gap; first/last and per-subject state follow', async () => {
      const s = await K.make();
      const removed: number[] = [];
      s.onRemove = (q) => removed.push(q);
      await fill(s, ['a', 'b', 'a', 'b', 'a']);
      assert.equal(s.removeMsg(3), true);
      assert.equal(s.removeMsg(3), false);
      assert.equal(s.removeMsg(99), false);
      assert.equal(s.loadMsg(3), null);
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq, st.num_deleted], [4, 1, 5, 1]);
      assert.equal(s.removeMsg(1), true);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.num_deleted], [3, 2, 1]);
      assert.deepEqual(s.subjectsState('a').get('a'), { msgs: 1, first: 5, last: 5 });
      assert.equal(s.removeMsg(5), true);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq, st.num_subjects], [2, 2, 5, 1]);
      assert.equal(s.loadLastMsg('a'), null);
      assert.equal(s.removeMsg(4), true);
      assert.deepEqual(s.subjectsState('b').get('b'), { msgs: 1, first: 2, last: 2 });
      assert.equal(s.loadLastMsg('b')!.seq, 2);
      assert.equal(s.removeMsg(2), true);
      st = s.state();
      assert.deepEqual([st.messages, st.bytes, st.first_seq, st.last_seq, st.num_deleted, st.num_subjects], [0, 0, 6, 5, 0, 0]);
      assert.equal(st.first_ts_ns, 0);
      assert.equal(s.storeMsg('c', null, b('x')).seq, 6);
      assert.deepEqual(removed, [], 'removeMsg does not call onRemove');
    });

    test('purge everything: first_seq becomes last_seq + 1, sequences continue', async () => {
      const s = await K.make();
      const removed: number[] = [];
      s.onRemove = (q) => removed.push(q);
      await fill(s, ['a', 'b', 'c', 'a']);
      s.removeMsg(2);
      assert.equal(s.purge({}), 3);
      const st = s.state();
      assert.deepEqual([st.messages, st.bytes, st.first_seq, st.last_seq, st.num_subjects, st.num_deleted], [0, 0, 5, 4, 0, 0]);
      assert.deepEqual(removed, [1, 3, 4]);
      assert.equal(s.loadLastMsg('a'), null);
      assert.equal(s.storeMsg('a', null, b('x')).seq, 5);
      assert.equal(s.loadLastMsg('a')!.seq, 5);
      assert.equal(s.purge({ filter: '>' }), 1);
      assert.equal(s.state().first_seq, 6);
    });

    test('purge up to a sequence (exclusive), and past the end', async () => {
      const s = await K.make();
      await fill(s, ['a', 'b', 'c', 'd', 'e', 'f']);
      s.removeMsg(4);
      assert.equal(s.purge({ seq: 5 }), 3);
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [2, 5, 6]);
      assert.equal(s.purge({ seq: 1 }), 0, 'seq 1 purges nothing');
      assert.equal(s.purge({ seq: 20 }), 2);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 20, 19]);
      assert.equal(s.storeMsg('z', null, b('x')).seq, 20);
    });

    test('purge keeping the newest N', async () => {
      const s = await K.make();
      await fill(s, ['a', 'b', 'c', 'd', 'e']);
      assert.equal(s.purge({ keep: 10 }), 0);
      assert.equal(s.purge({ keep: 2 }), 3);
      const st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [2, 4, 5]);
      assert.equal(s.loadMsg(4)!.subject, 'd');
    });

    test('purge by subject filter, with keep and with seq', async () => {
      const s = await K.make();
      await fill(s, ['kv.a', 'kv.b', 'kv.a', 'x', 'kv.a', 'kv.b', 'kv.a']);
      // keep applies to all matching messages together (nats-server's PurgeEx).
      assert.equal(s.purge({ filter: 'kv.a', keep: 1 }), 3);
      assert.deepEqual(s.subjectsState('kv.a').get('kv.a'), { msgs: 1, first: 7, last: 7 });
      assert.equal(s.purge({ filter: 'kv.*', seq: 6 }), 1, 'only kv.b at 2 is below 6');
      assert.deepEqual([...s.subjectsState('>').keys()].sort(), ['kv.a', 'kv.b', 'x']);
      assert.equal(s.purge({ filter: 'kv.>' }), 2);
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq, st.num_subjects], [1, 4, 7, 1]);
      assert.equal(s.purge({ filter: 'nothing.*' }), 0);
      assert.equal(s.purge({ filter: 'x' }), 1);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 8, 7]);
    });

    test('max_msgs: discard old evicts the oldest, discard new refuses', async () => {
      const old = await K.make({ max_msgs: 3 });
      const removed: number[] = [];
      old.onRemove = (q) => removed.push(q);
      await fill(old, ['a', 'b', 'c', 'd', 'e']);
      let st = old.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [3, 3, 5]);
      assert.deepEqual(removed, [1, 2]);
      const nw = await K.make({ max_msgs: 3, discard: 'new' });
      await fill(nw, ['a', 'b', 'c']);
      refusal(() => nw.storeMsg('d', null, b('x')), StoreRefusal.MAX_MSGS);
      st = nw.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [3, 1, 3]);
      nw.removeMsg(2);
      assert.equal(nw.storeMsg('d', null, b('x')).seq, 4, 'a refused message takes no sequence');
    });

    test('max_bytes: discard old evicts the oldest, discard new refuses', async () => {
      const one = K.size('s', null, b('0123456789'));
      const old = await K.make({ max_bytes: one * 3 });
      for (let i = 0; i < 5; i++) old.storeMsg('s', null, b('0123456789'));
      let st = old.state();
      assert.deepEqual([st.messages, st.bytes, st.first_seq], [3, one * 3, 3]);
      const nw = await K.make({ max_bytes: one * 3 + 1, discard: 'new' });
      for (let i = 0; i < 3; i++) nw.storeMsg('s', null, b('0123456789'));
      refusal(() => nw.storeMsg('s', null, b('0123456789')), StoreRefusal.MAX_BYTES);
      st = nw.state();
      assert.deepEqual([st.messages, st.bytes], [3, one * 3]);
    });

    test('max_msgs_per_subject evicts that subject oldest (discard old and new), discard_new_per_subject refuses', async () => {
      for (const discard of ['old', 'new'] as const) {
        const s = await K.make({ max_msgs_per_subject: 2, discard });
        const removed: number[] = [];
        s.onRemove = (q) => removed.push(q);
        await fill(s, ['k.a', 'k.b', 'k.a', 'k.a', 'k.b', 'k.a']);
        assert.deepEqual(removed, [1, 3], discard);
        assert.deepEqual(s.subjectsState('k.a').get('k.a'), { msgs: 2, first: 4, last: 6 });
        assert.deepEqual(s.subjectsState('k.b').get('k.b'), { msgs: 2, first: 2, last: 5 });
        assert.equal(s.state().first_seq, 2);
      }
      const s = await K.make({ max_msgs_per_subject: 1, discard: 'new', discard_new_per_subject: true });
      s.storeMsg('k', null, b('1'));
      refusal(() => s.storeMsg('k', null, b('2')), StoreRefusal.MAX_MSGS_PER_SUBJECT);
      s.storeMsg('j', null, b('1'));
      assert.equal(s.state().messages, 2);
      // Discard new with max_msgs: a message that replaces its subject's oldest is accepted.
      const r = await K.make({ max_msgs: 2, max_msgs_per_subject: 1, discard: 'new' });
      await fill(r, ['x', 'y']);
      assert.equal(r.storeMsg('x', null, b('new')).seq, 3);
      refusal(() => r.storeMsg('z', null, b('z')), StoreRefusal.MAX_MSGS);
      assert.deepEqual([r.state().messages, r.loadLastMsg('x')!.data.toString()], [2, 'new']);
    });

    test('max_msg_size refuses under either discard policy', async () => {
      for (const discard of ['old', 'new'] as const) {
        const s = await K.make({ max_msg_size: 10, discard });
        s.storeMsg('a', null, b('0123456789'));
        refusal(() => s.storeMsg('a', null, b('0123456789A')), StoreRefusal.MAX_MSG_SIZE);
        refusal(() => s.storeMsg('a', b('NATS/1.0\r\n\r\n'), b('0')), StoreRefusal.MAX_MSG_SIZE);
        assert.equal(s.state().messages, 1);
      }
    });

    test('max_age expires messages on its own timer, without new publishes', async () => {
      const s = await K.make({ max_age: 200e6 });
      const removed: number[] = [];
      s.onRemove = (q) => removed.push(q);
      await fill(s, ['a', 'b', 'c']);
      assert.equal(s.state().messages, 3);
      await sleep(120);
      s.storeMsg('d', null, b('late'));
      await sleep(180); // a, b, c are 300 ms old, d 180 ms
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq], [1, 4]);
      await sleep(150);
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 5, 4]);
      assert.deepEqual(removed, [1, 2, 3, 4]);
    });

    test('numPending and subjectsState', async () => {
      const s = await K.make();
      await fill(s, ['o.1', 'o.2', 'o.1', 'p', 'o.3', 'o.1', 'p']);
      assert.equal(s.numPending(1, '', false), 7);
      assert.equal(s.numPending(0, '>', false), 7);
      assert.equal(s.numPending(4, '', false), 4);
      assert.equal(s.numPending(8, '', false), 0);
      assert.equal(s.numPending(1, 'o.*', false), 5);
      assert.equal(s.numPending(4, 'o.*', false), 2);
      assert.equal(s.numPending(2, 'o.1', false), 2);
      assert.equal(s.numPending(1, 'p', false), 2);
      assert.equal(s.numPending(1, 'q', false), 0);
      assert.equal(s.numPending(1, 'o.*', true), 3);
      assert.equal(s.numPending(4, 'o.*', true), 2, 'o.1 (last 6) and o.3; o.2 ended at 2');
      assert.equal(s.numPending(1, '', true), 4);
      assert.equal(s.numPending(7, '', true), 1);
      s.removeMsg(6);
      assert.equal(s.numPending(4, 'o.1', false), 0);
      assert.equal(s.numPending(4, 'o.*', true), 1);
      const ss = s.subjectsState('o.*');
      assert.deepEqual(
        [...ss.entries()].sort(),
        [
          ['o.1', { msgs: 2, first: 1, last: 3 }],
          ['o.2', { msgs: 1, first: 2, last: 2 }],
          ['o.3', { msgs: 1, first: 5, last: 5 }],
        ],
      );
      assert.equal(s.subjectsState('').size, 4);
      assert.equal(s.subjectsState('zzz').size, 0);
      assert.equal(s.state().num_subjects, 4);
    });

    test('updateLimits shrinking applies at once', async () => {
      const s = await K.make();
      const removed: number[] = [];
      s.onRemove = (q) => removed.push(q);
      await fill(s, ['a', 'b', 'a', 'b', 'a', 'c', 'a']);
      s.updateLimits({ ...UNLIMITED, max_msgs_per_subject: 2 });
      assert.deepEqual(removed, [1, 3]);
      assert.equal(s.subjectsState('a').get('a')!.msgs, 2);
      s.updateLimits({ ...UNLIMITED, max_msgs: 3 });
      let st = s.state();
      assert.deepEqual([st.messages, st.first_seq], [3, 5]);
      const one = K.size('a', null, b('a-data'));
      s.updateLimits({ ...UNLIMITED, max_bytes: one });
      st = s.state();
      assert.deepEqual([st.messages, st.first_seq], [1, 7]);
      s.updateLimits({ ...UNLIMITED, max_age: 50e6 });
      await sleep(150);
      assert.equal(s.state().messages, 0);
      s.updateLimits(UNLIMITED);
      s.storeMsg('x', null, b('y'));
      await sleep(100);
      assert.equal(s.state().messages, 1, 'max_age 0 stops expiry');
    });

    test('random operations agree with a simple model (crosses index chunks)', async () => {
      const s = await K.make();
      const model = new Map<number, string>();
      let rnd = 12345;
      const next = (n: number): number => {
        rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
        return rnd % n;
      };
      const subs = ['m.a', 'm.b', 'm.c.d', 'n.a', 'n.b'];
      for (let i = 0; i < 9000; i++) {
        const subj = subs[next(subs.length)]!;
        const { seq } = s.storeMsg(subj, i % 3 === 0 ? HDR : null, b(`p${i}`));
        model.set(seq, subj);
        if (next(4) === 0) {
          const victim = 1 + next(seq);
          assert.equal(s.removeMsg(victim), model.delete(victim));
        }
      }
      // A block of removals from the front, to empty whole chunks.
      for (let q = 1; q < 5000; q++) if (model.delete(q)) s.removeMsg(q);
      const seqs = [...model.keys()].sort((x, y) => x - y);
      const st = s.state();
      assert.equal(st.messages, model.size);
      assert.equal(st.first_seq, seqs[0]);
      assert.equal(st.num_deleted, st.last_seq - st.first_seq + 1 - model.size);
      for (const filter of ['', 'm.*', 'm.>', 'n.a', '*.b']) {
        const match = (subj: string): boolean =>
          filter === '' || filter === subj || (filter === 'm.*' && /^m\.[^.]+$/.test(subj)) || (filter === 'm.>' && subj.startsWith('m.')) || (filter === '*.b' && subj.endsWith('.b'));
        for (const start of [1, 5000, 7777, 8999]) {
          const want = seqs.filter((q) => q >= start && match(model.get(q)!));
          assert.equal(s.numPending(start, filter, false), want.length, `numPending ${filter} ${start}`);
          assert.equal(s.loadNextMsg(filter, start)?.seq ?? null, want[0] ?? null, `next ${filter} ${start}`);
        }
        const all = seqs.filter((q) => match(model.get(q)!));
        assert.equal(s.loadLastMsg(filter)?.seq ?? null, all[all.length - 1] ?? null, `last ${filter}`);
      }
      for (const q of seqs.slice(0, 50)) {
        const m = s.loadMsg(q)!;
        assert.equal(m.subject, model.get(q));
      }
      const p = s.loadMsg(seqs[seqs.length - 1]!)!;
      assert.equal(p.data.toString().startsWith('p'), true);
    });
  });
}
