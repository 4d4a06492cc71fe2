// Clustered JetStream operations on three tsnats nodes: memory R3 streams, stream update, message
// delete and purge through the log (every replica the same), consumer and stream delete, the system
// account's meta leader stepdown, stream peer removal (re-placed, or nats-server's 10075 when nothing
// fits), a follower behind the leader's compacted log caught up by snapshot and the $JSC.SYNC stream
// catch-up, a clean restart, and a stream that lost its quorum acknowledges nothing.
// TSNATS_RAFT_COMPACT makes the groups snapshot every 50 entries.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, StringCodec, AckPolicy, StorageType, type NatsConnection } from 'nats';
import { JsClusterHarness, retry } from '../../helpers/js-cluster.js';
import { delay } from '../../helpers/wait.js';

const sc = StringCodec();
let h: JsClusterHarness;
const conns: NatsConnection[] = [];

before(async () => {
  h = await JsClusterHarness.start(['tsnats', 'tsnats', 'tsnats'], { TSNATS_RAFT_COMPACT: '50' });
  await h.waitMetaLeader();
});
after(async () => {
  for (const nc of conns) await nc.close().catch(() => {});
  await h?.stop();
});

async function client(i: number, opts: Record<string, unknown> = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: h.url(i), maxReconnectAttempts: 0, ...opts });
  conns.push(nc);
  return nc;
}

interface ClusterBlock {
  name: string;
  leader?: string;
  replicas?: { name: string; current: boolean; peer: string }[];
}

/** Each node's own replica of a stream (/jsz), null when the node has none. */
async function localState(i: number, name: string): Promise<{ messages: number; first_seq: number; last_seq: number; num_deleted?: number } | null> {
  const j = await h.jsz(i, '?streams=true');
  const sd = ((j['account_details'] as { stream_detail?: { name: string; state: never }[] }[]) ?? []).flatMap((a) => a.stream_detail ?? []);
  return sd.find((s) => s.name === name)?.state ?? null;
}

test('a memory R3 stream replicates', { timeout: 60_000 }, async () => {
  const nc = await client(0);
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], num_replicas: 3, storage: StorageType.Memory }), 'create MEM');
  const js = nc.jetstream();
  for (let i = 0; i < 10; i++) assert.equal((await retry(() => js.publish('mem.x', sc.encode(`m${i}`)), 'publish')).seq, i + 1);
  const info = await jsm.streams.info('MEM');
  assert.equal(info.config.storage, StorageType.Memory);
  assert.equal((info.cluster as ClusterBlock).replicas?.length, 2);
  for (let i = 0; i < 3; i++) await retry(async () => assert.equal((await localState(i, 'MEM'))?.messages, 10), `node ${i} has MEM`, 10_000);
});

test('update, message delete and purge go through the stream group: every replica ends the same', { timeout: 60_000 }, async () => {
  const nc = await client(1);
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'OPS', subjects: ['ops.a'], num_replicas: 3 }), 'create OPS');
  const js = nc.jetstream();
  for (let i = 0; i < 10; i++) await retry(() => js.publish('ops.a', sc.encode(`a${i}`)), 'publish');
  const upd = await jsm.streams.update('OPS', { subjects: ['ops.a', 'ops.b'] });
  assert.deepEqual(upd.config.subjects, ['ops.a', 'ops.b']);
  for (let i = 0; i < 10; i++) await retry(() => js.publish('ops.b', sc.encode(`b${i}`)), 'publish on the new subject');
  for (let i = 0; i < 3; i++) {
    const m = await (await client(i)).jetstreamManager();
    assert.deepEqual((await m.streams.info('OPS')).config.subjects, ['ops.a', 'ops.b']);
  }
  assert.equal(await jsm.streams.deleteMessage('OPS', 5), true);
  await assert.rejects(() => jsm.streams.getMessage('OPS', { seq: 5 }), /no message found/);
  await assert.rejects(() => jsm.streams.deleteMessage('OPS', 5), /sequence 5 not found/);
  const p = await jsm.streams.purge('OPS', { filter: 'ops.a' });
  assert.equal(p.purged, 9);
  const st = (await jsm.streams.info('OPS')).state;
  assert.equal(st.messages, 10);
  for (let i = 0; i < 3; i++) {
    await retry(async () => {
      const s = await localState(i, 'OPS');
      assert.equal(s?.messages, 10);
      assert.equal(s?.last_seq, 20);
    }, `node ${i}'s OPS`, 10_000);
  }
});

