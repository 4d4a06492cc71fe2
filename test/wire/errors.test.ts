// Protocol errors: the exact bytes the server sends and whether the connection survives.
// Every case below was established against the real nats-server 2.9.10 (not just the reference doc):
//  - "stays open" is asserted by a following PING getting exactly PONG;
//  - "closes" is asserted by the server closing the socket with exactly the given bytes (often none: many
//    argument errors close the connection WITHOUT any -ERR line in nats-server).
// For close cases the test sends the bad frame and nothing after it, so the server never closes with
// unread input (which would turn the FIN into a RST and could lose the -ERR line).
import { test, describe, before, after } from 'node:test';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { assertClosedAfter, assertOpen, handshake, readInfo } from './wire-util.js';

const UNKNOWN = "-ERR 'Unknown Protocol Operation'\r\n";
const MAX_PAYLOAD = "-ERR 'Maximum Payload Violation'\r\n";
const INVALID_SUBJECT = "-ERR 'Invalid Subject'\r\n";
const INVALID_PUB_SUBJECT = "-ERR 'Invalid Publish Subject'\r\n";
const MAX_CONTROL_LINE = "-ERR 'maximum control line exceeded'\r\n"; // lower case, unlike the other texts
const BAD_PROTOCOL = "-ERR 'invalid client protocol'\r\n";
const NO_RESPONDERS_NEEDS_HEADERS = "-ERR 'no responders requires headers support'\r\n";

