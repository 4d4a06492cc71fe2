// The pure-Node WebSocket server transport (native-free/ws-server.ts, ws-frame.ts) on its own: a
// net.Server whose connections go through acceptWebSocket and echo ondata back with write, exercised by
// the `ws` package as a client and by raw sockets for frame-level cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import WebSocket from 'ws';
import { acceptWebSocket, acceptKey, WsHandshakeError, type WsConnection, type WsOptions } from '../../native-free/ws-server.js';
import { FrameParser, negotiateDeflate, unmask, type FrameSink } from '../../native-free/ws-frame.js';

const BASE: WsOptions = { compression: false, sameOrigin: false, allowedOrigins: [], handshakeTimeoutMs: 2000, maxPayload: 8 * 1024 * 1024 };

// ---------------------------------------------------------------- server harness

interface Harness {
  port: number;
  url: string;
  conns: WsConnection[];
  sockets: net.Socket[];
  rejections: WsHandshakeError[];
  closes: Array<{ code: number; reason: string }>;
  /** ondata calls, and the bytes they carried, over all connections. */
  frames: number;
  received: Buffer[];
  ev: EventEmitter;
  stop(): Promise<void>;
}

type OnConn = (ws: WsConnection, h: Harness) => void;

async function startServer(opts: Partial<WsOptions> = {}, onConn?: OnConn, path?: (p: string) => boolean): Promise<Harness> {
  const o: WsOptions = { ...BASE, ...opts };
  const h: Harness = {
    port: 0,
    url: '',
    conns: [],
    sockets: [],
    rejections: [],
    closes: [],
    frames: 0,
    received: [],
    ev: new EventEmitter(),
    stop: async () => {},
  };
  const server = net.createServer((sock) => {
    h.sockets.push(sock);
    acceptWebSocket(sock, o, path).then(
      (ws) => {
        h.conns.push(ws);
        ws.onclose = (code, reason) => {
          h.closes.push({ code, reason });
          h.ev.emit('close', code, reason);
        };
        ws.ondata = (d) => {
          h.frames++;
          h.received.push(Buffer.from(d));
          ws.write(d);
        };
        if (onConn) onConn(ws, h);
        h.ev.emit('conn', ws);
      },
      (err: unknown) => {
        assert.ok(err instanceof WsHandshakeError, String(err));
        h.rejections.push(err);
        h.ev.emit('reject', err);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  h.port = (server.address() as net.AddressInfo).port;
  h.url = `ws://127.0.0.1:${h.port}`;
  h.stop = async () => {
    for (const s of h.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return h;
}

const received = (h: Harness): Buffer => Buffer.concat(h.received);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- raw client side

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

interface FrameOpts {
  fin?: boolean;
  mask?: boolean;
  rsv?: number; // raw RSV bits (0x40 RSV1, 0x20 RSV2, 0x10 RSV3)
  key?: Buffer;
  len64?: boolean; // force the 64-bit length form
}

/** A client frame (masked unless told otherwise). */
function frame(op: number, payload: Buffer | string, o: FrameOpts = {}): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = o.mask ?? true;
  const b0 = ((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | op;
  let hdr: Buffer;
  if (p.length < 126 && !o.len64) hdr = Buffer.from([b0, p.length]);
  else if (p.length < 65536 && !o.len64) {
    hdr = Buffer.alloc(4);
    hdr[0] = b0;
    hdr[1] = 126;
    hdr.writeUInt16BE(p.length, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[0] = b0;
    hdr[1] = 127;
    hdr.writeBigUInt64BE(BigInt(p.length), 2);
  }
  if (!mask) return Buffer.concat([hdr, p]);
  hdr[1] = hdr[1]! | 0x80;
  const key = o.key ?? randomBytes(4);
  const body = Buffer.from(p);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!;
  return Buffer.concat([hdr, key, body]);
}

interface ServerFrame {
  fin: boolean;
  rsv: number;
  op: number;
  masked: boolean;
  payload: Buffer;
}

/** Parses server frames (unmasked) off a byte stream. */
class FrameReader {
  buf = Buffer.alloc(0);
  frames: ServerFrame[] = [];
  push(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      if (masked) off += 4;
      if (b.length < off + len) return;
      this.frames.push({ fin: (b[0]! & 0x80) !== 0, rsv: b[0]! & 0x70, op: b[0]! & 0x0f, masked, payload: Buffer.from(b.subarray(off, off + len)) });
      this.buf = b.subarray(off + len);
    }
  }
}

interface RawClient {
  sock: net.Socket;
  head: string;
  reader: FrameReader;
  closed: Promise<void>;
  isClosed(): boolean;
}

function upgradeRequest(port: number, headers: Record<string, string | null> = {}, method = 'GET', target = '/'): string {
  const all: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let r = `${method} ${target} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== null) r += `${k}: ${v}\r\n`;
  return `${r}\r\n`;
}

/** Sends `request` and collects everything until the server closes. */
async function httpExchange(port: number, request: string): Promise<{ status: number; text: string }> {
  const sock = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (d) => chunks.push(d));
  sock.on('error', () => {});
  await once(sock, 'connect');
  sock.write(request);
  const guard = setTimeout(() => sock.destroy(), 5000); // a test failing must not hang the run
  await once(sock, 'close');
  clearTimeout(guard);
  const text = Buffer.concat(chunks).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0), text };
}

/** Opens a raw WebSocket connection (handshake done by hand); `trailing` goes out right behind the request. */
async function rawConnect(port: number, headers: Record<string, string | null> = {}, trailing?: Buffer): Promise<RawClient> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  sock.on('error', () => {});
  let closed = false;
  const closedP = new Promise<void>((resolve) =>
    sock.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await once(sock, 'connect');
  sock.write(trailing ? Buffer.concat([Buffer.from(upgradeRequest(port, headers)), trailing]) : upgradeRequest(port, headers));
  const reader = new FrameReader();
  let head = '';
  let pending = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      if (head !== '') return reader.push(d);
      pending = Buffer.concat([pending, d]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      head = pending.toString('latin1', 0, end);
      reader.push(pending.subarray(end + 4));
      resolve();
    };
    sock.on('data', onData);
    sock.once('close', () => reject(new Error(`closed during handshake: ${pending.toString()}`)));
  });
  return { sock, head, reader, closed: closedP, isClosed: () => closed };
}

const closeCode = (f: ServerFrame): number => f.payload.readUInt16BE(0);

function wsOpen(url: string, opts?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, opts);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Collects what `ws` receives until `n` bytes have come (the server echoes in as many frames as it likes). */
function wsCollect(ws: WebSocket, n: number): Promise<{ bytes: Buffer; messages: number }> {
  const parts: Buffer[] = [];
  let got = 0;
  let messages = 0;
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData): void => {
      const b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      parts.push(b);
      got += b.length;
      messages++;
      if (got >= n) {
        ws.off('message', onMessage);
        resolve({ bytes: Buffer.concat(parts), messages });
      }
    };
    ws.on('message', onMessage);
  });
}

// ---------------------------------------------------------------- handshake

test('handshake: 101 with the RFC 6455 §1.3 accept key, connection details exposed', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port, { 'X-Forwarded-For': '10.1.2.3' });
    assert.match(c.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(c.head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(c.head, /\r\nConnection: Upgrade\r\n/i);
    assert.match(c.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/);
    assert.doesNotMatch(c.head, /Sec-WebSocket-Extensions/i);
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    await waitFor(() => h.conns.length === 1, 'connection');
    const ws = h.conns[0]!;
    assert.equal(ws.remoteAddress, '127.0.0.1');
    assert.equal(ws.remotePort, c.sock.localPort);
    assert.equal(ws.request.path, '/');
    assert.equal(ws.request.headers['x-forwarded-for'], '10.1.2.3');
    assert.equal(ws.compressed, false);
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

test('handshake: Connection and Upgrade are case-insensitive token lists; the path filter sees the path', async () => {
  const paths: string[] = [];
  const h = await startServer({}, undefined, (p) => {
    paths.push(p);
    return p === '/' || p === '/ws';
  });
  try {
    const c = await rawConnect(h.port, { Connection: 'keep-alive, UPGRADE', Upgrade: 'WebSocket' });
    assert.match(c.head, /^HTTP\/1\.1 101 /);
    c.sock.destroy();
    const r = await httpExchange(h.port, upgradeRequest(h.port, {}, 'GET', '/other?x=1'));
    assert.equal(r.status, 404);
    const ws = await wsOpen(`${h.url}/ws?jwt=1`);
    ws.close();
    assert.deepEqual(paths, ['/', '/other', '/ws']);
  } finally {
    await h.stop();
  }
});

test('handshake rejections answer like nats-server and reject the promise', async () => {
  const h = await startServer();
  try {
    const cases: Array<[string, string, number]> = [
      ['bad version', upgradeRequest(h.port, { 'Sec-WebSocket-Version': '12' }), 426],
      ['missing version', upgradeRequest(h.port, { 'Sec-WebSocket-Version': null }), 426],
      ['missing key', upgradeRequest(h.port, { 'Sec-WebSocket-Key': null }), 400],
      ['POST', upgradeRequest(h.port, {}, 'POST'), 405],
      ['no Upgrade', upgradeRequest(h.port, { Upgrade: null }), 400],
      ['Upgrade: h2c', upgradeRequest(h.port, { Upgrade: 'h2c' }), 400],
      ['no Connection upgrade', upgradeRequest(h.port, { Connection: 'keep-alive' }), 400],
      ['no Host', upgradeRequest(h.port, { Host: null }), 400],
      ['garbage', 'HELLO\r\n\r\n', 400],
      ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ];
    for (const [name, req, status] of cases) {
      const before = h.rejections.length;
      const r = await httpExchange(h.port, req);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.match(r.text, /\r\nSec-Websocket-Version: 13\r\n/i, name);
      const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
      assert.match(r.text, new RegExp(`\\r\\nContent-Length: ${body.length}\\r\\n`), name);
      await waitFor(() => h.rejections.length === before + 1, `rejection for ${name}`);
      assert.equal(h.rejections[before]!.status, status, name);
    }
    assert.equal(h.conns.length, 0);
    // The `ws` client sees the 426 too.
    const ws = new WebSocket(h.url, { protocolVersion: 8 });
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; headers: Record<string, string> }];
    assert.equal(res.statusCode, 426);
    assert.equal(res.headers['sec-websocket-version'], '13');
    ws.terminate();
  } finally {
    await h.stop();
  }
});

test('same_origin: cross-origin is 403, same origin and no Origin pass (default ports per scheme)', async () => {
  const h = await startServer({ sameOrigin: true });
  try {
    const status = async (headers: Record<string, string | null>): Promise<number> => {
      try {
        const c = await rawConnect(h.port, headers);
        c.sock.destroy();
        return Number(c.head.slice(9, 12));
      } catch (e) {
        return Number(/HTTP\/1\.1 (\d{3})/.exec(String(e))?.[1] ?? 0);
      }
    };
    assert.equal(await status({ Origin: `http://127.0.0.1:${h.port}` }), 101);
    assert.equal(await status({ Origin: `HTTP://127.0.0.1:${h.port}/some/page` }), 101);
    assert.equal(await status({}), 101);
    assert.equal(await status({ Origin: `http://evil.example:${h.port}` }), 403);
    assert.equal(await status({ Origin: 'http://127.0.0.1:1' }), 403);
    assert.equal(await status({ Origin: 'null' }), 403);
    assert.equal(await status({ Host: 'Example.COM', Origin: 'http://example.com' }), 101); // both default to 80
    assert.equal(await status({ Host: 'example.com', Origin: 'http://example.com:80' }), 101);
    assert.equal(await status({ Host: 'example.com', Origin: 'https://example.com' }), 403); // 443 vs 80
    assert.equal(await status({ Host: 'example.com', 'Sec-WebSocket-Origin': 'http://other.com' }), 403);
    // With the `ws` client's origin option.
    const bad = new WebSocket(h.url, { origin: 'http://evil.example' });
    bad.on('error', () => {});
    const [, res] = (await once(bad, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 403);
    bad.terminate();
    const good = await wsOpen(h.url, { origin: `http://127.0.0.1:${h.port}` });
    good.close();
    assert.ok(h.rejections.every((r) => r.status === 403));
  } finally {
    await h.stop();
  }
});

test('allowed_origins: Origin must match scheme, host and port of an entry', async () => {
  const h = await startServer({ allowedOrigins: ['http://good.example', 'https://secure.example:8443'] });
  try {
    const status = async (origin: string | null): Promise<number> => {
      const r = await httpExchange(h.port, upgradeRequest(h.port, { Origin: origin, Connection: 'Upgrade, close' }));
      return r.status;
    };
    // 101 answers leave the socket open: check those with the ws client instead.
    const opens = async (origin: string | undefined): Promise<boolean> => {
      const ws = new WebSocket(h.url, origin === undefined ? {} : { origin });
      ws.on('error', () => {});
      const r = await Promise.race([once(ws, 'open').then(() => true), once(ws, 'unexpected-response').then(() => false)]);
      ws.terminate();
      return r;
    };
    assert.equal(await opens('http://good.example'), true);
    assert.equal(await opens('http://GOOD.example:80'), true);
    assert.equal(await opens('https://secure.example:8443'), true);
    assert.equal(await opens(undefined), true);
    assert.equal(await status('https://good.example'), 403);
    assert.equal(await status('http://good.example:8080'), 403);
    assert.equal(await status('http://bad.example'), 403);
    assert.equal(await status('https://secure.example'), 403);
    assert.equal(await opens('http://bad.example'), false);
  } finally {
    await h.stop();
  }
});

test('handshake timeout closes a silent (or too slow) socket without an answer', async () => {
  const h = await startServer({ handshakeTimeoutMs: 150 });
  try {
    for (const partial of ['', 'GET / HTTP/1.1\r\nHost: x\r\n']) {
      const sock = net.connect(h.port, '127.0.0.1');
      const got: Buffer[] = [];
      sock.on('data', (d) => got.push(d));
      sock.on('error', () => {});
      await once(sock, 'connect');
      const t0 = Date.now();
      if (partial !== '') sock.write(partial);
      await once(sock, 'close');
      const took = Date.now() - t0;
      assert.ok(took >= 100 && took < 2000, `closed after ${took} ms`);
      assert.equal(Buffer.concat(got).length, 0);
    }
    await waitFor(() => h.rejections.length === 2, 'rejections');
    assert.ok(h.rejections.every((r) => r.status === 0 && /timeout/.test(r.message)));
  } finally {
    await h.stop();
  }
});

test('oversized request head is answered 431', async () => {
  const h = await startServer();
  try {
    const r = await httpExchange(h.port, upgradeRequest(h.port, { 'X-Big': 'x'.repeat(70 * 1024) }));
    assert.equal(r.status, 431);
  } finally {
    await h.stop();
  }
});

// ---------------------------------------------------------------- data

test('echo of text and binary messages through the ws client', async () => {
  const h = await startServer();
  try {
    const ws = await wsOpen(h.url);
    const p1 = wsCollect(ws, 11);
    ws.send('hello world');
    const r1 = await p1;
    assert.equal(r1.bytes.toString(), 'hello world');
    const bin = randomBytes(300);
    const p2 = wsCollect(ws, 300);
    ws.send(bin, { binary: true });
    assert.deepEqual((await p2).bytes, bin);
    const big = randomBytes(70_000); // 64-bit length form both ways
    const p3 = wsCollect(ws, big.length);
    ws.send(big);
    assert.deepEqual((await p3).bytes, big);
    // The server sends binary frames, never text.
    const kinds: boolean[] = [];
    ws.on('message', (_d, isBinary) => kinds.push(isBinary));
    const p4 = wsCollect(ws, 2);
    ws.send('ok');
    await p4;
    assert.deepEqual(kinds, [true]);
    ws.close();
  } finally {
    await h.stop();
  }
});

test('a 1 MB message arrives intact (in as many chunks as TCP made of it)', async () => {
  const h = await startServer();
  try {
    const ws = await wsOpen(h.url);
    const big = randomBytes(1024 * 1024);
    const p = wsCollect(ws, big.length);
    ws.send(big);
    const r = await p;
    assert.equal(r.bytes.length, big.length);
    assert.ok(r.bytes.equals(big));
    assert.ok(received(h).equals(big));
    assert.equal(h.frames, r.messages); // one echo frame per ondata chunk
    ws.close();
  } finally {
    await h.stop();
  }
});

test('a message fragmented into many continuation frames, with a ping in the middle', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port);
    const msg = randomBytes(200 * 50);
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      parts.push(frame(i === 0 ? OP.text : OP.cont, msg.subarray(i * 50, (i + 1) * 50), { fin: i === 199 }));
      if (i === 100) parts.push(frame(OP.ping, 'mid'));
    }
    parts.push(frame(OP.binary, 'after'));
    c.sock.write(Buffer.concat(parts));
    await waitFor(() => received(h).length === msg.length + 5, 'all bytes');
    assert.ok(received(h).equals(Buffer.concat([msg, Buffer.from('after')])));
    await waitFor(() => c.reader.frames.some((f) => f.op === OP.pong), 'pong');
    const pong = c.reader.frames.find((f) => f.op === OP.pong)!;
    assert.equal(pong.payload.toString(), 'mid');
    assert.ok(c.reader.frames.every((f) => !f.masked && f.rsv === 0));
    // Empty fragments and an empty message are fine too.
    c.sock.write(Buffer.concat([frame(OP.binary, '', { fin: false }), frame(OP.cont, 'x', { fin: false }), frame(OP.cont, ''), frame(OP.text, '')]));
    await waitFor(() => received(h).length === msg.length + 6, 'x');
    assert.equal(c.isClosed(), false);
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

test('frames split across TCP reads at every byte offset', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port);
    const server = await waitFor(() => h.sockets.length === 1, 'socket').then(() => h.sockets[0]!);
    // 1) every split point of a 16-bit-length frame, one frame per split point; the server must have
    //    read the first part before the second is sent, so each split is a real one.
    const payload = randomBytes(130);
    let expected = Buffer.alloc(0);
    for (let k = 1; k < 8 + payload.length; k++) {
      const f = frame(OP.binary, payload);
      const before = server.bytesRead;
      c.sock.write(f.subarray(0, k));
      await waitFor(() => server.bytesRead === before + k, `split ${k} first part`);
      c.sock.write(f.subarray(k));
      await waitFor(() => server.bytesRead === before + f.length, `split ${k} second part`);
      expected = Buffer.concat([expected, payload]);
    }
    await waitFor(() => received(h).length === expected.length, 'all bytes');
    assert.ok(received(h).equals(expected));
    // 2) a run of frames (7-bit, ping, 16-bit, 64-bit form) written one byte at a time.
    h.received.length = 0;
    const a = randomBytes(5);
    const b = randomBytes(300);
    const d = randomBytes(20);
    const stream = Buffer.concat([frame(OP.text, a), frame(OP.ping, 'pp'), frame(OP.binary, b, { fin: false }), frame(OP.cont, d, { len64: true })]);
    for (let i = 0; i < stream.length; i++) {
      const before = server.bytesRead;
      c.sock.write(stream.subarray(i, i + 1));
      await waitFor(() => server.bytesRead === before + 1, `byte ${i}`);
    }
    await waitFor(() => received(h).length === 325, 'byte-at-a-time bytes');
    assert.ok(received(h).equals(Buffer.concat([a, b, d])));
    await waitFor(() => c.reader.frames.some((f) => f.op === OP.pong), 'pong');
    assert.equal(c.isClosed(), false);
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

test('parser: every single and double split point of a mixed frame run gives the same result', () => {
  const deflated = zlib.deflateRawSync(Buffer.from('compressed! '.repeat(20)), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const cbody = deflated.subarray(0, deflated.length - 4);
  const pieces = [
    frame(OP.text, 'PUB a 2\r\nhi\r\n'),
    frame(OP.ping, 'ping!'),
    frame(OP.binary, randomBytes(200), { fin: false }),
    frame(OP.pong, ''),
    frame(OP.cont, randomBytes(3), { len64: true }),
    frame(OP.binary, cbody.subarray(0, 10), { rsv: 0x40, fin: false }),
    frame(OP.cont, cbody.subarray(10)),
    frame(OP.binary, randomBytes(1)),
  ];
  const stream = Buffer.concat(pieces);
  const run = (cuts: number[]): string => {
    const out: string[] = [];
    const sink: FrameSink = {
      data: (c) => out.push(`d:${c.toString('hex')}`),
      control: (op, p) => out.push(`c${op}:${p.toString('hex')}`),
      error: (code, r) => out.push(`e${code}:${r}`),
    };
    const p = new FrameParser(sink, { maxPayload: 1 << 20, compression: true, requireMask: true });
    const copy = Buffer.from(stream); // the parser unmasks in place
    let prev = 0;
    for (const c of [...cuts, copy.length]) {
      p.push(copy.subarray(prev, c));
      prev = c;
    }
    return out.join('|');
  };
  // Adjacent data chunks are one byte stream: join them before comparing.
  const norm = (s: string): string => {
    let prev = s;
    for (;;) {
      const next = prev.replace(/(d:[0-9a-f]*)\|d:/, '$1');
      if (next === prev) return next;
      prev = next;
    }
  };
  const want = norm(run([]));
  assert.ok(want.includes('c9:70696e6721')); // the ping, between data
  assert.ok(want.includes(Buffer.from('compressed! '.repeat(20)).toString('hex')));
  assert.ok(!want.includes('|e'));
  for (let i = 1; i < stream.length; i++) assert.equal(norm(run([i])), want, `split at ${i}`);
  for (let i = 1; i < 40; i++) for (let j = i + 1; j < stream.length; j += 3) assert.equal(norm(run([i, j])), want, `split at ${i},${j}`);
});

test('parser: a 64-bit-length frame split anywhere in its header and throughout its payload', () => {
  const payload = randomBytes(70_001);
  const f = frame(OP.binary, payload);
  for (const k of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 100, 4097, 65_536, 70_000, f.length - 1]) {
    const out: Buffer[] = [];
    const p = new FrameParser(
      { data: (c) => out.push(Buffer.from(c)), control: () => assert.fail('control'), error: (c, r) => assert.fail(`${c} ${r}`) },
      { maxPayload: 1 << 20, compression: false, requireMask: true },
    );
    const copy = Buffer.from(f);
    p.push(copy.subarray(0, k));
    p.push(copy.subarray(k));
    assert.ok(Buffer.concat(out).equals(payload), `split at ${k}`);
  }
});

test('unmask: word-at-a-time path equals the byte-wise XOR at any alignment and key position', () => {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const src = randomBytes(300);
  for (let start = 0; start < 8; start++) {
    for (let pos = 0; pos < 4; pos++) {
      const buf = Buffer.from(src);
      unmask(buf, start, 250 + start, key, pos);
      for (let i = 0; i < src.length; i++) {
        const want = i >= start && i < 250 + start ? src[i]! ^ key[(pos + i - start) & 3]! : src[i]!;
        assert.equal(buf[i], want, `start ${start} pos ${pos} at ${i}`);
      }
    }
  }
});

test('bytes sent right behind the upgrade request are not lost', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port, {}, Buffer.concat([frame(OP.text, 'CONNECT {}\r\n'), frame(OP.text, 'PING\r\n')]));
    await waitFor(() => received(h).toString() === 'CONNECT {}\r\nPING\r\n', 'early bytes');
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

// ---------------------------------------------------------------- control frames and closing

test('ping is answered with a pong carrying the same payload; pongs are ignored', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port);
    c.sock.write(Buffer.concat([frame(OP.pong, 'unsolicited'), frame(OP.ping, 'hello'), frame(OP.ping, '')]));
    await waitFor(() => c.reader.frames.length === 2, 'two pongs');
    assert.deepEqual(
      c.reader.frames.map((f) => [f.op, f.fin, f.payload.toString()]),
      [
        [OP.pong, true, 'hello'],
        [OP.pong, true, ''],
      ],
    );
    c.sock.destroy();
    const ws = await wsOpen(h.url);
    ws.ping(Buffer.from('abc'));
    const [data] = (await once(ws, 'pong')) as [Buffer];
    assert.equal(data.toString(), 'abc');
    ws.close();
  } finally {
    await h.stop();
  }
});

test('close handshake, client-initiated: the close is echoed and onclose reports it', async () => {
  const h = await startServer();
  try {
    const ws = await wsOpen(h.url);
    await waitFor(() => h.conns.length === 1, 'conn');
    const clientClosed = once(ws, 'close');
    ws.close(1000, 'bye');
    const [code, reason] = (await clientClosed) as [number, Buffer];
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'bye');
    await waitFor(() => h.closes.length === 1, 'server onclose');
    assert.deepEqual(h.closes[0], { code: 1000, reason: 'bye' });
    // An empty close frame: echoed empty, reported as 1005.
    const c = await rawConnect(h.port);
    c.sock.write(frame(OP.close, ''));
    await c.closed;
    assert.deepEqual(
      c.reader.frames.map((f) => [f.op, f.payload.length]),
      [[OP.close, 0]],
    );
    await waitFor(() => h.closes.length === 2, 'server onclose 2');
    assert.equal(h.closes[1]!.code, 1005);
  } finally {
    await h.stop();
  }
});

test('close handshake, server-initiated: close(code, reason), writes after it are dropped', async () => {
  const h = await startServer();
  try {
    const ws = await wsOpen(h.url);
    await waitFor(() => h.conns.length === 1, 'conn');
    const conn = h.conns[0]!;
    const clientClosed = once(ws, 'close');
    conn.close(4001, 'go away');
    assert.equal(conn.write(Buffer.from('late')), false);
    const [code, reason] = (await clientClosed) as [number, Buffer];
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'go away');
    await waitFor(() => h.closes.length === 1, 'server onclose');
    assert.deepEqual(h.closes[0], { code: 4001, reason: 'go away' });
    // destroy(): the client sees an abnormal close, onclose reports 1006.
    const ws2 = await wsOpen(h.url);
    await waitFor(() => h.conns.length === 2, 'conn 2');
    const closed2 = once(ws2, 'close');
    h.conns[1]!.destroy();
    const [code2] = (await closed2) as [number];
    assert.equal(code2, 1006);
    await waitFor(() => h.closes.length === 2, 'server onclose 2');
    assert.equal(h.closes[1]!.code, 1006);
  } finally {
    await h.stop();
  }
});