test('consumer and stream delete', { timeout: 60_000 }, async () => {
  const nc = await client(2);
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.consumers.add('OPS', { durable_name: 'GONE', ack_policy: AckPolicy.Explicit }), 'create GONE');
  assert.equal(await jsm.consumers.delete('OPS', 'GONE'), true);
  await assert.rejects(() => jsm.consumers.info('OPS', 'GONE'), (e: Error & { api_error?: { err_code: number } }) => e.api_error?.err_code === 10014);
  assert.equal(await jsm.streams.delete('OPS'), true);
  await assert.rejects(() => jsm.streams.info('OPS'), (e: Error & { api_error?: { err_code: number } }) => e.api_error?.err_code === 10059);
  for (let i = 0; i < 3; i++) await retry(async () => assert.equal(await localState(i, 'OPS'), null), `node ${i} dropped OPS`, 10_000);
});

test('the system account steps the meta leader down', { timeout: 60_000 }, async () => {
  const before = await h.waitMetaLeader();
  const sys = await client(0, { user: 'admin', pass: 'admin' });
  const r = await sys.request('$JS.API.META.LEADER.STEPDOWN', '', { timeout: 5000 });
  const body = JSON.parse(sc.decode(r.data)) as { type: string; success?: boolean };
  assert.equal(body.type, 'io.nats.jetstream.api.v1.meta_leader_stepdown_response');
  assert.equal(body.success, true);
  const now = await retry(async () => {
    const l = await h.waitMetaLeader(10_000);
    if (l === before) throw new Error('same leader');
    return l;
  }, 'a new meta leader', 30_000);
  assert.notEqual(now, before);
});

test('stream peer remove: an R2 stream moves off the removed server; an R3 one cannot (10075) and shrinks', { timeout: 90_000 }, async () => {
  const nc = await client(0);
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  await retry(() => jsm.streams.add({ name: 'TWO', subjects: ['two.>'], num_replicas: 2 }), 'create TWO');
  for (let i = 0; i < 20; i++) await retry(() => js.publish('two.x', sc.encode(`t${i}`)), 'publish');
  const c = (await jsm.streams.info('TWO')).cluster as ClusterBlock;
  const follower = c.replicas![0]!.name;
  const third = ['n1-c1', 'n2-c1', 'n3-c1'].find((n) => n !== follower && n !== c.leader)!;
  const r = await nc.request('$JS.API.STREAM.PEER.REMOVE.TWO', JSON.stringify({ peer: follower }), { timeout: 5000 });
  assert.equal((JSON.parse(sc.decode(r.data)) as { success?: boolean }).success, true);
  await retry(async () => {
    const x = (await jsm.streams.info('TWO')).cluster as ClusterBlock;
    const names = [x.leader, ...(x.replicas ?? []).map((p) => p.name)].sort();
    assert.deepEqual(names, [c.leader, third].sort());
    assert.ok(x.replicas!.every((p) => p.current));
  }, 'TWO on the leader and the third server', 30_000);
  await retry(async () => assert.equal((await localState(h.indexOf(third), 'TWO'))?.messages, 20), 'the new replica has every message', 20_000);
  await retry(async () => assert.equal(await localState(h.indexOf(follower), 'TWO'), null), 'the removed server dropped its replica', 20_000);

  await retry(() => jsm.streams.add({ name: 'THREE', subjects: ['three.>'], num_replicas: 3 }), 'create THREE');
  const c3 = (await jsm.streams.info('THREE')).cluster as ClusterBlock;
  const r3 = await nc.request('$JS.API.STREAM.PEER.REMOVE.THREE', JSON.stringify({ peer: c3.replicas![0]!.name }), { timeout: 5000 });
  const e3 = JSON.parse(sc.decode(r3.data)) as { error?: { err_code: number; description: string } };
  assert.equal(e3.error?.err_code, 10075);
  assert.equal(e3.error?.description, 'peer remap failed');
  await retry(async () => assert.equal(((await jsm.streams.info('THREE')).cluster as ClusterBlock).replicas?.length, 1), 'THREE shrank to two servers', 30_000);
  const bad = await nc.request('$JS.API.STREAM.PEER.REMOVE.THREE', JSON.stringify({ peer: 'nobody' }), { timeout: 5000 });
  assert.equal((JSON.parse(sc.decode(bad.data)) as { error?: { err_code: number } }).error?.err_code, 10040);
});

