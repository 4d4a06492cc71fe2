// SIGINT/SIGTERM: stop accepting, flush what was already routed, close every connection, exit 0.
// The pid file (-P) exists while the server runs and is removed on exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { connectHandshake } from '../helpers/wire.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  for (const shards of [1, 3]) {
    test(`${signal} with live clients (${shards} shard(s)): messages flushed, clients closed, exit 0, pid file removed`, { skip: usingNatsServer, timeout: 30_000 }, async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), 'tsnats-pid-')), 'tsnats.pid');
      const server = await startServer({ shards, args: ['-P', pidFile] });
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(server.proc.pid));
      const subs = await Promise.all(Array.from({ length: 6 }, () => connectHandshake(server.port)));
      for (const s of subs) {
        s.send('SUB sig.x 1\r\nPING\r\n');
        await s.expect(/^PONG\r\n/);
      }
      const pub = await connectHandshake(server.port);
      const n = 2000;
      let frames = '';
      for (let i = 0; i < n; i++) frames += `PUB sig.x 5\r\n${String(i).padStart(5, '0')}\r\n`;
      pub.send(frames + 'PING\r\n');
      await pub.expect(/^PONG\r\n/);
      const code = await server.stop(signal);
      assert.equal(code, 0);
      for (const s of subs) {
        await s.closed;
        const got = s.buffered().match(/MSG sig\.x 1 5\r\n\d{5}\r\n/g) ?? [];
        assert.equal(got.length, n, 'every routed message reached the subscriber before the close');
      }
      await pub.closed;
      assert.ok(!existsSync(pidFile), 'pid file removed');
      // Not listening any more.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const c = net.connect(server.port, '127.0.0.1', () => resolve(c));
          c.on('error', reject);
        }),
      );
      assert.match(server.output(), /Server Exiting/);
    });
  }
}
