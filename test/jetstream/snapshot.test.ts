// Stream snapshot and restore over `$JS.API.STREAM.SNAPSHOT` / `RESTORE`, driven exactly as
// `nats stream backup` / `nats stream restore` (jsm.go) drive them: chunks acked one by one, an
// empty 204 message at the end; the restore sends the archive as requests and ends with an empty
// one answered by the stream create response. A snapshot restored into a fresh server holds the
// same messages (sequences, subjects, headers, times, deleted ones) and the same durable consumers.
// TSNATS_TEST_SERVER=nats-server checks the protocol and the expectations against nats-server.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { createInbox, headers, type NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, type JetStreamManager, type StreamConfig, type StreamState } from '@nats-io/jetstream';
import { startJetStream, openJs, jsStoreDir, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface ApiReply {
  type?: string;
  error?: { code: number; err_code: number; description: string };
  config?: StreamConfig;
  state?: StreamState;
  deliver_subject?: string;
}

/** jsm.go's createSnapshot: the archive bytes and the {config, state} the server answered with. */
async function snapshot(nc: NatsConnection, stream: string, chunkSize: number): Promise<{ meta: ApiReply; data: Buffer; chunks: number; status: string }> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  const parts: Buffer[] = [];
  let status = '';
  const done = (async () => {
    for await (const m of sub) {
      if (m.data.length === 0) {
        status = m.headers ? `${m.headers.code}` : '';
        break;
      }
      parts.push(Buffer.from(m.data));
      if (m.reply) m.respond();
    }
  })();
  const r = await nc.request(`$JS.API.STREAM.SNAPSHOT.${stream}`, JSON.stringify({ deliver_subject: inbox, no_consumers: false, chunk_size: chunkSize }), { timeout: 10_000 });
  const meta = r.json<ApiReply>();
  if (meta.error) {
    sub.unsubscribe();
    return { meta, data: Buffer.alloc(0), chunks: 0, status: '' };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([done, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('snapshot did not end in 30s')), 30_000)))]);
  } finally {
    clearTimeout(timer);
  }
  return { meta, data: Buffer.concat(parts), chunks: parts.length, status };
}

/** jsm.go's restoreSnapshot: the final stream create response. */
async function restore(nc: NatsConnection, stream: string, meta: ApiReply, data: Buffer): Promise<ApiReply> {
  const r = (await nc.request(`$JS.API.STREAM.RESTORE.${stream}`, JSON.stringify({ config: meta.config, state: meta.state }), { timeout: 10_000 })).json<ApiReply>();
  if (r.error) return r;
  assert.ok(r.deliver_subject, 'the restore answers with where to send the chunks');
  for (let at = 0; at < data.length; at += 64 * 1024) {
    const ack = await nc.request(r.deliver_subject!, data.subarray(at, at + 64 * 1024), { timeout: 10_000 });
    assert.equal(ack.data.length, 0, `chunk at ${at} acked empty`);
  }
  return (await nc.request(r.deliver_subject!, new Uint8Array(0), { timeout: 60_000 })).json<ApiReply>();
}

/** The subjects of the messages arriving on subject, in order. */
function collectSubjects(nc: NatsConnection, subject: string): string[] {
  const out: string[] = [];
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) out.push(m.subject);
  })();
  return out;
}

/** seq → subject|payload|header|time of every message. */
async function contents(jsm: JetStreamManager, stream: string): Promise<Map<number, string>> {
  const si = await jsm.streams.info(stream);
  const out = new Map<number, string>();
  const seqs: number[] = [];
  for (let seq = si.state.first_seq; seq <= si.state.last_seq; seq++) seqs.push(seq);
  for (let i = 0; i < seqs.length; i += 100) {
    const part = await Promise.all(
      seqs.slice(i, i + 100).map((seq) =>
        jsm.streams.getMessage(stream, { seq }).then(
          (m) => (m === null ? null : ([seq, `${m.subject}|${m.string()}|${m.header?.get('X-N') ?? ''}|${m.time.toISOString()}`] as const)),
          () => null,
        ),
      ),
    );
    for (const p of part) if (p !== null) out.set(p[0], p[1]);
  }
  return out;
}

