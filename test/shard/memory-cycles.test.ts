// Memory that comes back (issue 12): 20,000 short connections (connect, subscribe, close), none
// left open, leave the server's RSS within 48 MB of where it started — a closed connection leaves
// only a small record, and /connz?state=closed keeps the last 10,000 server-wide (nats-server's
// cap), whatever the number of shards. Also runs against nats-server (TSNATS_TEST_SERVER=nats-server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../helpers/server.js';
import { inBatches, monitorPort, procAvailable, settledRss, heapLines } from '../helpers/memory.js';

const CYCLES = 20_000;
const WIDTH = 100;
const LIMIT_MB = 48;

/** Connect, INFO, CONNECT + SUB + PING, PONG, close (by the client). */
function cycle(port: number, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`cycle ${i}: no PONG in 20 s; got ${JSON.stringify(buf)}`));
    }, 20_000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write(`CONNECT {"verbose":false,"name":"cycle-${i}"}\r\nSUB cycle.${i} 1\r\nSUB cycle.all q 2\r\nPING\r\n`);
      }
      if (buf.includes('PONG\r\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve();
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

test('20,000 connect/subscribe/close cycles: none left open, RSS back within 48 MB, 10,000 closed kept server-wide', { skip: !procAvailable, timeout: 600_000 }, async (t) => {
  const server = await startServer({ shards: 2, args: ['-m', '-1'], env: { TSNATS_DEBUG_HOOKS: '1' } });
  try {
    const pid = server.proc.pid!;
    const http = monitorPort(server.output());
    const varz = async (): Promise<Record<string, number>> => (await (await fetch(`http://127.0.0.1:${http}/varz`)).json()) as Record<string, number>;
    // Warm up (code paths, pools, the logger), then the baseline.
    await inBatches(500, WIDTH, (i) => cycle(server.port, i));
    const start = await settledRss(pid, server.port, 0, { minMs: 0, maxMs: 0 });
    await inBatches(CYCLES, WIDTH, (i) => cycle(server.port, i));
    let v: Record<string, number> = {};
    for (let i = 0; i < 100 && (v = await varz())['connections'] !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(v['connections'], 0, 'no connection left open');
    assert.ok(v['total_connections']! >= CYCLES + 500, `total_connections ${v['total_connections']}`);
    const closed = (await (await fetch(`http://127.0.0.1:${http}/connz?state=closed&limit=1&sort=stop`)).json()) as { total: number; connections: { name?: string }[] };
    assert.equal(closed.total, 10_000, 'the last 10,000 closed connections, server-wide');
    const end = await settledRss(pid, server.port, start.rss + LIMIT_MB);
    t.diagnostic(`RSS start ${start.rss} MB, after ${CYCLES} cycles ${end.rss} MB (+${(end.rss - start.rss).toFixed(1)}); ${heapLines(server.output(), 3)}`);
    assert.ok(end.rss <= start.rss + LIMIT_MB, `RSS ${end.rss} MB after ${CYCLES} cycles, start ${start.rss} MB (readings ${end.readings.join(', ')}); ${heapLines(server.output(), 3)}`);
  } finally {
    await server.stop();
  }
});
