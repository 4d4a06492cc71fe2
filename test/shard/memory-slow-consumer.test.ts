// Memory that comes back (issue 12): a subscriber that never reads is cut as a slow consumer while a
// fast subscriber on the same subject gets every message (the publisher is held back meanwhile, as
// nats-server's stall does); RSS peaks at most 192 MB above where it started and, 10 s after the
// cut, is back within 64 MB. Also runs against nats-server (TSNATS_TEST_SERVER=nats-server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../helpers/server.js';
import { monitorPort, procAvailable, rssMb, settledRss } from '../helpers/memory.js';
import { delay } from '../helpers/wait.js';

const PAYLOAD = 1024;
const MESSAGES = 256 * 1024; // 256 MB of payload, four times max_pending
const PEAK_MB = 192;
const AFTER_MB = 64;

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Counts `MSG` frames on a connection (answering the server's PINGs). */
function countMessages(s: net.Socket): { count(): number } {
  let n = 0;
  let pending: Buffer = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    let buf = pending.length > 0 ? Buffer.concat([pending, d]) : d;
    let i = 0;
    for (;;) {
      const eol = buf.indexOf('\r\n', i);
      if (eol < 0) break;
      if (buf[i] === 0x4d /* M */) {
        const size = Number(buf.toString('latin1', buf.lastIndexOf(' ', eol) + 1, eol));
        if (buf.length < eol + 2 + size + 2) break;
        n++;
        i = eol + 2 + size + 2;
      } else {
        if (buf.toString('latin1', i, eol) === 'PING') s.write('PONG\r\n');
        i = eol + 2;
      }
    }
    buf = buf.subarray(i);
    pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  });
  return { count: () => n };
}

test('a never-reading subscriber is cut, a fast one gets every message; RSS peak ≤ start + 192 MB, 10 s later ≤ start + 64 MB', { skip: !procAvailable, timeout: 300_000 }, async (t) => {
  const server = await startServer({ args: ['-m', '-1'], env: { TSNATS_DEBUG_HOOKS: '1' } });
  const sockets: net.Socket[] = [];
  try {
    const pid = server.proc.pid!;
    const http = monitorPort(server.output());
    const varz = async (): Promise<Record<string, number>> => (await (await fetch(`http://127.0.0.1:${http}/varz`)).json()) as Record<string, number>;
    const start = await settledRss(pid, server.port, 0, { minMs: 0, maxMs: 0 });

    const slow = await open(server.port);
    sockets.push(slow);
    slow.on('error', () => {});
    slow.write('CONNECT {"verbose":false,"name":"slow"}\r\nSUB s 1\r\nPING\r\n');
    slow.pause(); // never reads again
    const fast = await open(server.port);
    sockets.push(fast);
    const got = countMessages(fast);
    fast.write('CONNECT {"verbose":false,"name":"fast"}\r\nSUB s 1\r\nPING\r\n');
    const pub = await open(server.port);
    sockets.push(pub);
    let pubIn = '';
    pub.on('data', (d: Buffer) => {
      pubIn += d.toString('latin1');
      if (pubIn.includes('PING\r\n')) {
        pubIn = pubIn.replace(/PING\r\n/g, '');
        pub.write('PONG\r\n');
      }
    });
    pub.write('CONNECT {"verbose":false,"name":"pub"}\r\nPING\r\n');
    await delay(300);

    let peak = rssMb(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 25);
    const frame = Buffer.from(`PUB s ${PAYLOAD}\r\n${'x'.repeat(PAYLOAD)}\r\n`);
    const batch = Buffer.concat(Array.from({ length: 64 }, () => frame));
    for (let i = 0; i < MESSAGES; i += 64) if (!pub.write(batch)) await new Promise((r) => pub.once('drain', r));
    const deadline = Date.now() + 120_000;
    while (got.count() < MESSAGES && Date.now() < deadline) await delay(50);
    clearInterval(sampler);
    assert.equal(got.count(), MESSAGES, 'the fast subscriber got every message');
    // The never-reading one was cut (nats-server: by max_pending or its write deadline).
    let v = await varz();
    for (let i = 0; i < 200 && (v['slow_consumers'] ?? 0) < 1; i++) {
      await delay(100);
      v = await varz();
    }
    assert.ok((v['slow_consumers'] ?? 0) >= 1, 'slow consumer counted');
    assert.equal(v['connections'], 2, 'publisher and fast subscriber still connected');
    const cutAt = Date.now();

    const peakDelta = peak - start.rss;
    await delay(Math.max(0, 9000 - (Date.now() - cutAt)));
    const after = await settledRss(pid, server.port, start.rss + AFTER_MB, { minMs: 0, maxMs: 15_000, stepMs: 1000 });
    t.diagnostic(`RSS start ${start.rss} MB, peak ${peak.toFixed(1)} MB (+${peakDelta.toFixed(1)}), ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut ${after.rss} MB (+${(after.rss - start.rss).toFixed(1)})`);
    assert.ok(peakDelta <= PEAK_MB, `peak ${peak.toFixed(1)} MB, start ${start.rss} MB`);
    assert.ok(after.rss <= start.rss + AFTER_MB, `RSS ${after.rss} MB 10 s after the cut, start ${start.rss} MB (readings ${after.readings.join(', ')})`);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
});
