// Parser tests in the manner of nats-server's split_test.go: every frame split at every byte offset
// parses to the same events as the unsplit frame; long random streams split at random points too.
// Each piece is handed over in a buffer that is overwritten right after parse(), as the shard's
// shared read buffer is, so a parser that kept a reference to an old read would fail here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientParser, ParseError, type ParseErrorCode, type ParserHandler } from '../../src/protocol/parser.js';

class Recorder implements ParserHandler {
  stopped = false;
  events: string[] = [];
  parser: ClientParser;
  constructor() {
    this.parser = new ClientParser(this);
  }
  processConnect(buf: Buffer, s: number, e: number): void {
    this.events.push(`CONNECT ${buf.toString('latin1', s, e)}`);
  }
  processPing(): void {
    this.events.push('PING');
  }
  processPong(): void {
    this.events.push('PONG');
  }
  processSub(buf: Buffer, s: number, e: number): void {
    this.events.push(`SUB ${buf.toString('latin1', s, e)}`);
  }
  processUnsub(buf: Buffer, s: number, e: number): void {
    this.events.push(`UNSUB ${buf.toString('latin1', s, e)}`);
  }
  processPubArgs(): boolean {
    return true;
  }
  processMsg(p: ClientParser, buf: Buffer, s: number, e: number): void {
    const subj = p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd);
    const reply = p.paReplyStart >= 0 ? p.paBuf.toString('latin1', p.paReplyStart, p.paReplyEnd) : '-';
    this.events.push(`MSG ${subj} ${reply} ${p.paHdr} ${p.paSize} ${buf.toString('latin1', s, e)}`);
  }
  parseError(code: ParseErrorCode): void {
    this.events.push(`ERR ${code}`);
  }
}

/** Feeds `data` cut at the given offsets, each piece in a scratch buffer scribbled over afterwards. */
function feed(data: Buffer, cuts: number[]): string[] {
  const r = new Recorder();
  const scratch = Buffer.alloc(data.length + 16);
  let prev = 0;
  for (const cut of [...cuts, data.length]) {
    if (cut <= prev && cut !== data.length) continue;
    const piece = scratch.subarray(0, cut - prev);
    data.copy(piece, 0, prev, cut);
    r.parser.parse(piece);
    piece.fill(0x58); // 'X': any stale reference now reads garbage
    prev = cut;
    if (r.stopped) break;
  }
  return r.events;
}

const FRAMES: Record<string, string> = {
  pub: 'PUB foo.bar 5\r\nhello\r\n',
  pubReply: 'PUB foo.bar INBOX.22 11\r\nhello world\r\n',
  pubEmpty: 'PUB foo 0\r\n\r\n',
  pubTabs: 'pub\tfoo  \t bar   3\r\nabc\r\n',
  pubPayloadWithCrlf: 'PUB foo 6\r\na\r\nb\r\n\r\n',
  hpub: 'HPUB foo.bar 12 17\r\nNATS/1.0\r\n\r\nhello\r\n',
  hpubReply: 'HPUB foo.bar reply.x 18 23\r\nNATS/1.0\r\nA: B\r\n\r\nhello\r\n',
  sub: 'SUB foo.* 1\r\n',
  subQueue: 'SUB foo.> workers 22\r\n',
  unsub: 'UNSUB 1\r\n',
  unsubMax: 'UNSUB 1 5\r\n',
  ping: 'PING\r\n',
  pong: 'PONG\r\n',
  pingLower: 'ping\r\n',
  connect: 'CONNECT {"verbose":false,"pedantic":false,"name":"x y"}\r\n',
  info: 'INFO {"a":1}\r\n',
  ok: '+OK\r\n',
  lfOnly: 'PUB foo 2\nhi\r\nPING\n',
};

