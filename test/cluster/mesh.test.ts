// Forming the mesh: the seed's three node configs (ports, hosts and file paths changed only), a chain
// of partial route lists (A→B, B→C, C→∅) completed by gossip, and what monitoring shows of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { routesOf, sparePort, startNode, stopAll, waitInterest, waitMesh, type ClusterNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

const seedDir = new URL('../../../test/fixtures/seed/', import.meta.url).pathname;

/** A seed node config with its cluster port, the other nodes' route ports and file paths replaced. */
function seedConf(n: number, ports: number[], dir: string): string {
  return readFileSync(join(seedDir, `cluster-node${n}.conf`), 'utf8')
    .replace(/listen: 0\.0\.0\.0:6222/, `listen: 127.0.0.1:${ports[n - 1]}`)
    .replace(/@node(\d):6222/g, (_m, k: string) => `@127.0.0.1:${ports[Number(k) - 1]}`)
    .replace(/log_file: .*/, '')
    .replace(/pid_file: .*/, `pid_file: "${join(dir, `node${n}.pid`)}"`);
}

test("the seed's three node configs form a full mesh and route messages", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-seed-mesh-'));
  const ports = [await sparePort(), await sparePort(), await sparePort()];
  const nodes: ClusterNode[] = [];
  try {
    for (const n of [1, 2, 3]) nodes.push(await startNode({ conf: seedConf(n, ports, dir), clusterFlag: false }));
    await waitMesh(nodes);
    // Each node's clients use its own user (node<n>_user), as the seed configures.
    const sub = await connect({ servers: nodes[2]!.hostport, user: 'node3_user', pass: 'node3_pass' });
    const pub = await connect({ servers: nodes[0]!.hostport, user: 'node1_user', pass: 'node1_pass' });
    try {
      let got = 0;
      sub.subscribe('seed.>', { callback: () => void got++ });
      await sub.flush();
      await waitInterest(nodes[0]!, 'seed.>', 1);
      for (let i = 0; i < 100; i++) pub.publish(`seed.${i}`, 'x');
      await pub.flush();
      await waitFor(() => got === 100, () => `${got} of 100`, 10_000);
    } finally {
      await pub.close();
      await sub.close();
    }
  } finally {
    await stopAll(nodes);
  }
});

test('A→B, B→C, C→∅: gossip completes the mesh; /routez, /varz and /metrics show it', { timeout: 120_000 }, async () => {
  const nodes: ClusterNode[] = [];
  try {
    const c = await startNode({ clusterName: 'chain' });
    const b = await startNode({ clusterName: 'chain', routes: [c.routeUrl] });
    const a = await startNode({ clusterName: 'chain', routes: [b.routeUrl] });
    nodes.push(a, b, c);
    await waitMesh(nodes);
    const ids = await Promise.all(nodes.map((n) => n.serverId()));
    // A and C were never configured to meet: one of them solicited the other after B's gossip.
    const ac = (await routesOf(a)).find((r) => r.remote_id === ids[2])!;
    const ca = (await routesOf(c)).find((r) => r.remote_id === ids[0])!;
    assert.equal(ac.is_configured, false);
    assert.equal(ca.is_configured, false);
    assert.equal(Number(ac.did_solicit) + Number(ca.did_solicit), 1);
    for (const [i, n] of nodes.entries()) {
      const rz = await n.json('/routez');
      assert.equal(rz['server_id'], ids[i]);
      assert.equal(rz['num_routes'], 2);
      const routes = rz['routes'] as Record<string, unknown>[];
      assert.deepEqual(routes.map((r) => r['remote_id']).sort(), ids.filter((_, j) => j !== i).sort());
      for (const r of routes) {
        for (const k of ['rid', 'port', 'pending_size', 'in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'subscriptions']) assert.equal(typeof r[k], 'number', k);
        for (const k of ['remote_id', 'ip', 'start', 'last_activity', 'uptime', 'idle']) assert.equal(typeof r[k], 'string', k);
        assert.equal(typeof r['did_solicit'], 'boolean');
      }
      const v = await n.json('/varz');
      assert.equal(v['routes'], 2);
      const cl = v['cluster'] as Record<string, unknown>;
      assert.equal(cl['name'], 'chain');
      assert.equal(cl['cluster_port'], n.clusterPort);
    }
    // Traffic shows in the per-route counters (/routez and /metrics).
    const s = await connect({ servers: c.hostport });
    const p = await connect({ servers: a.hostport });
    try {
      let got = 0;
      s.subscribe('count.me', { callback: () => void got++ });
      await s.flush();
      await waitInterest(a, 'count.me', 1);
      for (let i = 0; i < 50; i++) p.publish('count.me', 'abc');
      await p.flush();
      await waitFor(() => got === 50, () => `${got} of 50`, 10_000);
      const toC = (await a.json('/routez?subs=1'))['routes'] as Record<string, unknown>[];
      const r = toC.find((x) => x['remote_id'] === ids[2])!;
      assert.equal(r['out_msgs'], 50);
      assert.equal(r['out_bytes'], 150);
      assert.ok((r['subscriptions_list'] as string[]).includes('count.me'));
      const fromA = ((await c.json('/routez'))['routes'] as Record<string, unknown>[]).find((x) => x['remote_id'] === ids[0])!;
      assert.equal(fromA['in_msgs'], 50);
      const metrics = await a.text('/metrics');
      assert.match(metrics, /^tsnats_routes 2$/m);
      assert.match(metrics, new RegExp(`^tsnats_route_out_msgs_total\\{rid="\\d+",remote_id="${ids[2]}",remote_name="[^"]*"\\} 50$`, 'm'));
    } finally {
      await p.close();
      await s.close();
    }
  } finally {
    await stopAll(nodes);
  }
});
