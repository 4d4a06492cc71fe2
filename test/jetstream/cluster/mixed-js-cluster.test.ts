// A JetStream cluster of two tsnats nodes and one real nats-server (2.9.10 in CI) (issue 16): one meta
// group, R3 streams placed across both kinds whether created through a tsnats node or through the
// nats-server node and whichever kind is meta leader (forced with $JS.API.META.LEADER.STEPDOWN);
// publishes through every node acked in sequence with identical stream state through every node and
// in every server's own replica; an R3 durable pull consumer fetched and acked with its ack floor
// replicated while its leader is either kind; R3 KV buckets written on one kind and read, history
// included, on the other. Skipped only when nats-server is not installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, StringCodec, AckPolicy, type NatsConnection } from 'nats';
import { retry } from '../../helpers/js-cluster.js';
import { delay } from '../../helpers/wait.js';
import {
  MixedJsCluster,
  mixedSkip, kindOf, forceMetaLeader, forceStreamLeader, forceConsumerLeader, waitStreamHealthy, localStreamState, type ClusterBlock,
} from '../../helpers/mixed-js.js';

const sc = StringCodec();
// n1-c1 and n2-c1 are tsnats, n3-c1 is nats-server.
const TS = 0;
const TS2 = 1;
const NS = 2;
// Two tsnats nodes and a nats-server, started before the tests and stopped after them.
const fx = new MixedJsCluster();
const client = (i: number): Promise<NatsConnection> => fx.client(i);

/** Creates an R3 stream through node `via` and checks, through every node, that it spans all three servers. */
async function createAndCheck(via: number, name: string): Promise<ClusterBlock> {
  const jsm = await (await client(via)).jetstreamManager();
  const si = await retry(() => jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 3 }), `create ${name}`, 60_000, 1000);
  assert.equal(si.config.num_replicas, 3);
  let block: ClusterBlock | undefined;
  for (let i = 0; i < 3; i++) {
    const m = await (await client(i)).jetstreamManager();
    const c = await waitStreamHealthy(m, name);
    assert.equal(c.name, 'C1');
    assert.deepEqual([c.leader!, ...c.replicas!.map((r) => r.name)].sort(), ['n1-c1', 'n2-c1', 'n3-c1'], `${name} through node ${i}`);
    block = c;
  }
  // Every server holds its own replica (nats-server's /jsz and ours).
  for (let i = 0; i < 3; i++) {
    await retry(async () => {
      if ((await localStreamState(fx.h!, i, name)) === undefined) throw new Error(`no local replica of ${name}`);
    }, `${name} replica on node ${i}`, 30_000);
  }
  return block!;
}

test('a tsnats meta leader: R3 streams created through a tsnats node and through the nats-server node span both kinds', { skip: mixedSkip, timeout: 240_000 }, async () => {
  const leader = await forceMetaLeader(fx.h!, 'tsnats');
  assert.equal(kindOf(fx.h!, leader), 'tsnats');
  await createAndCheck(TS, 'TA');
  await createAndCheck(NS, 'TB');
});

test('a nats-server meta leader: R3 streams created through the nats-server node and through a tsnats node span both kinds', { skip: mixedSkip, timeout: 240_000 }, async () => {
  const leader = await forceMetaLeader(fx.h!, 'nats-server');
  assert.equal(leader, 'n3-c1');
  await createAndCheck(NS, 'NA');
  await createAndCheck(TS2, 'NB');
  // The tsnats nodes see every stream the meta group placed, whoever placed it.
  for (const i of [TS, TS2, NS]) {
    const jsm = await (await client(i)).jetstreamManager();
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    assert.deepEqual(names.sort(), ['NA', 'NB', 'TA', 'TB'], `stream names through node ${i}`);
  }
});

