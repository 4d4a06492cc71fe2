// The library as a user's test suite uses it: `import { startServer } from 'tsnats'` (the package's
// own name, resolved through package.json's `exports`), servers started in parallel in one process,
// used with the official client, and stopped without leaving a port, a thread, a timer or a
// temporary directory behind.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import { wsconnect } from '@nats-io/nats-core';
import WebSocket from 'ws';
import bcrypt from 'bcryptjs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer, ConfigError, type ServerHandle } from 'tsnats';
import { delay } from '../helpers/wait.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;

/** Resolves true when something accepts a TCP connection on the port, false when it is refused. */
function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** OS threads of this process (Linux): shard and JetStream workers are threads. */
function threads(): number | null {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return null;
  }
}

function resources(): string[] {
  return process.getActiveResourcesInfo().sort();
}

/** Polls until `f` returns true (stopping a worker thread is joined asynchronously). */
async function eventually(f: () => boolean, what: () => string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) assert.fail(`still not true after ${ms} ms: ${what()}`);
    await delay(20);
  }
}

/** What must hold once every server of a test is stopped: the process is as it was before. */
async function assertBaseline(base: { resources: string[]; threads: number | null }): Promise<void> {
  // Briefly polled (an exited worker thread is joined asynchronously), but well within the 5 s of
  // any shutdown timeout: a timer left running by stop() would keep a test runner alive that long.
  await eventually(
    () => JSON.stringify(resources()) === JSON.stringify(base.resources),
    () => `active resources ${JSON.stringify(resources())}, at start ${JSON.stringify(base.resources)}`,
    1500,
  );
  if (base.threads !== null) await eventually(() => threads() === base.threads, () => `${threads()} threads, at start ${base.threads}`, 1500);
}

async function baseline(): Promise<{ resources: string[]; threads: number | null }> {
  // libuv's thread pool starts on first use: use it once so that its threads count in the baseline.
  await stat(tmpdir());
  await delay(10);
  return { resources: resources(), threads: threads() };
}

