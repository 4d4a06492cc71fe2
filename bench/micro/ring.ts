// SPSC ring: produce (reserve + write body + commit) a batch of small frames, publish, and drain them
// with a counting handler, all on one thread (the cross-thread cost - cache-line transfers, the
// doorbell - is not in these figures; they bound what the ring itself costs per frame).
import { RingConsumer, RingProducer, createRingBuffer } from '../../src/ring/ring.js';
import type { MicroCase } from './types.js';

function ringCase(name: string, body: number, batch: number, publishEvery: number): MicroCase {
  const sab = createRingBuffer(1 << 20);
  const prod = new RingProducer(sab);
  const cons = new RingConsumer(sab);
  const payload = Buffer.alloc(body, 'm');
  let frames = 0;
  let bytes = 0;
  let calls = 0;
  let full = 0;
  const onFrame = (_buf: Buffer, _start: number, len: number): void => {
    frames++;
    bytes += len;
  };
  return {
    group: 'ring',
    name,
    perIter: batch,
    unit: 'frames',
    fn: () => {
      for (let i = 0; i < batch; i++) {
        const at = prod.reserve(body);
        if (at < 0) {
          full++;
          continue;
        }
        payload.copy(prod.data, at);
        prod.commit(body);
        if ((i + 1) % publishEvery === 0) prod.publish();
      }
      prod.publish();
      cons.drain(onFrame);
      calls++;
    },
    check: () => {
      if (full > 0) return `${full} reserves found the ring full`;
      if (frames !== calls * batch) return `drained ${frames} frames, expected ${calls * batch}`;
      if (bytes !== frames * body) return `drained ${bytes} body bytes, expected ${frames * body}`;
      return null;
    },
  };
}

export function ringCases(): MicroCase[] {
  return [
    ringCase('16 B frames, batch of 256, one publish per batch', 16, 256, 256),
    ringCase('16 B frames, batch of 256, publish every frame', 16, 256, 1),
    ringCase('64 B frames, batch of 256, one publish per batch', 64, 256, 256),
  ];
}
