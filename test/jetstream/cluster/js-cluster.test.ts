// Clustered JetStream end to end (issue 15): three tsnats processes configured as the seed's
// "jetstream cluster" nodes on loopback ports. The API answers through every node; an R3 file stream
// is placed on three distinct servers; 3,000 publishes through the nodes in turn are acked in
// sequence and every node holds the same stream; an R3 durable pull consumer's acks are replicated
// (its next leader has the same ack floor); an R3 KV bucket written through one node reads on another,
// history included; stream and consumer info carry the cluster block; /jsz has meta_cluster,
// leader-only and raft; a stream leader SIGKILLed is replaced within 10 s, no acknowledged message
// is lost, and the restarted node catches up and serves the stream with both replicas current.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, StringCodec, AckPolicy, type NatsConnection, type JetStreamManager } from 'nats';
import { JsClusterHarness, readStream, retry } from '../../helpers/js-cluster.js';
import { delay, waitFor } from '../../helpers/wait.js';

const sc = StringCodec();
let h: JsClusterHarness;
const conns: NatsConnection[] = [];

before(async () => {
  h = await JsClusterHarness.start();
});
after(async () => {
  for (const nc of conns) await nc.close().catch(() => {});
  await h?.stop();
});

/** TSNATS_JSC_VERBOSE=1: the steps of the long tests on stderr, with the time (diagnosing a hang). */
function step(what: string): void {
  if (process.env['TSNATS_JSC_VERBOSE'] === '1') console.error(`${new Date().toISOString()} ${what}`);
}

async function client(i: number): Promise<NatsConnection> {
  const nc = await connect({ servers: h.url(i), maxReconnectAttempts: 0 });
  conns.push(nc);
  return nc;
}

interface ClusterBlock {
  name: string;
  leader?: string;
  replicas?: { name: string; current: boolean; active: number; peer: string }[];
}

test('the meta group forms: one meta leader, /jsz meta_cluster on every node, leader-only, healthz ok', { timeout: 90_000 }, async () => {
  const leader = await h.waitMetaLeader();
  const li = h.indexOf(leader);
  for (let i = 0; i < 3; i++) {
    const j = await h.jsz(i);
    const mc = j['meta_cluster'] as { name: string; leader: string; cluster_size: number; replicas?: unknown[] };
    assert.equal(mc.name, 'C1');
    assert.equal(mc.leader, leader);
    assert.equal(mc.cluster_size, 3);
    assert.equal(mc.replicas !== undefined, i === li, 'only the leader lists replicas');
    const r = await fetch(`http://127.0.0.1:${h.nodes[i]!.node!.httpPort}/jsz?leader-only=true`);
    assert.equal(r.status, i === li ? 200 : 400);
    if (i !== li) assert.equal(await r.text(), 'filtered response: not leader');
    await retry(async () => assert.equal((await h.healthz(i)).status, 'ok'), `healthz of node ${i}`, 20_000);
  }
});

test('$JS.API.INFO answers through every node', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 3; i++) {
    const jsm = await (await client(i)).jetstreamManager();
    const info = await retry(() => jsm.getAccountInfo(), `account info through node ${i}`);
    assert.equal(info.limits.max_streams, -1);
  }
});

test('num_replicas above the cluster size: 10005 no suitable peers for placement (nats-server 2.9.10 in a cluster)', { timeout: 30_000 }, async () => {
  const jsm = await (await client(0)).jetstreamManager();
  await assert.rejects(
    () => jsm.streams.add({ name: 'R5', subjects: ['r5.>'], num_replicas: 5 }),
    (err: Error & { api_error?: { err_code: number; description: string } }) => {
      assert.equal(err.api_error?.err_code, 10005);
      assert.equal(err.api_error?.description, 'no suitable peers for placement');
      return true;
    },
  );
});