async function publishRoundRobin(stream: string, n: number): Promise<void> {
  const js = await Promise.all([0, 1, 2].map(async (i) => (await client(i)).jetstream()));
  const subj = `${stream.toLowerCase()}.x`;
  for (let i = 0; i < n; i++) {
    const ack = await js[i % 3]!.publish(subj, sc.encode(`${stream}-${i}`), { timeout: 10_000 });
    assert.equal(ack.stream, stream);
    assert.equal(ack.seq, i + 1, `publish ${i} through node ${i % 3} acked with sequence ${ack.seq}`);
  }
  const states: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const jsm = await (await client(i)).jetstreamManager();
    const st = (await retry(() => jsm.streams.info(stream), `${stream} info through node ${i}`, 30_000, 500)).state;
    assert.equal(st.messages, n, `messages through node ${i}`);
    assert.equal(st.first_seq, 1);
    assert.equal(st.last_seq, n);
    states.push(st);
  }
  assert.deepEqual(states[1], states[0]);
  assert.deepEqual(states[2], states[0]);
  // Each server's own replica, including the nats-server one and the tsnats ones.
  const local = [];
  for (let i = 0; i < 3; i++) {
    local.push(await retry(async () => {
      const s = await localStreamState(fx.h!, i, stream);
      if (s?.last_seq !== n) throw new Error(`node ${i} replica at ${JSON.stringify(s)}`);
      return s;
    }, `${stream} replica on node ${i}`, 30_000));
  }
  for (let i = 1; i < 3; i++) {
    assert.equal(local[i]!.messages, local[0]!.messages);
    assert.equal(local[i]!.bytes, local[0]!.bytes, `node ${i}'s replica stores the same bytes`);
    assert.equal(local[i]!.first_seq, local[0]!.first_seq);
  }
  // Messages read back in order through every node, whoever leads.
  for (let i = 0; i < 3; i++) {
    const jsm = await (await client(i)).jetstreamManager();
    for (const seq of [1, 2, Math.floor(n / 2), n]) {
      const sm = await retry(() => jsm.streams.getMessage(stream, { seq }), `${stream} message ${seq} through node ${i}`, 30_000, 500);
      assert.equal(sc.decode(sm.data), `${stream}-${seq - 1}`);
    }
  }
}

test('publishes through every node are acked in sequence with a tsnats stream leader; state identical through every node', { skip: mixedSkip, timeout: 240_000 }, async () => {
  const nc = await client(NS);
  await forceStreamLeader(fx.h!, nc, 'TA', 'tsnats');
  await publishRoundRobin('TA', 300);
});

test('publishes through every node are acked in sequence with a nats-server stream leader; state identical through every node', { skip: mixedSkip, timeout: 240_000 }, async () => {
  const nc = await client(TS);
  await forceStreamLeader(fx.h!, nc, 'NA', 'nats-server');
  await publishRoundRobin('NA', 300);
});

test('an R3 durable pull consumer: fetch and ack with its leader on either kind; the ack floor is replicated', { skip: mixedSkip, timeout: 300_000 }, async () => {
  const nc = await client(TS);
  // Created through the nats-server node on stream TA (300 messages).
  const nsm = await (await client(NS)).jetstreamManager();
  const ci = await retry(() => nsm.consumers.add('TA', { durable_name: 'PROC', ack_policy: AckPolicy.Explicit }), 'create PROC', 60_000, 1000);
  assert.equal((ci.cluster as ClusterBlock).replicas?.length, 2, 'the durable inherits the stream\'s three replicas');
  const js = nc.jetstream();
  let expect = 1;
  const fetchAck = async (count: number): Promise<void> => {
    const consumer = await js.consumers.get('TA', 'PROC');
    let got = 0;
    for (let rounds = 0; got < count && rounds < 100; rounds++) {
      const batch = await consumer.fetch({ max_messages: Math.min(50, count - got), expires: 5000 });
      for await (const m of batch) {
        assert.equal(m.seq, expect++);
        assert.equal(sc.decode(m.data), `TA-${m.seq - 1}`);
        await m.ackAck({ timeout: 10_000 });
        got++;
      }
    }
    assert.equal(got, count, 'fetched everything asked for');
  };
  const checkFloor = async (seq: number, through: number): Promise<void> => {
    const m = await (await client(through)).jetstreamManager();
    const info = await retry(async () => {
      const x = await m.consumers.info('TA', 'PROC');
      if (x.ack_floor.stream_seq !== seq) throw new Error(`ack floor ${x.ack_floor.stream_seq}`);
      return x;
    }, `ack floor ${seq} through node ${through}`, 20_000);
    assert.equal(info.ack_floor.consumer_seq, seq);
    assert.equal(info.delivered.stream_seq, seq);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 300 - seq);
  };

  // Leader tsnats: fetch and ack 100, then hand the consumer to nats-server, which has the floor.
  const l1 = await forceConsumerLeader(fx.h!, nc, 'TA', 'PROC', 'tsnats');
  await fetchAck(100);
  await checkFloor(100, NS);
  const l2 = await forceConsumerLeader(fx.h!, nc, 'TA', 'PROC', 'nats-server');
  assert.notEqual(l2, l1);
  await checkFloor(100, TS2);
  // Leader nats-server: 100 more, fetched and acked through a tsnats node; back to a tsnats leader.
  await fetchAck(100);
  await checkFloor(200, TS);
  await forceConsumerLeader(fx.h!, nc, 'TA', 'PROC', 'tsnats');
  await checkFloor(200, NS);
  await fetchAck(100);
  await checkFloor(300, TS2);
  // Consumer info agrees through every node.
  for (let i = 0; i < 3; i++) {
    const m = await (await client(i)).jetstreamManager();
    const x = await retry(() => m.consumers.info('TA', 'PROC'), `PROC info through node ${i}`, 30_000, 500);
    assert.equal(x.ack_floor.stream_seq, 300);
    assert.equal((x.cluster as ClusterBlock).replicas?.length, 2);
  }
});

