// Peer placement as the meta leader chooses it (jetstream_cluster.go selectPeerGroup and friends).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  SelectPeerError,
  createGroupForConsumer,
  createGroupForStream,
  remapStreamAssignment,
  selectPeerGroup,
  setPreferred,
  type NodeInfo,
  type PlacementContext,
} from '../../../src/jetstream/cluster/placement.js';
import type { StreamAssignment } from '../../../src/jetstream/cluster/assignments.js';
import { peerId } from '../../../src/jetstream/raft/ids.js';

const GB = 1024 ** 3;

function node(name: string, cluster: string, tags: string[] = [], o: Partial<NodeInfo> = {}): [string, NodeInfo] {
  return [
    peerId(name),
    {
      name,
      cluster,
      tags,
      offline: false,
      js: true,
      cfg: { maxMemory: GB, maxStore: 10 * GB },
      stats: { memory: 0, store: 0, reservedMemory: 0, reservedStore: 0, haAssets: 1 },
      ...o,
    },
  ];
}

function ctx(nodes: [string, NodeInfo][], o: Partial<PlacementContext> = {}): PlacementContext {
  return { peers: nodes.map(([id]) => id), nodes: new Map(nodes), ...o };
}

const names = (c: PlacementContext, ids: string[]): string[] => ids.map((id) => c.nodes.get(id)!.name).sort();

