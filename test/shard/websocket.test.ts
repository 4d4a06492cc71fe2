// NATS over WebSocket: a wsconnect client (@nats-io/nats-core) and a TCP client exchange messages
// both ways, request/reply and headers included, with shards, and the server stops cleanly (exit 0)
// with 50 live WebSocket clients. Node 20 has no global WebSocket: the `ws` package stands in, as
// it does for Node users of nats.ws.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { wsconnect, headers, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { startServer, usingNatsServer, type RunningServer } from '../helpers/server.js';

before(() => {
  const g = globalThis as { WebSocket?: unknown };
  g.WebSocket ??= WebSocket;
});

function wsConf(extra = ''): string {
  const f = join(mkdtempSync(join(tmpdir(), 'tsnats-ws-')), 'nats.conf');
  writeFileSync(f, `websocket {\n  port: -1\n  host: 127.0.0.1\n  no_tls: true\n${extra}}\n`);
  return f;
}

function wsPort(s: RunningServer): number {
  return Number(/Listening for websocket clients on ws:\/\/[^\s]*:(\d+)/.exec(s.output())![1]);
}

for (const shards of [1, 3]) {
  for (const mode of ['default', 'native-free'] as const) {
    test(`WebSocket and TCP clients talk both ways (${shards} shard(s), ${mode})`, { skip: usingNatsServer, timeout: 30_000 }, async () => {
      const server = await startServer({ shards, args: ['-c', wsConf(), ...(mode === 'native-free' ? ['--native-free'] : [])] });
      try {
        // Which engine runs is logged: uWS where uws-pack has a binary (Node <= 22), else native-free.
        const uwsExpected = mode === 'default' && Number(process.versions.node.split('.')[0]) <= 22;
        assert.match(server.output(), uwsExpected ? /HTTP\/WebSocket engine: uWS/ : /HTTP\/WebSocket engine: native-free/);
        assert.match(server.output(), uwsExpected ? /websocket clients on .*\(uWS, one child App per shard\)/ : /websocket clients on .*\(native-free WebSocket transport\)/);
        const port = wsPort(server);
        const ws: NatsConnection = await wsconnect({ servers: `ws://127.0.0.1:${port}` });
        const tcp = await connect({ servers: server.hostport });
        assert.deepEqual((ws.info as unknown as { ws_connect_urls: string[] }).ws_connect_urls, [`127.0.0.1:${port}`]);
        const fromWs: string[] = [];
        const fromTcp: string[] = [];
        tcp.subscribe('ws.to.tcp', { callback: (_e, m) => void fromWs.push(m.string()) });
        ws.subscribe('tcp.to.ws', { callback: (_e, m) => void fromTcp.push(`${m.string()}|${m.headers?.get('X-Test') ?? ''}`) });
        await tcp.flush();
        await ws.flush();
        for (let i = 0; i < 100; i++) ws.publish('ws.to.tcp', `w${i}`);
        const h = headers();
        h.set('X-Test', 'yes');
        for (let i = 0; i < 100; i++) tcp.publish('tcp.to.ws', `t${i}`, { headers: h });
        await ws.flush();
        await tcp.flush();
        await ws.flush();
        assert.deepEqual(fromWs, Array.from({ length: 100 }, (_, i) => `w${i}`));
        assert.deepEqual(fromTcp, Array.from({ length: 100 }, (_, i) => `t${i}|yes`));
        // Request/reply in both directions; a big payload across frames.
        tcp.subscribe('svc.tcp', { callback: (_e, m) => void m.respond(m.data) });
        ws.subscribe('svc.ws', { callback: (_e, m) => void m.respond(m.data) });
        await tcp.flush();
        await ws.flush();
        const big = new Uint8Array(300_000).map((_, i) => i & 0xff);
        const r1 = await ws.request('svc.tcp', big, { timeout: 5000 });
        assert.deepEqual(Buffer.from(r1.data), Buffer.from(big));
        const r2 = await tcp.request('svc.ws', 'ping', { timeout: 5000 });
        assert.equal(r2.string(), 'ping');
        await ws.close();
        await tcp.close();
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  }
}

for (const mode of ['default', 'native-free'] as const) test(`SIGTERM with 50 live WebSocket clients exits 0 (${mode})`, { skip: usingNatsServer, timeout: 60_000 }, async () => {
  const server = await startServer({ shards: 2, args: ['-c', wsConf(), ...(mode === 'native-free' ? ['--native-free'] : [])] });
  const port = wsPort(server);
  const clients = await Promise.all(Array.from({ length: 50 }, () => wsconnect({ servers: `ws://127.0.0.1:${port}`, reconnect: false })));
  for (const c of clients) c.subscribe('x', { callback: () => {} });
  await Promise.all(clients.map((c) => c.flush()));
  const closed = Promise.all(clients.map((c) => c.closed()));
  assert.equal(await server.stop('SIGTERM'), 0);
  await closed;
});

for (const mode of ['default', 'native-free'] as const) {
  test(`websocket same_origin / allowed_origins refuse other origins; compression round-trips (${mode})`, { skip: usingNatsServer, timeout: 30_000 }, async () => {
    const extra = '  same_origin: false\n  allowed_origins: ["http://good.example"]\n  compression: true\n';
    const server = await startServer({ shards: 2, args: ['-c', wsConf(extra), ...(mode === 'native-free' ? ['--native-free'] : [])] });
    try {
      const port = wsPort(server);
      const attempt = (origin: string): Promise<number | 'open'> =>
        new Promise((resolve) => {
          const c = new WebSocket(`ws://127.0.0.1:${port}`, { origin, perMessageDeflate: true });
          c.on('open', () => {
            c.close();
            resolve('open');
          });
          c.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            c.terminate();
          });
          c.on('error', () => {});
        });
      assert.equal(await attempt('http://evil.example'), 403);
      assert.equal(await attempt('http://good.example'), 'open');
      // Compressed NATS traffic: a WebSocket client with permessage-deflate speaks raw protocol.
      const c = new WebSocket(`ws://127.0.0.1:${port}`, { origin: 'http://good.example', perMessageDeflate: true });
      let got = '';
      c.on('message', (d: Buffer) => (got += d.toString()));
      await new Promise((r) => c.once('open', r));
      assert.match(c.extensions, /permessage-deflate/);
      const payload = 'z'.repeat(50_000);
      c.send(`CONNECT {"verbose":false,"pedantic":false}\r\nSUB big 1\r\nPUB big ${payload.length}\r\n${payload}\r\nPING\r\n`);
      const end = Date.now() + 5000;
      while (!got.includes('PONG') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(got.includes(`MSG big 1 ${payload.length}\r\n${payload}\r\n`), got.slice(0, 200));
      c.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
}
