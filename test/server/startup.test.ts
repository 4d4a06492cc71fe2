// Serving from the first moment (issue 12): clients that connect in a loop from the instant the
// process is spawned — as the official clients' test harnesses do, and a fleet reconnecting to a
// restarted server — are all served: on the client port INFO then PONG, on the WebSocket port the
// upgrade then INFO and PONG inside WebSocket frames, on the monitoring port an answer. Fresh starts,
// with and without JetStream, with each HTTP/WebSocket engine. Also runs against nats-server
// (TSNATS_TEST_SERVER=nats-server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mainJs, usingNatsServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';
import { spareNPorts } from '../helpers/ports.js';

const HOST = '127.0.0.1';
const CLIENTS = 6;
/** An accepted connection that has not had INFO by then is orphaned (nats clients time out at 2 s). */
const INFO_TIMEOUT_MS = 5000;
const START_DEADLINE_MS = 20_000;

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Started {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function spawnServer(args: string[]): Started {
  const cmd = usingNatsServer ? (process.env.NATS_SERVER_BIN ?? 'nats-server') : process.execPath;
  const argv = usingNatsServer ? args : [mainJs, ...args, ...(process.env.TSNATS_TEST_SHARDS ? ['--shards', process.env.TSNATS_TEST_SHARDS] : [])];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Connects in a loop until the port accepts; then INFO, CONNECT + PING, PONG. Returns INFO's JSON. */
async function tcpClient(port: number, proc: ChildProcess, deadline: number): Promise<Record<string, unknown>> {
  for (;;) {
    if (Date.now() > deadline) throw new Error(`client port ${port} never accepted`);
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode})`);
    let c;
    try {
      c = await connectRaw(port, HOST);
    } catch {
      await pause(1);
      continue;
    }
    try {
      const m = await c.expect(/^INFO (\{.*\}) \r\n/, INFO_TIMEOUT_MS);
      c.send('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
      await c.expect(/^PONG\r\n/, INFO_TIMEOUT_MS);
      return JSON.parse(m[1]!) as Record<string, unknown>;
    } finally {
      c.close();
    }
  }
}

/** The same over a WebSocket upgrade: INFO and PONG arrive as binary messages. */
async function wsClient(port: number, proc: ChildProcess, deadline: number): Promise<Record<string, unknown>> {
  for (;;) {
    if (Date.now() > deadline) throw new Error(`websocket port ${port} never accepted`);
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode})`);
    const r = await new Promise<Record<string, unknown> | 'refused'>((resolve, reject) => {
      const ws = new WebSocket(`ws://${HOST}:${port}/`);
      let opened = false;
      let text = '';
      let info: Record<string, unknown> | null = null;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`websocket ${opened ? 'opened' : 'accepted'} but ${info === null ? 'no INFO' : 'no PONG'} in ${INFO_TIMEOUT_MS} ms; got ${JSON.stringify(text)}`));
      }, INFO_TIMEOUT_MS);
      ws.on('open', () => (opened = true));
      ws.on('message', (d: Buffer) => {
        text += d.toString('latin1');
        if (info === null) {
          const m = /^INFO (\{.*\}) \r\n/.exec(text);
          if (m === null) return;
          info = JSON.parse(m[1]!) as Record<string, unknown>;
          text = text.slice(m[0].length);
          ws.send(Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n'));
        }
        if (/^PONG\r\n/.test(text)) {
          clearTimeout(timer);
          ws.close();
          resolve(info);
        }
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') {
          clearTimeout(timer);
          ws.terminate();
          resolve('refused');
        }
      });
      ws.on('close', () => {
        if (info === null && opened) {
          clearTimeout(timer);
          reject(new Error(`websocket closed before INFO; got ${JSON.stringify(text)}`));
        }
      });
    });
    if (r !== 'refused') return r;
    await pause(1);
  }
}

