// 20 rounds of SIGKILLing a random node of a three-node tsnats JetStream cluster while a client
// publishes asynchronously to an R3 stream with 100 publishes in flight (issue 15): every
// acknowledged message is in the stream afterwards, at the sequence its ack named.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, StringCodec, type NatsConnection, type PubAck } from 'nats';
import { JsClusterHarness, readStream, retry } from '../../helpers/js-cluster.js';
import { delay } from '../../helpers/wait.js';

const sc = StringCodec();
const ROUNDS = Number(process.env['TSNATS_CHAOS_ROUNDS'] ?? 20);
const IN_FLIGHT = 100;

let h: JsClusterHarness | null = null;
let nc: NatsConnection | null = null;
after(async () => {
  await nc?.close().catch(() => {});
  await h?.stop();
});

test(`${ROUNDS} rounds of killing a random node during async publishing (${IN_FLIGHT} in flight): no acked message lost`, { timeout: 600_000 }, async () => {
  h = await JsClusterHarness.start();
  const cluster = h;
  await cluster.waitMetaLeader();
  nc = await connect({ servers: cluster.urls(), maxReconnectAttempts: -1, reconnectTimeWait: 100, pingInterval: 2000 });
  const jsm = await nc.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'CHAOS', subjects: ['chaos.>'], num_replicas: 3 }), 'create CHAOS', 60_000);
  const js = nc.jetstream();

  const acked = new Map<string, number>();
  let failed = 0;
  let next = 0;
  let running = true;
  const inflight = new Set<Promise<void>>();
  const publisher = (async () => {
    while (running) {
      while (running && inflight.size < IN_FLIGHT) {
        const id = `m-${next++}`;
        const p: Promise<void> = js
          .publish('chaos.x', sc.encode(id), { timeout: 3000 })
          .then((a: PubAck) => void acked.set(id, a.seq))
          .catch(() => void failed++)
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      // Keep the volume bounded (about 500 messages a second): reading them back stays quick.
      await Promise.race([Promise.all([...inflight]), delay(200)]);
      await delay(200);
    }
    await Promise.allSettled([...inflight]);
  })();

  for (let round = 0; round < ROUNDS; round++) {
    await delay(500 + Math.floor(Math.random() * 1000));
    const victim = Math.floor(Math.random() * 3);
    const before = acked.size;
    await cluster.kill(victim);
    await delay(1000 + Math.floor(Math.random() * 2000));
    const t0 = Date.now();
    const ackedAtRestart = acked.size;
    await cluster.startNode(victim);
    // Publishing goes on under the survivors; the node rejoins before the next round.
    await retry(async () => {
      const hz = await cluster.healthz(victim);
      if (hz.status !== 'ok') throw new Error(hz.error ?? hz.status);
    }, `round ${round}: node ${victim} healthy again`, 60_000, 200);
    assert.ok(acked.size >= before, 'acks keep coming');
    if (process.env['TSNATS_CHAOS_VERBOSE'] === '1') console.error(`round ${round}: killed node ${victim}; ${acked.size} acked (${ackedAtRestart - before} while it was down), ${failed} failed; healthy ${Date.now() - t0} ms after restart`);
  }
  running = false;
  await publisher;
  assert.ok(acked.size > 0, 'messages were acknowledged');

  // Read everything back through one node and check every acknowledged message is where its ack said.
  const st = await retry(() => jsm.streams.info('CHAOS'), 'stream info after the rounds', 30_000);
  const last = st.state.last_seq;
  const bySeq = await readStream(nc, 'CHAOS', 1, last, 180_000);
  let lost = 0;
  for (const [id, seq] of acked) if (bySeq.get(seq) !== id) lost++;
  assert.equal(lost, 0, `${lost} of ${acked.size} acknowledged messages missing (${failed} publishes failed, last sequence ${last})`);
});
