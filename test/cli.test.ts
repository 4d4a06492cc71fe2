// Command-line flags as nats-server's Go flag package takes them, and the process's answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseArgs as parseCli, mergeOptions, CliError } from '../src/cli.js';

const parseArgs = (argv: string[]) => {
  const r = parseCli(argv);
  return { ...r, opts: mergeOptions({}, r) };
};
import { mainJs, startServer, usingNatsServer } from './helpers/server.js';
import { connectRaw } from './helpers/wire.js';

test('one or two dashes, -flag value and -flag=value', () => {
  const a = parseArgs(['-p', '4333', '-a', '127.0.0.1']).opts;
  assert.equal(a.port, 4333);
  assert.equal(a.host, '127.0.0.1');
  const b = parseArgs(['--port=5222', '--addr', '::1', '--name', 'n1', '-P', '/tmp/x.pid']).opts;
  assert.deepEqual([b.port, b.host, b.serverName, b.pidFile], [5222, '::1', 'n1', '/tmp/x.pid']);
  const c = parseArgs(['-DV', '--shards', '3', '-ping_interval', '500ms', '--ping_max=5', '--max_payload', '1024']).opts;
  assert.deepEqual([c.debug, c.trace, c.shards, c.pingIntervalMs, c.pingMax, c.maxPayload], [true, true, 3, 500, 5, 1024]);
  assert.equal(parseArgs(['-D']).opts.debug, true);
  assert.equal(parseArgs(['--trace']).opts.trace, true);
  assert.equal(parseArgs(['-p', '-1']).opts.port, -1);
  assert.equal(parseArgs(['-v']).action, 'version');
  assert.equal(parseArgs(['--help']).action, 'help');
  assert.ok(parseArgs([]).opts.shards >= 1);
});

test('bad flags are errors with the flag package wording', () => {
  assert.throws(() => parseArgs(['--bogus']), (e: Error) => e instanceof CliError && e.message === 'flag provided but not defined: -bogus');
  assert.throws(() => parseArgs(['-p']), (e: Error) => e instanceof CliError && /flag needs an argument: -p/.test(e.message));
  assert.throws(() => parseArgs(['-p', 'abc']), /invalid value "abc" for flag -p/);
  assert.throws(() => parseArgs(['--ping_interval', '5 parsecs']), /invalid value/);
});

test('tsnats -v prints the version; an unknown flag exits 1 with usage', () => {
  const v = spawnSync(process.execPath, [mainJs, '-v'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^tsnats: v\d+\.\d+\.\d+ \(nats-server v2\.10\.0 protocol\)/);
  const bad = spawnSync(process.execPath, [mainJs, '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /flag provided but not defined: -bogus/);
  assert.match(bad.stderr, /Usage: tsnats/);
});

test('-n sets server_name in INFO; -a/-p are honoured', { skip: usingNatsServer }, async () => {
  const server = await startServer({ args: ['-n', 'my-server'] });
  try {
    const c = await connectRaw(server.port);
    const m = await c.expect(/^INFO (\{.*\}) \r\n/);
    const info = JSON.parse(m[1]!) as { server_name: string; port: number; host: string };
    assert.equal(info.server_name, 'my-server');
    assert.equal(info.port, server.port);
    assert.equal(info.host, '127.0.0.1');
    c.close();
  } finally {
    await server.stop();
  }
});