describe('placement', () => {
  test('R3 on three servers of the cluster: distinct peers, never another cluster', () => {
    const c = ctx([node('a1', 'A'), node('a2', 'A'), node('a3', 'A'), node('b1', 'B')]);
    const r = selectPeerGroup(c, 3, 'A', { num_replicas: 3 });
    assert.ok(Array.isArray(r));
    assert.deepEqual(names(c, r), ['a1', 'a2', 'a3']);
    const r5 = selectPeerGroup(c, 5, 'A', { num_replicas: 5 });
    assert.ok(r5 instanceof SelectPeerError);
    assert.equal(r5.message, 'no suitable peers for placement');
  });

  test('placement tags must all be present; !jetstream servers are excluded', () => {
    const c = ctx([node('a1', 'A', ['az:1', 'ssd']), node('a2', 'A', ['az:2', 'ssd']), node('a3', 'A', ['az:3']), node('a4', 'A', ['ssd', '!jetstream'])]);
    const r = selectPeerGroup(c, 2, 'A', { num_replicas: 2, placement: { tags: ['ssd'] } });
    assert.ok(Array.isArray(r));
    assert.deepEqual(names(c, r), ['a1', 'a2']);
    const bad = selectPeerGroup(c, 3, 'A', { num_replicas: 3, placement: { tags: ['ssd'] } });
    assert.ok(bad instanceof SelectPeerError);
    assert.equal(bad.message, "no suitable peers for placement, exclude tag set, tags not matched ['ssd']");
  });

  test('offline servers and servers without room for max_bytes are skipped, with reasons', () => {
    const c = ctx([
      node('a1', 'A', [], { offline: true }),
      node('a2', 'A', [], { cfg: { maxMemory: GB, maxStore: GB }, stats: { memory: 0, store: GB - 10, reservedMemory: 0, reservedStore: 0, haAssets: 1 } }),
      node('a3', 'A'),
    ]);
    const r = selectPeerGroup(c, 2, 'A', { num_replicas: 2, max_bytes: 1000 });
    assert.ok(r instanceof SelectPeerError);
    assert.equal(r.message, 'no suitable peers for placement, peer offline, insufficient storage');
    const one = selectPeerGroup(c, 1, 'A', { num_replicas: 1, max_bytes: 1000 });
    assert.ok(Array.isArray(one));
    assert.deepEqual(names(c, one), ['a3']);
  });

  test('most free storage first; replicated streams balance HA assets first', () => {
    const st = (store: number, ha: number) => ({ stats: { memory: 0, store, reservedMemory: 0, reservedStore: 0, haAssets: ha } });
    const c = ctx([node('a1', 'A', [], st(5 * GB, 1)), node('a2', 'A', [], st(1 * GB, 9)), node('a3', 'A', [], st(3 * GB, 2)), node('a4', 'A', [], st(0, 9))]);
    const r1 = selectPeerGroup(c, 1, 'A', { num_replicas: 1 });
    assert.deepEqual(names(c, r1 as string[]), ['a4'], 'R1: most available');
    const r2 = selectPeerGroup(c, 2, 'A', { num_replicas: 2 });
    assert.deepEqual(names(c, r2 as string[]), ['a1', 'a3'], 'R2: fewest HA assets');
  });

  test('unique tag prefix: one replica per value', () => {
    const c = ctx([node('a1', 'A', ['az:1']), node('a2', 'A', ['az:1']), node('a3', 'A', ['az:2']), node('a4', 'A', ['az:3'])], { uniqueTag: 'az:' });
    for (let i = 0; i < 10; i++) {
      const r = selectPeerGroup(c, 3, 'A', { num_replicas: 3 });
      assert.ok(Array.isArray(r));
      const azs = r.map((id) => c.nodes.get(id)!.tags[0]);
      assert.equal(new Set(azs).size, 3);
    }
    const r4 = selectPeerGroup(c, 4, 'A', { num_replicas: 4 });
    assert.ok(r4 instanceof SelectPeerError && r4.uniqueTag);
  });

  test('stream groups: placement cluster, else the requester\'s cluster then its alternates', () => {
    const c = ctx([node('a1', 'A'), node('b1', 'B'), node('b2', 'B'), node('b3', 'B')]);
    const g = createGroupForStream(c, { acc: 'X', cluster: 'A', alts: ['B'] }, { name: 'S', num_replicas: 3, storage: 'memory' });
    assert.ok(!(g instanceof SelectPeerError));
    assert.equal(g.cluster, 'B');
    assert.match(g.name, /^S-R3M-[0-9A-Za-z]{8}$/);
    assert.equal(g.store, 'memory');
    const pinned = createGroupForStream(c, { acc: 'X', cluster: 'B', alts: ['A'] }, { name: 'S', num_replicas: 1, placement: { cluster: 'A' } });
    assert.ok(!(pinned instanceof SelectPeerError));
    assert.deepEqual(names(c, pinned.peers), ['a1']);
    const none = createGroupForStream(c, { acc: 'X', cluster: 'A' }, { name: 'S', num_replicas: 3 });
    assert.ok(none instanceof SelectPeerError);
    setPreferred(pinned);
    assert.equal(pinned.preferred, pinned.peers[0]);
  });

  test('consumer groups take the stream\'s peers (or a subset), memory on request', () => {
    const sa = { stream: { storage: 'file' }, group: { name: 'S-R3F-x', peers: ['p1111111', 'p2222222', 'p3333333'], store: 'file' } } as unknown as StreamAssignment;
    const g = createGroupForConsumer({ durable_name: 'D' }, sa)!;
    assert.deepEqual(g.peers, sa.group.peers);
    assert.match(g.name, /^C-R3F-/);
    const g1 = createGroupForConsumer({ num_replicas: 1, mem_storage: true }, sa)!;
    assert.equal(g1.peers.length, 1);
    assert.ok(sa.group.peers.includes(g1.peers[0]!));
    assert.match(g1.name, /^C-R1M-/);
  });

  test('remap replaces a removed peer when another fits, else just drops it', () => {
    const c = ctx([node('a1', 'A'), node('a2', 'A'), node('a3', 'A'), node('a4', 'A')]);
    const [p1, p2, p3, p4] = ['a1', 'a2', 'a3', 'a4'].map(peerId);
    const sa = { stream: { num_replicas: 3 }, group: { name: 'S-R3F-x', peers: [p1!, p2!, p3!], store: 'file', cluster: 'A', preferred: p1 } } as unknown as StreamAssignment;
    assert.equal(remapStreamAssignment(c, sa, p2!), true);
    assert.deepEqual(sa.group.peers.slice().sort(), [p1!, p3!, p4!].sort());
    assert.equal(sa.group.preferred, undefined);
    const small = ctx([node('a1', 'A'), node('a2', 'A'), node('a3', 'A')]);
    const sb = { stream: { num_replicas: 3 }, group: { name: 'S-R3F-y', peers: [p1!, p2!, p3!], store: 'file', cluster: 'A' } } as unknown as StreamAssignment;
    assert.equal(remapStreamAssignment(small, sb, p2!), false);
    assert.deepEqual(sb.group.peers.slice().sort(), [p1!, p3!].sort());
  });
});