test('every frame type parses whole to the expected events', () => {
  assert.deepEqual(feed(Buffer.from(FRAMES['pub']!), []), ['MSG foo.bar - -1 5 hello']);
  assert.deepEqual(feed(Buffer.from(FRAMES['pubReply']!), []), ['MSG foo.bar INBOX.22 -1 11 hello world']);
  assert.deepEqual(feed(Buffer.from(FRAMES['pubEmpty']!), []), ['MSG foo - -1 0 ']);
  assert.deepEqual(feed(Buffer.from(FRAMES['pubTabs']!), []), ['MSG foo bar -1 3 abc']);
  assert.deepEqual(feed(Buffer.from(FRAMES['pubPayloadWithCrlf']!), []), ['MSG foo - -1 6 a\r\nb\r\n']);
  assert.deepEqual(feed(Buffer.from(FRAMES['hpub']!), []), ['MSG foo.bar - 12 17 NATS/1.0\r\n\r\nhello']);
  assert.deepEqual(feed(Buffer.from(FRAMES['hpubReply']!), []), ['MSG foo.bar reply.x 18 23 NATS/1.0\r\nA: B\r\n\r\nhello']);
  assert.deepEqual(feed(Buffer.from(FRAMES['sub']!), []), ['SUB foo.* 1']);
  assert.deepEqual(feed(Buffer.from(FRAMES['subQueue']!), []), ['SUB foo.> workers 22']);
  assert.deepEqual(feed(Buffer.from(FRAMES['unsubMax']!), []), ['UNSUB 1 5']);
  assert.deepEqual(feed(Buffer.from(FRAMES['ping']! + FRAMES['pong']! + FRAMES['pingLower']!), []), ['PING', 'PONG', 'PING']);
  assert.deepEqual(feed(Buffer.from(FRAMES['connect']!), []), ['CONNECT {"verbose":false,"pedantic":false,"name":"x y"}']);
  assert.deepEqual(feed(Buffer.from(FRAMES['info']! + FRAMES['ok']!), []), []);
  // A client's -ERR closes it (client.go processErr).
  assert.deepEqual(feed(Buffer.from("-ERR 'something'\r\nPING\r\n"), []), [`ERR ${ParseError.CLIENT_ERR}`]);
  assert.deepEqual(feed(Buffer.from(FRAMES['lfOnly']!), []), ['MSG foo - -1 2 hi', 'PING']);
});

test('every frame type split at every byte offset gives the same events', () => {
  for (const [name, frame] of Object.entries(FRAMES)) {
    const data = Buffer.from(frame);
    const whole = feed(data, []);
    for (let cut = 1; cut < data.length; cut++) {
      assert.deepEqual(feed(data, [cut]), whole, `${name} split at ${cut}`);
    }
    // And every pair of cuts for the message frames (three pieces).
    if (name.startsWith('pub') || name.startsWith('hpub')) {
      for (let a = 1; a < data.length; a++) {
        for (let b = a + 1; b < data.length; b++) assert.deepEqual(feed(data, [a, b]), whole, `${name} split at ${a},${b}`);
      }
    }
  }
});

