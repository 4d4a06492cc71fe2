// Object store with the official @nats-io/obj client: a 5 MB object in chunks, read back with a
// matching SHA-256 digest, list, info, delete. Run with TSNATS_TEST_SERVER=nats-server to check the
// expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm } from '@nats-io/obj';
import { startJetStream, openNc, type JetStreamEnv } from '../helpers/jetstream.js';

async function readAll(rs: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = rs.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return Buffer.concat(parts);
}

describe('object store with @nats-io/obj', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<{ nc: NatsConnection }> | undefined;
  let nc: NatsConnection;

  before(async () => {
    env = await startJetStream(openNc, { prefix: 'tsnats-obj-' });
    ({ nc } = env);
  });

  after(() => env?.close());

  test('put a 5 MB object, get it back with the same digest; list; delete', async () => {
    const os = await new Objm(nc).create('files');
    const data = randomBytes(5 * 1024 * 1024);
    const info = await os.putBlob({ name: 'big.bin' }, data);
    assert.equal(info.size, data.length);
    assert.ok(info.chunks > 1, `stored in chunks (${info.chunks})`);
    const sha = `SHA-256=${createHash('sha256').update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
    assert.equal(info.digest, sha);
    await os.putBlob({ name: 'small.txt' }, Buffer.from('hello'));

    const r = await os.get('big.bin');
    assert.ok(r !== null);
    const back = await readAll(r.data);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data), 'same bytes');
    assert.equal((await r.error) ?? null, null, 'the client verified the digest');

    const list = await os.list();
    assert.deepEqual(list.map((o) => o.name).sort(), ['big.bin', 'small.txt']);

    await os.delete('big.bin');
    assert.equal(await os.get('big.bin'), null);
    const after = await os.list();
    assert.deepEqual(after.map((o) => o.name), ['small.txt']);
    const st = await os.status();
    assert.ok(st.size < 1024 * 1024, `chunks purged (${st.size} bytes left)`);
    assert.equal((await os.getBlob('small.txt'))?.toString(), 'hello');
  });
});
