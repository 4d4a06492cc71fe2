// Our RAFT node inside a real nats-server cluster's meta group (`_meta_`), speaking NRG over a
// system-account client connection: it is caught up by a nats-server leader, added as a peer, applies the
// meta log into our meta state machine (seeing nats-server's stream assignments), takes leadership from
// nats-server (leader transfer), places a stream on the nats-server nodes as meta leader (the servers
// create it and serve it), removes it, catches a restarted nats-server node up from our meta snapshot,
// runs a replica of an R3 stream whose other replicas and leader
// are nats-server nodes (the leader replicates every publish to us and counts our acknowledgements when a
// nats-server replica is down), leads a stream whose followers are nats-server nodes (they store what we
// replicate and serve it when leadership passes to them), hands leadership back and leaves the group.
//
// Needs nats-server (2.9.10 in CI) on $PATH or $NATS_SERVER_BIN; skipped without it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StringCodec, type NatsConnection, type JetStreamManager } from 'nats';
import { NatsCluster, natsServerBin } from '../../helpers/nats-cluster.js';
import { delay, waitFor } from '../../helpers/wait.js';
import { NatsClientTransport } from './nats-transport.js';
import { RaftNode } from '../../../src/jetstream/raft/node.js';
import { FileWal } from '../../../src/jetstream/raft/wal.js';
import { bootstrapGroup } from '../../../src/jetstream/raft/state-files.js';
import { META_GROUP, peerId, streamGroupName } from '../../../src/jetstream/raft/ids.js';
import { MetaState } from '../../../src/jetstream/cluster/meta-state.js';
import { assignStreamOp, encodeStreamAssignment, goTimeNow, removeStreamOp, type StreamAssignment } from '../../../src/jetstream/cluster/assignments.js';
import { ModelStream } from '../cluster/model-stream.js';
import { encodeStreamMsg } from '../../../src/jetstream/cluster/stream-ops.js';

const bin = natsServerBin();
const sc = StringCodec();

let cluster: NatsCluster | null = null;
let node: RaftNode | null = null;
let transport: NatsClientTransport | null = null;
let app: NatsConnection | null = null;
const streamNodes = new Map<string, { node: RaftNode; model: ModelStream; name: string }>();
const dir = mkdtempSync(join(tmpdir(), 'raft-interop-'));
after(async () => {
  for (const s of streamNodes.values()) s.node.stop();
  node?.stop();
  await transport?.close().catch(() => {});
  await app?.close().catch(() => {});
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs fn again while it fails with a 503 (no responders: the request reached nobody), up to 10 s. */
async function retry503<T>(fn: () => Promise<T>, what: string): Promise<T> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== '503' || Date.now() > until) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function retry<T>(fn: () => Promise<T>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await delay(500);
    }
  }
}

