// A mixed cluster: two tsnats nodes and a real nats-server (2.9.10 in CI). tsnats solicits
// nats-server, nats-server solicits tsnats, and the third route comes from nats-server's gossip.
// Then the same cross-node behaviour as between tsnats nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { natsServerBin, routesOf, sparePort, startNode, stopAll, waitInterest, waitMesh, type ClusterNode } from '../helpers/cluster.js';
import { delay, waitFor } from '../helpers/wait.js';
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

const seedDir = new URL('../../../test/fixtures/seed/', import.meta.url).pathname;

test("the seed's three node configs with node 2 a real nats-server form a mesh and route messages", { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-seed-mixed-'));
  const ports = [await sparePort(), await sparePort(), await sparePort()];
  const conf = (n: number): string =>
    readFileSync(join(seedDir, `cluster-node${n}.conf`), 'utf8')
      .replace(/listen: 0\.0\.0\.0:6222/, `listen: 127.0.0.1:${ports[n - 1]}`)
      .replace(/@node(\d):6222/g, (_m, k: string) => `@127.0.0.1:${ports[Number(k) - 1]}`)
      .replace(/log_file: .*/, '')
      .replace(/pid_file: .*/, `pid_file: "${join(dir, `node${n}.pid`)}"`);
  const nodes: ClusterNode[] = [];
  try {
    nodes.push(await startNode({ conf: conf(1), clusterFlag: false }));
    nodes.push(await startNode({ kind: 'nats-server', conf: conf(2), clusterFlag: false }));
    nodes.push(await startNode({ conf: conf(3), clusterFlag: false }));
    await waitMesh(nodes);
    const sub = await connect({ servers: nodes[1]!.hostport, user: 'node2_user', pass: 'node2_pass' });
    const pub = await connect({ servers: nodes[0]!.hostport, user: 'node1_user', pass: 'node1_pass' });
    const pub3 = await connect({ servers: nodes[2]!.hostport, user: 'node3_user', pass: 'node3_pass' });
    try {
      let got = 0;
      sub.subscribe('seed.>', { callback: () => void got++ });
      await sub.flush();
      await Promise.all([waitInterest(nodes[0]!, 'seed.>', 1), waitInterest(nodes[2]!, 'seed.>', 1)]);
      for (let i = 0; i < 100; i++) {
        pub.publish(`seed.${i}`, 'x');
        pub3.publish(`seed.${i}`, 'y');
      }
      await Promise.all([pub.flush(), pub3.flush()]);
      await waitFor(() => got === 200, () => `${got} of 200`, 10_000);
    } finally {
      await Promise.all([pub.close(), pub3.close(), sub.close()]);
    }
  } finally {
    await stopAll(nodes);
  }
});

test('wrong route passwords are refused both ways between tsnats and nats-server', { skip, timeout: 120_000 }, async () => {
  const nodes: ClusterNode[] = [];
  try {
    const ns = await startNode({ kind: 'nats-server', clusterFlag: false, args: ['--cluster', 'nats://ru:rp@127.0.0.1:-1', '--cluster_name', 'pw'] });
    const ts = await startNode({ clusterFlag: false, args: ['--cluster', 'nats://ru:rp@127.0.0.1:-1', '--cluster_name', 'pw'] });
    nodes.push(ns, ts);
    // tsnats → nats-server with a wrong password, nats-server → tsnats with a wrong password.
    const badT = await startNode({ clusterName: 'pw', routes: [`nats://ru:wrong@127.0.0.1:${ns.clusterPort}`] });
    const badN = await startNode({ kind: 'nats-server', clusterName: 'pw', routes: [`nats://ru:wrong@127.0.0.1:${ts.clusterPort}`] });
    nodes.push(badT, badN);
    // (The refused side may not see the -ERR: the closing server's unread input turns its FIN into a RST.)
    await waitFor(() => /authentication error/i.test(ns.output()), 'nats-server refusing tsnats', 10_000);
    await waitFor(() => /Authorization Error/.test(ts.output()), 'tsnats refusing nats-server', 10_000);
    await delay(500);
    for (const n of nodes) assert.equal((await n.json('/routez'))['num_routes'], 0, `${n.kind}:${n.port}`);
  } finally {
    await stopAll(nodes);
  }
});
