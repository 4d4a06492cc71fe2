// The nats.conf files of the seed document (/work/shared/seed/000_f218ce8a9d04ca58.txt), copied
// verbatim into test/fixtures/seed/. nats-server 2.9.10 (`nats-server -t -c <file>`) accepts all of
// them except single.conf, whose `password:` is left blank: it reads the next line, "timeout:", as
// the password and fails on "10" ("Parse error on line 11: Expected a map value terminator ...").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfError, parseConfFile } from '../../src/config/conf.js';
import type { ConfMap } from '../../src/config/conf.js';

const SEED = fileURLToPath(new URL('../../../test/fixtures/seed/', import.meta.url));
const BCRYPT = '$2a$11$DRh4C0KNbNnD8K/hb/buWe1zPxEHrLEiDmuq1Mi0rRJiH/W25Qidm';

test('single.conf: the blank password is an error at the line of "password:"', () => {
  const file = join(SEED, 'single.conf');
  let err: unknown;
  try {
    parseConfFile(file);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfError, `expected a ConfError, got ${String(err)}`);
  assert.equal(err.file, file);
  assert.deepEqual([err.line, err.col], [10, 5]); // `    password: ` is line 10
  assert.equal(
    err.message,
    `${file}:10:5: expected a value after "password:", found end of line ` +
      '("timeout:" on line 11 was read as its value, then "1" at 11:15 was unexpected)',
  );
});

for (const n of [1, 2, 3]) {
  test(`cluster-node${n}.conf: authorization, cluster routes`, () => {
    const r = parseConfFile(join(SEED, `cluster-node${n}.conf`));
    const others = [1, 2, 3].filter((o) => o !== n);
    assert.deepEqual(r.value, {
      listen: '0.0.0.0:4222',
      http_port: 8222,
      authorization: { user: `node${n}_user`, password: `node${n}_pass`, timeout: 1 },
      cluster: {
        name: 'nats-cluster',
        listen: '0.0.0.0:6222',
        routes: others.map((o) => `nats-route://route${o}_user:route${o}_pass@node${o}:6222`),
        authorization: { user: `route${n}_user`, password: `route${n}_pass`, timeout: 1 },
      },
      log_file: './nats.log',
      pid_file: './nats.pid',
    });
    assert.deepEqual(r.positions.get('cluster.routes'), { file: join(SEED, `cluster-node${n}.conf`), line: 18, col: 5 });
    assert.deepEqual(r.positions.get('cluster.authorization.password')?.line, 26);
  });
}

test('js-single.conf: jetstream block with sizes; the commented-out cluster is absent', () => {
  const r = parseConfFile(join(SEED, 'js-single.conf'));
  assert.deepEqual(r.value, {
    port: 4222,
    http_port: 8222,
    jetstream: { store_dir: '/usr/local/nats/storage', enabled: true, max_mem_store: 104857600, max_file_store: 524288000 },
  });
  assert.deepEqual(r.positions.get('jetstream.max_mem_store'), { file: join(SEED, 'js-single.conf'), line: 11, col: 4 });
});

for (const n of [1, 2, 3]) {
  test(`js-cluster-n${n}.conf: accounts.$SYS with a bcrypt password, jetstream, cluster`, () => {
    const file = join(SEED, `js-cluster-n${n}.conf`);
    const r = parseConfFile(file);
    const hosts = ['host_a', 'host_b', 'host_c'].filter((_, i) => i !== n - 1);
    assert.deepEqual(r.value, {
      server_name: `n${n}-c1`,
      listen: 4222,
      accounts: { $SYS: { users: [{ user: 'admin', pass: BCRYPT }] } },
      jetstream: { store_dir: '/nats/storage' },
      cluster: { name: 'C1', listen: '0.0.0.0:6222', routes: hosts.map((h) => `nats://${h}:6222`) },
    });
    const users = ((r.value['accounts'] as ConfMap)['$SYS'] as ConfMap)['users'] as ConfMap[];
    assert.equal(users[0]?.['pass'], BCRYPT);
    assert.deepEqual(r.positions.get('accounts.$SYS.users[0].user'), { file, line: 7, col: 9 });
    assert.deepEqual(r.positions.get('accounts.$SYS.users[0].pass'), { file, line: 8, col: 9 });
    assert.deepEqual(r.positions.get('cluster.routes[1]'), { file, line: 23, col: 5 });
  });
}