test('byte-at-a-time feeding of all frames in a row', () => {
  const data = Buffer.from(Object.values(FRAMES).join(''));
  const whole = feed(data, []);
  const cuts = Array.from({ length: data.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(feed(data, cuts), whole);
  assert.equal(whole.length, 17);
});

/** Deterministic PRNG (mulberry32) so a failure can be reproduced from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('long random streams split at random points parse identically', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rand = rng(seed);
    const parts: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const kind = Math.floor(rand() * 5);
      const size = Math.floor(rand() * 300);
      let payload = '';
      for (let k = 0; k < size; k++) payload += String.fromCharCode(33 + ((k * 7 + i) % 90));
      if (kind === 0) {
        parts.push(`PUB s.${i} ${size}\r\n${payload}\r\n`);
        expected.push(`MSG s.${i} - -1 ${size} ${payload}`);
      } else if (kind === 1) {
        parts.push(`PUB s.${i} r.${i} ${size}\r\n${payload}\r\n`);
        expected.push(`MSG s.${i} r.${i} -1 ${size} ${payload}`);
      } else if (kind === 2) {
        const hdr = `NATS/1.0\r\nK: ${i}\r\n\r\n`;
        parts.push(`HPUB s.${i} ${hdr.length} ${hdr.length + size}\r\n${hdr}${payload}\r\n`);
        expected.push(`MSG s.${i} - ${hdr.length} ${hdr.length + size} ${hdr}${payload}`);
      } else if (kind === 3) {
        parts.push(`SUB s.${i}.* ${i}\r\n`);
        expected.push(`SUB s.${i}.* ${i}`);
      } else {
        parts.push('PING\r\n');
        expected.push('PING');
      }
    }
    const data = Buffer.from(parts.join(''), 'latin1');
    const cuts: number[] = [];
    let at = 0;
    while (true) {
      at += 1 + Math.floor(rand() * 700);
      if (at >= data.length) break;
      cuts.push(at);
    }
    assert.deepEqual(feed(data, cuts), expected, `seed ${seed}`);
  }
});

test('errors: unknown op, bad PUB args, missing CRLF after payload, control line too long', () => {
  assert.deepEqual(feed(Buffer.from('FOO bar\r\n'), []), [`ERR ${ParseError.UNKNOWN_OP}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo bar baz 5\r\nhello\r\n'), []), [`ERR ${ParseError.PUB_ARGS}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo -1\r\n'), []), [`ERR ${ParseError.PUB_ARGS}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo\r\n'), []), [`ERR ${ParseError.PUB_ARGS}`]);
  assert.deepEqual(feed(Buffer.from('HPUB foo 10 5\r\n'), []), [`ERR ${ParseError.PUB_ARGS}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo 3\r\nhelloPING\r\n'), []), [`ERR ${ParseError.UNKNOWN_OP}`]);
  // A wrong byte where CRLF must follow the payload fails at once, even before the frame is complete.
  assert.deepEqual(feed(Buffer.from('PUB foo 0\r\n\n'), []), [`ERR ${ParseError.UNKNOWN_OP}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo 2\r\nhix'), []), [`ERR ${ParseError.UNKNOWN_OP}`]);
  assert.deepEqual(feed(Buffer.from('PUB foo 2\r\nhix'), [12]), [`ERR ${ParseError.UNKNOWN_OP}`]);
  for (let cut = 1; cut < 20; cut++) {
    assert.deepEqual(feed(Buffer.from('PUB foo 3\r\nhelloPING\r\n'), [cut]), [`ERR ${ParseError.UNKNOWN_OP}`], `cut ${cut}`);
  }
  const long = Buffer.from(`SUB ${'a'.repeat(5000)} 1\r\n`);
  assert.deepEqual(feed(long, []), [`ERR ${ParseError.CONTROL_LINE}`]);
  assert.deepEqual(feed(long, [100, 2000, 4000]), [`ERR ${ParseError.CONTROL_LINE}`]);
  // Parsing stops at the first error: nothing after it is reported.
  assert.deepEqual(feed(Buffer.from('PING\r\nXX\r\nPING\r\n'), []), ['PING', `ERR ${ParseError.UNKNOWN_OP}`]);
});

test('requireConnect: anything but CONNECT first is an auth error', () => {
  const r = new Recorder();
  r.parser.requireConnect = true;
  r.parser.parse(Buffer.from('PING\r\n'));
  assert.deepEqual(r.events, [`ERR ${ParseError.AUTH}`]);
});

test('a large payload split into many reads arrives whole; an announced payload costs what was sent', () => {
  const payload = Buffer.alloc(1_000_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const frame = Buffer.concat([Buffer.from(`PUB big ${payload.length}\r\n`), payload, Buffer.from('\r\nPING\r\n')]);
  const cuts: number[] = [];
  for (let c = 777; c < frame.length; c += 1500 + (c % 3000)) cuts.push(c);
  const events = feed(frame, cuts);
  assert.equal(events.length, 2);
  assert.equal(events[0], `MSG big - -1 ${payload.length} ${payload.toString('latin1')}`);
  assert.equal(events[1], 'PING');
  // Announced 1,000,000 bytes, sent 4 KB: the scratch holds about that, not a megabyte.
  const r = new Recorder();
  r.parser.parse(Buffer.concat([Buffer.from('PUB big 1000000\r\n'), Buffer.alloc(4096, 0x61)]));
  assert.ok(r.parser.msgBuf !== null && r.parser.msgBuf.length <= 64 * 1024, `scratch ${r.parser.msgBuf?.length}`);
  r.parser.parse(Buffer.alloc(200_000, 0x61));
  assert.ok(r.parser.msgBuf!.length < 1_000_002 && r.parser.msgBuf!.length >= 204_096);
});
