// Limits from the config file: max_connections (server-wide, across shards), max_subscriptions,
// and write_deadline (a client that stops reading is dropped as a slow consumer and counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { connectHandshake, connectRaw } from '../helpers/wire.js';

function conf(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'tsnats-limits-')), 'nats.conf');
  writeFileSync(f, text);
  return f;
}

test('max_connections counts every shard: the one over gets the -ERR and is closed', { skip: usingNatsServer }, async () => {
  const server = await startServer({ shards: 3, args: ['-c', conf('max_connections: 2\n')] });
  try {
    const a = await connectHandshake(server.port);
    const b = await connectHandshake(server.port);
    await new Promise((r) => setTimeout(r, 100)); // shards report their load to the main thread
    const c = await connectRaw(server.port);
    await c.expect(/^INFO .*\r\n/);
    await c.expect(/^-ERR 'maximum connections exceeded'\r\n/);
    await c.closed;
    a.send('PING\r\n');
    await a.expect(/^PONG\r\n/);
    a.close();
    b.close();
  } finally {
    await server.stop();
  }
});

test('max_subscriptions: the one over is refused, the connection stays', async () => {
  const server = await startServer({ args: ['-c', conf('max_subscriptions: 2\n')] });
  try {
    const c = await connectHandshake(server.port);
    c.send('SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n');
    await c.expect(/^-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n/);
    c.close();
  } finally {
    await server.stop();
  }
});

test('write_deadline: a subscriber that stops reading is closed as a slow consumer', { skip: usingNatsServer, timeout: 30_000 }, async () => {
  const server = await startServer({ shards: 1, args: ['-c', conf('write_deadline: "500ms"\nmax_pending: 512MB\nhttp: "127.0.0.1:-1"\n')] });
  try {
    const sub = await connectHandshake(server.port);
    sub.send('SUB sc.x 1\r\nPING\r\n');
    await sub.expect(/^PONG\r\n/);
    sub.socket.pause(); // never reads again
    const pub = await connectHandshake(server.port);
    const body = 'x'.repeat(1000);
    let frames = '';
    for (let i = 0; i < 1000; i++) frames += `PUB sc.x 1000\r\n${body}\r\n`;
    for (let i = 0; i < 200 && !/Slow Consumer Detected/.test(server.output()); i++) {
      if (i < 30) pub.send(frames);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(server.output(), /Slow Consumer Detected/);
    // A paused socket never reads the FIN: read what was sent, then see the close.
    sub.socket.resume();
    await Promise.race([sub.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('not closed')), 10_000))]);
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]);
    const varz = (await (await fetch(`http://127.0.0.1:${port}/varz`)).json()) as { slow_consumers: number };
    assert.equal(varz.slow_consumers, 1);
    pub.send('PING\r\n');
    await pub.expect(/PONG\r\n/);
    pub.close();
  } finally {
    await server.stop();
  }
});
