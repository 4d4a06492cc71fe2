// A mixed cluster: two tsnats nodes and a real nats-server (2.9.10 in CI). tsnats solicits
// nats-server, nats-server solicits tsnats, and the third route comes from nats-server's gossip.
// Then the same cross-node behaviour as between tsnats nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerBin, routesOf, startNode, stopAll, waitMesh, type ClusterNode } from '../helpers/cluster.js';
import { ACCOUNTS_CONF, accountsIsolated, fanOut, inOrder, queueOnce, requestReply, unsubCrosses } from './scenarios.js';

const skip = natsServerBin() === null ? 'nats-server is not installed' : false;

test('mixed cluster: tsnats, nats-server, tsnats', { skip, timeout: 240_000 }, async (t) => {
  const nodes: ClusterNode[] = [];
  try {
    const t2 = await startNode({ conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'mixed' });
    const ns = await startNode({ kind: 'nats-server', conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'mixed', routes: [t2.routeUrl] });
    const t1 = await startNode({ conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'mixed', routes: [ns.routeUrl] });
    // Publishers go to the first two nodes, the odd one out in the middle.
    nodes.push(t1, ns, t2);
    await waitMesh(nodes);
    await t.test('who solicited whom', async () => {
      const [id1, idN, id2] = await Promise.all([t1.serverId(), ns.serverId(), t2.serverId()]);
      const r1 = await routesOf(t1);
      const r2 = await routesOf(t2);
      const rN = await routesOf(ns);
      // tsnats solicits nats-server (configured route of t1).
      assert.deepEqual(pick(r1, idN), { did_solicit: true, is_configured: true });
      assert.equal(pick(rN, id1).did_solicit, false);
      // nats-server solicits tsnats (configured route of nats-server).
      assert.deepEqual(pick(rN, id2), { did_solicit: true, is_configured: true });
      assert.equal(pick(r2, idN).did_solicit, false);
      // The third route was never configured: gossip made it (one end solicited it).
      const a = pick(r1, id2);
      const b = pick(r2, id1);
      assert.equal(a.is_configured, false);
      assert.equal(b.is_configured, false);
      assert.equal(Number(a.did_solicit) + Number(b.did_solicit), 1);
    });
    await t.test('2 × 10,000 messages complete and in order', () => inOrder(nodes));
    await t.test('fan-out to subscribers on all three nodes', () => fanOut(nodes));
    await t.test('a queue group spread over the nodes gets each of 9,000 messages exactly once', () => queueOnce(nodes));
    await t.test('request/reply and no responders', () => requestReply(nodes));
    await t.test('an UNSUB crosses the routes', () => unsubCrosses(nodes));
    await t.test('accounts A and B are isolated across routes', () => accountsIsolated(nodes));
    await t.test('nats-server publishing to tsnats subscribers, nats-server in the middle', () => inOrder([ns, t2, t1]));
  } finally {
    await stopAll(nodes);
  }
});

function pick(routes: { remote_id: string; did_solicit: boolean; is_configured: boolean }[], id: string): { did_solicit: boolean; is_configured: boolean } {
  const r = routes.find((x) => x.remote_id === id);
  assert.ok(r !== undefined, `a route to ${id}`);
  return { did_solicit: r.did_solicit, is_configured: r.is_configured };
}
