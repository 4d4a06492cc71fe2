// Three tsnats nodes (separate processes, two shards each): messages, queue groups, request/reply,
// interest removal and accounts across routes.
import { test } from 'node:test';
import { startNode, stopAll, waitMesh, type ClusterNode } from '../helpers/cluster.js';
import { ACCOUNTS_CONF, accountsIsolated, fanOut, inOrder, queueOnce, requestReply, unsubCrosses } from './scenarios.js';

test('three tsnats nodes', { timeout: 240_000 }, async (t) => {
  const nodes: ClusterNode[] = [];
  try {
    nodes.push(await startNode({ conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'msg' }));
    nodes.push(await startNode({ conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'msg', routes: [nodes[0]!.routeUrl] }));
    nodes.push(await startNode({ conf: ACCOUNTS_CONF, clusterFlag: true, clusterName: 'msg', routes: [nodes[0]!.routeUrl] }));
    await waitMesh(nodes);
    await t.test('2 × 10,000 messages complete and in order', () => inOrder(nodes));
    await t.test('fan-out to subscribers on all three nodes', () => fanOut(nodes));
    await t.test('a queue group spread over the nodes gets each of 9,000 messages exactly once', () => queueOnce(nodes));
    await t.test('request/reply and no responders', () => requestReply(nodes));
    await t.test('an UNSUB crosses the routes', () => unsubCrosses(nodes));
    await t.test('accounts A and B are isolated across routes', () => accountsIsolated(nodes));
  } finally {
    await stopAll(nodes);
  }
});
