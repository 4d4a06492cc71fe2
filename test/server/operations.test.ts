// Operating tsnats as nats-server: a config with random ports and ports_file_dir, SIGHUP reload of
// users and permissions, lame duck mode (USR2), --signal through the pid file, log_file and USR1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { mainJs, startServer, usingNatsServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';

const skip = usingNatsServer;
const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('port -1, http "127.0.0.1:-1" and ports_file_dir: the ports file names the real, reachable ports', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `port: -1\nhttp: "127.0.0.1:-1"\nports_file_dir: "${dir}"\n`);
  const server = await startServer({ args: ['-c', conf] });
  try {
    const file = join(dir, `nats-server_${server.proc.pid}.ports`);
    assert.ok(existsSync(file), `no ${file}`);
    const ports = JSON.parse(readFileSync(file, 'utf8')) as { nats: string[]; monitoring: string[] };
    assert.deepEqual(ports.nats, [`nats://127.0.0.1:${server.port}`]);
    assert.equal(ports.monitoring.length, 1);
    const nc = await connect({ servers: ports.nats[0]!.replace('nats://', '') });
    await nc.flush();
    const health = await fetch(`${ports.monitoring[0]}/healthz`);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const varz = (await (await fetch(`${ports.monitoring[0]}/varz`)).json()) as Record<string, unknown>;
    assert.equal(varz['port'], server.port);
    assert.equal(varz['connections'], 1);
    assert.equal(typeof varz['server_id'], 'string');
    await nc.close();
    assert.equal(await server.stop(), 0);
    assert.ok(!existsSync(file), 'ports file removed on exit');
  } finally {
    await server.stop();
  }
});

test('SIGHUP reload: a new password applies to new connections; narrowed permissions apply to live ones', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-reload-'));
  const conf = join(dir, 'nats.conf');
  const write = (alicePw: string, bobPub: string): void =>
    writeFileSync(conf, `authorization { users = [ { user: alice, password: ${alicePw} }, { user: bob, password: b, permissions: { publish: ${bobPub} } }, { user: carol, password: c } ] }\n`);
  write('old', '">"');
  const server = await startServer({ shards: 2, args: ['-c', conf] });
  try {
    const bob = await connect({ servers: server.url, user: 'bob', pass: 'b' });
    const carol = await connect({ servers: server.url, user: 'carol', pass: 'c' });
    const got: string[] = [];
    carol.subscribe('>', { callback: (_e, m) => got.push(m.subject) });
    await carol.flush();
    bob.publish('news.a');
    await bob.flush();
    write('new', '"allowed.>"');
    server.proc.kill('SIGHUP');
    await until(() => /Reloaded server configuration/.test(server.output()));
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(connect({ servers: server.url, user: 'alice', pass: 'old', reconnect: false }));
    const alice = await connect({ servers: server.url, user: 'alice', pass: 'new' });
    const errs: string[] = [];
    void (async () => {
      for await (const s of bob.status()) if (s.type === 'error') errs.push(String((s as unknown as { permissionContext?: { subject: string } }).permissionContext?.subject));
    })();
    bob.publish('news.b');
    bob.publish('allowed.c');
    await bob.flush();
    await carol.flush();
    assert.deepEqual(errs, ['news.b']);
    assert.deepEqual(got, ['news.a', 'allowed.c']);
    assert.equal(carol.isClosed(), false, 'untouched connection stays');
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('lame duck (USR2): clients get INFO ldm:true, are closed over lame_duck_duration, the server exits 0', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ldm-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `lame_duck_duration: "1s"\nlame_duck_grace_period: "300ms"\n`);
  const server = await startServer({ shards: 2, args: ['-c', conf] });
  const clients = await Promise.all(Array.from({ length: 4 }, () => connectRaw(server.port)));
  for (const c of clients) {
    await c.expect(/^INFO .*\r\n/);
    c.send('CONNECT {"verbose":false}\r\nPING\r\n');
    await c.expect(/^PONG\r\n/);
  }
  server.proc.kill('SIGUSR2');
  for (const c of clients) {
    const m = await c.expect(/^INFO (\{.*\}) \r\n/, 3000);
    assert.equal((JSON.parse(m[1]!) as { ldm: boolean }).ldm, true);
  }
  const t0 = Date.now();
  await Promise.all(clients.map((c) => c.closed));
  assert.ok(Date.now() - t0 >= 200, 'clients are closed after the grace period');
  assert.equal(await server.stop(), 0);
});

