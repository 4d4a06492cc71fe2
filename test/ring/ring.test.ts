// The SPSC ring alone: wrap-around at every offset, a full ring, frames larger than the space left
// before the end, and two real threads exchanging 10 million frames with checksums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRingBuffer, RingConsumer, RingProducer, maxFrameBody } from '../../src/ring/ring.js';

function put(p: RingProducer, body: Buffer): boolean {
  const at = p.reserve(body.length);
  if (at < 0) return false;
  body.copy(p.data, at);
  p.commit(body.length);
  return true;
}

function takeAll(c: RingConsumer): Buffer[] {
  const out: Buffer[] = [];
  c.drain((buf, s, len) => out.push(Buffer.from(buf.subarray(s, s + len))));
  return out;
}

test('wrap-around at every offset keeps frames intact and in order', () => {
  const cap = 256;
  for (let offset = 0; offset < cap; offset += 8) {
    for (const size of [1, 7, 8, 13, 60, 100, 119]) {
      const sab = createRingBuffer(cap);
      const p = new RingProducer(sab);
      const c = new RingConsumer(sab);
      // Move head and tail to `offset` with a filler frame.
      if (offset >= 8) {
        assert.ok(put(p, Buffer.alloc(offset - 4 - ((offset - 4) % 1), 1).subarray(0, offset - 4 - 0)));
        p.publish();
        assert.equal(takeAll(c).length, 1);
      }
      const frames: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        const f = Buffer.alloc(size, 0);
        for (let k = 0; k < size; k++) f[k] = (i * 31 + k * 7 + offset) & 0xff;
        frames.push(f);
      }
      const written: Buffer[] = [];
      for (const f of frames) if (put(p, f)) written.push(f);
      p.publish();
      assert.ok(written.length >= 1, `offset ${offset} size ${size}: nothing fit`);
      assert.deepEqual(takeAll(c), written, `offset ${offset} size ${size}`);
      // After draining, everything fits again.
      for (const f of frames.slice(0, 1)) assert.ok(put(p, f));
      p.publish();
      assert.deepEqual(takeAll(c), frames.slice(0, 1));
    }
  }
});

test('a full ring refuses frames until the consumer drains; full never looks empty', () => {
  const sab = createRingBuffer(1024);
  const p = new RingProducer(sab);
  const c = new RingConsumer(sab);
  let n = 0;
  while (put(p, Buffer.alloc(20, n & 0xff))) n++;
  assert.ok(n > 0 && n < 1024 / 24 + 1, `wrote ${n}`);
  p.publish();
  assert.ok(c.hasData());
  const got = takeAll(c);
  assert.equal(got.length, n);
  got.forEach((f, i) => assert.equal(f[0], i & 0xff));
  assert.ok(!c.hasData());
  assert.ok(put(p, Buffer.alloc(20)));
});

test('a frame larger than the space before the end wraps to the start', () => {
  const sab = createRingBuffer(2048);
  const p = new RingProducer(sab);
  const c = new RingConsumer(sab);
  assert.ok(put(p, Buffer.alloc(1000, 1)));
  p.publish();
  takeAll(c);
  // head = tail = 1008. A 1010-byte frame still fits before the end (head -> 2024); the next
  // 100-byte one does not (24 bytes left) and must go to 0, behind a PAD marker.
  assert.ok(put(p, Buffer.alloc(1010, 2)));
  assert.ok(put(p, Buffer.alloc(100, 3)));
  p.publish();
  const got = takeAll(c);
  assert.deepEqual(got.map((f) => [f.length, f[0]]), [[1010, 2], [100, 3]]);
  assert.throws(() => p.reserve(maxFrameBody(sab) + 1), RangeError);
});

test('unpublished frames are invisible; consumed() tracks progress', () => {
  const sab = createRingBuffer(1024);
  const p = new RingProducer(sab);
  const c = new RingConsumer(sab);
  put(p, Buffer.from('a'));
  assert.equal(takeAll(c).length, 0);
  p.publish();
  const target = p.committed;
  assert.ok(((p.consumed() - target) | 0) < 0);
  assert.equal(takeAll(c).length, 1);
  assert.ok(((p.consumed() - target) | 0) >= 0);
});

test('two threads exchange 10 million frames with checksums', { timeout: 180_000 }, async () => {
  const sab = createRingBuffer(1 << 20);
  const total = 10_000_000;
  const worker = new Worker(new URL('./ring-producer-worker.js', import.meta.url), { workerData: { sab, total } });
  const producerDone = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Atomics.waitAsync does not keep the event loop alive on its own (a shard has its sockets for that).
  const keepAlive = setInterval(() => {}, 1000);
  const c = new RingConsumer(sab);
  let count = 0;
  let sum = 0;
  let bad = 0;
  const onFrame = (buf: Buffer, s: number, len: number): void => {
    // Frame: u32 seq, then len-4 bytes each (seq + k) & 0xff.
    const seq = buf.readUInt32LE(s);
    if (seq !== count) bad++;
    let x = 0;
    for (let k = 4; k < len; k++) {
      if (buf[s + k] !== ((seq + k) & 0xff)) bad++;
      x += buf[s + k]!;
    }
    sum = (sum + x + seq) % 1_000_000_007;
    count++;
  };
  while (count < total) {
    if (c.drain(onFrame) === 0) {
      const w = c.wait();
      if (w !== null) await w;
    }
  }
  clearInterval(keepAlive);
  const producerSum = await producerDone;
  await worker.terminate();
  assert.equal(bad, 0);
  assert.equal(count, total);
  assert.equal(sum, producerSum);
});
