// RAFT catch-up: a lagging follower catches up by append entries or by the leader's snapshot; restart
// from disk; peer add and remove; observers.

import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestGroup, type Member } from './harness.js';
import { delay, waitFor } from '../../helpers/wait.js';
import { readPeerStateFile, readTermVoteFile } from '../../../src/jetstream/raft/state-files.js';

let g: TestGroup | null = null;
afterEach(() => {
  if (g) {
    assert.deepEqual(g.bus.errors, [], 'no handler threw');
    g.close();
  }
  g = null;
});

function values(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

/** The test state machine's snapshot: everything applied so far. */
function snapshotOf(m: Member): void {
  m.node!.installSnapshot(Buffer.from(JSON.stringify(m.applied)));
}

describe('raft catch-up', () => {
  test('a follower that was down catches up by append entries', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l = await g.waitLeader();
    const lagger = g.running().find((m) => m !== l)!;
    g.stop(lagger.name);
    await g.proposeAll(l, values('a', 300));
    await g.waitApplied(values('a', 300));
    g.start(lagger.name);
    await g.waitApplied(values('a', 300), [lagger.name]);
    // It did not need a snapshot: none was taken.
    assert.equal(lagger.snapshots.length, 0);
  });

  test('a follower behind the leader\'s snapshot is caught up from the snapshot, then by entries', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l = await g.waitLeader();
    const lagger = g.running().find((m) => m !== l)!;
    await g.proposeAll(l, values('x', 5));
    await g.waitApplied(values('x', 5));
    g.stop(lagger.name);
    await g.proposeAll(l, values('a', 200));
    await g.waitApplied([...values('x', 5), ...values('a', 200)]);
    // Every running node snapshots and compacts its log past what the lagger has.
    for (const m of g.running()) snapshotOf(m);
    for (const m of g.running()) assert.equal(m.node!.size().entries, 0, `${m.name} compacted its log`);
    await g.proposeAll(l, values('b', 20));
    await g.waitApplied([...values('x', 5), ...values('a', 200), ...values('b', 20)]);
    g.start(lagger.name);
    const want = [...values('x', 5), ...values('a', 200), ...values('b', 20)];
    await g.waitApplied(want, [lagger.name]);
    assert.ok(lagger.snapshots.length >= 1, 'the lagger received the leader\'s snapshot');
    // It keeps the snapshot as its own: a restart recovers from it.
    const snaps = readdirSync(join(lagger.dir, 'snapshots'));
    assert.equal(snaps.length, 1);
    g.stop(lagger.name);
    g.start(lagger.name);
    await g.waitApplied(want, [lagger.name]);
  });

  test('restart of the whole group from disk keeps every committed entry and the term', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    let l = await g.waitLeader();
    await g.proposeAll(l, values('d', 50));
    await g.waitApplied(values('d', 50));
    const term = l.node!.getTerm();
    for (const m of [...g.running()]) g.stop(m.name);
    for (const m of g.members) {
      const tv = readTermVoteFile(m.dir);
      assert.ok(tv.term >= term, `${m.name} persisted its term`);
      assert.deepEqual(readPeerStateFile(m.dir)!.knownPeers.sort(), g.members.map((x) => x.id).sort());
    }
    g.startAll();
    // Entries the stored append entries show as committed are applied before any leader is heard.
    await waitFor(() => g!.running().every((m) => m.replayDone), 'replay');
    l = await g.waitLeader();
    assert.ok(l.node!.getTerm() > term);
    await g.proposeAll(l, values('e', 10));
    await g.waitApplied([...values('d', 50), ...values('e', 10)]);
  });

  test('restart from a snapshot plus the log after it', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    let l = await g.waitLeader();
    await g.proposeAll(l, values('s', 30));
    await g.waitApplied(values('s', 30));
    for (const m of g.running()) snapshotOf(m);
    await g.proposeAll(l, values('t', 30));
    const want = [...values('s', 30), ...values('t', 30)];
    await g.waitApplied(want);
    for (const m of [...g.running()]) g.stop(m.name);
    g.startAll();
    l = await g.waitLeader();
    await g.waitApplied(want);
    for (const m of g.running()) assert.ok(m.snapshots.length >= 1, `${m.name} started from its snapshot`);
  });

  test('a follower with a divergent uncommitted tail drops it and takes the leader\'s history', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l1 = await g.waitLeader();
    await g.proposeAll(l1, values('c', 5));
    await g.waitApplied(values('c', 5));
    // Isolate the leader, let it append entries nobody else gets.
    g.bus.isolate(l1.name);
    l1.node!.propose(Buffer.from('orphan-1'));
    l1.node!.propose(Buffer.from('orphan-2'));
    const rest = g.running().filter((m) => m !== l1).map((m) => m.name);
    const l2 = await g.waitLeader(20_000, rest);
    await g.proposeAll(l2, values('n', 5));
    await g.waitApplied([...values('c', 5), ...values('n', 5)], rest);
    g.bus.heal();
    await g.waitLeader(20_000);
    await g.waitApplied([...values('c', 5), ...values('n', 5)]);
    assert.ok(!l1.applied.includes('orphan-1'));
    // And the old leader's log now matches: later entries apply everywhere.
    const l3 = await g.waitLeader(20_000);
    await g.proposeAll(l3, ['after']);
    await g.waitApplied([...values('c', 5), ...values('n', 5), 'after']);
  });

  test('memory storage groups replicate and catch a restarted (empty) member up', async () => {
    g = new TestGroup({ size: 3, storage: 'memory', group: 'S-R3M-memgrp01' });
    g.startAll();
    const l = await g.waitLeader();
    await g.proposeAll(l, values('m', 40));
    await g.waitApplied(values('m', 40));
    const f = g.running().find((m) => m !== l)!;
    g.stop(f.name);
    g.start(f.name);
    await g.waitApplied(values('m', 40), [f.name]);
    assert.ok(!existsSync(join(f.dir, 'wal')), 'a memory group has no WAL on disk');
  });
});

