// KV and object store through the nats v2 client's views (`js.views.kv`, `js.views.os`): the same
// stream conventions as @nats-io/kv and @nats-io/obj, reached through the older client's code.
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { StringCodec, type JetStreamClient } from 'nats';
import { startJetStream, openJsV2, type JetStreamEnv, type JsClientV2 } from '../helpers/jetstream.js';

const sc = StringCodec();

describe('KV and object store with the nats v2 client', { timeout: 60_000 }, () => {
  let env: JetStreamEnv<JsClientV2> | undefined;
  let js: JetStreamClient;

  before(async () => {
    env = await startJetStream(openJsV2, { prefix: 'tsnats-kv2-' });
    ({ js } = env);
  });

  after(() => env?.close());

  test('kv: put/get, revisions, create/update conflicts, keys, history, delete, watch', async () => {
    const kv = await js.views.kv('v2kv', { history: 3 });
    assert.equal(await kv.put('k1', sc.encode('a')), 1);
    assert.equal(await kv.put('k1', sc.encode('b')), 2);
    assert.equal(await kv.create('k2', sc.encode('c')), 3);
    await assert.rejects(kv.create('k2', sc.encode('again')));
    await assert.rejects(kv.update('k1', sc.encode('stale'), 1));
    assert.equal(await kv.update('k1', sc.encode('d'), 2), 4);
    const e = await kv.get('k1');
    assert.equal(sc.decode(e!.value), 'd');
    assert.equal(e!.revision, 4);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    assert.deepEqual(keys.sort(), ['k1', 'k2']);
    const hist: string[] = [];
    for await (const h of await kv.history({ key: 'k1' })) hist.push(sc.decode(h.value));
    assert.deepEqual(hist, ['a', 'b', 'd']);
    await kv.delete('k2');
    assert.equal((await kv.get('k2'))?.operation, 'DEL');
    const w = await kv.watch({ key: 'k3' });
    setTimeout(() => void kv.put('k3', sc.encode('watched')), 50);
    for await (const u of w) {
      assert.equal(u.key, 'k3');
      assert.equal(sc.decode(u.value), 'watched');
      break;
    }
  });

  test('object store: put 1 MB, get it back with the same digest, list, delete', async () => {
    const os = await js.views.os('v2os');
    const data = new Uint8Array(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const info = await os.putBlob({ name: 'blob' }, data);
    assert.equal(info.size, data.length);
    const back = await os.getBlob('blob');
    assert.equal(createHash('sha256').update(back!).digest('hex'), createHash('sha256').update(data).digest('hex'));
    assert.deepEqual((await os.list()).map((o) => o.name), ['blob']);
    await os.delete('blob');
    assert.deepEqual(await os.list(), []);
  });
});
