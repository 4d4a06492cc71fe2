// The server's JetStream resource limits (`jetstream { max_mem_store, max_file_store }`) through the
// official v3 client: /jsz and account info figures, stream create/update refused when max_bytes does
// not fit (10028 / 10047, jetstream.go checkBytesLimits), publishes refused once a storage type is
// past its limit (503 10023 "insufficient resources", stream.go processJetStreamMsg), and room
// coming back when a stream is deleted. `-js -sd DIR` alone leaves the limits unlimited (-1).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, jetstream, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { usingNatsServer, type RunningServer } from '../helpers/server.js';
import { startJetStream, openJs, openNc, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';

const MB = 1024 * 1024;
const INSUFFICIENT = { code: 503, err_code: 10023, description: 'insufficient resources' };
const MEM_EXCEEDED = { code: 500, err_code: 10028, description: 'insufficient memory resources available' };
const STORE_EXCEEDED = { code: 500, err_code: 10047, description: 'insufficient storage resources available' };

async function apiError(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof JetStreamApiError) return err.apiError() as unknown as Record<string, unknown>;
    throw err;
  }
  assert.fail('expected an API error');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

describe('JetStream server resource limits (max_mem_store 1MB, max_file_store 2MB)', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<JsClient> | undefined;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let monitor: string;
  const jsz = async (): Promise<Json> => (await (await fetch(`${monitor}/jsz`)).json()) as Json;
  const add = (cfg: Partial<StreamConfig> & { name: string }) => jsm.streams.add(cfg);
  const payload = new Uint8Array(10_000);

  /** Publishes to subject until the first error ack; returns it and how many were stored. */
  async function fill(subject: string): Promise<{ err: Record<string, unknown>; stored: number }> {
    for (let i = 0; i < 10_000; i++) {
      try {
        await js.publish(subject, payload);
      } catch (err) {
        if (err instanceof JetStreamApiError) return { err: err.apiError() as unknown as Record<string, unknown>, stored: i };
        throw err;
      }
    }
    assert.fail(`no error ack after 10000 publishes on ${subject}`);
  }

  before(async () => {
    const args = (dir: string): string[] => {
      const conf = join(dir, 'nats.conf');
      writeFileSync(conf, `jetstream {\n  store_dir: "${join(dir, 'data')}"\n  max_mem_store: 1MB\n  max_file_store: 2MB\n}\n`);
      return ['-c', conf, '-m', '-1'];
    };
    env = await startJetStream(openJs, { prefix: 'tsnats-js-res-', args });
    ({ nc, jsm, js } = env);
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(env.server.output())![1]);
    monitor = `http://127.0.0.1:${port}`;
  });

  after(() => env?.close());

  test('/jsz shows the configured limits; account info shows usage (account limits stay -1)', async () => {
    const j = await jsz();
    assert.equal(j['config'].max_memory, 1 * MB);
    assert.equal(j['config'].max_storage, 2 * MB);
    assert.equal(j['memory'], 0);
    assert.equal(j['storage'], 0);
    assert.equal(j['reserved_memory'], 0);
    assert.equal(j['reserved_storage'], 0);

    const ai = await jsm.getAccountInfo();
    assert.equal(ai.memory, 0);
    assert.equal(ai.storage, 0);
    // nats-server's dynamicJSAccountLimits: an account without limits of its own reports -1.
    assert.equal(ai.limits.max_memory, -1);
    assert.equal(ai.limits.max_storage, -1);
  });

  test('stream create: max_bytes over the server limit is refused (10028 memory, 10047 file)', async () => {
    assert.deepEqual(await apiError(add({ name: 'BIGMEM', storage: 'memory', max_bytes: 1 * MB + 1 })), MEM_EXCEEDED);
    assert.deepEqual(await apiError(add({ name: 'BIGFILE', storage: 'file', max_bytes: 3 * MB })), STORE_EXCEEDED);
    assert.equal((await jsm.getAccountInfo()).streams, 0);

    // Exactly the limit fits; then even a stream without max_bytes (which reserves 1 byte) does not.
    await add({ name: 'RESMEM', storage: 'memory', max_bytes: 1 * MB });
    assert.deepEqual(await apiError(add({ name: 'MORE', storage: 'memory' })), MEM_EXCEEDED);
    // File storage is counted apart.
    await add({ name: 'RESFILE', storage: 'file', max_bytes: 1 * MB });

    const ai = await jsm.getAccountInfo();
    assert.equal(ai.reserved_memory, 1 * MB);
    assert.equal(ai.reserved_storage, 1 * MB);
    const j = await jsz();
    assert.equal(j['reserved_memory'], 1 * MB);
    assert.equal(j['reserved_storage'], 1 * MB);
  });

  test('stream update: only the growth of max_bytes must fit', async () => {
    const si = await jsm.streams.info('RESFILE');
    assert.deepEqual(await apiError(jsm.streams.update('RESFILE', { ...si.config, max_bytes: 2 * MB + 1 })), STORE_EXCEEDED);
    const up = await jsm.streams.update('RESFILE', { ...si.config, max_bytes: 2 * MB });
    assert.equal(up.config.max_bytes, 2 * MB);
    // Shrinking always fits.
    await jsm.streams.update('RESFILE', { ...si.config, max_bytes: 1 * MB });
    assert.equal((await jsz())['reserved_storage'], 1 * MB);
  });

  test('deleting a stream frees its reservation', async () => {
    await jsm.streams.delete('RESMEM');
    await jsm.streams.delete('RESFILE');
    assert.equal((await jsz())['reserved_memory'], 0);
    await add({ name: 'MORE', storage: 'memory' });
    await jsm.streams.delete('MORE');
    const ai = await jsm.getAccountInfo();
    assert.equal(ai.reserved_memory, 0);
    assert.equal(ai.reserved_storage, 0);
    assert.equal(ai.streams, 0);
  });

  for (const [storage, limit] of [
    ['memory', 1 * MB],
    ['file', 2 * MB],
  ] as const) {
    test(`publishing until ${storage} storage is full: error ack 503 10023, not stored; delete frees room`, async () => {
      const A = `FULL_${storage}_A`;
      const B = `FULL_${storage}_B`;
      await add({ name: A, subjects: [`${A}.>`], storage });
      await add({ name: B, subjects: [`${B}.>`], storage });
      const { err, stored } = await fill(`${A}.x`);
      assert.deepEqual(err, INSUFFICIENT);
      // nats-server refuses once usage is past the limit: what was stored is at least the limit.
      const st = (await jsm.streams.info(A)).state;
      assert.equal(st.messages, stored);
      assert.ok(st.bytes > limit, `stored ${st.bytes} bytes, limit ${limit}`);
      assert.ok(st.bytes < limit + 2 * payload.length, `stored ${st.bytes} bytes, limit ${limit}`);

      // The limit is server-wide per storage type: another stream of that type is refused too...
      assert.deepEqual(await apiError(js.publish(`${B}.x`, payload)), INSUFFICIENT);
      assert.equal((await jsm.streams.info(B)).state.messages, 0);
      assert.equal((await jsm.streams.info(A)).state.messages, stored);
      // ...while the other storage type is not affected.
      const other = storage === 'memory' ? 'file' : 'memory';
      await add({ name: `OTHER_${storage}`, subjects: [`OTHER_${storage}`], storage: other });
      const ok = await js.publish(`OTHER_${storage}`, payload);
      assert.equal(ok.seq, 1);

      const j = await jsz();
      assert.equal(j[storage === 'memory' ? 'memory' : 'storage'], st.bytes);
      const ai = await jsm.getAccountInfo();
      assert.equal(storage === 'memory' ? ai.memory : ai.storage, st.bytes);

      // Deleting the full stream makes room again.
      await jsm.streams.delete(A);
      const pa = await js.publish(`${B}.x`, payload);
      assert.equal(pa.seq, 1);
      await jsm.streams.delete(B);
      await jsm.streams.delete(`OTHER_${storage}`);
    });
  }

  test('purging a full stream makes room as well', async () => {
    await add({ name: 'PURGE', subjects: ['PURGE.>'], storage: 'memory' });
    const { err } = await fill('PURGE.x');
    assert.deepEqual(err, INSUFFICIENT);
    await jsm.streams.purge('PURGE');
    const pa = await js.publish('PURGE.x', payload);
    assert.ok(pa.seq > 1);
    await jsm.streams.delete('PURGE');
  });
});