test('--signal reload and stop find the server through its pid file', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-sig-'));
  const pid = join(dir, 'tsnats.pid');
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `pid_file: "${pid}"\n`);
  const server = await startServer({ args: ['-c', conf] });
  const reload = spawnSync(process.execPath, [mainJs, '-c', conf, '--signal', 'reload'], { encoding: 'utf8' });
  assert.equal(reload.status, 0, reload.stderr);
  await until(() => /Reloaded server configuration/.test(server.output()));
  const quit = spawnSync(process.execPath, [mainJs, '--signal', `quit=${pid}`], { encoding: 'utf8' });
  assert.equal(quit.status, 0, quit.stderr);
  assert.equal(await server.stop(), 0);
  assert.match(server.output(), /Server Exiting/);
});

test('log_file gets the log; USR1 reopens it after rotation', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-log-'));
  const log = join(dir, 'nats.log');
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `log_file: "${log}"\ndebug: true\n`);
  // The "ready" line goes to the file, not the terminal: read it from there.
  const child = (await import('node:child_process')).spawn(process.execPath, [mainJs, '-c', conf, '-p', '-1', '-a', '127.0.0.1'], { stdio: 'ignore' });
  try {
    await until(() => existsSync(log) && /Server is ready/.test(readFileSync(log, 'utf8')));
    const port = Number(/Listening for client connections on [^\s]*:(\d+)/.exec(readFileSync(log, 'utf8'))![1]);
    renameSync(log, `${log}.1`);
    child.kill('SIGUSR1');
    await until(() => existsSync(log));
    const nc = await connect({ servers: `127.0.0.1:${port}` });
    await nc.flush();
    await nc.close();
    await until(() => /Client connection created/.test(readFileSync(log, 'utf8')));
    assert.match(readFileSync(`${log}.1`, 'utf8'), /Reopening log file/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  assert.ok(readdirSync(dir).includes('nats.log.1'));
});

test('-t checks a config file: exit 0 when valid, 1 with file:line when not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-t-'));
  const good = join(dir, 'good.conf');
  writeFileSync(good, 'port: 4222\nauthorization { user: a, password: b }\n');
  const ok = spawnSync(process.execPath, [mainJs, '-t', '-c', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /is valid/);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'port: 4222\nmax_payload: "lots"\n');
  const r = spawnSync(process.execPath, [mainJs, '-t', '-c', bad], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:1: `));
});

test('-V traces protocol ops as nats-server does, with credentials redacted', { skip }, async () => {
  const server = await startServer({ args: ['-V', '--user', 'u', '--pass', 'secretpw'] });
  try {
    const c = await connectRaw(server.port);
    await c.expect(/^INFO .*\r\n/);
    c.send('CONNECT {"verbose":false,"user":"u","pass":"secretpw"}\r\nSUB t.x 1\r\nPUB t.x r.y 5\r\nhello\r\nPING\r\n');
    await c.expect(/PONG\r\n/);
    await until(() => /<<- \[PING\]/.test(server.output()));
    const out = server.output();
    assert.match(out, /\[TRC\] .*cid:\d+ - "<<- \[CONNECT \{"verbose":false,"user":"u","pass":"\[REDACTED\]"\}\]"/);
    assert.match(out, /"<<- \[SUB t\.x 1\]"/);
    assert.match(out, /"<<- \[PUB t\.x r\.y 5\]"/);
    assert.doesNotMatch(out, /secretpw/);
    c.close();
  } finally {
    await server.stop();
  }
});