test('protocol errors close with 1002: unmasked, reserved bits, bad control frames, bad fragmentation', async () => {
  const h = await startServer();
  try {
    const cases: Array<[string, Buffer]> = [
      ['unmasked frame', frame(OP.text, 'PING\r\n', { mask: false })],
      ['RSV2', frame(OP.text, 'x', { rsv: 0x20 })],
      ['RSV1 without permessage-deflate', frame(OP.text, 'x', { rsv: 0x40 })],
      ['control frame over 125 bytes', frame(OP.ping, Buffer.alloc(126))],
      ['fragmented ping', frame(OP.ping, 'x', { fin: false })],
      ['continuation without a start', frame(OP.cont, 'x')],
      ['new message inside a fragmented one', Buffer.concat([frame(OP.text, 'a', { fin: false }), frame(OP.text, 'b')])],
      ['unknown opcode', frame(3, 'x')],
      ['close with a 1-byte payload', frame(OP.close, Buffer.from([3]))],
      ['close with code 1005', frame(OP.close, Buffer.from([0x03, 0xed]))],
    ];
    for (const [name, bytes] of cases) {
      const before = h.closes.length;
      const c = await rawConnect(h.port);
      c.sock.write(bytes);
      await c.closed;
      const closes = c.reader.frames.filter((f) => f.op === OP.close);
      assert.equal(closes.length, 1, name);
      assert.equal(closeCode(closes[0]!), 1002, name);
      await waitFor(() => h.closes.length === before + 1, `onclose for ${name}`);
      assert.equal(h.closes[before]!.code, 1002, name);
    }
    // Only what came before the bad frame was delivered.
    assert.equal(received(h).toString(), 'a');
  } finally {
    await h.stop();
  }
});