describe('protocol errors', () => {
  let srv: RunningServer; // defaults
  let lim: RunningServer; // max_payload 1024, max_control_line 256
  const conns: WireClient[] = [];
  const hs = async (s: RunningServer, connect: Record<string, unknown> = {}): Promise<WireClient> => {
    const c = await handshake(s.port, connect);
    conns.push(c);
    return c;
  };
  /** After a normal handshake, `frame` makes the server send exactly `bytes` and close. */
  const closes = async (s: RunningServer, frame: string | Buffer, bytes: string, connect: Record<string, unknown> = {}): Promise<void> => {
    const c = await hs(s, connect);
    c.send(frame);
    await assertClosedAfter(c, bytes);
  };
  /** After a normal handshake, `frame` makes the server send exactly `bytes`, and the connection stays usable. */
  const staysOpen = async (s: RunningServer, frame: string, bytes: string, connect: Record<string, unknown> = {}): Promise<void> => {
    const c = await hs(s, connect);
    c.send(frame);
    await assertOpen(c, bytes);
    c.close();
  };

  before(async () => {
    [srv, lim] = await Promise.all([startServer(), startServer({ maxPayload: 1024, maxControlLine: 256 })]);
  });
  after(async () => {
    for (const c of conns) c.close();
    await Promise.all([srv.stop(), lim.stop()]);
  });

  describe("'Maximum Payload Violation' (closes)", () => {
    test('PUB size above max_payload 1024', async () => {
      await closes(lim, 'PUB foo 1025\r\n', MAX_PAYLOAD);
    });
    test('PUB with reply, size far above max_payload', async () => {
      await closes(lim, 'PUB foo bar 99999999\r\n', MAX_PAYLOAD);
    });
    test('HPUB whose total size is above max_payload (header size counts)', async () => {
      await closes(lim, 'HPUB foo 0 1025\r\n', MAX_PAYLOAD, { headers: true });
    });
    test('HPUB with header size == total size above max_payload', async () => {
      await closes(lim, 'HPUB foo 1025 1025\r\n', MAX_PAYLOAD, { headers: true });
    });
    test('default max_payload is 1048576: 1048577 is refused', async () => {
      await closes(srv, 'PUB foo 1048577\r\n', MAX_PAYLOAD);
    });
    test('exactly max_payload is accepted and delivered', async () => {
      const c = await hs(lim);
      const body = 'x'.repeat(1024);
      c.send(`SUB foo 1\r\nPUB foo 1024\r\n${body}\r\n`);
      await assertOpen(c, `MSG foo 1 1024\r\n${body}\r\n`);
      c.close();
    });
  });

  describe("'Unknown Protocol Operation' (closes)", () => {
    for (const [name, frame] of [
      ['unknown op FOO', 'FOO\r\n'],
      ['partial op PIN', 'PIN\r\n'],
      ['single letter P', 'P\r\n'],
      ['empty line', '\r\n'],
      ['binary garbage', '\x00\x01\x02\xff\r\n'],
      ['PUB without arguments', 'PUB\r\n'],
      ['SUB without arguments', 'SUB\r\n'],
      ['UNSUB without sid', 'UNSUB\r\n'],
      ['server op MSG sent by a client', 'MSG foo 1 0\r\n\r\n'],
      ['server op HMSG sent by a client', 'HMSG foo 1 0 0\r\n'],
      ['payload longer than announced (no CRLF after it)', 'PUB foo 2\r\nabc\r\n'],
      ['payload not followed by CRLF', 'PUB foo 0\r\n\n'],
    ] as const) {
      test(name, async () => {
        await closes(srv, Buffer.from(frame, 'latin1'), UNKNOWN);
      });
    }
    test('before CONNECT, too', async () => {
      const c = await connectRaw(srv.port);
      conns.push(c);
      await readInfo(c);
      c.send('FOO\r\n');
      await assertClosedAfter(c, UNKNOWN);
    });
  });

  describe("'Invalid Subject' on SUB (stays open)", () => {
    for (const subj of ['foo..bar', 'foo.>.bar', 'foo.>.>', '>.foo', '.foo', 'foo.']) {
      test(`SUB ${subj}`, async () => {
        await staysOpen(srv, `SUB ${subj} 1\r\n`, INVALID_SUBJECT);
      });
    }
    test('queue subscription with an invalid subject', async () => {
      await staysOpen(srv, 'SUB foo..bar q 1\r\n', INVALID_SUBJECT);
    });
    test('verbose: -ERR instead of +OK', async () => {
      await staysOpen(srv, 'SUB foo..bar 1\r\n', INVALID_SUBJECT, { verbose: true });
    });
    test('the rejected subscription does not exist (its sid can be reused)', async () => {
      const c = await hs(srv);
      c.send('SUB foo..bar 1\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n');
      await assertOpen(c, INVALID_SUBJECT + 'MSG foo 1 1\r\nx\r\n');
      c.close();
    });
    test('not errors: *, >, foo.*.bar, partial-token wildcards (fo*o is a literal), and `SUB foo bar` (sid "bar")', async () => {
      const c = await hs(srv);
      c.send('SUB * 1\r\nSUB > 2\r\nSUB foo.*.bar 3\r\nSUB fo*o 4\r\nSUB foo bar\r\nSUB foo q.* 5\r\n');
      await assertOpen(c);
      // Drop * and > and the queue sub; fo*o is only matched literally, and sid "bar" is a fine sid.
      c.send('UNSUB 1\r\nUNSUB 2\r\nUNSUB 5\r\nPUB fo*o 1\r\nx\r\nPUB foo 1\r\ny\r\nPUB foo.x.bar 1\r\nz\r\n');
      await assertOpen(c, 'MSG fo*o 4 1\r\nx\r\nMSG foo bar 1\r\ny\r\nMSG foo.x.bar 3 1\r\nz\r\n');
      c.close();
    });
  });

  describe("'Invalid Publish Subject' (pedantic only; stays open)", () => {
    for (const subj of ['foo.*', 'foo.>', '*', '>', 'foo..bar', 'foo.*.bar']) {
      test(`pedantic PUB ${subj}`, async () => {
        await staysOpen(srv, `PUB ${subj} 2\r\nab\r\n`, INVALID_PUB_SUBJECT, { pedantic: true });
      });
    }
    test('nats-server 2.9.10 still delivers the message after the -ERR', async () => {
      const c = await hs(srv, { pedantic: true });
      c.send('SUB foo.* 9\r\nPUB foo.* 1\r\nx\r\n');
      await assertOpen(c, INVALID_PUB_SUBJECT + 'MSG foo.* 9 1\r\nx\r\n');
      c.close();
    });
    test('verbose + pedantic: -ERR, then +OK (the PUB is still processed)', async () => {
      await staysOpen(srv, 'PUB foo.* 0\r\n\r\n', INVALID_PUB_SUBJECT + '+OK\r\n', { pedantic: true, verbose: true });
    });
    test('pedantic does not check the reply subject', async () => {
      await staysOpen(srv, 'PUB foo *.x 0\r\n\r\n', '', { pedantic: true });
    });
    test('without pedantic, wildcard publish subjects are accepted silently', async () => {
      await staysOpen(srv, 'PUB foo.* 2\r\nab\r\nPUB > 0\r\n\r\n', '');
    });
  });

  describe("'maximum control line exceeded' (max_control_line 256; closes)", () => {
    const long = 'a'.repeat(300);
    test('PUB with a 300-byte subject', async () => {
      await closes(lim, `PUB ${long} 1\r\n`, MAX_CONTROL_LINE);
    });
    test('SUB with a 300-byte subject', async () => {
      await closes(lim, `SUB ${long} 1\r\n`, MAX_CONTROL_LINE);
    });
    test('an over-long PUB line with no CRLF yet', async () => {
      await closes(lim, `PUB ${long}`, MAX_CONTROL_LINE);
    });
    test('a 200-byte control line is fine', async () => {
      const subj = 'b'.repeat(200);
      await staysOpen(lim, `SUB ${subj} 1\r\nPUB ${subj} 1\r\nx\r\n`, `MSG ${subj} 1 1\r\nx\r\n`);
    });
  });

  describe('CONNECT errors', () => {
    test("protocol 2 -> 'invalid client protocol', closes", async () => {
      const c = await connectRaw(srv.port);
      conns.push(c);
      await readInfo(c);
      c.send('CONNECT {"verbose":false,"protocol":2}\r\n');
      await assertClosedAfter(c, BAD_PROTOCOL);
    });
    test("protocol -1 -> 'invalid client protocol', closes", async () => {
      const c = await connectRaw(srv.port);
      conns.push(c);
      await readInfo(c);
      c.send('CONNECT {"verbose":false,"protocol":-1}\r\n');
      await assertClosedAfter(c, BAD_PROTOCOL);
    });
    test('protocol 0 and 1 are accepted', async () => {
      for (const p of [0, 1]) {
        const c = await hs(srv, { protocol: p });
        await assertOpen(c);
        c.close();
      }
    });
    test("no_responders without headers -> 'no responders requires headers support', closes", async () => {
      const c = await connectRaw(srv.port);
      conns.push(c);
      await readInfo(c);
      c.send('CONNECT {"verbose":false,"no_responders":true}\r\n');
      await assertClosedAfter(c, NO_RESPONDERS_NEEDS_HEADERS);
    });
    test("no_responders with headers:false -> same error, closes", async () => {
      const c = await connectRaw(srv.port);
      conns.push(c);
      await readInfo(c);
      c.send('CONNECT {"verbose":false,"headers":false,"no_responders":true}\r\n');
      await assertClosedAfter(c, NO_RESPONDERS_NEEDS_HEADERS);
    });
    for (const [name, frame] of [
      ['malformed JSON', 'CONNECT {bad json\r\n'],
      ['no JSON at all', 'CONNECT\r\n'],
      ['JSON array instead of object', 'CONNECT []\r\n'],
      ['wrongly typed field (verbose: "x")', 'CONNECT {"verbose":"x"}\r\n'],
    ] as const) {
      test(`${name}: closes without any -ERR`, async () => {
        const c = await connectRaw(srv.port);
        conns.push(c);
        await readInfo(c);
        c.send(frame);
        await assertClosedAfter(c, '');
      });
    }
    test('a second CONNECT is accepted (verbose by default -> +OK)', async () => {
      const c = await hs(srv);
      c.send('CONNECT {"verbose":true}\r\n');
      await c.expectExact('+OK\r\n');
      await assertOpen(c);
      c.close();
    });
  });

  describe('malformed arguments: the connection is closed WITHOUT an -ERR line', () => {
    for (const [name, frame, connect] of [
      ['PUB with too many args', 'PUB foo bar baz qux\r\n', {}],
      ['PUB with negative size', 'PUB foo -1\r\n', {}],
      ['PUB with no size', 'PUB foo\r\n', {}],
      ['PUB with a blank argument list', 'PUB \r\n', {}],
      ['PUB with non-numeric size', 'PUB foo x\r\n', {}],
      ['PUB with a +sign size', 'PUB foo +1\r\n', {}],
      ['PUB with a size with trailing junk', 'PUB foo 1x\r\n', {}],
      ['PUB with a size overflowing int64', 'PUB foo 99999999999999999999999\r\n', {}],
      ['HPUB with header size > total size', 'HPUB foo 5 3\r\n', { headers: true }],
      ['HPUB with only one size', 'HPUB foo 22\r\n', { headers: true }],
      ['HPUB with non-numeric header size', 'HPUB foo x 12\r\n', { headers: true }],
      ['HPUB with too many args', 'HPUB foo a b c d\r\n', { headers: true }],
      ['HPUB from a client that did not announce headers', 'HPUB foo 12 12\r\n', {}],
      ['SUB with no sid', 'SUB foo\r\n', {}],
      ['SUB with a blank argument list', 'SUB \r\n', {}],
      ['SUB with too many args', 'SUB foo bar baz qux\r\n', {}],
      ['UNSUB with a blank argument list', 'UNSUB \r\n', {}],
      ['UNSUB with too many args', 'UNSUB 1 2 3\r\n', {}],
      ['-ERR sent by a client', '-ERR x\r\n', {}],
    ] as const) {
      test(name, async () => {
        await closes(srv, frame, '', connect);
      });
    }
  });

  describe('tolerated oddities (stay open, nothing sent)', () => {
    for (const [name, frame] of [
      ['PUB size with leading zeros', 'PUB foo 00\r\n\r\n'],
      ['UNSUB of a non-numeric, unknown sid', 'UNSUB x\r\n'],
    ] as const) {
      test(name, async () => {
        await staysOpen(srv, frame, '');
      });
    }
  });
});
