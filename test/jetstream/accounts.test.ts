// JetStream per account: accounts that enable it have their own streams (and directories); an
// account without it gets nats-server's 10039 "JetStream not enabled for account" from the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream, JetStreamApiError } from '@nats-io/jetstream';
import { startServer, usingNatsServer } from '../helpers/server.js';

test('JetStream per account: separate streams, and 10039 where it is not enabled', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-js-acc-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(
    conf,
    `jetstream { store_dir: "${join(dir, 'store')}" }
accounts {
  A: { jetstream: enabled, users: [{ user: a, password: a }] }
  C: { jetstream: enabled, users: [{ user: c, password: c }] }
  B: { users: [{ user: b, password: b }] }
}
`,
  );
  const server = await startServer({ args: ['-c', conf] });
  const open = (user: string) => connect({ servers: server.hostport, user, pass: user, reconnect: false });
  const [a, b, c] = await Promise.all([open('a'), open('b'), open('c')]);
  try {
    // A and C each have a stream S on the same subjects: separate subject spaces, separate streams.
    const jsmA = await jetstreamManager(a);
    const jsmC = await jetstreamManager(c);
    await jsmA.streams.add({ name: 'S', subjects: ['s.>'] });
    await jsmC.streams.add({ name: 'S', subjects: ['s.>'] });
    assert.equal((await jetstream(a).publish('s.1', 'from a')).seq, 1);
    assert.equal((await jetstream(a).publish('s.1', 'from a')).seq, 2);
    assert.equal((await jetstream(c).publish('s.1', 'from c')).seq, 1);
    assert.equal((await jsmA.streams.info('S')).state.messages, 2);
    assert.equal((await jsmC.streams.info('S')).state.messages, 1);
    assert.equal((await jsmC.streams.getMessage('S', { seq: 1 }))?.string(), 'from c');
    if (!usingNatsServer) {
      // Our layout (nats-server keeps meta.inf in the same directories).
      assert.ok(existsSync(join(dir, 'store', 'jetstream', 'A', 'streams', 'S', 'meta.json')));
      assert.ok(existsSync(join(dir, 'store', 'jetstream', 'C', 'streams', 'S', 'meta.json')));
    }

    // B has no JetStream: the API answers 10039 (the client does not just time out).
    const r = await b.request('$JS.API.INFO', '', { timeout: 2000 });
    const body = r.json<{ type: string; error: { code: number; err_code: number; description: string } }>();
    assert.equal(body.type, 'io.nats.jetstream.api.v1.account_info_response');
    assert.deepEqual(body.error, { code: 503, err_code: 10039, description: 'JetStream not enabled for account' });
    const sc = (await b.request('$JS.API.STREAM.CREATE.X', JSON.stringify({ name: 'X', subjects: ['x'] }), { timeout: 2000 })).json<{ type: string; error: { err_code: number } }>();
    assert.equal(sc.type, 'io.nats.jetstream.api.v1.stream_create_response');
    assert.equal(sc.error.err_code, 10039);
    await assert.rejects(jetstreamManager(b), (err: unknown) => {
      const api = err instanceof JetStreamApiError ? err : (err as { cause?: unknown }).cause;
      return api instanceof JetStreamApiError && api.code === 10039;
    });
    // And a publish on A's stream subject from B reaches nothing (no responders).
    await assert.rejects(jetstream(b).publish('s.1', 'from b'));
  } finally {
    await Promise.all([a, b, c].map((nc) => nc.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('accounts configured but none enables JetStream: every account gets 10039 (as nats-server)', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-js-acc-none-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(
    conf,
    `jetstream { store_dir: "${join(dir, 'store')}" }
accounts {
  A: { users: [{ user: a, password: a }] }
  B: { users: [{ user: b, password: b }] }
}
`,
  );
  const server = await startServer({ args: ['-c', conf] });
  const a = await connect({ servers: server.hostport, user: 'a', pass: 'a', reconnect: false });
  try {
    const body = (await a.request('$JS.API.INFO', '', { timeout: 2000 })).json<{ error?: { err_code: number } }>();
    assert.equal(body.error?.err_code, 10039);
  } finally {
    await a.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
