// The route handshake's refusals and negotiations, and what a node lets cross: cluster names, a client
// on the route port, route permissions (import/export) and no_advertise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { routeInterest, routesOf, startNode, stopAll, waitInterest, waitMesh, type ClusterNode } from '../helpers/cluster.js';
import { connectRaw } from '../helpers/wire.js';
import { delay, waitFor } from '../helpers/wait.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('cluster names: a different name is refused; a node without one adopts its peer', { timeout: 60_000 }, async () => {
  const nodes: ClusterNode[] = [];
  try {
    const a = await startNode({ clusterName: 'one' });
    nodes.push(a);
    const b = await startNode({ clusterName: 'two', routes: [a.routeUrl] });
    nodes.push(b);
    await waitFor(() => /Rejecting connection, cluster name "two" does not match "one"/.test(a.output()), 'the refusal in the log', 10_000);
    assert.equal((await a.json('/routez'))['num_routes'], 0);
    // No name: a generated (dynamic) one, given up for the configured name of the peer.
    const c = await startNode({ routes: [a.routeUrl] });
    nodes.push(c);
    await waitMesh([a, c]);
    assert.equal(((await c.json('/varz'))['cluster'] as Record<string, unknown>)['name'], 'one');
    const nc = await connect({ servers: c.hostport });
    assert.equal(nc.info?.cluster, 'one');
    await nc.close();
  } finally {
    await stopAll(nodes);
  }
});

test('a client on the route port is told and closed', { timeout: 30_000 }, async () => {
  const nodes: ClusterNode[] = [];
  try {
    const a = await startNode({ clusterName: 'rp' });
    nodes.push(a);
    const raw = await connectRaw(a.clusterPort);
    const info = await raw.expect(/^INFO (\{.*\}) ?\r\n/);
    const ri = JSON.parse(info[1]!) as Record<string, unknown>;
    assert.equal(ri['server_id'], await a.serverId());
    assert.equal(ri['cluster'], 'rp');
    assert.equal(ri['port'], a.clusterPort);
    raw.send('CONNECT {"verbose":false,"lang":"node","version":"1.0.0"}\r\n');
    await raw.expect(/-ERR 'attempted to connect to route port'\r\n/);
    await raw.closed;
  } finally {
    await stopAll(nodes);
  }
});

test('route permissions: import limits the interest a node announces, export the interest it accepts', { timeout: 60_000 }, async () => {
  const nodes: ClusterNode[] = [];
  const conns: NatsConnection[] = [];
  try {
    const conf = `cluster {\n  name: perms\n  listen: 127.0.0.1:-1\n  permissions { import: ["in.>"], export: ["out.>"] }\n}\n`;
    const a = await startNode({ conf, clusterFlag: false });
    const b = await startNode({ clusterName: 'perms', routes: [a.routeUrl] });
    nodes.push(a, b);
    await waitMesh([a, b]);
    const ca = await connect({ servers: a.hostport });
    const cb = await connect({ servers: b.hostport });
    conns.push(ca, cb);
    const gotA: string[] = [];
    const gotB: string[] = [];
    for (const s of ['in.x', 'other.x']) ca.subscribe(s, { callback: (_e, m) => void gotA.push(m.subject) });
    for (const s of ['out.x', 'secret.x']) cb.subscribe(s, { callback: (_e, m) => void gotB.push(m.subject) });
    await Promise.all([ca.flush(), cb.flush()]);
    await waitInterest(b, 'in.x', 1);
    await waitInterest(a, 'out.x', 1);
    // A never announced other.x (not imported) and ignored B's secret.x (not exported).
    assert.equal(await routeInterest(b, 'other.x'), 0);
    assert.equal(await routeInterest(a, 'secret.x'), 0);
    for (const s of ['in.x', 'other.x']) cb.publish(s, 'from b');
    for (const s of ['out.x', 'secret.x']) ca.publish(s, 'from a');
    await Promise.all([ca.flush(), cb.flush()]);
    await waitFor(() => gotA.length >= 1 && gotB.length >= 1, 'the permitted messages', 10_000);
    await delay(300);
    assert.deepEqual(gotA, ['in.x']);
    assert.deepEqual(gotB, ['out.x']);
    const rz = await a.json('/routez');
    assert.deepEqual(rz['import'], { allow: ['in.>'], deny: null });
    assert.deepEqual(rz['export'], { allow: ['out.>'], deny: null });
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stopAll(nodes);
  }
});

test('no_advertise: that node neither tells its clients of the others nor the others of itself', { timeout: 60_000 }, async () => {
  const nodes: ClusterNode[] = [];
  try {
    const a = await startNode({ clusterName: 'na', args: ['--no_advertise'] });
    const b = await startNode({ clusterName: 'na', routes: [a.routeUrl] });
    nodes.push(a, b);
    await waitMesh([a, b]);
    assert.equal((await routesOf(a)).length, 1);
    const ca = await connect({ servers: a.hostport });
    const cb = await connect({ servers: b.hostport });
    assert.deepEqual(ca.info?.connect_urls ?? [], []);
    // Nor does its route INFO carry its client URLs (route.go): the other node's clients never hear of it.
    assert.ok(!(cb.info?.connect_urls ?? []).includes(a.hostport));
    await ca.close();
    await cb.close();
  } finally {
    await stopAll(nodes);
  }
});

test('cluster port -1 is random and the ports file lists the cluster URL', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  const nodes: ClusterNode[] = [];
  try {
    const a = await startNode({ clusterName: 'pf', args: ['--ports_file_dir', dir] });
    nodes.push(a);
    assert.ok(a.clusterPort > 0);
    const file = join(dir, `nats-server_${a.pid}.ports`);
    await waitFor(() => existsSync(file), 'the ports file', 5000);
    const ports = JSON.parse(readFileSync(file, 'utf8')) as { cluster?: string[] };
    assert.deepEqual(ports.cluster, [`nats://127.0.0.1:${a.clusterPort}`]);
  } finally {
    await stopAll(nodes);
  }
});
