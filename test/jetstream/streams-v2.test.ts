// Streams with the official v2 client (`nats`): management, message get/delete, direct get and
// publishing with expectations, on both storage types; then a restart of a file-backed server keeps
// streams, messages, creation time and the de-duplication window (nats-server's rebuildDedupe).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { headers, StorageType, DiscardPolicy, type NatsConnection, type JetStreamManager, type JetStreamClient, type StreamConfig } from 'nats';
import { jsStoreDir, startJetStream, openJsV2, type JetStreamEnv, type JsClientV2, errCodeV2 } from '../helpers/jetstream.js';

/** The v2 manager has `direct` at runtime (nats-server 2.9+), its typings do not show it. */
interface DirectGet {
  getMessage(stream: string, q: { seq: number } | { last_by_subj: string }): Promise<{ seq: number; subject: string; data: Uint8Array; header: { get(k: string): string } }>;
}
const direct = (jsm: JetStreamManager): DirectGet => (jsm as unknown as { direct: DirectGet }).direct;

for (const storage of [StorageType.File, StorageType.Memory]) {
  describe(`streams with the v2 client (${storage} storage)`, { timeout: 60_000 }, () => {
    let env: JetStreamEnv<JsClientV2> | undefined;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let js: JetStreamClient;
    let n = 0;
    const name = (): string => `V${++n}`;
    const add = (cfg: Partial<StreamConfig>) => jsm.streams.add({ storage, ...cfg });

    before(async () => {
      env = await startJetStream(openJsV2);
      ({ nc, jsm, js } = env);
    });

    after(() => env?.close());

    test('create, info, update, names, list, find, delete; 10058 / 10065 / 10059', async () => {
      const s = name();
      const si = await add({ name: s, subjects: [`${s}.*`] });
      assert.equal(si.config.storage, storage);
      assert.equal(si.config.max_msgs, -1);
      assert.equal(await jsm.streams.find(`${s}.x`), s);
      const up = await jsm.streams.update(s, { subjects: [`${s}.*`, `${s}-extra`], max_bytes: 1 << 20 });
      assert.equal(up.config.max_bytes, 1 << 20);
      assert.deepEqual(up.config.subjects, [`${s}.*`, `${s}-extra`]);
      const names = await jsm.streams.names().next();
      assert.ok(names.includes(s));
      const list = await jsm.streams.list().next();
      assert.ok(list.some((x) => x.config.name === s));
      assert.equal(await errCodeV2(add({ name: s, subjects: ['other'] })), 10058);
      assert.equal(await errCodeV2(add({ name: name(), subjects: [`${s}-extra`] })), 10065);
      assert.equal(await jsm.streams.delete(s), true);
      assert.equal(await errCodeV2(jsm.streams.info(s)), 10059);
    });

    test('publish with msgID and expectations; purge; get and delete message; direct get', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`], allow_direct: true, discard: DiscardPolicy.Old });
      const h = headers();
      h.set('K', 'v');
      const a = await js.publish(`${s}.a`, new TextEncoder().encode('one'), { msgID: 'x1', headers: h });
      const dup = await js.publish(`${s}.a`, new TextEncoder().encode('one'), { msgID: 'x1' });
      assert.equal(a.seq, 1);
      assert.deepEqual([dup.seq, dup.duplicate], [1, true]);
      await js.publish(`${s}.b`, new TextEncoder().encode('two'), { expect: { lastSequence: 1, streamName: s } });
      assert.equal(await errCodeV2(js.publish(`${s}.b`, new Uint8Array(0), { expect: { lastSequence: 1 } })), 10071);
      assert.equal(await errCodeV2(js.publish(`${s}.b`, new Uint8Array(0), { expect: { lastMsgID: 'nope' } })), 10070);
      assert.equal(await errCodeV2(js.publish(`${s}.b`, new Uint8Array(0), { expect: { streamName: 'nope' } })), 10060);
      assert.equal(await errCodeV2(js.publish(`${s}.b`, new Uint8Array(0), { expect: { lastSubjectSequence: 1 } })), 10071);

      const m = await jsm.streams.getMessage(s, { seq: 1 });
      assert.equal(m.subject, `${s}.a`);
      assert.equal(new TextDecoder().decode(m.data), 'one');
      assert.equal(m.header.get('K'), 'v');
      const last = await jsm.streams.getMessage(s, { last_by_subj: `${s}.b` });
      assert.equal(last.seq, 2);
      const d = await direct(jsm).getMessage(s, { last_by_subj: `${s}.a` });
      assert.equal(d.seq, 1);
      assert.equal(d.header.get('Nats-Stream'), s);
      const ds = await direct(jsm).getMessage(s, { seq: 2 });
      assert.equal(ds.subject, `${s}.b`);

      assert.equal(await jsm.streams.deleteMessage(s, 1), true);
      assert.equal(await errCodeV2(jsm.streams.getMessage(s, { seq: 1 })), 10037);
      await js.publish(`${s}.a`, new TextEncoder().encode('three'));
      await js.publish(`${s}.a`, new TextEncoder().encode('four'));
      assert.equal((await jsm.streams.purge(s, { filter: `${s}.a`, keep: 1 })).purged, 1);
      assert.equal((await jsm.streams.purge(s, { seq: 4 })).purged, 1);
      const st = (await jsm.streams.info(s)).state;
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [1, 4, 4]);
      assert.equal((await jsm.streams.purge(s)).purged, 1);
    });
  });
}

describe('file streams survive a restart', { timeout: 60_000 }, () => {
  let dir: string;
  before(() => {
    dir = jsStoreDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('config, created, messages and Msg-Id de-duplication are recovered; memory streams are not', async () => {
    let env = await startJetStream(openJsV2, { dir });
    let { nc, jsm, js } = env;
    const created = (await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'], max_msgs_per_subject: 5, allow_direct: true })).created;
    await jsm.streams.add({ name: 'MEM', storage: StorageType.Memory });
    for (let i = 0; i < 3; i++) await js.publish(`keep.${i}`, new TextEncoder().encode(`m${i}`), { msgID: `id-${i}` });
    await jsm.streams.deleteMessage('KEEP', 2);
    await env.close();

    env = await startJetStream(openJsV2, { dir });
    try {
      ({ nc, jsm, js } = env);
      const si = await jsm.streams.info('KEEP');
      assert.equal(si.created, created);
      assert.equal(si.config.max_msgs_per_subject, 5);
      assert.deepEqual([si.state.messages, si.state.first_seq, si.state.last_seq, si.state.num_deleted], [2, 1, 3, 1]);
      const dup = await js.publish('keep.0', new TextEncoder().encode('again'), { msgID: 'id-0' });
      assert.deepEqual([dup.seq, dup.duplicate], [1, true]);
      assert.equal((await js.publish('keep.9', new TextEncoder().encode('new'), { expect: { lastSequence: 3 } })).seq, 4);
      assert.equal(new TextDecoder().decode((await direct(jsm).getMessage('KEEP', { last_by_subj: 'keep.9' })).data), 'new');
      assert.equal(await errCodeV2(jsm.streams.info('MEM')), 10059);
    } finally {
      await env.close();
    }
  });
});