test('Nats-No-Masking: true lets a client send unmasked frames', async () => {
  const h = await startServer();
  try {
    const c = await rawConnect(h.port, { 'Nats-No-Masking': 'true' });
    assert.match(c.head, /\r\nNats-No-Masking: true(\r\n|$)/);
    c.sock.write(frame(OP.binary, 'PING\r\n', { mask: false }));
    await waitFor(() => received(h).toString() === 'PING\r\n', 'data');
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

test('a message over maxPayload closes with 1009 (single frame, fragments, 64-bit length)', async () => {
  const h = await startServer({ maxPayload: 1000 });
  try {
    const ws = await wsOpen(h.url);
    const p = wsCollect(ws, 1000);
    ws.send(Buffer.alloc(1000, 1)); // exactly the limit: fine
    await p;
    const closed = once(ws, 'close');
    ws.send(Buffer.alloc(1001, 2));
    const [code] = (await closed) as [number];
    assert.equal(code, 1009);
    await waitFor(() => h.closes.length === 1, 'onclose');
    assert.equal(h.closes[0]!.code, 1009);
    for (const bytes of [
      Buffer.concat([frame(OP.binary, Buffer.alloc(600), { fin: false }), frame(OP.cont, Buffer.alloc(600))]),
      frame(OP.binary, Buffer.alloc(2000), { len64: true }).subarray(0, 20), // refused on its header alone
    ]) {
      const c = await rawConnect(h.port);
      c.sock.write(bytes);
      await c.closed;
      assert.equal(closeCode(c.reader.frames.find((f) => f.op === OP.close)!), 1009);
    }
    assert.equal(received(h).length, 1000 + 600);
  } finally {
    await h.stop();
  }
});

// ---------------------------------------------------------------- permessage-deflate

test('permessage-deflate with ws: negotiated, 100 KB round-trips, fewer bytes on the wire', async () => {
  const h = await startServer({ compression: true });
  try {
    const ws = await wsOpen(h.url, { perMessageDeflate: true });
    assert.equal(ws.extensions, 'permessage-deflate'); // ws lists names only; the parameters are checked raw below
    await waitFor(() => h.conns.length === 1, 'conn');
    assert.equal(h.conns[0]!.compressed, true);
    const line = 'MSG some.subject 1 42\r\n{"hello":"world","n":12345,"ok":true,"x":1}\r\n';
    const data = Buffer.from(line.repeat(Math.ceil(100_000 / line.length)).slice(0, 100_000));
    const sock = h.sockets[0]!;
    const read0 = sock.bytesRead;
    const written0 = sock.bytesWritten;
    const p = wsCollect(ws, data.length);
    ws.send(data);
    const r = await p;
    assert.ok(r.bytes.equals(data));
    assert.equal(r.messages, 1); // inflated whole, echoed as one compressed frame
    assert.equal(h.frames, 1);
    const inBytes = sock.bytesRead - read0;
    const outBytes = sock.bytesWritten - written0;
    assert.ok(inBytes < data.length / 10, `read ${inBytes} bytes`);
    assert.ok(outBytes < data.length / 10, `wrote ${outBytes} bytes`);
    // Small messages go uncompressed (under nats-server's 64-byte threshold) and still round-trip.
    const p2 = wsCollect(ws, 4);
    ws.send('PONG');
    assert.equal((await p2).bytes.toString(), 'PONG');
    // Several messages in a row, each a fresh deflate stream (no context takeover either way).
    const p3 = wsCollect(ws, 3 * data.length);
    ws.send(data);
    ws.send(data);
    ws.send(data);
    assert.ok((await p3).bytes.equals(Buffer.concat([data, data, data])));
    ws.close();
  } finally {
    await h.stop();
  }
});

test('permessage-deflate: off unless enabled; inflated size is held to maxPayload; corrupt data is 1007', async () => {
  const off = await startServer({ compression: false });
  try {
    const ws = await wsOpen(off.url, { perMessageDeflate: true });
    assert.equal(ws.extensions, '');
    ws.close();
  } finally {
    await off.stop();
  }
  const h = await startServer({ compression: true, maxPayload: 10_000 });
  try {
    const ws = await wsOpen(h.url, { perMessageDeflate: { threshold: 0 } });
    const closed = once(ws, 'close');
    ws.send(Buffer.alloc(20_000)); // compresses to a few dozen bytes
    const [code] = (await closed) as [number];
    assert.equal(code, 1009);
    const c = await rawConnect(h.port, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
    assert.match(c.head, /Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover/);
    c.sock.write(frame(OP.binary, Buffer.from([0xff, 0xff, 0xff, 0xff]), { rsv: 0x40 }));
    await c.closed;
    assert.equal(closeCode(c.reader.frames.find((f) => f.op === OP.close)!), 1007);
  } finally {
    await h.stop();
  }
});

test('negotiateDeflate: accepts valid offers, honours server_max_window_bits, declines unknown params', () => {
  assert.equal(negotiateDeflate(undefined), null);
  assert.equal(negotiateDeflate('x-webkit-deflate-frame'), null);
  const base = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
  assert.deepEqual(negotiateDeflate('permessage-deflate'), { serverWindowBits: 15, response: base });
  assert.deepEqual(negotiateDeflate('permessage-deflate; client_max_window_bits'), { serverWindowBits: 15, response: base });
  assert.deepEqual(negotiateDeflate('permessage-deflate; server_max_window_bits=10'), { serverWindowBits: 10, response: `${base}; server_max_window_bits=10` });
  assert.equal(negotiateDeflate('permessage-deflate; server_max_window_bits=8'), null);
  assert.equal(negotiateDeflate('permessage-deflate; foo=1'), null);
  assert.deepEqual(negotiateDeflate('permessage-deflate; foo, permessage-deflate'), { serverWindowBits: 15, response: base });
});

// ---------------------------------------------------------------- writev, pause/resume

test('writev sends its buffers as one frame (small, large, and compressed)', async () => {
  const h = await startServer({}, (ws) => {
    ws.ondata = (d) => {
      if (d.toString() === 'small') ws.writev([Buffer.from('INFO '), Buffer.from('{"a":1}'), Buffer.alloc(0), Buffer.from('\r\n')]);
      else ws.writev([randomBytes(10_000).fill(7), Buffer.alloc(20_000, 8), Buffer.alloc(30_000, 9)]);
    };
  });
  try {
    const c = await rawConnect(h.port);
    c.sock.write(frame(OP.text, 'small'));
    await waitFor(() => c.reader.frames.length === 1, 'frame');
    assert.equal(c.reader.frames[0]!.payload.toString(), 'INFO {"a":1}\r\n');
    assert.equal(c.reader.frames[0]!.op, OP.binary);
    assert.equal(c.reader.frames[0]!.fin, true);
    c.sock.write(frame(OP.text, 'large'));
    await waitFor(() => c.reader.frames.length === 2, 'frame 2');
    assert.equal(c.reader.frames[1]!.payload.length, 60_000);
    assert.ok(c.reader.frames[1]!.payload.equals(Buffer.concat([Buffer.alloc(10_000, 7), Buffer.alloc(20_000, 8), Buffer.alloc(30_000, 9)])));
    c.sock.destroy();
  } finally {
    await h.stop();
  }
  const hz = await startServer({ compression: true }, (ws) => {
    ws.ondata = () => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 50; i++) parts.push(Buffer.from(`MSG foo ${i} 5\r\nhello\r\n`));
      ws.writev(parts);
    };
  });
  try {
    const ws = await wsOpen(hz.url, { perMessageDeflate: true });
    const msgs: Buffer[] = [];
    ws.on('message', (d: Buffer) => msgs.push(d));
    ws.send('go');
    await waitFor(() => msgs.length === 1, 'message');
    await sleep(30);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.toString().split('\r\n').length, 101);
    ws.close();
  } finally {
    await hz.stop();
  }
});

test('pause() stops ondata at once (even mid-chunk), resume() restarts it', async () => {
  const h = await startServer({}, (ws, hh) => {
    ws.ondata = (d) => {
      hh.received.push(Buffer.from(d));
      if (d.toString() === 'a' || d.toString() === 'c') ws.pause();
    };
  });
  try {
    const c = await rawConnect(h.port);
    c.sock.write(Buffer.concat([frame(OP.text, 'a'), frame(OP.text, 'b'), frame(OP.ping, 'p'), frame(OP.text, 'c'), frame(OP.text, 'd')]));
    await waitFor(() => h.received.length === 1, 'a');
    await sleep(100);
    assert.deepEqual(h.received.map(String), ['a']);
    assert.equal(c.reader.frames.length, 0); // the ping waits behind the pause too
    c.sock.write(frame(OP.text, 'e'));
    await sleep(50);
    assert.deepEqual(h.received.map(String), ['a']);
    const conn = h.conns[0]!;
    conn.resume();
    await waitFor(() => h.received.length === 3, 'b, c');
    await sleep(50);
    assert.deepEqual(h.received.map(String), ['a', 'b', 'c']);
    assert.equal(c.reader.frames.length, 1);
    conn.resume();
    await waitFor(() => h.received.length === 5, 'd, e');
    assert.deepEqual(h.received.map(String), ['a', 'b', 'c', 'd', 'e']);
    // Paused before any data: nothing comes until resume.
    conn.pause();
    c.sock.write(frame(OP.text, 'f'));
    await sleep(50);
    assert.equal(h.received.length, 5);
    conn.resume();
    await waitFor(() => h.received.length === 6, 'f');
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});

test('writableLength reflects bytes queued in the socket', async () => {
  const h = await startServer({}, (ws) => {
    ws.ondata = () => {};
  });
  try {
    const c = await rawConnect(h.port);
    c.sock.pause(); // stop reading so the server's socket backs up
    await waitFor(() => h.conns.length === 1, 'conn');
    const conn = h.conns[0]!;
    assert.equal(conn.writableLength, 0);
    let ok = true;
    for (let i = 0; i < 400 && conn.writableLength === 0; i++) ok = conn.write(Buffer.alloc(256 * 1024));
    assert.equal(ok, false); // the kernel's buffers are full: the rest waits in the socket
    assert.ok(conn.writableLength > 0);
    c.sock.destroy();
  } finally {
    await h.stop();
  }
});