describe('JetStream with -js -sd only: unlimited', { skip: usingNatsServer ? 'nats-server sizes unset limits from the machine' : false, timeout: 30_000 }, () => {
  let env: JetStreamEnv<{ nc: NatsConnection }> | undefined;
  let server: RunningServer;
  let nc: NatsConnection;

  before(async () => {
    env = await startJetStream(openNc, { prefix: 'tsnats-js-res-', args: (dir) => ['-js', '-sd', dir, '-m', '-1'] });
    ({ server, nc } = env);
  });

  after(() => env?.close());

  test('/jsz config limits are -1 and a large max_bytes stream is accepted', async () => {
    const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]);
    const j = (await (await fetch(`http://127.0.0.1:${port}/jsz`)).json()) as Json;
    assert.equal(j['config'].max_memory, -1);
    assert.equal(j['config'].max_storage, -1);
    const jsm = await jetstreamManager(nc);
    const ai = await jsm.getAccountInfo();
    assert.equal(ai.limits.max_memory, -1);
    assert.equal(ai.limits.max_storage, -1);
    await jsm.streams.add({ name: 'HUGE', storage: 'memory', max_bytes: 1024 * 1024 * 1024 * 1024 });
    const info = await jsm.streams.info('HUGE');
    assert.equal(info.config.max_bytes, 1024 * 1024 * 1024 * 1024);
    assert.equal((await jsm.getAccountInfo()).reserved_memory, 1024 * 1024 * 1024 * 1024);
  });
});
