// The meta controller over the in-process bus: servers bootstrap the meta group (with or without known
// peers), the leader places streams and consumers and every server applies the same assignments, a new
// leader takes over, a restarted server recovers from its meta snapshot and log, and a removed peer's
// assets are re-placed.

import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../../../src/jetstream/raft/bus.js';
import { peerId } from '../../../src/jetstream/raft/ids.js';
import { MetaController } from '../../../src/jetstream/cluster/meta-controller.js';
import type { MetaChange } from '../../../src/jetstream/cluster/meta-state.js';
import { SelectPeerError, type NodeInfo, type PlacementContext } from '../../../src/jetstream/cluster/placement.js';
import type { StreamAssignment } from '../../../src/jetstream/cluster/assignments.js';
import { FAST } from '../raft/harness.js';
import { waitFor } from '../../helpers/wait.js';

interface Server {
  name: string;
  id: string;
  mc: MetaController | null;
  changes: MetaChange[];
}

class MetaCluster {
  readonly bus = new MemoryBus();
  readonly root = mkdtempSync(join(tmpdir(), 'meta-ctl-'));
  readonly servers: Server[] = [];
  readonly nodes = new Map<string, NodeInfo>();
  knownPeers: string[];

  constructor(names: string[], knownPeers = true) {
    for (const name of names) {
      const id = peerId(name);
      this.servers.push({ name, id, mc: null, changes: [] });
      this.nodes.set(id, {
        name,
        cluster: 'C1',
        tags: [],
        offline: false,
        js: true,
        cfg: { maxMemory: 1 << 30, maxStore: 1 << 30 },
        stats: { memory: 0, store: 0, reservedMemory: 0, reservedStore: 0, haAssets: 1 },
      });
    }
    this.knownPeers = knownPeers ? this.servers.map((s) => s.id) : [];
  }

  server(name: string): Server {
    return this.servers.find((s) => s.name === name)!;
  }

  placement(): PlacementContext {
    const live = this.servers.filter((s) => s.mc !== null).map((s) => s.id);
    const nodes = new Map(this.nodes);
    for (const s of this.servers) if (!s.mc) nodes.set(s.id, { ...nodes.get(s.id)!, offline: true });
    return { peers: [...new Set([...live, ...this.servers.map((s) => s.id)])], nodes };
  }

  start(name: string): MetaController {
    const s = this.server(name);
    s.mc = new MetaController({
      jsDir: join(this.root, name, 'jetstream'),
      sysAccount: 'SYS',
      id: s.id,
      transport: this.bus.endpoint(name),
      knownPeers: this.knownPeers,
      routes: this.servers.length - 1,
      placement: () => this.placement(),
      onChanges: (ch) => s.changes.push(...ch),
      timing: FAST,
    }).start();
    return s.mc;
  }

  stop(name: string): void {
    const s = this.server(name);
    s.mc?.stop();
    s.mc = null;
    this.bus.remove(name);
  }

  running(): Server[] {
    return this.servers.filter((s) => s.mc);
  }

  async leader(timeoutMs = 15_000): Promise<Server> {
    let l: Server | null = null;
    await waitFor(
      () => {
        const ls = this.running().filter((s) => s.mc!.isLeader());
        if (ls.length !== 1) return false;
        l = ls[0]!;
        return this.running().every((s) => s.mc!.node.groupLeader() === l!.id);
      },
      () => `one meta leader: ${this.running().map((s) => `${s.name}:${s.mc!.node.getState()}/${s.mc!.node.groupLeader()}`).join(' ')}`,
      timeoutMs,
    );
    return l!;
  }