test('an R3 file stream: a leader and two replicas on three distinct servers, with the cluster name, through every node', { timeout: 60_000 }, async () => {
  const jsm = await (await client(1)).jetstreamManager();
  const si = await retry(() => jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3 }), 'create ORDERS');
  assert.equal(si.config.num_replicas, 3);
  for (let i = 0; i < 3; i++) {
    const m = await (await client(i)).jetstreamManager();
    const info = await retry(async () => {
      const x = await m.streams.info('ORDERS');
      if ((x.cluster as ClusterBlock).replicas?.length !== 2) throw new Error('replicas not listed yet');
      return x;
    }, `ORDERS info through node ${i}`);
    const c = info.cluster as ClusterBlock;
    assert.equal(c.name, 'C1');
    const servers = [c.leader!, ...c.replicas!.map((r) => r.name)];
    assert.deepEqual([...servers].sort(), ['n1-c1', 'n2-c1', 'n3-c1']);
    assert.equal(info.config.storage, 'file');
  }
});

test('3,000 publishes through the three nodes in turn are acked in sequence; every node has the same stream', { timeout: 180_000 }, async () => {
  const js = await Promise.all([0, 1, 2].map(async (i) => (await client(i)).jetstream()));
  for (let i = 0; i < 3000; i++) {
    const ack = await js[i % 3]!.publish(`orders.${i % 7}`, sc.encode(`order-${i}`));
    assert.equal(ack.stream, 'ORDERS');
    assert.equal(ack.seq, i + 1, `publish ${i} acked with sequence ${ack.seq}`);
  }
  const states: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const jsm = await (await client(i)).jetstreamManager();
    const st = (await jsm.streams.info('ORDERS')).state;
    assert.equal(st.messages, 3000);
    assert.equal(st.first_seq, 1);
    assert.equal(st.last_seq, 3000);
    states.push({ ...st, first_ts: undefined, last_ts: undefined });
  }
  assert.deepEqual(states[1], states[0]);
  assert.deepEqual(states[2], states[0]);
  // Each server's own replica (/jsz), not only the leader's answer.
  const local = async (i: number): Promise<{ messages: number; bytes: number; last_seq: number; first_ts: string; last_ts: string }> => {
    const j = await h.jsz(i, '?streams=true');
    const sd = ((j['account_details'] as { stream_detail?: { name: string; state: never }[] }[]) ?? []).flatMap((a) => a.stream_detail ?? []);
    return sd.find((s) => s.name === 'ORDERS')!.state;
  };
  const ref = await local(0);
  for (let i = 1; i < 3; i++) {
    let st = await local(i);
    const until = Date.now() + 10_000;
    while (st.last_seq < 3000 && Date.now() < until) {
      await delay(100);
      st = await local(i);
    }
    assert.deepEqual(st, ref, `node ${i}'s replica`);
  }
  assert.equal(ref.messages, 3000);
});

