// A subscriber slower than its publisher is not dropped: the shard holds the publisher back
// (client.go stalledWait) instead of letting the subscriber fall max_pending behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { connectHandshake } from '../helpers/wire.js';

for (const shards of [1, 2]) {
  test(`slow reader, fast publisher (${shards} shard${shards > 1 ? 's' : ''}): every message arrives, no slow-consumer drop`, { skip: usingNatsServer, timeout: 90_000 }, async () => {
    // max_pending 8 MB: 30 MB of messages would overrun it many times over without stalling.
    const server = await startServer({ shards, maxPending: 8 * 1024 * 1024 });
    try {
      const sub = await connectHandshake(server.port, { headers: true });
      sub.send('SUB st.x 1\r\nPING\r\n');
      await sub.expect(/^PONG\r\n/);
      const pub = await connectHandshake(server.port);
      const total = 300_000;
      const size = 100;
      let count = 0;
      let bad = 0;
      let pending: Buffer = Buffer.alloc(0);
      let read = 0;
      sub.socket.removeAllListeners('data');
      const got = new Promise<void>((resolve, reject) => {
        sub.socket.on('close', () => reject(new Error(`subscriber closed after ${count} messages`)));
        sub.socket.on('data', (d: Buffer) => {
          pending = pending.length > 0 ? Buffer.concat([pending, d]) : d;
          let at = 0;
          while (true) {
            const nl = pending.indexOf(10, at);
            if (nl < 0) break;
            if (pending[at] !== 0x4d) {
              at = nl + 1;
              continue;
            }
            if (pending.length < nl + 1 + size + 2) break;
            if (pending.readUInt32LE(nl + 1) !== count) bad++;
            count++;
            at = nl + 1 + size + 2;
          }
          pending = pending.subarray(at);
          read += d.length;
          // Read about 20 MB/s: pause 50 ms per MB.
          if (read > 1024 * 1024) {
            read = 0;
            sub.socket.pause();
            setTimeout(() => sub.socket.resume(), 50);
          }
          if (count >= total) resolve();
        });
      });
      const body = Buffer.alloc(size, 0x62);
      for (let i = 0; i < total; i += 1000) {
        const parts: Buffer[] = [];
        for (let k = i; k < i + 1000; k++) {
          const b = Buffer.from(body);
          b.writeUInt32LE(k, 0);
          parts.push(Buffer.from(`PUB st.x ${size}\r\n`), b, Buffer.from('\r\n'));
        }
        if (!pub.socket.write(Buffer.concat(parts))) await new Promise((r) => pub.socket.once('drain', r));
      }
      await got;
      assert.equal(bad, 0);
      assert.equal(count, total);
      assert.doesNotMatch(server.output(), /Slow Consumer/);
      pub.close();
      sub.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
}
