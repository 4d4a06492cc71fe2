// Protocol edges where tsnats used to differ from nats-server, exact bytes on raw sockets. Every
// expectation here was checked against nats-server 2.9.10 (TSNATS_TEST_SERVER=nats-server passes).
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { assertClosedAfter, assertOpen, handshake, readInfo } from './wire-util.js';

describe('protocol edges', () => {
  let srv: RunningServer;
  const open: WireClient[] = [];
  const hs = async (connect: Record<string, unknown> = {}): Promise<WireClient> => {
    const c = await handshake(srv.port, connect);
    open.push(c);
    return c;
  };
  before(async () => {
    srv = await startServer();
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  after(async () => {
    await srv.stop();
  });

  test('CONNECT null is CONNECT {}: +OK (verbose by default), and the connection stays open', async () => {
    const c = await connectRaw(srv.port);
    open.push(c);
    await readInfo(c);
    c.send('CONNECT null\r\n');
    await c.expectExact('+OK\r\n');
    await assertOpen(c);
  });

  test('UNSUB with a max that is not a size (-46, x) unsubscribes at once, no -ERR', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nSUB bar 2\r\nUNSUB 1 -46\r\nUNSUB 2 x\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n');
    await assertOpen(c);
    const v = await hs({ verbose: true });
    v.send('SUB foo 1\r\n');
    await v.expectExact('+OK\r\n');
    v.send('UNSUB 1 -46\r\n');
    await v.expectExact('+OK\r\n');
    v.send('PUB foo 1\r\na\r\n');
    await v.expectExact('+OK\r\n');
    await assertOpen(v);
  });

  test('a 10-digit PUB or HPUB size closes the connection without -ERR (a 9-digit one is a max payload violation)', async () => {
    const a = await hs();
    a.send('PUB foo 1234567890\r\n');
    await assertClosedAfter(a, '');
    const h = await hs({ headers: true });
    h.send('HPUB foo 12 1234567890\r\n');
    await assertClosedAfter(h, '');
    const b = await hs();
    b.send('PUB foo 123456789\r\n');
    await assertClosedAfter(b, "-ERR 'Maximum Payload Violation'\r\n");
  });

  test('control bytes are part of a subject (\\x01, \\f, \\v, ESC, DEL), also with pedantic', async () => {
    const c = await hs({ pedantic: true });
    const subjects = ['a\x01b', 'a\fb', 'a\vb', 'a\x1b[31m', 'x\x7f', 'nul\x00.x'];
    subjects.forEach((s, i) => c.send(`SUB ${s} ${i + 1}\r\n`));
    subjects.forEach((s) => c.send(`PUB ${s} 2\r\nhi\r\n`));
    await assertOpen(c, subjects.map((s, i) => `MSG ${s} ${i + 1} 2\r\nhi\r\n`).join(''));
  });

  test('queue names are not checked (control bytes, latin1 0xa0, a lone *)', async () => {
    const c = await hs();
    c.send('SUB q g\vg 1\r\nSUB r g\xa0g 2\r\nSUB s * 3\r\n');
    c.send('PUB q 1\r\na\r\nPUB r 1\r\nb\r\nPUB s 1\r\nc\r\n');
    await assertOpen(c, 'MSG q 1 1\r\na\r\nMSG r 2 1\r\nb\r\nMSG s 3 1\r\nc\r\n');
  });

  test('a CR inside a SUB line separates arguments (client.go splitArg): `SUB a\\rq 1` is queue q on a', async () => {
    const c = await hs();
    c.send('SUB a\rq 1\r\nPUB a 1\r\nx\r\n');
    await assertOpen(c, 'MSG a 1 1\r\nx\r\n');
  });

  test('the first server PING comes ~2 s after CONNECT (RTT measurement), not after ping_interval', { timeout: 20_000 }, async () => {
    const c = await hs();
    const t0 = Date.now();
    await c.expectExact('PING\r\n', 6000);
    const dt = Date.now() - t0;
    assert.ok(dt >= 1500 && dt <= 5000, `first PING after ${dt} ms`);
    c.send('PONG\r\n');
    await assertOpen(c);
  });
});

describe('later PINGs at ping_interval', () => {
  test('ping_interval 4s: first PING ~2 s after CONNECT, the next ~4 s after it', { timeout: 30_000 }, async () => {
    const srv = await startServer({ pingInterval: '4s' });
    try {
      const c = await handshake(srv.port);
      const t0 = Date.now();
      await c.expectExact('PING\r\n', 6000);
      const first = Date.now() - t0;
      c.send('PONG\r\n');
      await c.expectExact('PING\r\n', 8000);
      const gap = Date.now() - t0 - first;
      assert.ok(first >= 1500 && first <= 3800, `first PING after ${first} ms`);
      assert.ok(gap >= 3500 && gap <= 6500, `second PING ${gap} ms after the first`);
      c.close();
    } finally {
      await srv.stop();
    }
  });
});
