// The route-protocol parser on its own: every op nats-server sends on a route, split at every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteParser, type RouteParserHandler } from '../../src/cluster/route-parser.js';

interface Msg {
  op: string;
  acc?: string;
  subject?: string;
  reply?: string | null;
  queues?: string;
  origin?: string | null;
  hdr?: number;
  payload?: string;
  line?: string;
}

function collector(): { h: RouteParserHandler; got: Msg[]; errors: string[] } {
  const got: Msg[] = [];
  const errors: string[] = [];
  const h: RouteParserHandler = {
    stopped: false,
    processInfo: (b, s, e) => void got.push({ op: 'INFO', line: b.toString('latin1', s, e) }),
    processConnect: (b, s, e) => void got.push({ op: 'CONNECT', line: b.toString('latin1', s, e) }),
    processPing: () => void got.push({ op: 'PING' }),
    processPong: () => void got.push({ op: 'PONG' }),
    processErr: (b, s, e) => void got.push({ op: 'ERR', line: b.toString('latin1', s, e) }),
    processRemoteSub: (b, s, e, origin) => void got.push({ op: origin ? 'LS+' : 'RS+', line: b.toString('latin1', s, e) }),
    processRemoteUnsub: (b, s, e) => void got.push({ op: 'RS-', line: b.toString('latin1', s, e) }),
    processRoutedMsg: (p, b, s, e) =>
      void got.push({
        op: 'MSG',
        acc: p.paBuf.toString('latin1', p.paAccStart, p.paAccEnd),
        subject: p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd),
        reply: p.paReplyStart >= 0 ? p.paBuf.toString('latin1', p.paReplyStart, p.paReplyEnd) : null,
        queues: p.paBuf.toString('latin1', p.paQueuesStart, p.paQueuesEnd),
        origin: p.paOriginStart >= 0 ? p.paBuf.toString('latin1', p.paOriginStart, p.paOriginEnd) : null,
        hdr: p.paHdr,
        payload: b.toString('latin1', s, e),
      }),
    parseError: (what) => void errors.push(what),
  };
  return { h, got, errors };
}

const STREAM =
  'INFO {"server_id":"N1","cluster":"c"}\r\n' +
  'CONNECT {"name":"N1"}\r\n' +
  'PING\r\nPONG\r\n+OK\r\n' +
  'RS+ $G foo.>\r\n' +
  'RS+ $G q grp 3\r\n' +
  'LS+ hub $G bar\r\n' +
  'RS- $G foo.>\r\n' +
  'LS-  $G bar\r\n' +
  'A+ $G\r\n' +
  'RMSG $G foo.1 5\r\nhello\r\n' +
  'RMSG $G foo.2 _INBOX.x 2\r\nhi\r\n' +
  'RMSG $G q + _INBOX.y grp other 3\r\nabc\r\n' +
  'RMSG $G q | grp 0\r\n\r\n' +
  'HMSG $G h.1 + r g1 12 14\r\nNATS/1.0\r\n\r\nok\r\n' +
  'HMSG ACC h.2 12 12\r\nNATS/1.0\r\n\r\n\r\n' +
  'LMSG hub $G l.1 r 0 3\r\nxyz\r\n' +
  "-ERR 'Authorization Violation'\r\n";

function expected(): Msg[] {
  return [
    { op: 'INFO', line: '{"server_id":"N1","cluster":"c"}' },
    { op: 'CONNECT', line: '{"name":"N1"}' },
    { op: 'PING' },
    { op: 'PONG' },
    { op: 'RS+', line: '$G foo.>' },
    { op: 'RS+', line: '$G q grp 3' },
    { op: 'LS+', line: 'hub $G bar' },
    { op: 'RS-', line: '$G foo.>' },
    { op: 'RS-', line: '$G bar' },
    { op: 'MSG', acc: '$G', subject: 'foo.1', reply: null, queues: '', origin: null, hdr: -1, payload: 'hello' },
    { op: 'MSG', acc: '$G', subject: 'foo.2', reply: '_INBOX.x', queues: '', origin: null, hdr: -1, payload: 'hi' },
    { op: 'MSG', acc: '$G', subject: 'q', reply: '_INBOX.y', queues: 'grp other', origin: null, hdr: -1, payload: 'abc' },
    { op: 'MSG', acc: '$G', subject: 'q', reply: null, queues: 'grp', origin: null, hdr: -1, payload: '' },
    { op: 'MSG', acc: '$G', subject: 'h.1', reply: 'r', queues: 'g1', origin: null, hdr: 12, payload: 'NATS/1.0\r\n\r\nok' },
    { op: 'MSG', acc: 'ACC', subject: 'h.2', reply: null, queues: '', origin: null, hdr: 12, payload: 'NATS/1.0\r\n\r\n' },
    { op: 'MSG', acc: '$G', subject: 'l.1', reply: 'r', queues: '', origin: 'hub', hdr: 0, payload: 'xyz' },
    { op: 'ERR', line: "'Authorization Violation'" },
  ];
}

test('every route op in one read', () => {
  const { h, got, errors } = collector();
  const p = new RouteParser(h);
  assert.equal(p.parse(Buffer.from(STREAM, 'latin1')), STREAM.length);
  assert.deepEqual(errors, []);
  assert.deepEqual(got, expected());
});

test('the same stream split at every byte, and in random chunks', () => {
  const buf = Buffer.from(STREAM, 'latin1');
  for (let cut = 1; cut < buf.length; cut++) {
    const { h, got, errors } = collector();
    const p = new RouteParser(h);
    // The caller reuses its read buffer: parse copies, then scribble over them.
    const a = Buffer.from(buf.subarray(0, cut));
    const b = Buffer.from(buf.subarray(cut));
    p.parse(a);
    a.fill(0x58);
    p.parse(b);
    assert.deepEqual(errors, [], `cut at ${cut}`);
    assert.deepEqual(got, expected(), `cut at ${cut}`);
  }
  for (let round = 0; round < 50; round++) {
    const { h, got } = collector();
    const p = new RouteParser(h);
    let i = 0;
    while (i < buf.length) {
      const n = 1 + Math.floor(Math.random() * 7);
      const chunk = Buffer.from(buf.subarray(i, i + n));
      p.parse(chunk);
      chunk.fill(0);
      i += n;
    }
    assert.deepEqual(got, expected());
  }
});

test('bad input: unknown ops, bad sizes, bad reply indicators, missing CRLF', () => {
  for (const bad of ['PUB foo 1\r\nx\r\n', 'RMSG $G foo x\r\n', 'RMSG $G foo * a b 1\r\nx\r\n', 'HMSG $G foo 5 3\r\nabc\r\n', 'RMSG $G foo 3\r\nabcde', 'RMSG\r\n', 'XYZZYXYZZY\r\n']) {
    const { h, errors } = collector();
    const p = new RouteParser(h);
    p.parse(Buffer.from(bad, 'latin1'));
    assert.equal(errors.length, 1, bad);
    assert.equal(h.stopped, true, bad);
  }
});