test('an R3 durable pull consumer fetches and acks 1,500; its ack floor is replicated (the next leader has it)', { timeout: 120_000 }, async () => {
  const nc = await client(2);
  const jsm = await nc.jetstreamManager();
  const ci = await retry(() => jsm.consumers.add('ORDERS', { durable_name: 'PROC', ack_policy: AckPolicy.Explicit }), 'create PROC');
  const c0 = ci.cluster as ClusterBlock;
  assert.equal(c0.replicas?.length, 2, 'the durable inherits the stream\'s three replicas');
  const js = nc.jetstream();
  const consumer = await js.consumers.get('ORDERS', 'PROC');
  let got = 0;
  let expect = 1;
  while (got < 1500) {
    const batch = await consumer.fetch({ max_messages: Math.min(100, 1500 - got), expires: 5000 });
    for await (const m of batch) {
      assert.equal(m.seq, expect++);
      await m.ackAck();
      got++;
    }
  }
  const info = await jsm.consumers.info('ORDERS', 'PROC');
  assert.equal(info.ack_floor.stream_seq, 1500);
  assert.equal(info.num_ack_pending, 0);
  const oldLeader = (info.cluster as ClusterBlock).leader!;
  // The leader steps down: another member takes over with the replicated state.
  await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.ORDERS.PROC`, '', { timeout: 5000 });
  const after = await retry(async () => {
    const x = await jsm.consumers.info('ORDERS', 'PROC');
    const l = (x.cluster as ClusterBlock).leader;
    if (l === undefined || l === oldLeader) throw new Error(`leader still ${l}`);
    return x;
  }, 'a new consumer leader', 30_000);
  assert.equal(after.ack_floor.stream_seq, 1500);
  assert.equal(after.ack_floor.consumer_seq, 1500);
  assert.equal(after.delivered.stream_seq, 1500);
  assert.equal(after.num_pending, 1500);
  // And it continues from there.
  const next = await consumer.next({ expires: 5000 });
  assert.equal(next?.seq, 1501);
  next?.ack();
});

test('an R3 KV bucket written through one node reads through another, history included', { timeout: 90_000 }, async () => {
  const a = (await client(0)).jetstream();
  const b = (await client(1)).jetstream();
  const kva = await retry(() => a.views.kv('CFG', { replicas: 3, history: 5 }), 'create KV CFG');
  const st = await kva.status();
  assert.equal(st.replicas, 3);
  await kva.put('color', sc.encode('red'));
  await kva.put('color', sc.encode('green'));
  const rev = await kva.put('color', sc.encode('blue'));
  const kvb = await b.views.kv('CFG');
  const e = await retry(async () => {
    const x = await kvb.get('color');
    if (x === null || x.revision !== rev) throw new Error(`revision ${x?.revision}`);
    return x;
  }, 'the last value through node 1', 10_000, 50);
  assert.equal(sc.decode(e.value), 'blue');
  const hist: string[] = [];
  for await (const x of await kvb.history({ key: 'color' })) hist.push(sc.decode(x.value));
  assert.deepEqual(hist, ['red', 'green', 'blue']);
});

test('stream leader stepdown: a new leader from the other two, the stream keeps serving', { timeout: 60_000 }, async () => {
  const nc = await client(0);
  const jsm = await nc.jetstreamManager();
  const before = (await jsm.streams.info('ORDERS')).cluster as ClusterBlock;
  const r = await nc.request('$JS.API.STREAM.LEADER.STEPDOWN.ORDERS', '', { timeout: 5000 });
  assert.equal((JSON.parse(sc.decode(r.data)) as { success: boolean }).success, true);
  const now = await retry(async () => {
    const c = (await jsm.streams.info('ORDERS')).cluster as ClusterBlock;
    if (c.leader === undefined || c.leader === before.leader) throw new Error('no new leader yet');
    return c;
  }, 'new stream leader');
  assert.notEqual(now.leader, before.leader);
  const ack = await retry(() => nc.jetstream().publish('orders.x', sc.encode('after stepdown')), 'publish after stepdown');
  assert.equal(ack.seq, 3001);
});

test('SIGKILL the stream leader: publishing resumes within 10 s, nothing acked is lost, the restarted node catches up', { timeout: 180_000 }, async () => {
  const probe = await client(0);
  const jsm = await probe.jetstreamManager();
  const leader = ((await jsm.streams.info('ORDERS')).cluster as ClusterBlock).leader!;
  const li = h.indexOf(leader);
  const si = (li + 1) % 3;
  const nc = await client(si);
  const js = nc.jetstream();
  const acked: number[] = [];
  let last = (await jsm.streams.info('ORDERS')).state.last_seq;
  for (let i = 0; i < 50; i++) acked.push((await js.publish('orders.k', sc.encode(`k-${i}`))).seq);
  step(`killing node ${li} (${leader}), publishing through node ${si}`);
  await h.kill(li);
  const killedAt = Date.now();
  let resumedAt = 0;
  let n = 50;
  while (Date.now() - killedAt < 30_000 && acked.length < 250) {
    try {
      const a = await js.publish('orders.k', sc.encode(`k-${n}`), { timeout: 1000, msgID: `k-${n}` });
      if (resumedAt === 0) resumedAt = Date.now();
      acked.push(a.seq);
      n++;
    } catch {
      await delay(100);
    }
  }
  step(`${acked.length} acked, resumed ${resumedAt - killedAt} ms after the kill`);
  assert.ok(resumedAt > 0, 'publishing resumed');
  assert.ok(resumedAt - killedAt < 10_000, `resumed after ${resumedAt - killedAt} ms`);
  // Every acked message reads back in order, with no gap.
  for (let i = 1; i < acked.length; i++) assert.ok(acked[i]! > acked[i - 1]!, 'acks in order');
  // The killed node may have been the meta leader too: an API request sent while the survivors
  // elect a new one goes unanswered (as with nats-server), so management calls are retried.
  const m2 = await retry(() => nc.jetstreamManager(), 'a manager through a survivor', 30_000);
  const st = (await retry(() => m2.streams.info('ORDERS'), 'stream info through a survivor', 30_000)).state;
  assert.equal(st.last_seq, acked[acked.length - 1]);
  assert.equal(st.messages, st.last_seq, 'no gap');
  // Every acked message, read back through a survivor, is at the sequence its ack named.
  step(`stream state ${JSON.stringify(st)}; reading back`);
  const bySeq = await readStream(nc, 'ORDERS', acked[0]!, st.last_seq);
  for (let i = 0; i < acked.length; i++) assert.equal(bySeq.get(acked[i]!), `k-${i}`, `acked message k-${i} at ${acked[i]}`);
  last = st.last_seq;
  // The killed node comes back, catches up and serves with both replicas current.
  step('restarting the killed node');
  await h.startNode(li);
  await retry(async () => {
    const j = await h.jsz(li, '?streams=true');
    const sd = ((j['account_details'] as { stream_detail?: { name: string; state: { messages: number; last_seq: number } }[] }[]) ?? []).flatMap((a) => a.stream_detail ?? []);
    const s = sd.find((x) => x.name === 'ORDERS');
    if (s?.state.last_seq !== last || s.state.messages !== last) throw new Error(`restarted node has ${JSON.stringify(s?.state)}`);
  }, 'the restarted node caught up', 60_000);
  await retry(async () => {
    const c = (await m2.streams.info('ORDERS')).cluster as ClusterBlock;
    if (c.replicas?.length !== 2 || !c.replicas.every((r) => r.current)) throw new Error(JSON.stringify(c));
  }, 'both replicas current', 30_000);
  step('caught up; publishing through the restarted node');
  const back = await client(li);
  const ack = await retry(() => back.jetstream().publish('orders.k', sc.encode('through the restarted node')), 'publish through the restarted node');
  assert.equal(ack.seq, last + 1);
  const jsmBack = await back.jetstreamManager();
  const sm = await jsmBack.streams.getMessage('ORDERS', { seq: acked[0]! });
  assert.equal(sc.decode(sm.data), 'k-0');
  await retry(async () => assert.equal((await h.healthz(li)).status, 'ok'), 'healthz of the restarted node', 30_000);
});

test('/jsz?raft=true names the stream and consumer groups; stream info through a follower shows the leader', { timeout: 30_000 }, async () => {
  const j = await h.jsz(0, '?consumers=true&raft=true');
  const sd = ((j['account_details'] as { stream_detail?: Record<string, unknown>[] }[]) ?? []).flatMap((a) => a.stream_detail ?? []);
  const orders = sd.find((s) => s['name'] === 'ORDERS')!;
  assert.match(String(orders['stream_raft_group']), /^S-R3F-/);
  const cg = orders['consumer_raft_groups'] as { name: string; raft_group: string }[];
  assert.ok(cg.some((c) => c.name === 'PROC' && /^C-R3F-/.test(c.raft_group)));
  assert.equal((orders['cluster'] as ClusterBlock).name, 'C1');
  // Stream names and list through every node come from the meta leader.
  for (let i = 0; i < 3; i++) {
    const jsm: JetStreamManager = await (await client(i)).jetstreamManager();
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    assert.deepEqual(names.sort(), ['KV_CFG', 'ORDERS']);
    const list = await jsm.streams.list().next();
    assert.equal(list.length, 2);
    assert.ok(list.every((s) => (s.cluster as ClusterBlock).name === 'C1'));
  }
});
