// Stream management with the official v3 client (@nats-io/jetstream): create, update, info, names,
// list, delete, purge variants, message get/delete, direct get, and the API error codes, for both
// storage types. Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { headers, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { startJetStream, openJs, type JetStreamEnv, type JsClient, errCode } from '../helpers/jetstream.js';

type Storage = 'file' | 'memory';

/** A raw API request; the JSON reply. */
async function api(nc: NatsConnection, subject: string, body: string | object = ''): Promise<Record<string, any>> {
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 2000 });
  return m.json<Record<string, any>>();
}

for (const storage of ['file', 'memory'] as Storage[]) {
  describe(`streams with the v3 client (${storage} storage)`, { timeout: 60_000 }, () => {
    let env: JetStreamEnv<JsClient> | undefined;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let n = 0;
    const name = (): string => `S${++n}`;
    const add = (cfg: Partial<StreamConfig> & { name: string }) => jsm.streams.add({ storage, ...cfg } as Partial<StreamConfig> & { name: string });

    before(async () => {
      env = await startJetStream(openJs);
      ({ nc, jsm } = env);
    });

    after(() => env?.close());

    test('create returns the config with nats-server defaults; info, names, list, delete', async () => {
      const s = name();
      const si = await add({ name: s, subjects: [`${s}.>`] });
      const c = si.config;
      assert.equal(c.name, s);
      assert.deepEqual(c.subjects, [`${s}.>`]);
      assert.equal(c.retention, 'limits');
      assert.equal(c.storage, storage);
      assert.equal(c.discard, 'old');
      assert.equal(c.max_consumers, -1);
      assert.equal(c.max_msgs, -1);
      assert.equal(c.max_bytes, -1);
      assert.equal(c.max_age, 0);
      assert.equal(c.max_msgs_per_subject, -1);
      assert.equal(c.max_msg_size, -1);
      assert.equal(c.num_replicas, 1);
      assert.equal(c.duplicate_window, 120_000_000_000);
      assert.equal(si.state.messages, 0);
      assert.equal(si.state.first_seq, 0);
      assert.match(si.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

      // Subjects default to the name; duplicate_window follows a shorter max_age.
      const s2 = name();
      const si2 = await add({ name: s2, max_age: 1_000_000_000 });
      assert.deepEqual(si2.config.subjects, [s2]);
      assert.equal(si2.config.duplicate_window, 1_000_000_000);

      const info = await jsm.streams.info(s);
      assert.equal(info.config.name, s);
      assert.equal(info.state.consumer_count, 0);

      const names: string[] = [];
      for await (const x of jsm.streams.names()) names.push(x);
      assert.ok(names.includes(s) && names.includes(s2));
      const filtered: string[] = [];
      for await (const x of jsm.streams.names(`${s}.a`)) filtered.push(x);
      assert.deepEqual(filtered, [s]);
      const listed: string[] = [];
      for await (const x of jsm.streams.list()) listed.push(x.config.name);
      assert.ok(listed.includes(s) && listed.includes(s2));

      assert.equal(await jsm.streams.delete(s2), true);
      assert.equal(await errCode(jsm.streams.info(s2)), 10059);
      assert.equal(await errCode(jsm.streams.delete(s2)), 10059);
    });

    test('create errors: name in use 10058, subject overlap 10065, bad JSON 10025, name mismatch 10056, invalid config 10052', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.a`, `${s}.b.*`] });
      // The same config again is fine (nats-server answers as if created).
      const again = await add({ name: s, subjects: [`${s}.a`, `${s}.b.*`] });
      assert.equal(again.config.name, s);
      assert.equal(await errCode(add({ name: s, subjects: [`${s}.c`] })), 10058);
      assert.equal(await errCode(add({ name: name(), subjects: [`${s}.b.x`] })), 10065);
      assert.equal(await errCode(add({ name: name(), subjects: [`${s}.>`] })), 10065);

      const bad = await api(nc, `$JS.API.STREAM.CREATE.X${n}`, '{not json');
      assert.equal(bad['type'], 'io.nats.jetstream.api.v1.stream_create_response');
      assert.equal(bad['error'].err_code, 10025);
      assert.equal((await api(nc, `$JS.API.STREAM.CREATE.X${n}`, { name: 'Other' }))['error'].err_code, 10056);
      const e1 = (await api(nc, `$JS.API.STREAM.CREATE.X${n}`, { name: `X${n}`, subjects: ['$JS.API.x'] }))['error'];
      assert.deepEqual(e1, { code: 500, err_code: 10052, description: 'subjects overlap with jetstream api' });
      const e2 = (await api(nc, `$JS.API.STREAM.CREATE.X${n}`, { name: `X${n}`, max_age: 1000 }))['error'];
      assert.equal(e2.description, 'max age needs to be >= 100ms');
      const e3 = (await api(nc, `$JS.API.STREAM.CREATE.X${n}`, { name: `X${n}`, sealed: true }))['error'];
      assert.equal(e3.description, 'stream configuration for create can not be sealed');
    });

    test('update: limits and subjects change, storage/retention/max_consumers do not (10052), overlap 10065, unknown 10059', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.a`] });
      const other = name();
      await add({ name: other, subjects: [`${other}.>`] });
      const js = jetstream(nc);
      await js.publish(`${s}.a`, 'one');
      const up = await jsm.streams.update(s, { subjects: [`${s}.a`, `${s}.b`], max_msgs: 10, description: 'd' });
      assert.deepEqual(up.config.subjects, [`${s}.a`, `${s}.b`]);
      assert.equal(up.config.max_msgs, 10);
      assert.equal(up.state.messages, 1);
      // The new subject captures messages at once; nothing else changed.
      const pa = await js.publish(`${s}.b`, 'two');
      assert.deepEqual([pa.stream, pa.seq], [s, 2]);

      const cur = (await jsm.streams.info(s)).config;
      const raw = async (patch: object): Promise<any> => (await api(nc, `$JS.API.STREAM.UPDATE.${s}`, { ...cur, ...patch }))['error'];
      assert.deepEqual(await raw({ storage: storage === 'file' ? 'memory' : 'file' }), {
        code: 500,
        err_code: 10052,
        description: 'stream configuration update can not change storage type',
      });
      assert.equal((await raw({ retention: 'workqueue' })).description, 'stream configuration update can not change retention policy');
      assert.equal((await raw({ max_consumers: 3 })).description, 'stream configuration update can not change MaxConsumers');
      assert.equal((await raw({ subjects: [`${other}.x`] })).err_code, 10065);
      assert.equal((await api(nc, `$JS.API.STREAM.UPDATE.NOPE${n}`, { name: `NOPE${n}` }))['error'].err_code, 10059);
    });

    test('purge: all, by filter, below a sequence, keep, filter+keep; seq with keep is a bad request (10003)', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`] });
      const js = jetstream(nc);
      const fill = async (): Promise<void> => {
        for (let i = 0; i < 5; i++) {
          await js.publish(`${s}.a`, `a${i}`);
          await js.publish(`${s}.b`, `b${i}`);
        }
      };
      await fill();
      assert.equal((await jsm.streams.purge(s, { filter: `${s}.a` })).purged, 5);
      assert.equal((await jsm.streams.info(s)).state.messages, 5);
      // keep counts sequences from the last one (nats-server compacts to last - keep + 1): of the
      // five b's at 2,4,6,8,10 only seq 10 is at or above 9.
      assert.equal((await jsm.streams.purge(s, { keep: 2 })).purged, 4);
      assert.equal((await jsm.streams.info(s)).state.messages, 1);
      assert.equal((await jsm.streams.purge(s)).purged, 1);
      let st = (await jsm.streams.info(s)).state;
      assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 11, 10]);

      await fill(); // seqs 11..20
      assert.equal((await jsm.streams.purge(s, { seq: 15 })).purged, 4);
      assert.equal((await jsm.streams.info(s)).state.first_seq, 15);
      assert.equal((await jsm.streams.purge(s, { filter: `${s}.b`, keep: 1 })).purged, 2);
      st = (await jsm.streams.info(s, { subjects_filter: '>' })).state;
      assert.equal(st.messages, 4);
      assert.deepEqual(st.subjects, { [`${s}.a`]: 3, [`${s}.b`]: 1 });

      const r = await api(nc, `$JS.API.STREAM.PURGE.${s}`, { seq: 3, keep: 1 });
      assert.equal(r['error'].err_code, 10003);
      assert.equal((await api(nc, `$JS.API.STREAM.PURGE.NOPE${n}`))['error'].err_code, 10059);
    });

    test('get message by sequence and last by subject; delete message; 10037 / 10043', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`] });
      const js = jetstream(nc);
      const h = headers();
      h.set('X-Test', 'yes');
      await js.publish(`${s}.a`, 'first', { headers: h });
      await js.publish(`${s}.b`, 'second');
      await js.publish(`${s}.a`, 'third');

      const m1 = await jsm.streams.getMessage(s, { seq: 1 });
      assert.ok(m1);
      assert.equal(m1.subject, `${s}.a`);
      assert.equal(m1.seq, 1);
      assert.equal(m1.string(), 'first');
      assert.equal(m1.header.get('X-Test'), 'yes');
      const last = await jsm.streams.getMessage(s, { last_by_subj: `${s}.a` });
      assert.equal(last?.seq, 3);
      assert.equal(last?.string(), 'third');
      const next = await api(nc, `$JS.API.STREAM.MSG.GET.${s}`, { next_by_subj: `${s}.b`, seq: 1 });
      assert.equal(next['message'].seq, 2);
      assert.equal(Buffer.from(next['message'].data, 'base64').toString(), 'second');
      assert.equal(next['message'].hdrs, undefined);

      assert.equal(await jsm.streams.getMessage(s, { seq: 99 }), null);
      assert.equal((await api(nc, `$JS.API.STREAM.MSG.GET.${s}`, { seq: 99 }))['error'].err_code, 10037);
      assert.equal((await api(nc, `$JS.API.STREAM.MSG.GET.${s}`, {}))['error'].err_code, 10003);

      assert.equal(await jsm.streams.deleteMessage(s, 2), true);
      assert.equal(await jsm.streams.getMessage(s, { seq: 2 }), null);
      const e = (await api(nc, `$JS.API.STREAM.MSG.DELETE.${s}`, { seq: 2 }))['error'];
      assert.deepEqual(e, { code: 400, err_code: 10043, description: 'sequence 2 not found' });
      const st = (await jsm.streams.info(s, { deleted_details: true })).state;
      assert.equal(st.messages, 2);
      assert.equal(st.num_deleted, 1);
      assert.deepEqual(st.deleted, [2]);
    });

    test('direct get: by body {seq|last_by_subj|next_by_subj} and by subject; 404 status; none without allow_direct', async () => {
      const s = name();
      await add({ name: s, subjects: [`${s}.*`], allow_direct: true });
      const js = jetstream(nc);
      const h = headers();
      h.set('Own', 'header');
      await js.publish(`${s}.a`, 'one', { headers: h });
      await js.publish(`${s}.b`, 'two');

      const d1 = await jsm.direct.getMessage(s, { seq: 1 });
      assert.ok(d1);
      assert.equal(d1.string(), 'one');
      assert.equal(d1.subject, `${s}.a`);
      assert.equal(d1.seq, 1);
      assert.equal(d1.header.get('Nats-Stream'), s);
      assert.equal(d1.header.get('Own'), 'header');
      assert.ok(d1.timestamp);
      const d2 = await jsm.direct.getMessage(s, { last_by_subj: `${s}.b` }); // the subject form
      assert.equal(d2?.seq, 2);
      const d3 = await jsm.direct.getMessage(s, { next_by_subj: `${s}.b`, seq: 1 });
      assert.equal(d3?.seq, 2);
      assert.equal(await jsm.direct.getMessage(s, { seq: 42 }), null);

      const raw = await nc.request(`$JS.API.DIRECT.GET.${s}.${s}.a`, '', { timeout: 2000 });
      assert.equal(raw.headers?.get('Nats-Sequence'), '1');
      assert.equal(raw.headers?.get('Nats-Stream'), s);
      assert.equal(raw.headers?.get('Nats-Subject'), `${s}.a`);
      assert.match(raw.headers?.get('Nats-Time-Stamp') ?? '', /Z$/);
      const missing = await nc.request(`$JS.API.DIRECT.GET.${s}.${s}.zz`, '', { timeout: 2000 });
      assert.equal(missing.headers?.code, 404);
      assert.equal(missing.headers?.description, 'Message Not Found');
      assert.equal(missing.data.length, 0);
      const empty = await nc.request(`$JS.API.DIRECT.GET.${s}`, '', { timeout: 2000 });
      assert.equal(empty.headers?.code, 408);

      // Without allow_direct nats-server does not listen on the direct subjects: no answer.
      const nd = name();
      await add({ name: nd });
      await js.publish(nd, 'x');
      await assert.rejects(nc.request(`$JS.API.DIRECT.GET.${nd}`, JSON.stringify({ seq: 1 }), { timeout: 300 }));
    });

    test('sealed, deny_delete and deny_purge', async () => {
      const s = name();
      await add({ name: s, deny_delete: true, deny_purge: true });
      const js = jetstream(nc);
      await js.publish(s, 'x');
      const del = (await api(nc, `$JS.API.STREAM.MSG.DELETE.${s}`, { seq: 1 }))['error'];
      assert.deepEqual(del, { code: 500, err_code: 10057, description: 'message delete not permitted' });
      const pur = (await api(nc, `$JS.API.STREAM.PURGE.${s}`))['error'];
      assert.deepEqual(pur, { code: 500, err_code: 10110, description: 'stream purge not permitted' });
      const cur = (await jsm.streams.info(s)).config;
      const cancel = (await api(nc, `$JS.API.STREAM.UPDATE.${s}`, { ...cur, deny_delete: false }))['error'];
      assert.equal(cancel.description, 'stream configuration update can not cancel deny message deletes');

      const sealed = await jsm.streams.update(s, { sealed: true } as Partial<StreamConfig>);
      assert.equal(sealed.config.sealed, true);
      assert.equal(sealed.config.discard, 'new');
      assert.equal(await errCode(js.publish(s, 'y')), 10109);
      assert.equal((await api(nc, `$JS.API.STREAM.PURGE.${s}`))['error'].err_code, 10109);
      assert.equal((await api(nc, `$JS.API.STREAM.MSG.DELETE.${s}`, { seq: 1 }))['error'].err_code, 10109);
      const unseal = (await api(nc, `$JS.API.STREAM.UPDATE.${s}`, { ...sealed.config, sealed: false }))['error'];
      assert.equal(unseal.description, 'stream configuration update can not unseal a sealed stream');
      assert.equal((await jsm.streams.info(s)).state.messages, 1);
    });

    test('account info counts streams, messages and API calls', async () => {
      const s = name();
      await add({ name: s });
      await jetstream(nc).publish(s, 'hello');
      const ai = await jsm.getAccountInfo();
      assert.ok(ai.streams >= 1);
      assert.equal(ai.limits.max_streams, -1);
      assert.ok(ai.api.total > 0);
      assert.ok(ai.api.errors > 0); // earlier tests made failing calls
      assert.ok((storage === 'memory' ? ai.memory : ai.storage) > 0);
    });
  });
}