/** GET /varz in a loop until the monitoring port accepts; it must answer 200 with JSON. */
async function monitorClient(port: number, proc: ChildProcess, deadline: number): Promise<Record<string, unknown>> {
  for (;;) {
    if (Date.now() > deadline) throw new Error(`monitoring port ${port} never accepted`);
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode})`);
    const r = await new Promise<Record<string, unknown> | 'refused'>((resolve, reject) => {
      const req = http.get({ host: HOST, port, path: '/varz', agent: false, timeout: INFO_TIMEOUT_MS }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`/varz answered ${res.statusCode}`));
          else resolve(JSON.parse(body) as Record<string, unknown>);
        });
      });
      req.on('timeout', () => {
        req.destroy();
        reject(new Error('/varz accepted but did not answer'));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') resolve('refused');
        else reject(err);
      });
    });
    if (r !== 'refused') return r;
    await pause(1);
  }
}

interface StartCase {
  js: boolean;
  /** With a WebSocket and a monitoring port, served by `engine`. */
  ports: boolean;
  engine: 'default' | 'native-free';
}

/** One fresh start with every client polling from the spawn; retried on a port taken meanwhile. */
async function startAndConnect(c: StartCase): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const [port, wsPort, httpPort] = await spareNPorts(3);
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-startup-'));
    const args = ['-a', HOST, '-p', String(port!)];
    if (c.ports) {
      const conf = join(dir, 'nats.conf');
      writeFileSync(conf, `websocket {\n  port: ${wsPort}\n  host: ${HOST}\n  no_tls: true\n}\nhttp: "${HOST}:${httpPort}"\n`);
      args.push('-c', conf);
    }
    if (c.js) args.push('-js', '-sd', join(dir, 'js'));
    if (c.engine === 'native-free' && !usingNatsServer) args.push('--native-free');
    const server = spawnServer(args);
    const deadline = Date.now() + START_DEADLINE_MS;
    try {
      const clients: Promise<Record<string, unknown>>[] = [];
      for (let i = 0; i < CLIENTS; i++) clients.push(tcpClient(port!, server.proc, deadline));
      if (c.ports) {
        for (let i = 0; i < CLIENTS; i++) clients.push(wsClient(wsPort!, server.proc, deadline));
        clients.push(monitorClient(httpPort!, server.proc, deadline));
      }
      let infos: Record<string, unknown>[];
      try {
        infos = await Promise.all(clients);
      } catch (err) {
        if (/address already in use|EADDRINUSE/i.test(server.output()) && attempt < 3) continue;
        throw new Error(`${(err as Error).message}\n--- server output ---\n${server.output().slice(-2000)}`);
      }
      // The real port is in every INFO (and in /varz); WebSocket clients get the same INFO.
      for (const info of infos.slice(0, CLIENTS)) assert.equal(info['port'], port);
      if (c.ports) {
        assert.equal(infos[infos.length - 1]!['port'], port, '/varz port');
        for (const info of infos.slice(CLIENTS, 2 * CLIENTS)) assert.equal(typeof info['server_id'], 'string');
      }
      return;
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

test('6 clients connecting from the instant of the spawn all get INFO and PONG: 5 fresh starts', { timeout: 120_000 }, async () => {
  for (let i = 0; i < 5; i++) await startAndConnect({ js: false, ports: false, engine: 'default' });
});

test('the same with -js: 3 fresh starts', { timeout: 120_000 }, async () => {
  for (let i = 0; i < 3; i++) await startAndConnect({ js: true, ports: false, engine: 'default' });
});

// Node 20-22: uWS serves WebSocket and monitoring (its acceptor App gets the shards' child Apps
// before it listens); with --native-free (and on Node 24) the pure-Node transports do.
for (const engine of ['default', 'native-free'] as const) {
  test(`client, WebSocket and monitoring ports all serve from the first connection (${engine}): 5 starts and 3 with -js`, { skip: usingNatsServer && engine === 'native-free', timeout: 180_000 }, async () => {
    for (let i = 0; i < 5; i++) await startAndConnect({ js: false, ports: true, engine });
    for (let i = 0; i < 3; i++) await startAndConnect({ js: true, ports: true, engine });
  });
}
