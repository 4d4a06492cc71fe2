// Key-value buckets with the official @nats-io/kv client: put/get, create/update with revision
// conflicts, delete/purge, keys, history and watch (ordered push consumers underneath).
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { startJetStream, openNc, type JetStreamEnv } from '../helpers/jetstream.js';
import { waitFor } from '../helpers/wait.js';

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

describe('KV with @nats-io/kv', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<{ nc: NatsConnection }> | undefined;
  let nc: NatsConnection;
  let kvm: Kvm;
  let n = 0;
  const bucket = async (history = 1): Promise<KV> => kvm.create(`b${++n}`, { history });

  before(async () => {
    env = await startJetStream(openNc, { prefix: 'tsnats-kv-' });
    ({ nc } = env);
    kvm = new Kvm(nc);
  });

  after(() => env?.close());

  test('put/get with revisions; get of a missing key is null', async () => {
    const kv = await bucket();
    const r1 = await kv.put('a.b', 'one');
    const r2 = await kv.put('a.b', 'two');
    assert.equal(r2, r1 + 1);
    const e = await kv.get('a.b');
    assert.equal(e?.string(), 'two');
    assert.equal(e?.revision, r2);
    assert.equal(e?.operation, 'PUT');
    assert.equal(e?.key, 'a.b');
    assert.equal(await kv.get('missing'), null);
    const old = await kv.get('a.b', { revision: r1 });
    assert.equal(old, null, 'history 1: the first revision is gone');
  });

  test('create fails on an existing key, update checks the revision', async () => {
    const kv = await bucket();
    const r1 = await kv.create('k', 'v1');
    await rejects(kv.create('k', 'again'));
    const r2 = await kv.update('k', 'v2', r1);
    assert.equal(r2, r1 + 1);
    const err = await rejects(kv.update('k', 'v3', r1));
    assert.match(err.message, /wrong last sequence/);
    assert.equal((await kv.get('k'))?.string(), 'v2');
    await kv.delete('k');
    const r3 = await kv.create('k', 'v4');
    assert.ok(r3 > r2, 'create works again after a delete');
  });

  test('delete and purge: markers, history, keys', async () => {
    const kv = await bucket(5);
    await kv.put('x', '1');
    await kv.put('x', '2');
    await kv.put('y', '1');
    await kv.put('z', '1');
    await kv.delete('y');
    const dy = await kv.get('y');
    assert.equal(dy?.operation, 'DEL');
    await kv.purge('z');
    const pz = await kv.get('z');
    assert.equal(pz?.operation, 'PURGE');
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    assert.deepEqual(keys.sort(), ['x']);
    const hist: KvEntry[] = [];
    for await (const e of await kv.history({ key: 'x' })) hist.push(e);
    assert.deepEqual(hist.map((e) => e.string()), ['1', '2']);
    const status = await kv.status();
    assert.equal(status.values, 5, 'x twice, y and its delete marker, z purge marker (the rollup removed z)');
  });

  test('watch: current values first, then updates and deletes as they happen', async () => {
    const kv = await bucket(3);
    await kv.put('w.a', 'a1');
    await kv.put('w.b', 'b1');
    await kv.put('w.a', 'a2');
    const seen: string[] = [];
    const w = await kv.watch({ key: 'w.>' });
    const loop = (async () => {
      for await (const e of w) {
        seen.push(`${e.key}=${e.operation === 'PUT' ? e.string() : e.operation}`);
      }
    })();
    await waitFor(() => seen.length === 2, () => `initial values, got ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.sort(), ['w.a=a2', 'w.b=b1']);
    await kv.put('w.c', 'c1');
    await kv.delete('w.b');
    await waitFor(() => seen.length === 4, () => `updates, got ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.slice(2), ['w.c=c1', 'w.b=DEL']);
    w.stop();
    await loop;
  });

  test('buckets list and reopen', async () => {
    const kv = await bucket();
    await kv.put('q', 'v');
    const again = await kvm.open(`b${n}`);
    assert.equal((await again.get('q'))?.string(), 'v');
    const names: string[] = [];
    for await (const s of kvm.list()) names.push(s.bucket);
    assert.ok(names.includes(`b${n}`));
  });
});
