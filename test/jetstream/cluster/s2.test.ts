// S2 blocks: nats-server's own (a compressed stream message and an EncodeBetter meta snapshot from the
// captured cluster), hand-built S2 "repeat" elements, and our encoder's output read back.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S2Error, s2Decode, s2DecodedLen, s2Encode } from '../../../src/jetstream/cluster/s2.js';
import { decodeAppendEntry } from '../../../src/jetstream/raft/codec.js';
import { decodeSnapshot, snapshotHasher } from '../../../src/jetstream/raft/snapshot.js';
import { decodeStreamMsgEntry } from '../../../src/jetstream/cluster/stream-ops.js';
import { compressedStreamMsgOp } from '../../../src/jetstream/cluster/assignments.js';
import { fixtureDir, loadTraffic } from '../raft/fixtures.js';

describe('S2', () => {
  test('a stream message nats-server compressed (compressedStreamMsgOp) decodes', () => {
    let found = 0;
    for (const m of loadTraffic('2.9.10')) {
      if (!m.subject.startsWith('$NRG.AE.S-')) continue;
      for (const e of decodeAppendEntry(m.data).entries) {
        if (e.type !== 0 || e.data[0] !== compressedStreamMsgOp) continue;
        const sm = decodeStreamMsgEntry(e.data);
        assert.equal(sm.subject, 'orders.big');
        assert.equal(sm.msg!.length, 6000);
        assert.ok(sm.msg!.every((c) => c === 0x61));
        found++;
      }
    }
    assert.equal(found, 1);
  });

  test('a meta snapshot written with s2.EncodeBetter decodes to JSON', () => {
    const buf = readFileSync(join(fixtureDir('2.9.10'), 'state', 'n1', '_meta_', 'snap.2.18'));
    const snap = decodeSnapshot(snapshotHasher('_meta_'), buf);
    const json = s2Decode(snap.data);
    assert.equal(json.length, s2DecodedLen(snap.data));
    const list = JSON.parse(json.toString()) as { stream: { name: string } }[];
    assert.deepEqual(list.map((s) => s.stream.name).sort(), ['KV_CFG', 'ORDERS']);
  });

  test('S2 repeat elements (offset 0 keeps the last offset)', () => {
    // "abcd" literal, copy2 offset 4 len 4 -> "abcdabcd", repeat len 4 -> 12 bytes, repeat len 5+8=13 -> 25.
    const lit = [3 << 2, 0x61, 0x62, 0x63, 0x64];
    const copy2 = [2 | ((4 - 1) << 2), 4, 0];
    const rep4 = [1 | (0 << 2), 0];
    const rep13 = [1 | (5 << 2), 0, 5];
    const src = Buffer.from([25, ...lit, ...copy2, ...rep4, ...rep13]);
    assert.equal(s2Decode(src).toString(), 'abcd'.repeat(6) + 'a');
  });

  test('our encoding reads back, and compresses repetitive data', () => {
    const cases = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('hello hello hello hello hello hello'),
      Buffer.alloc(100_000, 0x7a),
      Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251)),
      Buffer.from(JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ name: `stream-${i}`, subjects: [`s.${i}.>`], num_replicas: 3 })))),
    ];
    for (const c of cases) {
      const z = s2Encode(c);
      assert.deepEqual(s2Decode(z), c);
    }
    assert.ok(s2Encode(Buffer.alloc(100_000, 0x7a)).length < 5000);
  });

  test('corrupt input is refused, never read out of bounds', () => {
    const z = s2Encode(Buffer.from('hello hello hello hello hello hello'));
    assert.throws(() => s2Decode(z.subarray(0, z.length - 2)), S2Error);
    // A copy reaching before the start.
    assert.throws(() => s2Decode(Buffer.from([8, 2 | (7 << 2), 9, 0])), S2Error);
    // A declared length that is too large.
    assert.throws(() => s2Decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 1024), S2Error);
  });
});
