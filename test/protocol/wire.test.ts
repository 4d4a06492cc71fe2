// The byte writers the hot paths use instead of strings (src/protocol/wire.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uintLen, writeLatin1, writeUint, writeUintAny } from '../../src/protocol/wire.js';

test('writeUint / uintLen: decimal digits of small and large safe integers', () => {
  const b = Buffer.alloc(32);
  const samples = [0, 7, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
  for (let k = 1; k <= 15; k++) samples.push(10 ** k - 1, 10 ** k, 10 ** k + 1);
  for (const n of samples) {
    const end = writeUint(b, 3, n);
    assert.equal(b.toString('latin1', 3, end), String(n));
    assert.equal(uintLen(n), String(n).length, `uintLen(${n})`);
  }
});

test('writeUintAny: nanosecond timestamps past 2^53 as the exact integer the double holds', () => {
  const b = Buffer.alloc(32);
  const samples = [Number.MAX_SAFE_INTEGER + 1, 1764790000123456768, 1700000000000000000, 1e18, 4.4e18, 1764790000999999744];
  for (let i = 0; i < 200; i++) samples.push(Math.floor((1.7e9 + Math.random() * 1e8) * 1e9));
  for (const n of samples) {
    const end = writeUintAny(b, 1, n);
    const text = b.toString('latin1', 1, end);
    assert.match(text, /^[1-9][0-9]*$/);
    assert.equal(BigInt(text), BigInt(n), `${n}`);
    assert.equal(Number(text), n, 'parses back to the same number');
    assert.equal(uintLen(n), text.length);
  }
});

test('writeLatin1: short and long strings, one byte per char code', () => {
  const b = Buffer.alloc(200);
  for (const s of ['', 'a', '$JS.ACK.S.C.1.2.3', 'x'.repeat(63), 'y'.repeat(64) + 'z'.repeat(70), 'caf\u00e9']) {
    b.fill(0);
    const end = writeLatin1(b, 2, s);
    assert.equal(end, 2 + s.length);
    assert.deepEqual(b.subarray(2, end), Buffer.from(s, 'latin1'));
  }
});
