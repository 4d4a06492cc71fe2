// The snapshot archive's layers as units: S2 framing and blocks (src/jetstream/snapshot/s2.ts) and
// ustar (tar.ts) — round trips in arbitrary pieces, a hand-made S2 repeat copy as klauspost/compress
// encodes it, checksum and path checks, and a PAX header as Go's archive/tar writes one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S2Reader, crc32c, decompressBlock, frame, compressBlock } from '../../src/jetstream/snapshot/s2.js';
import { TarReader, tarEnd, tarHeader, tarPadding } from '../../src/jetstream/snapshot/tar.js';

function readAll(data: Buffer, piece: number): Buffer {
  const r = new S2Reader();
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) out.push(...r.push(data.subarray(i, i + piece)));
  assert.ok(r.done);
  return Buffer.concat(out);
}

test('S2: framed round trip of compressible and random data, in any pieces', () => {
  const text = Buffer.from('hello snapshot world '.repeat(20_000));
  const rnd = randomBytes(150_000);
  const data = Buffer.concat([text, rnd, text.subarray(0, 1000)]);
  const framed = Buffer.concat([frame(data.subarray(0, 100_000), true), frame(data.subarray(100_000), false)]);
  assert.equal(framed.subarray(0, 10).toString('latin1'), '\xff\x06\x00\x00S2sTwO');
  assert.ok(framed.length < data.length, 'the repetitive part compresses');
  for (const piece of [1, 7, 4096, 1 << 20]) assert.ok(readAll(framed, piece).equals(data), `pieces of ${piece}`);
});

test('S2: block elements, repeat copies and damage', () => {
  const small = Buffer.from('abc');
  assert.ok(decompressBlock(compressBlock(small)).equals(small));
  // "abcd" literal, then a copy (offset 4, len 4), then S2's repeat (offset 0 = last offset, len 4).
  const block = Buffer.from([12, (4 - 1) << 2, 0x61, 0x62, 0x63, 0x64, 0x01 | (0 << 2), 4, 0x01 | (0 << 2), 0]);
  assert.equal(decompressBlock(block).toString(), 'abcdabcdabcd');
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'CRC-32C check value');
  const framed = frame(Buffer.from('some data to damage '.repeat(100)), true);
  framed[framed.length - 5] = framed[framed.length - 5]! ^ 0xff;
  assert.throws(() => readAll(framed, 1024), /s2: (checksum mismatch|corrupt)/);
  assert.throws(() => new S2Reader().push(Buffer.from([0x00, 0x05, 0x00, 0x00, 1, 2, 3, 4, 5])), /missing stream identifier/);
});

test('tar: files in pieces, padding, end; bad paths and types refused', () => {
  const files: [string, Buffer][] = [
    ['meta.json', Buffer.from('{"a":1}')],
    ['msgs/1.blk', randomBytes(1300)],
    ['obs/C1/state.json', Buffer.alloc(512, 7)],
  ];
  const parts: Buffer[] = [];
  for (const [n, b] of files) parts.push(tarHeader(n, b.length, Date.now()), b, tarPadding(b.length));
  parts.push(tarEnd());
  const archive = Buffer.concat(parts);
  assert.equal(archive.length % 512, 0);
  for (const piece of [1, 100, 512, 100_000]) {
    const got = new Map<string, Buffer[]>();
    let cur = '';
    const r = new TarReader({ begin: (n) => got.set((cur = n), []), data: (b) => got.get(cur)!.push(Buffer.from(b)), end: () => {} });
    for (let i = 0; i < archive.length; i += piece) r.push(archive.subarray(i, i + piece));
    assert.ok(r.finished);
    assert.deepEqual([...got.keys()], files.map((f) => f[0]));
    for (const [n, b] of files) assert.ok(Buffer.concat(got.get(n)!).equals(b), `${n} with pieces of ${piece}`);
  }
  const sink = { begin: () => {}, data: () => {}, end: () => {} };
  assert.throws(() => new TarReader(sink).push(Buffer.concat([tarHeader('../evil', 0, 0), tarEnd()])), /unexpected path/);
  const dir = tarHeader('somedir', 0, 0);
  dir[156] = 0x35; // '5' directory
  let sum = 0;
  dir.fill(0x20, 148, 156);
  for (const b of dir) sum += b;
  dir.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  assert.throws(() => new TarReader(sink).push(Buffer.concat([dir, tarEnd()])), /unexpected entry type/);
  const bad = tarHeader('x', 0, 0);
  bad[0] = bad[0]! ^ 1;
  assert.throws(() => new TarReader(sink).push(bad), /bad header checksum/);
});

test('tar: a PAX header names the next entry (Go archive/tar)', () => {
  const rec = (k: string, v: string): string => {
    const body = ` ${k}=${v}\n`;
    let n = body.length + 1;
    while (`${n}${body}`.length !== n) n++;
    return `${n}${body}`;
  };
  const paxBody = Buffer.from(rec('path', 'msgs/real-name.blk') + rec('mtime', '1700000000.5'));
  const pax = tarHeader('PaxHeaders.0/x', paxBody.length, 0);
  pax[156] = 0x78; // 'x'
  pax.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of pax) sum += b;
  pax.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const data = Buffer.from('payload');
  const archive = Buffer.concat([pax, paxBody, tarPadding(paxBody.length), tarHeader('short', data.length, 0), data, tarPadding(data.length), tarEnd()]);
  const names: string[] = [];
  new TarReader({ begin: (n) => names.push(n), data: () => {}, end: () => {} }).push(archive);
  assert.deepEqual(names, ['msgs/real-name.blk']);
});