describe('library: startServer from the package by name', { timeout: 120_000 }, () => {
  test('two JetStream servers started in parallel, used with the official client, stopped: nothing left behind', async () => {
    const base = await baseline();
    // One serving on this thread (the library's default), one with two worker-thread shards as the CLI runs.
    const [a, b] = await Promise.all([startServer({ jetstream: true, httpPort: 0 }), startServer({ jetstream: true, shards: 2, websocket: { port: 0, noTls: true } })]);
    assert.notEqual(a.port, b.port);
    assert.equal(a.url, `nats://127.0.0.1:${a.port}`);
    assert.match(a.monitorUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(b.monitorUrl, undefined);
    assert.equal(a.websocketUrl, undefined);
    assert.match(b.websocketUrl ?? '', /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(a.storeDir, b.storeDir);
    for (const h of [a, b]) assert.ok(h.storeDir !== undefined && existsSync(h.storeDir), `store dir ${h.storeDir}`);
    const during = threads();
    if (base.threads !== null) assert.ok(during! >= base.threads + 4, `a JetStream worker each, and two shards: ${base.threads} → ${during}`);

    for (const h of [a, b]) {
      const nc = await connect({ servers: h.url });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
        const js = jetstream(nc);
        const ack = await js.publish('orders.1', `hello ${h.port}`);
        assert.equal(ack.seq, 1);
        const c = await js.consumers.get('ORDERS');
        const m = await c.next({ expires: 5000 });
        assert.equal(m?.string(), `hello ${h.port}`);
        m?.ack();
        // Core request/reply on the same server.
        const sub = nc.subscribe('echo', { callback: (_e, msg) => void msg.respond(msg.data) });
        const r = await nc.request('echo', 'ping', { timeout: 5000 });
        assert.equal(r.string(), 'ping');
        sub.unsubscribe();
        assert.ok(existsSync(join(h.storeDir!, 'jetstream', '$G', 'streams', 'ORDERS')), 'the stream is in this server own store');
      } finally {
        await nc.close();
      }
    }
    // The monitoring endpoint answers in nats-server's shape.
    const varz = (await (await fetch(`${a.monitorUrl}/varz`)).json()) as Record<string, unknown>;
    assert.equal(varz['server_id'], a.serverId);
    assert.equal(varz['port'], a.port);
    const monitorPort = Number(new URL(a.monitorUrl!).port);

    await Promise.all([a.stop(), b.stop()]);
    await a.stop(); // idempotent
    await b[Symbol.asyncDispose]();
    for (const port of [a.port, b.port, monitorPort, Number(new URL(b.websocketUrl!).port)]) assert.equal(await accepts(port), false, `port ${port} still accepts`);
    for (const h of [a, b]) assert.equal(existsSync(h.storeDir!), false, `temporary store ${h.storeDir} removed`);
    await assertBaseline(base);
  });

  test('await using stops the server at the end of the block; three servers stop independently', async () => {
    const base = await baseline();
    let port = 0;
    {
      await using s = await startServer();
      port = s.port;
      assert.equal(await accepts(port), true);
    }
    assert.equal(await accepts(port), false);

    const servers = await Promise.all([startServer(), startServer(), startServer()]);
    const [s0, s1, s2] = servers as [ServerHandle, ServerHandle, ServerHandle];
    await s1.stop();
    assert.equal(await accepts(s1.port), false);
    for (const s of [s0, s2]) {
      const nc = await connect({ servers: s.url });
      await nc.flush();
      await nc.close();
    }
    await s2.stop();
    const nc = await connect({ servers: s0.url });
    const sub = nc.subscribe('x', { max: 1 });
    nc.publish('x', 'still here');
    for await (const m of sub) assert.equal(m.string(), 'still here');
    await nc.close();
    await s0.stop();
    await assertBaseline(base);
  });

  test('options: camelCase nats.conf keys, config text, a config file, and the object over both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-lib-test-'));
    try {
      // camelCase keys act as their nats.conf keys do.
      {
        await using s = await startServer({ maxPayload: 2048, serverName: 'lib-a', authorization: { users: [{ user: 'u', password: 'p' }] }, accounts: { AppOne: { jetstream: 'enabled' } } });
        assert.equal(s.serverName, 'lib-a');
        const info = await infoOf(s.port);
        assert.equal(info['max_payload'], 2048);
        assert.equal(info['auth_required'], true);
        const nc = await connect({ servers: s.url, user: 'u', pass: 'p' });
        await nc.flush();
        await nc.close();
        await assert.rejects(connect({ servers: s.url, user: 'u', pass: 'wrong', reconnect: false }));
      }
      // Config text, with the object overriding one of its keys.
      {
        await using s = await startServer({ config: 'server_name: from-text\nmax_payload: 1KB\n', maxPayload: 4096 });
        const info = await infoOf(s.port);
        assert.equal(info['server_name'], 'from-text');
        assert.equal(info['max_payload'], 4096);
      }
      // The text alone as the argument.
      {
        await using s = await startServer('max_payload: 3000');
        assert.equal((await infoOf(s.port))['max_payload'], 3000);
      }
      // A config file, under the object; a given store_dir is the user's and is kept.
      const store = join(dir, 'store');
      const conf = join(dir, 'nats.conf');
      writeFileSync(conf, `server_name: from-file\njetstream { store_dir: "${store}" }\n`);
      mkdirSync(store);
      writeFileSync(join(store, 'mine'), 'the user data');
      {
        await using s = await startServer({ configFile: conf, port: 0 });
        assert.equal(s.serverName, 'from-file');
        assert.equal(s.storeDir, store);
      }
      assert.equal(existsSync(join(store, 'mine')), true, 'a store_dir the user gave is not removed');
      // Errors name the key; nothing is left running.
      const base = await baseline();
      await assert.rejects(startServer({ maxPayload: 'lots' }), (e: unknown) => e instanceof ConfigError && /max_payload/.test((e as Error).message));
      await assert.rejects(startServer({ config: 'port: 4222\nmax_payload: [1' }), ConfigError);
      await assertBaseline(base);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const shards of [0, 2]) {
    test(`TCP and WebSocket clients, bcrypt passwords and monitoring, shards: ${shards}`, async () => {
      const g = globalThis as { WebSocket?: unknown };
      g.WebSocket ??= WebSocket; // Node 20 has no global WebSocket
      const hash = bcrypt.hashSync('s3cret', 4);
      await using s = await startServer({ shards, httpPort: 0, websocket: { port: 0, noTls: true }, authorization: { users: [{ user: 'app', password: hash }] } });
      const tcp = await connect({ servers: s.url, user: 'app', pass: 's3cret' });
      const ws = await wsconnect({ servers: s.websocketUrl!, user: 'app', pass: 's3cret' });
      try {
        const got = tcp.subscribe('to.tcp', { max: 1 });
        await tcp.flush();
        ws.publish('to.tcp', 'over websocket');
        for await (const m of got) assert.equal(m.string(), 'over websocket');
        const connz = (await (await fetch(`${s.monitorUrl}/connz`)).json()) as { num_connections: number };
        assert.equal(connz.num_connections, 2);
        await assert.rejects(connect({ servers: s.url, user: 'app', pass: 'wrong', reconnect: false }));
      } finally {
        await ws.close();
        await tcp.close();
      }
    });
  }

  test('a start that fails (port taken) rejects and leaves nothing running, not even its temporary store', async () => {
    await using first = await startServer();
    const base = await baseline();
    // A private temp dir (os.tmpdir() follows $TMPDIR), so that other test files' stores do not count.
    const tmp = mkdtempSync(join(tmpdir(), 'tsnats-lib-tmp-'));
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    try {
      const start = startServer({ port: first.port, jetstream: true, httpPort: 0 });
      assert.equal(readdirSync(tmp).filter((n) => n.startsWith('tsnats-store-')).length, 1, 'the temporary store was made in the private temp dir');
      await assert.rejects(start, /EADDRINUSE/);
      assert.deepEqual(readdirSync(tmp), [], 'and removed');
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
    await assertBaseline(base);
  });

  test('a pino logger receives the records of every thread (main, shards, JetStream); the default prints nothing', async () => {
    const lines: Record<string, unknown>[] = [];
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    {
      await using s = await startServer({ logger: pino({ level: 'debug' }, dest), jetstream: true, shards: 1 });
      const nc = await connect({ servers: s.url });
      await nc.flush();
      await nc.close();
      await eventually(() => lines.some((l) => l['name'] === 'shard 0' && l['msg'] === 'Client connection created'), () => JSON.stringify(lines.map((l) => l['msg'])));
    }
    assert.ok(lines.some((l) => l['msg'] === 'Server is ready'));
    assert.ok(lines.some((l) => l['msg'] === 'Server Exiting..'));
    // The default (a shard on this thread) logs straight to the same logger.
    lines.length = 0;
    {
      await using s = await startServer({ logger: pino({ level: 'debug' }, dest) });
      const nc = await connect({ servers: s.url });
      await nc.flush();
      await nc.close();
      await eventually(() => lines.some((l) => l['msg'] === 'Client connection created'), () => JSON.stringify(lines.map((l) => l['msg'])));
    }

    // Nothing printed: a process that starts and uses a server with every listener says nothing.
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'test', 'lib', 'quiet-child.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(code, 0, out);
    assert.equal(out, '', 'the library printed something');
  });
});

/** The INFO a new connection gets, as JSON. */
function infoOf(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no INFO: ${buf}`));
    }, 5000);
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) {
        clearTimeout(t);
        s.destroy();
        resolve(JSON.parse(buf.slice(5, nl)) as Record<string, unknown>);
      }
    });
    s.once('error', reject);
  });
}
