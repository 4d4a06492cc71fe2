// Placement by server_tags in a three-node tsnats JetStream cluster: each server's tags travel in its
// statsz, and the meta leader places a stream only on servers carrying every tag of its placement;
// when none fit, nats-server's 10005 with the tags that did not match.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { JsClusterHarness, retry } from '../../helpers/js-cluster.js';

let h: JsClusterHarness;
let nc: NatsConnection;

before(async () => {
  h = await JsClusterHarness.start(['tsnats', 'tsnats', 'tsnats'], {}, [['az:1', 'ssd'], ['az:2', 'ssd'], ['az:3']]);
  await h.waitMetaLeader();
  nc = await connect({ servers: h.url(0) });
});
after(async () => {
  await nc?.close().catch(() => {});
  await h?.stop();
});

test('placement { tags } picks the servers carrying every tag', { timeout: 60_000 }, async () => {
  const jsm = await retry(() => nc.jetstreamManager(), 'manager');
  const one = await retry(() => jsm.streams.add({ name: 'AZ2', subjects: ['az2.>'], placement: { cluster: 'C1', tags: ['az:2'] } }), 'create AZ2');
  assert.equal(one.cluster?.leader, 'n2-c1');
  const two = await retry(() => jsm.streams.add({ name: 'SSD', subjects: ['ssd.>'], num_replicas: 2, placement: { cluster: 'C1', tags: ['ssd'] } }), 'create SSD');
  assert.deepEqual([two.cluster!.leader!, ...(two.cluster!.replicas ?? []).map((r) => r.name)].sort(), ['n1-c1', 'n2-c1']);
  await assert.rejects(
    () => jsm.streams.add({ name: 'SSD3', subjects: ['ssd3.>'], num_replicas: 3, placement: { cluster: 'C1', tags: ['ssd'] } }),
    (err: Error & { api_error?: { err_code: number; description: string } }) => {
      assert.equal(err.api_error?.err_code, 10005);
      assert.equal(err.api_error?.description, "no suitable peers for placement, tags not matched ['ssd']");
      return true;
    },
  );
});
