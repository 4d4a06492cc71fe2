// Cross-account JetStream as the clients use it (nats.js kv_test.ts "cross account history/watch"):
// account A has JetStream and exports `$JS.API.>`, `$KV.>` and the stream `forb.>`; account B
// imports them (`to: "froma.>"`, `to: "froma.$KV.>"`) and reaches A's KV through
// `jetstream(nc, { apiPrefix: "froma" })` with its inboxes under `forb`. Also: a pull consumer's
// messages through a `response_type: stream` export, and a push consumer delivering into B.
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { startConfServer, type JetStreamServer } from '../helpers/jetstream.js';

const conf = (dir: string): string => `jetstream { store_dir: "${join(dir, 'store')}" }
accounts {
  A: {
    jetstream: enabled
    users: [{ user: a, password: a }]
    exports: [
      { service: "$JS.API.>" }
      { service: "$KV.>" }
      { stream: "forb.>" }
      { service: "$JS.API.CONSUMER.MSG.NEXT.>", response_type: stream }
      { service: "$JS.ACK.>" }
    ]
  }
  B: {
    users: [{ user: b, password: b }]
    imports: [
      { service: { subject: "$KV.>", account: A }, to: "froma.$KV.>" }
      { service: { subject: "$JS.API.>", account: A }, to: "froma.>" }
      { stream: { subject: "forb.>", account: A } }
      { service: { subject: "$JS.API.CONSUMER.MSG.NEXT.>", account: A }, to: "pullfroma.>" }
      { service: { subject: "$JS.ACK.>", account: A } }
    ]
  }
}
`;

/** Resolves once every key in `keys` was seen by the iterator (then stops it). */
async function seesKeys(kv: KV, mode: 'history' | 'watch', keys: string[]): Promise<void> {
  const seen = new Set<string>();
  const it = mode === 'history' ? await kv.history() : await kv.watch();
  const done = (async () => {
    for await (const e of it) {
      seen.add(e.key);
      if (keys.every((k) => seen.has(k))) break;
    }
  })();
  const timer = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${mode}: saw ${[...seen].join(',')}, wanted ${keys.join(',')}`)), 10_000).unref());
  try {
    await Promise.race([done, timer]);
  } finally {
    it.stop();
  }
}

describe('cross-account JetStream through imports', { timeout: 120_000 }, () => {
  let srv: JetStreamServer | undefined;
  let nca: NatsConnection;
  let ncb: NatsConnection;

  before(async () => {
    srv = await startConfServer(conf, { prefix: 'tsnats-js-xacc-' });
    nca = await connect({ servers: srv.server.hostport, user: 'a', pass: 'a', reconnect: false });
    ncb = await connect({ servers: srv.server.hostport, user: 'b', pass: 'b', inboxPrefix: 'forb', reconnect: false });
  });

  after(async () => {
    await Promise.allSettled([nca?.close(), ncb?.close()]);
    await srv?.stop();
  });

  test('account info and stream management through `to: "froma.>"`', async () => {
    const jsm = await jetstreamManager(ncb, { apiPrefix: 'froma' });
    const ai = await jsm.getAccountInfo();
    assert.equal(typeof ai.limits.max_storage, 'number');
    await jsm.streams.add({ name: 'XS', subjects: ['xs.>'] });
    assert.equal((await jetstream(nca).publish('xs.1', 'one')).seq, 1);
    const si = await jsm.streams.info('XS');
    assert.equal(si.state.messages, 1);
    assert.deepEqual(await jsm.streams.names().next(), ['XS']);
  });

  test('KV history: both accounts see every key (nats.js "kv - cross account history")', async () => {
    const kva = await new Kvm(jetstream(nca)).create('a');
    await kva.put('A', 'A');
    await kva.put('B', 'B');
    await kva.delete('B');
    const kvb = await new Kvm(jetstream(ncb, { apiPrefix: 'froma' })).create('a');
    await kvb.put('C', 'C');
    assert.equal((await kvb.get('A'))?.string(), 'A');
    await Promise.all([seesKeys(kva, 'history', ['A', 'B', 'C']), seesKeys(kvb, 'history', ['A', 'B', 'C'])]);
  });

  test('KV watch: updates from both accounts reach both watchers (nats.js "kv - cross account watch")', async () => {
    const kva = await new Kvm(jetstream(nca)).create('w');
    const kvb = await new Kvm(jetstream(ncb, { apiPrefix: 'froma' })).create('w');
    const watching = [seesKeys(kva, 'watch', ['A', 'B', 'C']), seesKeys(kvb, 'watch', ['A', 'B', 'C'])];
    await Promise.all([nca.flush(), ncb.flush()]);
    await new Promise((r) => setTimeout(r, 200)); // both watchers' consumers exist
    await kva.put('A', 'A');
    await kva.put('B', 'B');
    await kvb.put('C', 'C');
    await Promise.all(watching);
  });

  test('a pull request through a response_type stream import gets every message; acks cross too', async () => {
    const jsm = await jetstreamManager(nca);
    await jsm.streams.add({ name: 'PULL', subjects: ['pull.>'] });
    const js = jetstream(nca);
    for (let i = 1; i <= 3; i++) await js.publish(`pull.${i}`, `m${i}`);
    await jsm.consumers.add('PULL', { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const inbox = `forb.pull.${Date.now()}`;
    const got: { subject: string; reply: string }[] = [];
    const sub = ncb.subscribe(inbox, { callback: (_e, m) => void got.push({ subject: m.subject, reply: m.reply ?? '' }) });
    await ncb.flush();
    ncb.publish('pullfroma.PULL.d', JSON.stringify({ batch: 3, expires: 2_000_000_000 }), { reply: inbox });
    const until = Date.now() + 5000;
    while (got.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    assert.equal(got.length, 3, `3 messages, got ${got.length}`);
    assert.deepEqual(got.map((g) => g.subject), ['pull.1', 'pull.2', 'pull.3'], 'shown with their stream subjects');
    assert.ok(got.every((g) => g.reply.startsWith('$JS.ACK.PULL.d.')), 'each carries its ack subject');
    // The ack subject is imported as a service: acking from B acknowledges in A.
    for (const g of got) await ncb.request(g.reply, '', { timeout: 2000 });
    const ci = await jsm.consumers.info('PULL', 'd');
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.stream_seq, 3);
  });
});
