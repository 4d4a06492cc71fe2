// Producer thread for ring.test.ts: writes `total` frames of varying sizes, publishing per batch.
import { workerData, parentPort } from 'node:worker_threads';
import { RingProducer } from '../../src/ring/ring.js';

const { sab, total } = workerData as { sab: SharedArrayBuffer; total: number };
const p = new RingProducer(sab);
let sum = 0;
let seq = 0;
const sizes = [4, 5, 12, 20, 33, 64, 100, 7, 250];

function run(): void {
  let batch = 0;
  while (seq < total) {
    const len = sizes[seq % sizes.length]!;
    const at = p.reserve(len);
    if (at < 0) {
      p.publish();
      // Ring full: yield to the event loop and retry (a shard would pause its sockets here).
      setImmediate(run);
      return;
    }
    p.data.writeUInt32LE(seq, at);
    let x = 0;
    for (let k = 4; k < len; k++) {
      const v = (seq + k) & 0xff;
      p.data[at + k] = v;
      x += v;
    }
    p.commit(len);
    sum = (sum + x + seq) % 1_000_000_007;
    seq++;
    if (++batch === 256) {
      p.publish();
      batch = 0;
    }
  }
  p.publish();
  parentPort!.postMessage(sum);
}
run();
