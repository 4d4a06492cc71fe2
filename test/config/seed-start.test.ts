// The nats.conf blocks our first users run (../shared/seed): every complete one starts tsnats as is
// (ports, log file and store dir redirected so tests can run side by side); the one whose password
// the document leaves blank is refused with its file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec } from 'nats';
import { mainJs, startServer, usingNatsServer } from '../helpers/server.js';

const seedDir = new URL('../../../test/fixtures/seed/', import.meta.url).pathname;
const sc = StringCodec();
const fixtures = readdirSync(seedDir).filter((f) => f.endsWith('.conf'));

test('there are seed fixtures', () => {
  assert.ok(fixtures.length >= 8, fixtures.join(','));
});

for (const name of fixtures.filter((f) => f !== 'single.conf')) {
  test(`seed ${name}: loads and serves`, { skip: usingNatsServer, timeout: 60_000 }, async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tsnats-seed-'));
    // A cluster block listens on 0.0.0.0:6222: a random loopback port instead, so tests run side by side.
    const clustered = /^cluster\s*\{/m.test(readFileSync(join(seedDir, name), 'utf8'));
    const server = await startServer({ cwd, args: ['-c', join(seedDir, name), '-m', '-1', '-l', '/dev/stderr', '-sd', join(cwd, 'js'), ...(clustered ? ['--cluster', 'nats://127.0.0.1:-1'] : [])] });
    try {
      assert.match(server.output(), /Server is ready/);
      // The client users the file configures (node1_user/node1_pass ...) are enforced.
      const conf = readFileSync(join(seedDir, name), 'utf8');
      const user = /^\s*user:\s*(node\d_user)/m.exec(conf)?.[1];
      const opts = user !== undefined ? { user, pass: user.replace('_user', '_pass') } : {};
      if (user !== undefined) await assert.rejects(connect({ servers: server.url, reconnect: false }));
      const nc = await connect({ servers: server.url, reconnect: false, ...opts });
      await nc.flush();
      if (/^jetstream\s*\{/m.test(conf) && !clustered) {
        // JetStream blocks enable JetStream: INFO says so and the API answers.
        assert.equal(nc.info?.jetstream, true);
        const ai = await (await nc.jetstreamManager()).getAccountInfo();
        assert.equal(ai.streams, 0);
      } else if (/^jetstream\s*\{/m.test(conf)) {
        // A "jetstream cluster" node alone (its routes lead nowhere) runs clustered JetStream without a
        // meta leader: as nats-server 2.9.10, requests go unanswered at first, then (10 s after the
        // start) get 10008.
        assert.equal(nc.info?.jetstream, true);
        const ask = async (): Promise<{ error?: unknown } | null> => {
          try {
            return JSON.parse(sc.decode((await nc.request('$JS.API.INFO', '', { timeout: 2000 })).data)) as { error?: unknown };
          } catch {
            return null; // not answered yet
          }
        };
        const until = Date.now() + 30_000;
        let answer = await ask();
        while (answer === null && Date.now() < until) answer = await ask();
        assert.deepEqual(answer?.error, { code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' });
      }
      await nc.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
}


test('seed single.conf: the blank password is refused with file and line', () => {
  const r = spawnSync(process.execPath, [mainJs, '-t', '-c', join(seedDir, 'single.conf')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /single\.conf:10:5: expected a value after "password:"/);
});