test('a follower behind the leader\'s compacted log is caught up by snapshot and $JSC.SYNC', { timeout: 120_000 }, async () => {
  const nc0 = await client(0);
  const jsm = await nc0.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'SNAP', subjects: ['snap.>'], num_replicas: 3 }), 'create SNAP');
  const js0 = nc0.jetstream();
  await retry(() => js0.publish('snap.x', sc.encode('first')), 'first publish');
  // API requests below are retried: under a full suite's load one waited out the client's 5 s once.
  const c = (await retry(() => jsm.streams.info('SNAP'), 'SNAP info')).cluster as ClusterBlock;
  const follower = h.indexOf(c.replicas![0]!.name);
  const leader = h.indexOf(c.leader!);
  await h.nodes[follower]!.node!.stop('SIGTERM');
  h.nodes[follower]!.node = null;
  const via = await client(leader);
  const js = via.jetstream();
  for (let i = 0; i < 300; i++) await retry(() => js.publish('snap.x', sc.encode(`s${i}`), { msgID: `s${i}` }), `publish ${i}`, 20_000);
  await h.startNode(follower);
  await retry(async () => {
    const s = await localState(follower, 'SNAP');
    assert.equal(s?.messages, 301);
    assert.equal(s?.last_seq, 301);
  }, 'the follower caught up', 60_000);
  const out = h.nodes[follower]!.node!.output();
  assert.match(out, /Catchup for stream '\$G > SNAP' requesting/, 'the follower asked the leader for messages ($JSC.SYNC)');
  // Its copy is the leader's: the same last message, and de-duplication knows the ids.
  const back = await client(follower);
  const bm = await back.jetstreamManager();
  assert.equal(sc.decode((await retry(() => bm.streams.getMessage('SNAP', { seq: 301 }), 'get message 301')).data), 's299');
  const dup = await retry(() => back.jetstream().publish('snap.x', sc.encode('again'), { msgID: 's299' }), 'duplicate publish');
  assert.equal(dup.duplicate, true);
});

test('a clean restart (SIGTERM) of the stream leader: a new leader, the node comes back current', { timeout: 90_000 }, async () => {
  const nc = await client(0);
  const jsm = await nc.jetstreamManager();
  const c = (await jsm.streams.info('SNAP')).cluster as ClusterBlock;
  const li = h.indexOf(c.leader!);
  await h.nodes[li]!.node!.stop('SIGTERM');
  h.nodes[li]!.node = null;
  const other = (li + 1) % 3;
  const js = (await client(other)).jetstream();
  const ack = await retry(() => js.publish('snap.x', sc.encode('after restart'), { timeout: 1000 }), 'publish under a new leader', 20_000);
  // 301 messages, the duplicate not stored: this one is 302.
  assert.equal(ack.seq, 302);
  await h.startNode(li);
  await retry(async () => assert.equal((await localState(li, 'SNAP'))?.last_seq, 302), 'restarted leader caught up', 30_000);
  await retry(async () => assert.equal((await h.healthz(li)).status, 'ok'), 'healthz ok', 30_000);
});