describe('raft membership', () => {
  test('a new peer is caught up and added; the cluster size grows', async () => {
    g = new TestGroup({ size: 3, extra: 1 });
    g.startAll();
    const l = await g.waitLeader();
    await g.proposeAll(l, values('m', 20));
    await g.waitApplied(values('m', 20));
    const n4 = g.member('n4');
    // nats-server: the meta layer assigns the new peer; it starts knowing the current peers.
    g.bootstrap('n4', [...g.members.slice(0, 3).map((m) => m.id), n4.id]);
    g.start('n4');
    l.node!.proposeAddPeer(n4.id);
    await g.waitApplied(values('m', 20), ['n4']);
    await waitFor(() => g!.running().every((m) => m.node!.clusterSize() === 4), () => `cluster size 4; ${g!.describe()}`);
    assert.ok(l.node!.peerNames().includes(n4.id));
    await g.proposeAll(l, ['after-add']);
    await g.waitApplied([...values('m', 20), 'after-add']);
  });

  test('an unknown peer that answers is added by the leader (raft.go trackPeer)', async () => {
    g = new TestGroup({ size: 3, extra: 1 });
    g.startAll();
    const l = await g.waitLeader();
    g.bootstrap('n4', g.members.slice(0, 3).map((m) => m.id));
    g.start('n4');
    await waitFor(() => l.node!.peerNames().includes(g!.member('n4').id), () => `n4 added; ${g!.describe()}`, 10_000);
    await waitFor(() => l.node!.clusterSize() === 4, 'cluster size 4');
  });

  test('removing a peer shrinks the group; removing the leader moves leadership', async () => {
    g = new TestGroup({ size: 5 });
    g.startAll();
    const l = await g.waitLeader();
    const victim = g.running().find((m) => m !== l)!;
    l.node!.proposeRemovePeer(victim.id);
    await waitFor(() => g!.running().filter((m) => m !== victim).every((m) => m.node!.clusterSize() === 4), () => `size 4; ${g!.describe()}`);
    g.stop(victim.name);
    await g.proposeAll(l, ['after-remove']);
    await g.waitApplied(['after-remove'], g.running().map((m) => m.name));
    // A follower forwards a removal of the leader itself ($NRG.RP.<group>): leadership moves.
    const f = g.running().find((m) => m !== l)!;
    f.node!.proposeRemovePeer(l.id);
    await waitFor(() => !l.node!.isLeader(), 'the removed leader to step down', 10_000);
    g.stop(l.name);
    const l2 = await g.waitLeader(20_000);
    assert.notEqual(l2.name, l.name);
    // The removal commits with the new leader's first entry if the old one could not tell everyone.
    await waitFor(() => g!.running().every((m) => m.node!.clusterSize() === 3), () => `size 3; ${g!.describe()}`);
    await g.proposeAll(l2, ['three-left']);
    await g.waitApplied(['after-remove', 'three-left'], g.running().map((m) => m.name));
  });

  test('an observer replicates and never campaigns', async () => {
    g = new TestGroup({ size: 3, observers: ['n3'] });
    g.startAll();
    let l = await g.waitLeader();
    assert.notEqual(l.name, 'n3');
    await g.proposeAll(l, values('o', 10));
    await g.waitApplied(values('o', 10));
    // Kill the non-observer follower and the leader in turn: n3 never leads.
    g.stop(l.name);
    await delay(2500);
    assert.ok(!g.member('n3').node!.isLeader());
    g.start(l.name);
    l = await g.waitLeader(20_000);
    assert.notEqual(l.name, 'n3');
    assert.ok(g.member('n3').node!.isObserver());
  });
});
