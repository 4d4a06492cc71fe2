// Memory that comes back (issue 12): 20,000 connections sending garbage and malformed input —
// random bytes, unknown ops, bad and huge sizes (a 1 MB payload announced and never sent), control
// lines past max_control_line, unterminated CONNECT JSON — leave the server's RSS within 48 MB of
// where it started, and a clean client is still served. Also runs against nats-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startServer } from '../helpers/server.js';
import { connectHandshake } from '../helpers/wire.js';
import { inBatches, procAvailable, settledRss, heapLines } from '../helpers/memory.js';

const SESSIONS = 20_000;
const WIDTH = 150;
const LIMIT_MB = 48;

function garbage(i: number): Buffer {
  switch (i % 8) {
    case 0:
      return randomBytes(64 + (i % 900));
    case 1:
      // A payload close to max_payload announced, part of it sent: the server holds a split payload.
      return Buffer.concat([Buffer.from(`PUB g.${i} ${1_000_000 + (i % 40_000)}\r\n`), randomBytes(4096)]);
    case 2:
      return Buffer.from(`SUB ${'s'.repeat(8000 + (i % 1000))} 1\r\n`);
    case 3:
      return Buffer.from('PUB foo -5\r\n');
    case 4:
      return Buffer.from(`CONNECT {"verbose":false,"name":"${'n'.repeat(6000)}`);
    case 5:
      return Buffer.from(`HPUB foo 50 10\r\n${'h'.repeat(60)}\r\n`);
    case 6:
      return Buffer.from(`PUB foo 12345678901\r\n`);
    default:
      return Buffer.concat([Buffer.from('CONNECT {}\r\nSUB a 1\r\n'), randomBytes(2000), Buffer.from('\r\n\r\nMSG x\r\n')]);
  }
}

/** Sends one kind of garbage; waits for the server to close, or closes after a while itself. */
function session(port: number, i: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    // Most garbage gets the connection closed by the server; the rest (a payload announced and not
    // sent) is read by then, and the client goes.
    const timer = setTimeout(done, 400);
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => {});
    s.once('connect', () => s.write(garbage(i)));
  });
}

test('20,000 garbage sessions leave RSS within 48 MB and a clean client is still served', { skip: !procAvailable, timeout: 600_000 }, async (t) => {
  const server = await startServer({ env: { TSNATS_DEBUG_HOOKS: '1' } });
  try {
    const pid = server.proc.pid!;
    await inBatches(400, WIDTH, (i) => session(server.port, i));
    const start = await settledRss(pid, server.port, 0, { minMs: 0, maxMs: 0 });
    await inBatches(SESSIONS, WIDTH, (i) => session(server.port, i));
    const end = await settledRss(pid, server.port, start.rss + LIMIT_MB);
    t.diagnostic(`RSS start ${start.rss} MB, after ${SESSIONS} garbage sessions ${end.rss} MB (+${(end.rss - start.rss).toFixed(1)}); ${heapLines(server.output(), 3)}`);
    assert.ok(end.rss <= start.rss + LIMIT_MB, `RSS ${end.rss} MB after ${SESSIONS} garbage sessions, start ${start.rss} MB (readings ${end.readings.join(', ')}); ${heapLines(server.output(), 3)}`);
    // A clean client: subscribe, publish, receive.
    const c = await connectHandshake(server.port);
    c.send('SUB clean 1\r\nPUB clean 5\r\nhello\r\nPING\r\n');
    await c.expect(/^MSG clean 1 5\r\nhello\r\nPONG\r\n/);
    c.close();
    assert.equal(server.proc.exitCode, null, 'server still running');
  } finally {
    await server.stop();
  }
});
