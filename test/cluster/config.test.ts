// cluster { ... } and the cluster flags, read as nats-server's opts.go reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, ConfigError } from '../../src/config/load.js';
import { parseArgs, mergeOptions, CliError } from '../../src/cli.js';

const seedDir = new URL('../../../test/fixtures/seed/', import.meta.url).pathname;

function conf(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-cluster-conf-'));
  const f = join(dir, 'nats.conf');
  writeFileSync(f, text);
  return f;
}

test("the seed's cluster block: name, listen, routes with credentials, authorization", () => {
  const { opts, warnings } = loadConfigFile(join(seedDir, 'cluster-node1.conf'));
  assert.deepEqual(warnings, []);
  const c = opts.cluster!;
  assert.equal(c.name, 'nats-cluster');
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 6222);
  assert.deepEqual(c.routes, ['nats-route://route2_user:route2_pass@node2:6222', 'nats-route://route3_user:route3_pass@node3:6222']);
  assert.equal(c.username, 'route1_user');
  assert.equal(c.password, 'route1_pass');
  assert.equal(c.authTimeoutMs, 1000);
});

test('cluster defaults: port 6222; host/port, advertise, no_advertise, connect_retries, pool_size, permissions', () => {
  assert.equal(loadConfigFile(conf('cluster { name: c }')).opts.cluster!.port, 6222);
  const { opts } = loadConfigFile(
    conf(`cluster {
  host: 127.0.0.1
  port: -1
  advertise: "10.0.0.1:7222"
  no_advertise: true
  connect_retries: 3
  connect_backoff: true
  pool_size: 3
  ping_interval: "5s"
  permissions { import: ["a.>"], export: { allow: ["b.>"], deny: ["b.secret"] } }
}`),
  );
  const c = opts.cluster!;
  assert.deepEqual([c.host, c.port, c.advertise, c.noAdvertise, c.connectRetries, c.connectBackoff, c.poolSize, c.pingIntervalMs], ['127.0.0.1', -1, '10.0.0.1:7222', true, 3, true, 3, 5000]);
  assert.deepEqual(c.permissions, { import: { allow: ['a.>'], deny: null }, export: { allow: ['b.>'], deny: ['b.secret'] } });
});

test('cluster authorization refuses users lists and tokens; bad route URLs fail with file:line', () => {
  assert.throws(() => loadConfigFile(conf('cluster {\n  authorization { users: [{user: a, password: b}] }\n}')), (e: Error) => e instanceof ConfigError && /Cluster authorization does not allow multiple users/.test(e.message));
  assert.throws(() => loadConfigFile(conf('cluster {\n  authorization { token: abc }\n}')), /does not support tokens/);
  assert.throws(() => loadConfigFile(conf('cluster {\n  routes: ["not a url"]\n}')), /nats\.conf:2:\d+: error parsing route url/);
});

test('--cluster, --cluster_name, --routes, --no_advertise, --cluster_advertise, --connect_retries', () => {
  const cli = parseArgs(['--cluster', 'nats://ru:rp@127.0.0.1:-1', '--cluster_name', 'c9', '--routes', 'nats://127.0.0.1:1,nats://127.0.0.1:2', '--no_advertise', '--connect_retries', '4']);
  const c = mergeOptions({}, cli).cluster!;
  assert.deepEqual([c.host, c.port, c.username, c.password, c.name, c.noAdvertise, c.connectRetries], ['127.0.0.1', -1, 'ru', 'rp', 'c9', true, 4]);
  assert.deepEqual(c.routes, ['nats://127.0.0.1:1', 'nats://127.0.0.1:2']);
  // Flags override the file's block; --cluster without credentials clears the file's (overrideCluster).
  const file = loadConfigFile(join(seedDir, 'cluster-node1.conf')).opts;
  const o = mergeOptions(file, parseArgs(['--cluster', 'nats://127.0.0.1:7000'])).cluster!;
  assert.deepEqual([o.name, o.host, o.port, o.username, o.routes.length], ['nats-cluster', '127.0.0.1', 7000, '', 2]);
  // --cluster_name alone does not turn clustering on (nats-server needs a cluster port).
  assert.equal(mergeOptions({}, parseArgs(['--cluster_name', 'x'])).cluster, null);
  assert.equal(mergeOptions({}, parseArgs([])).cluster, null);
  assert.throws(() => parseArgs(['--cluster', 'nats://user@127.0.0.1:4']), (e: Error) => e instanceof CliError && e.message === 'expected cluster password to be set');
});