  async everywhere(pred: (mc: MetaController) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.running().every((s) => pred(s.mc!)), what, timeoutMs);
  }

  close(): void {
    for (const s of this.servers) s.mc?.stop();
    this.bus.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

const ci = { acc: 'APP', server: 'n1', cluster: 'C1' };
const cfg = (name: string, r: number) => ({ name, subjects: [`${name}.>`], num_replicas: r, storage: 'file' });

let mc: MetaCluster | null = null;
afterEach(() => {
  if (mc) {
    assert.deepEqual(mc.bus.errors, []);
    mc.close();
  }
  mc = null;
});

describe('meta controller', () => {
  test('the leader places streams and consumers; every server applies the same assignments', async () => {
    mc = new MetaCluster(['n1', 'n2', 'n3']);
    for (const s of mc.servers) mc.start(s.name);
    const l = await mc.leader();
    const sa = l.mc!.proposeStream(ci, cfg('ORDERS', 3), '$JS.API.STREAM.CREATE.ORDERS', '_INBOX.r1');
    assert.ok(!(sa instanceof SelectPeerError));
    assert.equal(sa.group.peers.length, 3);
    await mc.everywhere((m) => m.streamAssignment('APP', 'ORDERS') !== undefined, 'ORDERS everywhere');
    // Every server is a member: each is told so, with the request's reply subject to answer.
    for (const s of mc.servers) {
      const ch = s.changes.find((c) => c.op === 'stream-assign') as Extract<MetaChange, { op: 'stream-assign' }>;
      assert.ok(ch.isMember);
      assert.equal(ch.sa.reply, '_INBOX.r1');
    }
    const ca = l.mc!.proposeConsumer(ci, 'ORDERS', 'DUR', { durable_name: 'DUR', ack_policy: 'explicit' });
    assert.ok(ca);
    await mc.everywhere((m) => m.state.consumer('APP', 'ORDERS', 'DUR') !== undefined, 'DUR everywhere');
    // Too many replicas: nats-server's 10005 text.
    const r5 = l.mc!.proposeStream(ci, cfg('BIG', 5));
    assert.ok(r5 instanceof SelectPeerError);
    assert.equal(r5.message, 'no suitable peers for placement');
  });

  test('leader failover, clean restart from the meta snapshot, and catch-up of what it missed', async () => {
    mc = new MetaCluster(['n1', 'n2', 'n3']);
    for (const s of mc.servers) mc.start(s.name);
    let l = await mc.leader();
    l.mc!.proposeStream(ci, cfg('A', 3));
    await mc.everywhere((m) => m.streamAssignment('APP', 'A') !== undefined, 'A everywhere');
    const old = l.name;
    mc.stop(old);
    // A clean stop snapshots the meta state.
    const snaps = readdirSync(join(mc.root, old, 'jetstream', 'SYS', '_js_', '_meta_', 'snapshots'));
    assert.equal(snaps.length, 1);
    l = await mc.leader();
    assert.notEqual(l.name, old);
    const b = l.mc!.proposeStream(ci, cfg('B', 2));
    assert.ok(!(b instanceof SelectPeerError));
    assert.ok(!b.group.peers.includes(mc.server(old).id), 'an offline server gets no new asset');
    await mc.everywhere((m) => m.streamAssignment('APP', 'B') !== undefined, 'B on the running servers');
    mc.start(old);
    await mc.everywhere((m) => m.streamNames('APP').sort().join() === 'A,B', 'A and B on every server', 15_000);
    const restarted = mc.server(old);
    assert.ok(restarted.changes.some((c) => c.op === 'stream-assign' && c.sa.stream['name'] === 'A'), 'A recovered from disk');
  });

  test('a removed meta peer\'s streams are re-placed by the leader', async () => {
    mc = new MetaCluster(['n1', 'n2', 'n3', 'n4']);
    for (const s of mc.servers) mc.start(s.name);
    const l = await mc.leader();
    // Place an R3 stream, then remove one of its peers that is not the leader.
    let sa: StreamAssignment | SelectPeerError = new SelectPeerError();
    for (let i = 0; i < 20; i++) {
      sa = l.mc!.proposeStream(ci, cfg(`S${i}`, 3));
      assert.ok(!(sa instanceof SelectPeerError));
      if (sa.group.peers.some((p) => p !== l.id)) break;
    }
    const s0 = sa as StreamAssignment;
    const name = String(s0.stream['name']);
    await mc.everywhere((m) => m.streamAssignment('APP', name) !== undefined, `${name} everywhere`);
    const victim = s0.group.peers.find((p) => p !== l.id)!;
    const victimName = mc.servers.find((s) => s.id === victim)!.name;
    l.mc!.node.proposeRemovePeer(victim);
    mc.stop(victimName);
    await mc.everywhere((m) => {
      const a = m.streamAssignment('APP', name);
      return !!a && !a.group.peers.includes(victim) && a.group.peers.length === 3;
    }, `${name} moved off the removed peer`, 15_000);
    await mc.everywhere((m) => m.node.clusterSize() === 3, 'meta group of 3');
  });

  test('first start with no known peers: an estimated size of 2, grown as peers answer', async () => {
    mc = new MetaCluster(['n1', 'n2', 'n3'], false);
    for (const s of mc.servers) mc.start(s.name);
    await mc.leader();
    await mc.everywhere((m) => m.node.clusterSize() === 3, 'cluster size 3 everywhere', 15_000);
    const l = await mc.leader();
    const sa = l.mc!.proposeStream(ci, cfg('X', 3));
    assert.ok(!(sa instanceof SelectPeerError));
    await mc.everywhere((m) => m.streamAssignment('APP', 'X') !== undefined, 'X everywhere');
  });
});
