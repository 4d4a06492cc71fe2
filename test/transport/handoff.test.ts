// The connection hand-off on its own: 10,000 connect/close cycles through a real worker thread, with
// no descriptor growth in /proc/self/fd and every client answered by its own connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { HandoffSender, handoffSupported, type TcpHandle } from '../../src/transport/handoff.js';

const fdCount = (): number => readdirSync('/proc/self/fd').length;

test('hand-off is supported on this platform', () => {
  assert.equal(handoffSupported(), process.platform === 'linux');
});

test('10,000 connect/close cycles: right answers, no fd growth', { skip: !handoffSupported(), timeout: 120_000 }, async () => {
  const sender = await HandoffSender.create();
  const worker = new Worker(new URL('./handoff-echo-worker.js', import.meta.url), { workerData: { fd: sender.receiverFd } });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  let tags = 0;
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    const handle = (sock as unknown as { _handle: TcpHandle })._handle;
    sender.send(handle, ++tags, (ok) => {
      assert.ok(ok);
      sock.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;

  const cycle = (token: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      let got = '';
      c.on('connect', () => c.write(token));
      c.on('data', (d) => {
        got += d.toString();
        const colon = got.indexOf(':');
        if (colon >= 0 && got.length - colon - 1 >= token.length) {
          const answer = got.slice(colon + 1);
          if (answer !== token) reject(new Error(`client ${token} got answer for ${answer}`));
          c.end();
        }
      });
      c.on('close', () => resolve());
      c.on('error', reject);
    });

  // Warm up (lazily opened descriptors: epoll, eventfds, ...), then measure.
  for (let i = 0; i < 50; i++) await cycle(`warm-${i}`);
  await new Promise((r) => setTimeout(r, 200));
  const before = fdCount();
  const total = 10_000;
  const parallel = 32;
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) {
        const i = next++;
        await cycle(`client-${i}-${Math.random().toString(36).slice(2)}`);
      }
    }),
  );
  // Let the worker see the last closes.
  await new Promise((r) => setTimeout(r, 500));
  const after = fdCount();
  assert.ok(after - before <= 2, `fd count grew from ${before} to ${after}`);
  assert.equal(tags, total + 50);

  worker.postMessage('close');
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  await worker.terminate();
  sender.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
