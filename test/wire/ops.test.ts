// Client protocol operations, exact bytes. Every expectation was checked against nats-server 2.9.10.
// Note: nats-server sends its first keepalive PING ~2-2.4 s after a connection opens (to measure RTT), so
// each exact-bytes test here finishes well within that on a single connection.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { assertClosedAfter, assertOpen, handshake, readInfo, sleep, waitFor } from './wire-util.js';

describe('wire ops', () => {
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
  // Close each test's connections so no subscription (notably a queue-group member) outlives its test.
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  after(async () => {
    await srv.stop();
  });

  test('verbose: +OK after CONNECT, SUB, PUB (before the MSG it causes), UNSUB; none after PING/PONG', async () => {
    const c = await connectRaw(srv.port);
    open.push(c);
    await readInfo(c);
    c.send('CONNECT {"verbose":true,"pedantic":false}\r\n');
    await c.expectExact('+OK\r\n');
    c.send('SUB foo 1\r\n');
    await c.expectExact('+OK\r\n');
    c.send('PUB foo 5\r\nhello\r\n');
    await c.expectExact('+OK\r\nMSG foo 1 5\r\nhello\r\n');
    c.send('PUB bar 2\r\nhi\r\n'); // no subscriber: still +OK
    await c.expectExact('+OK\r\n');
    c.send('UNSUB 1\r\n');
    await c.expectExact('+OK\r\n');
    c.send('UNSUB 99\r\n'); // unknown sid: still +OK, no error
    await c.expectExact('+OK\r\n');
    c.send('PUB foo 0\r\n\r\n'); // no longer subscribed
    await c.expectExact('+OK\r\n');
    c.send('PONG\r\nPING\r\n');
    await c.expectExact('PONG\r\n');
    await sleep(50);
    assert.equal(c.buffered(), '');
  });

  test('verbose: HPUB gets +OK too', async () => {
    const c = await hs({ verbose: true, headers: true });
    c.send('HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n');
    await c.expectExact('+OK\r\n');
    await assertOpen(c);
  });

  test('CONNECT without verbose/pedantic fields: both default to true (+OK after CONNECT)', async () => {
    const c = await connectRaw(srv.port);
    open.push(c);
    await readInfo(c);
    c.send('CONNECT {}\r\nPING\r\n');
    await c.expectExact('+OK\r\nPONG\r\n');
    // pedantic defaulted to true as well: a wildcard publish subject is flagged (and, verbose, still +OK'd).
    c.send('PUB foo.* 0\r\n\r\nPING\r\n');
    await c.expectExact("-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n");
  });

  test('PING -> PONG; client PONG gets no answer', async () => {
    const c = await hs();
    c.send('PING\r\n');
    await c.expectExact('PONG\r\n');
    c.send('PONG\r\n');
    c.send('PING\r\nPING\r\n');
    await c.expectExact('PONG\r\nPONG\r\n');
    await sleep(50);
    assert.equal(c.buffered(), '');
  });

  test('ops are case-insensitive', async () => {
    const c = await connectRaw(srv.port);
    open.push(c);
    await readInfo(c);
    c.send('connect {"verbose":false,"pedantic":false}\r\nping\r\n');
    await c.expectExact('PONG\r\n');
    c.send('Sub foo 1\r\n');
    c.send('pub foo 2\r\nhi\r\n');
    c.send('pUb foo 1\r\nx\r\n');
    c.send('PiNg\r\n');
    await c.expectExact('MSG foo 1 2\r\nhi\r\nMSG foo 1 1\r\nx\r\nPONG\r\n');
    c.send('unsub 1\r\nPUB foo 1\r\ny\r\nPING\r\n');
    await c.expectExact('PONG\r\n');
  });

  test('args separated by tabs and runs of spaces/tabs; trailing whitespace ignored', async () => {
    const c = await hs();
    c.send('SUB\tfoo \t  qtabs\t\t1\r\n');
    c.send('PUB  foo\t\t  bar 2\r\nhi\r\n');
    c.send('PUB \t foo\t2   \r\nyo\r\n');
    c.send('SUB foo.bar   2  \r\n');
    c.send('PUB\tfoo.bar\t\t1\r\nz\r\n');
    await assertOpen(c, 'MSG foo 1 bar 2\r\nhi\r\nMSG foo 1 2\r\nyo\r\nMSG foo.bar 2 1\r\nz\r\n');
  });

  test('MSG exact bytes, without and with reply', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\n');
    c.send('PUB foo 5\r\nhello\r\n');
    c.send('PUB foo _INBOX.x 5\r\nhello\r\n');
    await assertOpen(c, 'MSG foo 1 5\r\nhello\r\nMSG foo 1 _INBOX.x 5\r\nhello\r\n');
  });

  test('MSG to another connection, exact bytes', async () => {
    const sub = await hs();
    const pub = await hs();
    sub.send('SUB greet.* 42\r\nPING\r\n');
    await sub.expectExact('PONG\r\n');
    pub.send('PUB greet.joe _INBOX.abc.1 5\r\nhello\r\nPUB greet.ann 3\r\nbye\r\n');
    await assertOpen(pub);
    await sub.expectExact('MSG greet.joe 42 _INBOX.abc.1 5\r\nhello\r\nMSG greet.ann 42 3\r\nbye\r\n');
  });

  test('payload is opaque bytes: CRLF, NUL and high bytes inside are delivered intact', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\n');
    const payload = Buffer.from([0x50, 0x49, 0x4e, 0x47, 0x0d, 0x0a, 0x00, 0xff, 0x0d, 0x0a, 0x80]);
    c.send(Buffer.concat([Buffer.from(`PUB foo ${payload.length}\r\n`), payload, Buffer.from('\r\n')]));
    await assertOpen(c, `MSG foo 1 ${payload.length}\r\n${payload.toString('latin1')}\r\n`);
  });

  test('a frame split across many TCP writes is reassembled', async () => {
    const c = await hs();
    const frame = 'SUB foo 1\r\nPUB foo _INBOX.x 5\r\nhello\r\nPING\r\n';
    for (const ch of frame) {
      c.send(ch);
      await sleep(1);
    }
    await c.expectExact('MSG foo 1 _INBOX.x 5\r\nhello\r\nPONG\r\n');
  });

  test('HPUB -> HMSG exact bytes, without and with reply', async () => {
    const c = await hs({ headers: true });
    const hdr = 'NATS/1.0\r\nA: B\r\n\r\n'; // 18 bytes
    assert.equal(hdr.length, 18);
    c.send('SUB foo 1\r\n');
    c.send(`HPUB foo 18 23\r\n${hdr}hello\r\n`);
    c.send(`HPUB foo _INBOX.y 18 23\r\n${hdr}hello\r\n`);
    await assertOpen(c, `HMSG foo 1 18 23\r\n${hdr}hello\r\nHMSG foo 1 _INBOX.y 18 23\r\n${hdr}hello\r\n`);
  });

  test('HPUB with headers only (empty payload), and multi-header block', async () => {
    const c = await hs({ headers: true });
    const hdr = 'NATS/1.0\r\nA: B\r\n\r\n';
    const hdr2 = 'NATS/1.0\r\nX-One: 1\r\nX-Two: two words\r\n\r\n';
    c.send('SUB foo 1\r\n');
    c.send(`HPUB foo 18 18\r\n${hdr}\r\n`);
    c.send(`HPUB foo r ${hdr2.length} ${hdr2.length + 3}\r\n${hdr2}abc\r\n`);
    await assertOpen(
      c,
      `HMSG foo 1 18 18\r\n${hdr}\r\n` + `HMSG foo 1 r ${hdr2.length} ${hdr2.length + 3}\r\n${hdr2}abc\r\n`,
    );
  });

  test('HPUB delivered to a subscriber that did not announce headers arrives as MSG with headers stripped', async () => {
    const plain = await hs(); // headers not set in CONNECT
    const pub = await hs({ headers: true });
    plain.send('SUB foo 7\r\nPING\r\n');
    await plain.expectExact('PONG\r\n');
    pub.send('HPUB foo 18 23\r\nNATS/1.0\r\nA: B\r\n\r\nhello\r\n');
    await assertOpen(pub);
    await plain.expectExact('MSG foo 7 5\r\nhello\r\n');
    await assertOpen(plain);
  });

  test('empty payload', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nPUB foo 0\r\n\r\nPUB foo _INBOX.z 0\r\n\r\n');
    await assertOpen(c, 'MSG foo 1 0\r\n\r\nMSG foo 1 _INBOX.z 0\r\n\r\n');
  });

  test('wildcard subscriptions * and >', async () => {
    const c = await hs();
    c.send('SUB a.* 1\r\nSUB a.> 2\r\nPING\r\n');
    await c.expectExact('PONG\r\n');
    c.send('PUB a 1\r\n0\r\n'); // matches neither
    c.send('PUB a.b.c 1\r\n2\r\n'); // only a.>
    await assertOpen(c, 'MSG a.b.c 2 1\r\n2\r\n');
    c.send('PUB a.b 1\r\n1\r\n'); // both (order between two subs is not specified)
    c.send('PING\r\n');
    await c.expect(/^(MSG a\.b 1 1\r\n1\r\nMSG a\.b 2 1\r\n1\r\n|MSG a\.b 2 1\r\n1\r\nMSG a\.b 1 1\r\n1\r\n)PONG\r\n/);
    assert.equal(c.buffered(), '');
  });

  test('publish subjects are literal: PUB foo.* reaches SUB foo.* and SUB foo.>, never SUB foo.bar', async () => {
    const c = await hs();
    c.send('SUB foo.bar 1\r\nSUB foo.* 2\r\nPUB foo.* 1\r\na\r\nPUB > 1\r\nb\r\n');
    await assertOpen(c, 'MSG foo.* 2 1\r\na\r\n');
  });

  test('a second SUB reusing a live sid is ignored (one delivery, not two)', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nSUB foo 1\r\nPUB foo 1\r\na\r\n');
    await assertOpen(c, 'MSG foo 1 1\r\na\r\n');
  });

  test('queue subscription (SUB foo q 1): each message to exactly one member; plain subs get every message', async () => {
    const q1 = await hs();
    const q2 = await hs();
    const plain = await hs();
    const pub = await hs();
    q1.send('SUB foo q 1\r\nPING\r\n');
    q2.send('SUB foo\tq 2\r\nPING\r\n');
    plain.send('SUB foo 3\r\nPING\r\n');
    await Promise.all([q1.expectExact('PONG\r\n'), q2.expectExact('PONG\r\n'), plain.expectExact('PONG\r\n')]);
    const N = 50;
    let frames = '';
    for (let i = 0; i < N; i++) frames += `PUB foo ${String(i).length}\r\n${i}\r\n`;
    pub.send(frames);
    await assertOpen(pub);
    const countOf = (s: string): number => (s.match(/MSG /g) ?? []).length;
    await waitFor(() => countOf(q1.buffered()) + countOf(q2.buffered()) >= N && countOf(plain.buffered()) >= N, 3000, 'deliveries');
    await sleep(50); // nothing extra may follow
    const got: number[] = [];
    for (const [c, sid] of [
      [q1, 1],
      [q2, 2],
    ] as const) {
      const re = new RegExp(`^MSG foo ${sid} (\\d+)\\r\\n(\\d+)\\r\\n`);
      let rest = c.buffered();
      let last = -1;
      while (rest.length > 0) {
        const m = re.exec(rest);
        assert.ok(m, `unexpected bytes for queue member ${sid}: ${JSON.stringify(rest.slice(0, 80))}`);
        assert.equal(Number(m[1]), m[2]!.length);
        const v = Number(m[2]);
        assert.ok(v > last, 'per-member order preserved');
        last = v;
        got.push(v);
        rest = rest.slice(m[0].length);
      }
    }
    assert.deepEqual(
      got.sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i),
      'every message delivered to exactly one queue member',
    );
    let expected = '';
    for (let i = 0; i < N; i++) expected += `MSG foo 3 ${String(i).length}\r\n${i}\r\n`;
    assert.equal(plain.buffered(), expected);
  });

  test('queue subscription on the same connection as the publisher: MSG carries no queue name', async () => {
    const c = await hs();
    c.send('SUB foo qsame 5\r\nPUB foo r.1 2\r\nhi\r\n');
    await assertOpen(c, 'MSG foo 5 r.1 2\r\nhi\r\n');
  });

  test('UNSUB with max: UNSUB 1 2 then 3 PUBs -> exactly 2 MSGs, and the sub is gone afterwards', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nUNSUB 1 2\r\n');
    c.send('PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n');
    await assertOpen(c, 'MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n');
    c.send('PUB foo 1\r\nd\r\n');
    await assertOpen(c);
  });

  test('UNSUB with max already reached removes the sub at once; UNSUB sid 0 unsubscribes', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 1\r\nPUB foo 1\r\nc\r\n');
    await assertOpen(c, 'MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n');
    c.send('SUB bar 2\r\nUNSUB 2 0\r\nPUB bar 1\r\nx\r\n');
    await assertOpen(c);
  });

  test('UNSUB stops delivery; other subs on the subject continue', async () => {
    const c = await hs();
    c.send('SUB foo 1\r\nSUB foo 2\r\nUNSUB 1\r\nPUB foo 1\r\na\r\n');
    await assertOpen(c, 'MSG foo 2 1\r\na\r\n');
  });

  test('no responders: HMSG with status 503 to the reply subject when nobody listens', async () => {
    const c = await hs({ headers: true, no_responders: true });
    c.send('SUB _INBOX.x 7\r\n');
    c.send('PUB nobody _INBOX.x 5\r\nhello\r\n');
    c.send('PING\r\n');
    // nats-server 2.9.10 sends exactly the first form; newer servers add a Nats-Subject header
    // (the form tsnats's reference document describes). Either is accepted, byte for byte.
    const v29 = 'HMSG _INBOX.x 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n';
    const hdrNew = 'NATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n';
    const vNew = `HMSG _INBOX.x 7 ${hdrNew.length} ${hdrNew.length}\r\n${hdrNew}\r\nPONG\r\n`;
    await waitFor(() => c.buffered().endsWith('PONG\r\n'), 3000, 'PONG');
    const got = c.buffered();
    assert.ok(got === v29 || got === vNew, `unexpected no-responders bytes: ${JSON.stringify(got)}`);
  });

  test('no responders: also for HPUB requests, and for an inbox caught by a wildcard sub', async () => {
    const c = await hs({ headers: true, no_responders: true });
    c.send('SUB _INBOX.* 3\r\n');
    c.send('HPUB nobody.home _INBOX.q 12 17\r\nNATS/1.0\r\n\r\nhello\r\n');
    c.send('PING\r\n');
    const v29 = 'HMSG _INBOX.q 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n';
    const hdrNew = 'NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n';
    const vNew = `HMSG _INBOX.q 3 ${hdrNew.length} ${hdrNew.length}\r\n${hdrNew}\r\nPONG\r\n`;
    await waitFor(() => c.buffered().endsWith('PONG\r\n'), 3000, 'PONG');
    const got = c.buffered();
    assert.ok(got === v29 || got === vNew, `unexpected no-responders bytes: ${JSON.stringify(got)}`);
  });

  test('no responders: nothing when the client did not ask, when there is a responder, or without a reply', async () => {
    const noAsk = await hs({ headers: true });
    noAsk.send('SUB _INBOX.x 7\r\nPUB nobody _INBOX.x 0\r\n\r\n');
    await assertOpen(noAsk);

    const c = await hs({ headers: true, no_responders: true });
    c.send('SUB svc 1\r\nSUB _INBOX.x 7\r\nPUB svc _INBOX.x 2\r\nhi\r\nPUB nobody 0\r\n\r\n');
    await assertOpen(c, 'MSG svc 1 _INBOX.x 2\r\nhi\r\n');
  });

  describe('server keepalive (ping_interval 500ms, ping_max 2)', () => {
    let ka: RunningServer;
    before(async () => {
      ka = await startServer({ pingInterval: '500ms', pingMax: 2 });
    });
    after(async () => {
      await ka.stop();
    });

    test("unanswered: PING, PING, then -ERR 'Stale Connection' and close", async () => {
      const c = await handshake(ka.port);
      const t0 = Date.now();
      try {
        await assertClosedAfter(c, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n", 6000);
      } finally {
        c.close();
      }
      const dt = Date.now() - t0;
      // nats-server: PINGs at ~0.5 s and ~1.0 s, stale at ~1.5 s.
      assert.ok(dt >= 900, `closed too early (${dt} ms)`);
    });

    test('answered with PONG: the connection stays open', async () => {
      const c = await handshake(ka.port);
      try {
        let pings = 0;
        const deadline = Date.now() + 2600;
        while (Date.now() < deadline) {
          const m = await c.expect(/^PING\r\n/, 2000);
          assert.equal(m.index, 0);
          c.send('PONG\r\n');
          pings++;
        }
        // nats-server 2.9.10 sends one every ~500 ms here (a PONG does not count as activity); require at least 2.
        assert.ok(pings >= 2, `expected at least 2 server PINGs, got ${pings}`);
        assert.equal(c.isClosed(), false);
        // Still serving: our PING is answered (a server PING may race in ahead of the PONG).
        c.send('PING\r\n');
        await c.expect(/^(?:PING\r\n)*PONG\r\n/);
        assert.equal(c.isClosed(), false);
      } finally {
        c.close();
      }
    });
  });
});
