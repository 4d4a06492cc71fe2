// What clients and operators see when nodes come and go: connect_urls from INFO, fail-over after a
// SIGKILL, the killed node rejoining, lame duck mode, and a node with a wrong route password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { sparePort, startNode, stopAll, waitInterest, waitMesh, type ClusterNode, type NodeSpec } from '../helpers/cluster.js';
import { connectRaw } from '../helpers/wire.js';
import { delay, waitFor } from '../helpers/wait.js';

/** Three nodes on fixed ports, each configured with routes to the other two. */
async function threeNodeSpecs(extra: Partial<NodeSpec> = {}): Promise<NodeSpec[]> {
  const cports = [await sparePort(), await sparePort(), await sparePort()];
  const ports = [await sparePort(), await sparePort(), await sparePort()];
  return [0, 1, 2].map((i) => ({
    port: ports[i]!,
    clusterPort: cports[i]!,
    clusterName: 'fo',
    routes: cports.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`),
    ...extra,
  }));
}

test('a client learns every node from INFO, fails over after SIGKILL and receives again; the node rejoins', { timeout: 120_000 }, async () => {
  const specs = await threeNodeSpecs();
  const nodes: (ClusterNode | undefined)[] = [];
  const conns: NatsConnection[] = [];
  try {
    for (const s of specs) nodes.push(await startNode(s));
    await waitMesh(nodes as ClusterNode[]);
    const [n1, n2, n3] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const nc = await connect({ servers: n1.hostport, reconnectTimeWait: 200, maxReconnectAttempts: -1, reconnectJitter: 0 });
    conns.push(nc);
    // INFO carries every node's client URL (server.go connect_urls), though the client was given one.
    assert.deepEqual([...(nc.info?.connect_urls ?? [])].sort(), [n1.hostport, n2.hostport, n3.hostport].sort());
    let got = 0;
    nc.subscribe('fo.>', { callback: () => void got++ });
    await nc.flush();
    const pub = await connect({ servers: n2.hostport });
    conns.push(pub);
    await waitInterest(n2, 'fo.>', 1);
    pub.publish('fo.before', 'x');
    await pub.flush();
    await waitFor(() => got === 1, 'the message before the kill', 10_000);

    const killedId = await n1.serverId();
    await n1.stop('SIGKILL');
    nodes[0] = undefined;
    // It reconnects to a node it learned from INFO and its subscription receives again.
    await waitFor(() => nc.info !== undefined && nc.info.server_id !== killedId && !nc.isClosed(), 'a reconnect to another node', 20_000);
    const deadline = Date.now() + 20_000;
    while (got < 2 && Date.now() < deadline) {
      pub.publish('fo.after', 'y');
      await pub.flush();
      await delay(100);
    }
    assert.ok(got >= 2, 'the subscription receives after fail-over');

    // The killed node restarted on its ports rejoins the mesh and routes messages.
    const again = await startNode(specs[0]!);
    nodes[0] = again;
    await waitMesh([again, n2, n3]);
    const s3 = await connect({ servers: n3.hostport });
    const p1 = await connect({ servers: again.hostport });
    conns.push(s3, p1);
    let got3 = 0;
    s3.subscribe('rejoin', { callback: () => void got3++ });
    await s3.flush();
    await waitInterest(again, 'rejoin', 1);
    for (let i = 0; i < 10; i++) p1.publish('rejoin', 'z');
    await p1.flush();
    await waitFor(() => got3 === 10, () => `${got3} of 10 through the rejoined node`, 10_000);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stopAll(nodes);
  }
});

test('lame duck mode: clients get INFO ldm and the other nodes drop its URL', { timeout: 120_000 }, async () => {
  const specs = await threeNodeSpecs({ conf: 'lame_duck_duration: "4s"\nlame_duck_grace_period: "1s"\n', clusterFlag: true });
  const nodes: ClusterNode[] = [];
  const conns: NatsConnection[] = [];
  let raw: Awaited<ReturnType<typeof connectRaw>> | null = null;
  try {
    for (const s of specs) nodes.push(await startNode(s));
    await waitMesh(nodes);
    const [n1, , n3] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const nc = await connect({ servers: n1.hostport });
    conns.push(nc);
    assert.ok(nc.info?.connect_urls?.includes(n3.hostport));
    raw = await connectRaw(n3.port);
    raw.send('CONNECT {"protocol":1,"verbose":false}\r\nPING\r\n');
    await raw.expect(/PONG\r\n/);
    n3.proc.kill('SIGUSR2');
    // The node's own clients: INFO with ldm and only the other nodes' URLs.
    const m = await raw.expect(/INFO (\{[^\r]*"ldm":true[^\r]*\}) \r\n/, 10_000);
    const info = JSON.parse(m[1]!) as { connect_urls?: string[] };
    assert.ok(!(info.connect_urls ?? []).includes(n3.hostport), JSON.stringify(info.connect_urls));
    // The other nodes' clients: an async INFO without the lame duck's URL.
    await waitFor(() => !(nc.info?.connect_urls ?? []).includes(n3.hostport), () => `connect_urls still ${JSON.stringify(nc.info?.connect_urls)}`, 10_000);
  } finally {
    raw?.close();
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stopAll(nodes);
  }
});

test('a node with a wrong route password is not admitted and none of its messages reach the cluster', { timeout: 120_000 }, async () => {
  const nodes: ClusterNode[] = [];
  const conns: NatsConnection[] = [];
  try {
    const a = await startNode({ clusterName: 'auth', args: ['--cluster', 'nats://ru:rp@127.0.0.1:-1'], clusterFlag: false });
    const b = await startNode({ clusterName: 'auth', args: ['--cluster', 'nats://ru:rp@127.0.0.1:-1'], clusterFlag: false, routes: [`nats://ru:rp@127.0.0.1:${a.clusterPort}`] });
    nodes.push(a, b);
    await waitMesh([a, b]);
    const bad = await startNode({ clusterName: 'auth', routes: [`nats://ru:wrong@127.0.0.1:${a.clusterPort}`, `nats://ru:wrong@127.0.0.1:${b.clusterPort}`] });
    nodes.push(bad);
    await waitFor(() => /Authorization Error/.test(a.output()) && /Authorization Error/.test(b.output()), 'both nodes refusing it', 10_000);
    let got = 0;
    const sub = await connect({ servers: a.hostport });
    const sub2 = await connect({ servers: b.hostport });
    const leak = await connect({ servers: bad.hostport });
    conns.push(sub, sub2, leak);
    sub.subscribe('>', { callback: () => void got++ });
    sub2.subscribe('>', { callback: () => void got++ });
    await Promise.all([sub.flush(), sub2.flush()]);
    for (let i = 0; i < 20; i++) {
      leak.publish(`leak.${i}`, 'secret');
      await leak.flush();
      await delay(50);
    }
    await delay(500);
    assert.equal(got, 0);
    for (const n of [a, b]) assert.equal((await n.json('/routez'))['num_routes'], 1);
    assert.equal((await bad.json('/routez'))['num_routes'], 0);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stopAll(nodes);
  }
});

test('a shard hosting routes dies: it is replaced and the routes come back', { timeout: 120_000 }, async () => {
  const nodes: ClusterNode[] = [];
  const conns: NatsConnection[] = [];
  try {
    // One shard on A: it hosts both the route A solicited and the one B solicited.
    const b = await startNode({ clusterName: 'crash' });
    const a = await startNode({ clusterName: 'crash', shards: 1, routes: [b.routeUrl], env: { TSNATS_DEBUG_HOOKS: '1' } });
    nodes.push(a, b);
    await waitMesh([a, b]);
    const victim = await connect({ servers: a.hostport, reconnect: false });
    conns.push(victim);
    victim.publish('$TSNATS.DEBUG.SHARD_EXIT');
    // (No flush: the shard dies before it could answer.)
    await waitFor(() => /replacement shard ready/.test(a.output()), 'the replacement shard', 20_000);
    await waitMesh([a, b]);
    const sa = await connect({ servers: a.hostport });
    const pb = await connect({ servers: b.hostport });
    conns.push(sa, pb);
    let got = 0;
    sa.subscribe('after.crash', { callback: () => void got++ });
    await sa.flush();
    await waitInterest(b, 'after.crash', 1);
    for (let i = 0; i < 10; i++) pb.publish('after.crash', 'x');
    await pb.flush();
    await waitFor(() => got === 10, () => `${got} of 10 over the new route`, 10_000);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await stopAll(nodes);
  }
});