for (const [writer, reader, bucket] of [[TS, NS, 'FROMTS'], [NS, TS2, 'FROMNS']] as const) {
  test(`an R3 KV bucket written through ${writer === NS ? 'nats-server' : 'a tsnats node'} reads with history through ${reader === NS ? 'nats-server' : 'a tsnats node'}`, { skip: mixedSkip, timeout: 180_000 }, async () => {
    const a = (await client(writer)).jetstream();
    const b = (await client(reader)).jetstream();
    const kva = await retry(() => a.views.kv(bucket, { replicas: 3, history: 5 }), `create KV ${bucket}`, 60_000, 1000);
    assert.equal((await kva.status()).replicas, 3);
    const jsm = await (await client(reader)).jetstreamManager();
    const c = await waitStreamHealthy(jsm, `KV_${bucket}`);
    assert.deepEqual([c.leader!, ...c.replicas!.map((r) => r.name)].sort(), ['n1-c1', 'n2-c1', 'n3-c1']);
    await retry(() => kva.put('color', sc.encode('red')), `first put to ${bucket}`, 30_000, 500);
    await kva.put('color', sc.encode('green'));
    await kva.put('size', sc.encode('L'));
    const rev = await kva.put('color', sc.encode('blue'));
    const kvb = await b.views.kv(bucket);
    const e = await retry(async () => {
      const x = await kvb.get('color');
      if (x === null || x.revision !== rev) throw new Error(`revision ${x?.revision}`);
      return x;
    }, `the last value through node ${reader}`, 20_000);
    assert.equal(sc.decode(e.value), 'blue');
    const hist: string[] = [];
    for await (const x of await kvb.history({ key: 'color' })) hist.push(sc.decode(x.value));
    assert.deepEqual(hist, ['red', 'green', 'blue']);
    const keys: string[] = [];
    for await (const k of await kvb.keys()) keys.push(k);
    assert.deepEqual(keys.sort(), ['color', 'size']);
    // And back the other way: the reader writes, the writer reads.
    await kvb.put('size', sc.encode('XL'));
    await retry(async () => {
      const x = await kva.get('size');
      if (x === null || sc.decode(x.value) !== 'XL') throw new Error(`size ${x === null ? null : sc.decode(x.value)}`);
    }, `the reader's write through node ${writer}`, 20_000);
  });
}

test('$SYS.REQ.SERVER.PING.STATSZ through either kind is answered by all three servers, each with its JetStream stats', { skip: mixedSkip, timeout: 60_000 }, async () => {
  for (const via of [NS, TS]) {
    const nc = await connect({ servers: fx.h!.url(via), user: 'admin', pass: 'admin', maxReconnectAttempts: 0 });
    fx.conns.push(nc);
    await retry(async () => {
      const names = new Map<string, Record<string, unknown>>();
      const inbox = nc.subscribe('_INBOX.statsz.>');
      const done = (async () => {
        for await (const m of inbox) {
          const o = JSON.parse(sc.decode(m.data)) as { server: { name: string }; statsz: Record<string, unknown> };
          names.set(o.server.name, o.statsz);
        }
      })();
      nc.publish('$SYS.REQ.SERVER.PING.STATSZ', sc.encode(''), { reply: `_INBOX.statsz.${via}` });
      await delay(3000);
      inbox.unsubscribe();
      await done;
      assert.deepEqual([...names.keys()].sort(), ['n1-c1', 'n2-c1', 'n3-c1'], `answers through node ${via}`);
      for (const [name, st] of names) {
        const js = st['jetstream'] as { stats?: { ha_assets?: number }; meta?: { leader?: string } } | undefined;
        assert.ok(js?.stats !== undefined, `${name} sends its JetStream stats`);
        assert.ok((js.stats.ha_assets ?? 0) >= 1, `${name} counts its HA assets`);
      }
    }, `statsz through node ${via}`, 30_000, 500);
  }
});