test('a stream that lost its quorum acknowledges nothing; with the nodes back it goes on', { timeout: 120_000 }, async () => {
  const nc = await client(0);
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'QUO', subjects: ['quo.>'], num_replicas: 3 }), 'create QUO');
  const js = nc.jetstream();
  for (let i = 0; i < 5; i++) await retry(() => js.publish('quo.x', sc.encode(`q${i}`)), 'publish');
  const survivor = 0;
  await h.kill(1);
  await h.kill(2);
  const until = Date.now() + 15_000;
  let acks = 0;
  let errors = 0;
  while (Date.now() < until) {
    try {
      await js.publish('quo.x', sc.encode('no quorum'), { timeout: 1000 });
      acks++;
    } catch {
      errors++;
    }
  }
  assert.equal(acks, 0, 'nothing is acknowledged without a quorum');
  assert.ok(errors > 0);
  assert.ok((await h.healthz(survivor)).status !== 'ok', 'the survivor is not healthy without a meta leader');
  await Promise.all([h.startNode(1), h.startNode(2)]);
  await h.waitMetaLeader();
  const ack = await retry(() => js.publish('quo.x', sc.encode('quorum back'), { timeout: 2000 }), 'publish with the quorum back', 60_000);
  assert.ok(ack.seq >= 6);
  const st = (await jsm.streams.info('QUO')).state;
  assert.equal(st.last_seq, ack.seq);
  for (let s = 1; s <= 5; s++) assert.equal(sc.decode((await jsm.streams.getMessage('QUO', { seq: s })).data), `q${s - 1}`);
  void delay;
});

test('an R3 object store: put through one node, get through another', { timeout: 60_000 }, async () => {
  const a = (await client(0)).jetstream();
  const b = (await client(2)).jetstream();
  const osa = await retry(() => a.views.os('FILES', { replicas: 3 }), 'create object store');
  const body = Buffer.alloc(300_000, 7);
  body.write('tsnats', 1000);
  await osa.putBlob({ name: 'blob' }, body);
  const osb = await b.views.os('FILES');
  const got = await retry(async () => {
    const x = await osb.getBlob('blob');
    if (x === null) throw new Error('not there yet');
    return x;
  }, 'the blob through node 2', 20_000);
  assert.equal(Buffer.compare(Buffer.from(got), body), 0);
  const st = await osb.status();
  assert.equal(st.replicas, 3);
});

test('an R1 mirror runs on its server in a cluster', { timeout: 60_000 }, async () => {
  const nc = await client(1);
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'ORIGIN', subjects: ['origin.>'], num_replicas: 3 }), 'create ORIGIN');
  const js = nc.jetstream();
  for (let i = 0; i < 5; i++) await retry(() => js.publish('origin.x', sc.encode(`o${i}`)), 'publish');
  // Three mirrors: each one's consumer on ORIGIN is an R1 ephemeral placed on one of ORIGIN's three
  // servers, so most of them deliver across a route (the mirror's deliver subject must be announced).
  for (let i = 0; i < 3; i++) await retry(() => jsm.streams.add({ name: `COPY${i}`, mirror: { name: 'ORIGIN' }, num_replicas: 1 }), `create COPY${i}`);
  for (let i = 0; i < 3; i++) await retry(async () => assert.equal((await jsm.streams.info(`COPY${i}`)).state.messages, 5), `mirror COPY${i} has the messages`, 30_000);
  await assert.rejects(() => jsm.streams.add({ name: 'COPY3', mirror: { name: 'ORIGIN' }, num_replicas: 3 }), /not supported/);
});
