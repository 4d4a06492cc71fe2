// A JetStream domain (`jetstream { domain: X }`): `$JS.X.API.>` answers like `$JS.API.>` (nats-server's
// generateJSMappingTable, `$KV`/`$OBJ` included), pub acks and account info carry the domain, and the
// clients' `{ domain }` option works end to end (nats.js "jetstream - domain / account domain /
// puback domain"). Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startConfServer, type JetStreamServer } from '../helpers/jetstream.js';

describe('JetStream domain', { timeout: 60_000 }, () => {
  let srv: JetStreamServer | undefined;
  let nc: NatsConnection;
  let other: NatsConnection;

  before(async () => {
    srv = await startConfServer(
      (dir) => `jetstream { store_dir: "${join(dir, 'store')}", domain: afton }
accounts {
  A: { jetstream: { max_memory: 100000, max_file: 1000000 }, users: [{ user: a, password: a }] }
  B: { users: [{ user: b, password: b }] }
}
`,
      { prefix: 'tsnats-js-domain-' },
    );
    nc = await connect({ servers: srv.server.hostport, user: 'a', pass: 'a', reconnect: false });
    other = await connect({ servers: srv.server.hostport, user: 'b', pass: 'b', reconnect: false });
  });
  after(async () => {
    await Promise.allSettled([nc?.close(), other?.close()]);
    await srv?.stop();
  });

  test('$JS.afton.API.INFO answers under the domain, and $JS.API.INFO too', async () => {
    const viaDomain = (await nc.request('$JS.afton.API.INFO', '')).json<Record<string, unknown>>();
    assert.equal(viaDomain['type'], 'io.nats.jetstream.api.v1.account_info_response');
    assert.equal(viaDomain['domain'], 'afton');
    assert.equal((viaDomain['limits'] as { max_storage: number }).max_storage, 1000000);
    const plain = (await nc.request('$JS.API.INFO', '')).json<Record<string, unknown>>();
    assert.equal(plain['domain'], 'afton');
    const jsm = await jetstreamManager(nc, { domain: 'afton' });
    assert.equal((await jsm.getAccountInfo()).domain, 'afton');
  });

  test('an account without JetStream gets 10039 under the domain as well', async () => {
    const r = (await other.request('$JS.afton.API.INFO', '')).json<{ error: { err_code: number } }>();
    assert.equal(r.error.err_code, 10039);
  });

  test('pub acks carry the domain; streams are managed through the domain prefix', async () => {
    const jsm = await jetstreamManager(nc, { domain: 'afton' });
    await jsm.streams.add({ name: 'DOM', subjects: ['dom.>'] });
    const pa = await jetstream(nc, { domain: 'afton' }).publish('dom.a', 'x');
    assert.equal(pa.domain, 'afton');
    assert.equal(pa.seq, 1);
    const raw = await nc.request('dom.a', 'y');
    assert.equal(raw.string(), '{"stream":"DOM", "domain":"afton", "seq":2}');
    const info = (await nc.request('$JS.afton.API.STREAM.INFO.DOM', '')).json<Record<string, unknown>>();
    assert.equal(info['domain'], 'afton');
    assert.equal((info['state'] as { messages: number }).messages, 2);
  });

  test('KV through the domain: $JS.afton.API.$KV.> reaches the bucket', async () => {
    const kv = await new Kvm(jetstream(nc, { domain: 'afton' })).create('dkv');
    const rev = await kv.put('k', 'v1');
    assert.equal((await kv.get('k'))?.string(), 'v1');
    assert.equal((await kv.get('k'))?.revision, rev);
    // What the client published to: the domain's mapped KV subject, stored under $KV.
    const plain = await new Kvm(jetstream(nc)).open('dkv');
    assert.equal((await plain.get('k'))?.string(), 'v1');
  });

  test('a $KV publish through the domain that no stream captures gets no responders', async () => {
    await assert.rejects(nc.request('$JS.afton.API.$KV.nobucket.k', 'x', { timeout: 2000 }), (err: Error) => /no responders/i.test(err.message) || (err as { code?: string }).code === '503');
  });
});