test('a tsnats RAFT node joins, follows, leads and leaves a nats-server meta group, follows and leads stream groups with nats-server peers', { skip: bin ? false : 'nats-server not installed', timeout: 240_000 }, async () => {
  const names = ['n1', 'n2', 'n3'];
  const ids = new Map(names.map((n) => [peerId(n), n]));
  cluster = await NatsCluster.create(names, bin!);
  cluster.startAll();
  let leaderName = '';
  // Wait for a meta leader that knows all three servers (a route can take ~10 s to be retried).
  await retry(async () => {
    // A node that exited (seen once in CI: a port taken between freePort() and nats-server's bind by
    // a test running beside this one) is started again on the same ports.
    for (const n of cluster!.nodes) if (n.proc !== null && n.proc.exitCode !== null) cluster!.start(n.name);
    leaderName = await cluster!.metaLeader('n1');
    if (!leaderName) throw new Error('no meta leader yet');
    // The leader's /jsz lists its replicas.
    const mc = (await cluster!.jsz(leaderName))['meta_cluster'] as { replicas?: { name: string; current: boolean }[] } | undefined;
    const others = (mc?.replicas ?? []).filter((r) => r.current);
    if (others.length < 2) throw new Error(`meta group not complete: ${JSON.stringify(mc)}; ${cluster!.nodes.map((n) => `${n.name} (exit ${n.proc?.exitCode ?? 'running'}): ${n.log.split('\n').filter((l) => /ERR|WRN|FTL/.test(l)).slice(-3).join(' | ')}`).join('; ')}`);
  }, 'nats-server meta group of three', 90_000);

  app = await connect({ servers: cluster.nodes.map((n) => n.url), user: 'app', pass: 'app' });
  const jsm: JetStreamManager = await app.jetstreamManager();
  await retry(() => jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3 }), 'create ORDERS', 60_000);
  const js = app.jetstream();
  for (let i = 0; i < 5; i++) await retry(() => js.publish(`orders.${i}`, sc.encode(`o${i}`)), 'publish');

  // Our node: connected through a server that is not the meta leader.
  const via = names.find((n) => n !== leaderName)!;
  transport = await NatsClientTransport.connect(cluster.node(via).url, 'sys', 'sys');
  const ourId = peerId('tsnats-probe');
  const gdir = join(dir, 'SYS', '_js_', META_GROUP);
  bootstrapGroup(gdir, [...ids.keys(), ourId], true);
  const meta = new MetaState(ourId);
  node = new RaftNode({
    group: META_GROUP,
    dir: gdir,
    id: ourId,
    wal: new FileWal(gdir),
    transport,
    // nats-server's own timers: we must not campaign while its leader is healthy.
    onApply: (ce) => {
      if (ce === null) {
        meta.endRecovery();
        return;
      }
      for (const ch of meta.applyEntries(ce.entries)) {
        if (ch.op === 'stream-assign' && ch.isMember && !streamNodes.has(ch.sa.group.name)) startStreamReplica(ch.sa);
        if (ch.op === 'stream-remove' && streamNodes.has(ch.sa.group.name)) {
          streamNodes.get(ch.sa.group.name)!.node.delete();
          streamNodes.delete(ch.sa.group.name);
        }
      }
      node!.appliedTo(ce.index);
    },
  });
  // A replica of a stream assigned to us: a RAFT node for its group applying entries to a model stream.
  const startStreamReplica = (sa: StreamAssignment): void => {
    const sdir = join(dir, 'SYS', '_js_', sa.group.name);
    bootstrapGroup(sdir, sa.group.peers, true);
    const model = new ModelStream();
    const sn: RaftNode = new RaftNode({
      group: sa.group.name,
      dir: sdir,
      id: ourId,
      wal: new FileWal(sdir),
      transport: transport!,
      onApply: (ce) => {
        if (ce === null) return;
        for (const e of ce.entries) model.apply(e);
        sn.appliedTo(ce.index);
      },
    });
    streamNodes.set(sa.group.name, { node: sn, model, name: String(sa.stream['name']) });
    sn.start();
    // jetstream_cluster.go createRaftGroup: the preferred peer of a new group campaigns at once.
    if (sa.group.preferred === ourId) sn.campaign();
  };
  node.start();

  // 1. Caught up by the nats-server leader ($NRG.CR), our meta state shows ORDERS as nats-server placed it.
  await waitFor(() => meta.stream('APP', 'ORDERS') !== undefined, () => `ORDERS in our meta state; leader=${node!.groupLeader()} ${JSON.stringify(node!.progressInfo())}`, 30_000);
  assert.ok((transport.received.get('$NRG.CR') ?? 0) > 0, 'we were caught up on a $NRG.CR inbox');
  assert.ok(ids.has(node.groupLeader()), 'we follow a nats-server leader');
  const info = await jsm.streams.info('ORDERS');
  const placed = [info.cluster!.leader!, ...(info.cluster!.replicas ?? []).map((r) => r.name)].sort();
  assert.deepEqual(meta.stream('APP', 'ORDERS')!.group.peers.map((p) => ids.get(p)).sort(), placed);

  // 2. The nats-server leader adds us as a peer: the group has 4 members everywhere.
  await waitFor(() => node!.clusterSize() === 4, () => `cluster size 4 (is ${node!.clusterSize()})`, 30_000);

  // 3. New assignments reach us as they commit.
  await retry(() => jsm.streams.add({ name: 'SECOND', subjects: ['second.>'], num_replicas: 3, storage: 'memory' as never }), 'create SECOND');
  await waitFor(() => meta.stream('APP', 'SECOND') !== undefined, 'SECOND in our meta state', 20_000);
  assert.equal(meta.stream('APP', 'SECOND')!.group.store, 'memory');

  // 4. Take leadership by election: nats-server never transfers leadership to a peer it has no statsz
  // for (raft.go StepDown consults nodeToInfo), so we campaign; with a log as current as theirs, the
  // nats-server nodes vote for us and their leader steps down on our higher term.
  for (let attempt = 0; attempt < 8 && !node.isLeader(); attempt++) {
    node.campaign();
    await waitFor(() => node!.isLeader(), 'our election', 5000).catch(() => {});
    if (!node.isLeader()) await delay(2000);
  }
  assert.ok(node.isLeader(), `we became meta leader (leader is ${node.groupLeader()})`);
  // nats-server followers accept and acknowledge our entries: our peer state entry commits.
  await waitFor(() => node!.progressInfo().commit >= node!.progressInfo().index - 1, 'our first entry to commit', 20_000);

  // 5. As meta leader, place a stream on two nats-server nodes: they create it and serve it.
  const orders = meta.stream('APP', 'ORDERS')!;
  const peers = [...ids.keys()].slice(0, 2);
  const sa: StreamAssignment = {
    client: { ...orders.client, acc: 'APP' },
    created: goTimeNow(),
    stream: { ...orders.stream, name: 'PLACED', subjects: ['placed.>'], num_replicas: 2 },
    group: { name: streamGroupName(2, 'file'), peers, store: 'file', cluster: 'C1', preferred: peers[0] },
    sync: '$JSC.SYNC.tsnatsAA',
    subject: '',
    reply: '',
  };
  node.propose(encodeStreamAssignment(assignStreamOp, sa));
  const placedInfo = await retry(() => jsm.streams.info('PLACED'), 'PLACED served by nats-server', 30_000);
  assert.equal(placedInfo.config.num_replicas, 2);
  assert.deepEqual([placedInfo.cluster!.leader!, ...(placedInfo.cluster!.replicas ?? []).map((r) => r.name)].sort(), peers.map((p) => ids.get(p)!).sort());
  const ack = await retry(() => js.publish('placed.x', sc.encode('hello')), 'publish to PLACED');
  assert.equal(ack.stream, 'PLACED');
  assert.equal(ack.seq, 1);

  // ... and remove it again: the servers that held it delete it (an info request would need the meta
  // leader, us, to answer "not found": we do not serve the API here, so ask each server's /jsz).
  node.propose(encodeStreamAssignment(removeStreamOp, meta.stream('APP', 'PLACED')!));
  const holders = peers.map((p) => ids.get(p)!);
  await retry(async () => {
    for (const h of holders) {
      const j = await fetch(`http://127.0.0.1:${cluster!.node(h).httpPort}/jsz?acc=APP&streams=true`).then((r) => r.json() as Promise<{ account_details?: { stream_detail?: { name: string }[] }[] }>);
      const names = (j.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((s) => s.name));
      if (!names.includes('ORDERS')) throw new Error(`${h}: /jsz does not list streams (${JSON.stringify(names)})`);
      if (names.includes('PLACED')) throw new Error(`${h} still has PLACED`);
    }
  }, 'PLACED removed', 30_000);

  // 5a. Catch a nats-server node up from our snapshot: while it is down we place a stream on it and
  // compact our log into a meta snapshot (our S2 JSON); when it comes back our leader sends the
  // snapshot first, nats-server applies it (applyMetaSnapshot) and creates the stream.
  const victim = names.find((n) => n !== via)!;
  const buddy = names.find((n) => n !== victim && n !== via)!;
  await cluster.stop(victim, 'SIGKILL');
  const caught: StreamAssignment = {
    client: { ...orders.client, acc: 'APP' },
    created: goTimeNow(),
    stream: { ...orders.stream, name: 'CAUGHT', subjects: ['caught.>'], num_replicas: 2 },
    group: { name: streamGroupName(2, 'file'), peers: [peerId(buddy), peerId(victim)], store: 'file', cluster: 'C1' },
    sync: '$JSC.SYNC.tsnatsDD',
    subject: '',
    reply: '',
  };
  node.propose(encodeStreamAssignment(assignStreamOp, caught));
  await waitFor(() => meta.stream('APP', 'CAUGHT') !== undefined, 'CAUGHT committed', 20_000);
  node.installSnapshot(meta.snapshot());
  assert.equal(node.size().entries, 0, 'our meta log is compacted into the snapshot');
  cluster.start(victim);
  const listed = async (server: string): Promise<string[]> => {
    const j = await fetch(`http://127.0.0.1:${cluster!.node(server).httpPort}/jsz?acc=APP&streams=true`).then((r) => r.json() as Promise<{ account_details?: { stream_detail?: { name: string }[] }[] }>);
    return (j.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((x) => x.name));
  };
  await retry(async () => {
    if (!(await listed(victim)).includes('CAUGHT')) throw new Error(`${victim} has no CAUGHT yet`);
  }, `${victim} caught up from our snapshot`, 60_000);
  const caughtInfo = await retry(() => jsm.streams.info('CAUGHT'), 'CAUGHT served', 30_000);
  assert.equal(caughtInfo.config.num_replicas, 2);
  assert.doesNotMatch(cluster.node(victim).log, /Error applying|failed to decode|corrupt/i);

  // 5b. An R3 stream with a replica on our node: the nats-server stream leader replicates every
  // publish to us (stream group entries applied to our model), and counts our acknowledgements.
  const two = [...ids.keys()].slice(1, 3);
  const shared: StreamAssignment = {
    client: { ...orders.client, acc: 'APP' },
    created: goTimeNow(),
    stream: { ...orders.stream, name: 'SHARED', subjects: ['shared.>'], num_replicas: 3 },
    group: { name: streamGroupName(3, 'file'), peers: [...two, ourId], store: 'file', cluster: 'C1', preferred: two[0] },
    sync: '$JSC.SYNC.tsnatsBB',
    subject: '',
    reply: '',
  };
  node.propose(encodeStreamAssignment(assignStreamOp, shared));
  await retry(() => jsm.streams.info('SHARED'), 'SHARED served by nats-server', 30_000);
  for (let i = 1; i <= 20; i++) {
    const a = await retry(() => js.publish(`shared.${i}`, sc.encode(`s${i}`)), 'publish to SHARED');
    assert.equal(a.seq, i);
  }
  const replica = streamNodes.get(shared.group.name)!;
  assert.ok(replica, 'we run a replica of SHARED');
  await waitFor(() => replica.model.last === 20, () => `our replica has 20 messages (has ${replica.model.last})`, 20_000);
  for (let i = 1; i <= 20; i++) assert.equal(replica.model.msgs.get(i)!.subject, `shared.${i}`);
  assert.equal(replica.node.groupLeader() !== '' && ids.has(replica.node.groupLeader()), true, 'a nats-server node leads SHARED');
  // With one nats-server replica down, publishes are still acked: the leader counts our acknowledgements.
  const sharedInfo = await jsm.streams.info('SHARED');
  const sharedLeader = sharedInfo.cluster!.leader!;
  const otherReplica = two.map((p) => ids.get(p)!).find((n) => n !== sharedLeader)!;
  await cluster.stop(otherReplica, 'SIGKILL');
  for (let i = 21; i <= 25; i++) {
    const a = await retry(() => js.publish(`shared.${i}`, sc.encode(`s${i}`), { timeout: 3000 }), 'publish to SHARED with one replica down');
    assert.equal(a.seq, i);
  }
  await waitFor(() => replica.model.last === 25, 'our replica has 25 messages', 20_000);
  cluster.start(otherReplica);
    await retry(async () => {
    if (!(await cluster!.metaLeader(otherReplica)) && !node!.isLeader()) throw new Error('restarted server not ready');
    const r = await fetch(`http://127.0.0.1:${cluster!.node(otherReplica).httpPort}/healthz`);
    if (!r.ok) throw new Error(`healthz ${r.status}`);
  }, 'restarted nats-server healthy', 60_000);

  // 5c. A stream we lead with nats-server followers: we take publishes, replicate them as streamMsgOp
  // entries, ack once committed; when we hand leadership to nats-server, it serves every message.
  const ledPeers = [...ids.keys()].slice(0, 2);
  const led: StreamAssignment = {
    client: { ...orders.client, acc: 'APP' },
    created: goTimeNow(),
    stream: { ...orders.stream, name: 'LED', subjects: ['led.>'], num_replicas: 3 },
    group: { name: streamGroupName(3, 'file'), peers: [...ledPeers, ourId], store: 'file', cluster: 'C1', preferred: ourId },
    sync: '$JSC.SYNC.tsnatsCC',
    subject: '',
    reply: '',
  };
  node.propose(encodeStreamAssignment(assignStreamOp, led));
  await waitFor(() => streamNodes.get(led.group.name)?.node.isLeader() === true, 'our node leads LED', 20_000);
  const ours = streamNodes.get(led.group.name)!;
  // The leader's publish path: proposals carry the last sequence; the ack goes out once applied.
  const pubConn = await connect({ servers: cluster.node(via).url, user: 'app', pass: 'app', noEcho: true });
  const waitingAcks = new Map<number, string>();
  let lseq = 0;
  pubConn.subscribe('led.>', {
    callback: (_e, m) => {
      if (!ours.node.isLeader()) return;
      const seq = ++lseq;
      if (m.reply) waitingAcks.set(seq, m.reply);
      ours.node.propose(encodeStreamMsg({ subject: m.subject, reply: '', hdr: null, msg: Buffer.from(m.data), lseq: seq - 1, ts: BigInt(Date.now()) * 1_000_000n }));
    },
  });
  await pubConn.flush();
  const ackTimer = setInterval(() => {
    for (const [seq, reply] of waitingAcks) {
      if (ours.model.last < seq) break;
      waitingAcks.delete(seq);
      pubConn.publish(reply, sc.encode(JSON.stringify({ stream: 'LED', seq })));
    }
  }, 5);
  try {
    for (let i = 1; i <= 10; i++) {
      // The publisher's server may not have heard of pubConn's interest over its route yet: a 503
      // (no responders, nothing delivered) is tried again; anything else fails the test.
      const a = await retry503(() => js.publish(`led.${i}`, sc.encode(`l${i}`), { timeout: 5000 }), `publish led.${i}`);
      assert.equal(a.seq, i);
    }
  } finally {
    clearInterval(ackTimer);
  }
  await pubConn.drain();
  ours.node.stepDown();
  await waitFor(() => ids.has(ours.node.groupLeader()), 'a nats-server node leads LED', 20_000);
  const ledInfo = await retry(() => jsm.streams.info('LED'), 'LED info from its nats-server leader', 30_000);
  assert.equal(ledInfo.state.messages, 10);
  assert.equal(ledInfo.state.last_seq, 10);
  const m7 = await jsm.streams.getMessage('LED', { seq: 7 });
  assert.equal(m7.subject, 'led.7');
  assert.equal(sc.decode(m7.data), 'l7');
  const a11 = await retry(() => js.publish('led.11', sc.encode('l11')), 'publish to LED under nats-server');
  assert.equal(a11.seq, 11);
  await waitFor(() => ours.model.last === 11, 'we follow LED again', 20_000);

  // 6. Hand leadership back and leave the group; nats-server carries on with three.
  node.stepDown();
  await waitFor(() => ids.has(node!.groupLeader()), 'a nats-server meta leader again', 30_000);
  node.proposeRemovePeer(ourId);
  await waitFor(() => node!.clusterSize() === 3, () => `cluster size back to 3 (is ${node!.clusterSize()})`, 30_000);
  node.stop();
  node = null;
  await retry(() => jsm.streams.add({ name: 'AFTER', subjects: ['after.>'], num_replicas: 3 }), 'create AFTER once we left', 30_000);
  const jz = (await cluster.jsz('n1'))['meta_cluster'] as { cluster_size?: number; leader?: string };
  assert.ok(jz.leader, 'nats-server has a meta leader');
  // nats-server found nothing malformed in what we sent.
  for (const n of cluster.nodes) assert.doesNotMatch(n.log, /malformed|corrupt|failed to decode|Unknown meta entry/i, `${n.name} log`);
  if (process.env.RAFT_INTEROP_LOGS) for (const n of cluster.nodes) console.log(`--- ${n.name}\n${n.log.split('\n').filter((l) => /\[(WRN|ERR)\]/.test(l)).join('\n')}`);
});