describe('stream snapshot and restore', { timeout: 180_000 }, () => {
  test('a snapshot restored into a fresh server holds the same messages and consumers', async () => {
    const dirA = jsStoreDir('tsnats-snap-a-');
    const dirB = jsStoreDir('tsnats-snap-b-');
    dirs.push(dirA, dirB);
    let a: JetStreamEnv<JsClient> | undefined = await startJetStream(openJs, { dir: dirA });
    let b: JetStreamEnv<JsClient> | undefined;
    try {
      const { jsm, js, nc } = a;
      await jsm.streams.add({ name: 'SNAP', subjects: ['snap.>'], max_msgs_per_subject: 50, allow_rollup_hdrs: true });
      const pad = 'p'.repeat(600);
      const acks: Promise<unknown>[] = [];
      for (let i = 1; i <= 3000; i++) {
        const h = headers();
        h.set('X-N', String(i));
        acks.push(js.publish(`snap.${i % 40}`, `${i}:${pad}`, { headers: h }));
      }
      await Promise.all(acks);
      await jsm.streams.deleteMessage('SNAP', 2990);
      await jsm.streams.deleteMessage('SNAP', 2995);
      // A durable pull consumer with some acked, some pending; a durable push consumer.
      await jsm.consumers.add('SNAP', { durable_name: 'PULL', ack_policy: AckPolicy.Explicit, filter_subject: 'snap.7' });
      const c = await js.consumers.get('SNAP', 'PULL');
      const batch = await c.fetch({ max_messages: 20, expires: 2000 });
      let n = 0;
      for await (const m of batch) {
        if (++n <= 10) m.ack();
        if (n === 20) break;
      }
      await nc.flush();
      await jsm.consumers.add('SNAP', { durable_name: 'PUSH', deliver_subject: 'push.snap', ack_policy: AckPolicy.None, filter_subject: 'snap.1' });
      await new Promise((r) => setTimeout(r, 300)); // consumer state written
      const before = await jsm.streams.info('SNAP');
      const pullBefore = await jsm.consumers.info('SNAP', 'PULL');

      const advA = collectSubjects(nc, '$JS.EVENT.ADVISORY.STREAM.>');
      await nc.flush();
      const snap = await snapshot(nc, 'SNAP', 64 * 1024);
      assert.equal(snap.meta.type, 'io.nats.jetstream.api.v1.stream_snapshot_response');
      assert.equal(snap.meta.config?.name, 'SNAP');
      assert.equal(snap.meta.state?.messages, before.state.messages);
      assert.ok(snap.chunks > 1, `several chunks (${snap.chunks})`);
      // The end of the snapshot carries status 204 since nats-server 2.10.14 (2.9 sends none).
      if (!usingNatsServer) assert.equal(snap.status, '204');
      assert.equal(snap.data.subarray(0, 10).toString('latin1'), '\xff\x06\x00\x00S2sTwO', 'an S2 stream');

      for (let i = 0; i < 100 && !advA.includes('$JS.EVENT.ADVISORY.STREAM.SNAPSHOT_COMPLETE.SNAP'); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(advA, ['$JS.EVENT.ADVISORY.STREAM.SNAPSHOT_CREATE.SNAP', '$JS.EVENT.ADVISORY.STREAM.SNAPSHOT_COMPLETE.SNAP']);

      b = await startJetStream(openJs, { dir: dirB });
      const advB = collectSubjects(b.nc, '$JS.EVENT.ADVISORY.STREAM.>');
      await b.nc.flush();
      const created = await restore(b.nc, 'SNAP', snap.meta, snap.data);
      assert.equal(created.error, undefined, JSON.stringify(created.error));
      assert.equal(created.type, 'io.nats.jetstream.api.v1.stream_create_response');
      assert.equal(created.state?.messages, before.state.messages);
      assert.equal(created.state?.first_seq, before.state.first_seq);
      assert.equal(created.state?.last_seq, before.state.last_seq);
      for (let i = 0; i < 100 && advB.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(advB.includes('$JS.EVENT.ADVISORY.STREAM.RESTORE_CREATE.SNAP'), advB.join());
      assert.ok(advB.includes('$JS.EVENT.ADVISORY.STREAM.RESTORE_COMPLETE.SNAP'), advB.join());
      const after = await b.jsm.streams.info('SNAP');
      assert.equal(after.state.num_deleted, before.state.num_deleted);
      assert.equal(after.config.max_msgs_per_subject, 50);
      assert.deepEqual(await contents(b.jsm, 'SNAP'), await contents(jsm, 'SNAP'));
      const names: string[] = [];
      for await (const ci of b.jsm.consumers.list('SNAP')) names.push(ci.name);
      assert.deepEqual(names.sort(), ['PULL', 'PUSH']);
      const pullAfter = await b.jsm.consumers.info('SNAP', 'PULL');
      assert.equal(pullAfter.delivered.stream_seq, pullBefore.delivered.stream_seq);
      assert.equal(pullAfter.ack_floor.stream_seq, pullBefore.ack_floor.stream_seq);
      assert.equal(pullAfter.num_ack_pending, pullBefore.num_ack_pending);
      assert.equal(pullAfter.num_pending, pullBefore.num_pending);
      assert.equal((await b.jsm.consumers.info('SNAP', 'PUSH')).config.deliver_subject, 'push.snap');

      // New messages continue the sequence; the restored stream survives a restart.
      const ack = await b.js.publish('snap.new', 'after');
      assert.equal(ack.seq, before.state.last_seq + 1);
      await b.close();
      b = undefined;
      b = await startJetStream(openJs, { dir: dirB });
      const again = await b.jsm.streams.info('SNAP');
      assert.equal(again.state.last_seq, before.state.last_seq + 1);
      assert.equal(again.state.messages, before.state.messages + 1);

      // Restoring onto an existing stream is refused.
      const dup = await restore(b.nc, 'SNAP', snap.meta, snap.data);
      assert.equal(dup.error?.err_code, 10130);
    } finally {
      await a?.close();
      await b?.close();
    }
    a = undefined;
  });

  test('an object store bucket backed up and restored reads back the same object (@nats-io/obj)', async () => {
    const a = await startJetStream(openJs, { prefix: 'tsnats-snap-obj-a-' });
    let b: JetStreamEnv<JsClient> | undefined;
    try {
      const data = randomBytes(600 * 1024);
      const os = await new Objm(a.nc).create('files');
      const put = await os.putBlob({ name: 'blob.bin' }, data);
      const snap = await snapshot(a.nc, 'OBJ_files', 128 * 1024);
      assert.equal(snap.meta.error, undefined);
      b = await startJetStream(openJs, { prefix: 'tsnats-snap-obj-b-' });
      const created = await restore(b.nc, 'OBJ_files', snap.meta, snap.data);
      assert.equal(created.error, undefined, JSON.stringify(created.error));
      const restored = await new Objm(b.nc).open('files');
      const info = await restored.info('blob.bin');
      assert.equal(info?.digest, put.digest);
      const got = await restored.getBlob('blob.bin');
      assert.ok(got !== null && Buffer.from(got).equals(data), 'the same bytes');
    } finally {
      await a.close();
      await b?.close();
    }
  });

  test('snapshot and restore request errors', async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-snap-err-' });
    try {
      const { nc, jsm } = env;
      await jsm.streams.add({ name: 'E', subjects: ['e'] });
      const req = async (subject: string, body: string): Promise<ApiReply> => (await nc.request(subject, body, { timeout: 5000 })).json<ApiReply>();
      const empty = await req('$JS.API.STREAM.SNAPSHOT.E', '');
      assert.equal(empty.error?.err_code, 10003);
      const unknown = await req('$JS.API.STREAM.SNAPSHOT.NOPE', JSON.stringify({ deliver_subject: 'x' }));
      assert.equal(unknown.error?.err_code, 10059);
      const badSubject = await req('$JS.API.STREAM.SNAPSHOT.E', JSON.stringify({ deliver_subject: 'bad subject' }));
      assert.equal(badSubject.error?.err_code, 10015);
      const restoreEmpty = await req('$JS.API.STREAM.RESTORE.E', '');
      assert.equal(restoreEmpty.error?.err_code, 10003);
      const restoreExisting = await req('$JS.API.STREAM.RESTORE.E', JSON.stringify({ config: { name: 'E', subjects: ['e'] } }));
      assert.equal(restoreExisting.error?.err_code, 10130);
      assert.equal(restoreExisting.type, 'io.nats.jetstream.api.v1.stream_restore_response');
    } finally {
      await env.close();
    }
  });
});
