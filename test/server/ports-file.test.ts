// ports_file_dir (server.go logPorts / PortsInfo): the file lists every listener under nats-server's
// keys with the real URLs of random ports, each one reachable; a wildcard bind lists every interface
// address. Also runs against nats-server (TSNATS_TEST_SERVER=nats-server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';
import { PortsFile } from '../../src/server/listeners.js';

type Ports = Record<string, string[]>;

/** The ports file once complete (nats-server writes it from a goroutine just after "Server is ready"). */
async function readPorts(dir: string, pid: number): Promise<Ports> {
  const file = join(dir, `nats-server_${pid}.ports`);
  for (let i = 0; ; i++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Ports;
    } catch (err) {
      if (i >= 100) throw new Error(`no complete ${file}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

test('ports file: nats, monitoring and websocket with the real random ports, each reachable', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: "127.0.0.1:-1"\nhttp: "127.0.0.1:-1"\nports_file_dir: "${dir}"\nwebsocket {\n  listen: "127.0.0.1:-1"\n  no_tls: true\n}\n`);
  const server = await startServer({ args: ['-c', conf] });
  const pid = server.proc.pid!;
  try {
    const ports = await readPorts(dir, pid);
    assert.deepEqual(Object.keys(ports), ['nats', 'monitoring', 'websocket']);
    assert.deepEqual(ports['nats'], [`nats://127.0.0.1:${server.port}`]);
    assert.match(ports['monitoring']![0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ports['websocket']![0]!, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ports['monitoring']!.length, 1);
    assert.equal(ports['websocket']!.length, 1);
    // Each URL is the port that serves it.
    const c = await connectRaw(server.port);
    const info = JSON.parse((await c.expect(/^INFO (\{.*\}) \r\n/))[1]!) as { port: number };
    assert.equal(info.port, server.port);
    c.close();
    const varz = (await (await fetch(`${ports['monitoring']![0]}/varz`)).json()) as { port: number };
    assert.equal(varz.port, server.port);
    const wsInfo = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(ports['websocket']![0]!);
      ws.on('message', (d: Buffer) => {
        resolve(d.toString());
        ws.close();
      });
      ws.on('error', reject);
    });
    assert.match(wsInfo, /^INFO \{/);
    const code = await server.stop();
    if (!usingNatsServer) assert.equal(code, 0); // nats-server exits 1 on SIGTERM
    assert.ok(!existsSync(join(dir, `nats-server_${pid}.ports`)), 'ports file removed on exit');
  } finally {
    await server.stop();
  }
});

test('ports file: a wildcard address lists every interface address, IPv6 in brackets', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  const server = await startServer({ args: ['-a', '0.0.0.0', '--ports_file_dir', dir] });
  try {
    const ports = await readPorts(dir, server.proc.pid!);
    assert.deepEqual(Object.keys(ports), ['nats']);
    const urls = ports['nats']!;
    assert.ok(urls.includes(`nats://127.0.0.1:${server.port}`), JSON.stringify(urls));
    for (const u of urls) assert.match(u, new RegExp(`^nats://(\\d+\\.\\d+\\.\\d+\\.\\d+|\\[[0-9a-f:]+\\]):${server.port}$`));
  } finally {
    await server.stop();
  }
});

test('PortsFile: keys in nats-server order, empty lists left out, a listener added later rewrites the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  const pf = new PortsFile();
  pf.set('websocket', ['ws://127.0.0.1:3']);
  pf.set('nats', ['nats://127.0.0.1:1']);
  pf.set('profile', []);
  const path = pf.write(dir, 4242);
  assert.equal(path, join(dir, 'nats-server_4242.ports'));
  assert.equal(readFileSync(path, 'utf8'), '{"nats":["nats://127.0.0.1:1"],"websocket":["ws://127.0.0.1:3"]}');
  pf.set('cluster', ['nats://127.0.0.1:2']);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object), ['nats', 'cluster', 'websocket']);
  pf.remove();
  assert.ok(!existsSync(path));
});
