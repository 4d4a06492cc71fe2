// RAFT elections and replication over the in-process bus: 3 and 5 nodes, leader failure and
// re-election, commit under drops and partitions, no committed entry lost.

import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { TestGroup } from './harness.js';
import { decodeVoteResponse, encodeVoteRequest } from '../../../src/jetstream/raft/codec.js';
import { peerId, voteSubject } from '../../../src/jetstream/raft/ids.js';
import { delay, waitFor } from '../../helpers/wait.js';

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

describe('raft elections', () => {
  for (const size of [3, 5]) {
    test(`${size} nodes elect one leader, every node follows it`, async () => {
      g = new TestGroup({ size });
      g.startAll();
      const l = await g.waitLeader();
      const term = l.node!.getTerm();
      assert.ok(term >= 1);
      // Leadership is stable while the leader is healthy: no new term over several election timeouts.
      await delay(2000);
      const l2 = await g.waitLeader();
      assert.equal(l2.name, l.name);
      assert.equal(l2.node!.getTerm(), term);
      for (const m of g.running()) assert.equal(m.node!.clusterSize(), size);
    });
  }

  test('a dead leader is replaced; the old one rejoins as a follower of a higher term', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l1 = await g.waitLeader();
    await g.proposeAll(l1, values('a', 10));
    await g.waitApplied(values('a', 10));
    const t1 = l1.node!.getTerm();
    g.stop(l1.name);
    const l2 = await g.waitLeader();
    assert.notEqual(l2.name, l1.name);
    assert.ok(l2.node!.getTerm() > t1);
    await g.proposeAll(l2, values('b', 10));
    await g.waitApplied([...values('a', 10), ...values('b', 10)]);
    g.start(l1.name);
    const l3 = await g.waitLeader();
    assert.equal(l3.name, l2.name, 'the restarted node does not disturb the leader');
    await g.waitApplied([...values('a', 10), ...values('b', 10)], [l1.name]);
  });

  test('5 nodes survive two failures, not three', async () => {
    g = new TestGroup({ size: 5 });
    g.startAll();
    let l = await g.waitLeader();
    await g.proposeAll(l, values('x', 5));
    await g.waitApplied(values('x', 5));
    const others = g.running().filter((m) => m !== l);
    g.stop(l.name);
    g.stop(others[0]!.name);
    l = await g.waitLeader();
    await g.proposeAll(l, values('y', 5));
    await g.waitApplied([...values('x', 5), ...values('y', 5)]);
    // A third failure leaves 2 of 5: no quorum, nothing commits, the leader gives up leadership.
    const rest = g.running().filter((m) => m !== l);
    g.stop(rest[0]!.name);
    g.stop(rest[1]!.name);
    const before = l.applied.length;
    try {
      l.node!.propose(Buffer.from('lost'));
    } catch {
      // already stepped down
    }
    await waitFor(() => !l.node!.isLeader(), 'the leader to notice it lost quorum', 10_000);
    assert.equal(l.applied.length, before, 'nothing commits without a quorum');
  });

  test('a leader transfer (stepdown) hands leadership to a live follower', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l1 = await g.waitLeader();
    await g.proposeAll(l1, values('s', 3));
    await g.waitApplied(values('s', 3));
    l1.node!.stepDown();
    const l2 = await g.waitLeader();
    assert.notEqual(l2.name, l1.name);
    await g.proposeAll(l2, values('t', 3));
    await g.waitApplied([...values('s', 3), ...values('t', 3)]);
  });

  test('stepdown to a preferred peer', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l1 = await g.waitLeader();
    // Let the followers answer a few heartbeats so the leader sees them alive.
    await delay(500);
    const target = g.running().find((m) => m !== l1)!;
    l1.node!.stepDown(target.id);
    const l2 = await g.waitLeader();
    assert.equal(l2.name, target.name);
  });
});

describe('raft replication', () => {
  test('entries commit in order on every node; forwarded proposals reach the leader', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const l = await g.waitLeader();
    await g.proposeAll(l, values('p', 200));
    const follower = g.running().find((m) => m !== l)!;
    follower.node!.forwardProposal(Buffer.from('forwarded'));
    await g.waitApplied([...values('p', 200), 'forwarded']);
  });

  test('commit under 10% message loss and random delays', async () => {
    g = new TestGroup({ size: 3 });
    g.bus.setDelay(0, 15);
    g.startAll();
    let l = await g.waitLeader();
    g.bus.setDropRate(0.1);
    const want: string[] = [];
    for (let round = 0; round < 5; round++) {
      const vs = values(`r${round}`, 20);
      // Leadership may move under loss: propose through whoever leads now, and retry what did not commit.
      l = await g.waitLeader(20_000);
      try {
        await g.proposeAll(l, vs);
      } catch {
        round--;
        continue;
      }
      want.push(...vs);
      await delay(100);
    }
    g.bus.setDropRate(0);
    // Everything proposed to a leader that kept leadership commits; nodes agree on one history.
    await waitFor(() => {
      const ls = g!.running().map((m) => m.applied.length);
      return ls.every((n) => n === ls[0]) && ls[0]! > 0;
    }, () => `nodes to agree; ${g!.describe()}`, 20_000);
    const ref = g.running()[0]!.applied;
    for (const m of g.running()) assert.deepEqual(m.applied, ref);
    // No duplicates, order within each round kept.
    assert.equal(new Set(ref).size, ref.length);
    const idx = ref.map((v) => want.indexOf(v));
    assert.ok(idx.every((i) => i >= 0));
  });

  test('a partitioned minority leader commits nothing; the majority carries on; healing converges', async () => {
    g = new TestGroup({ size: 5 });
    g.startAll();
    const l1 = await g.waitLeader();
    await g.proposeAll(l1, values('pre', 5));
    await g.waitApplied(values('pre', 5));
    const others = g.running().filter((m) => m !== l1);
    const minority = [l1.name, others[0]!.name];
    const majority = others.slice(1).map((m) => m.name);
    g.bus.partition(minority, majority);
    // The old leader still thinks it leads for a while: what it accepts now must never commit.
    l1.node!.propose(Buffer.from('minority-write'));
    const l2 = await g.waitLeader(20_000, majority);
    await g.proposeAll(l2, values('maj', 5));
    await g.waitApplied([...values('pre', 5), ...values('maj', 5)], majority);
    assert.ok(!l1.applied.includes('minority-write'));
    g.bus.heal();
    await g.waitLeader(20_000);
    await g.waitApplied([...values('pre', 5), ...values('maj', 5)]);
    for (const m of g.running()) assert.ok(!m.applied.includes('minority-write'), `${m.name} never applies the minority write`);
  });

  test('no committed entry is lost across repeated leader kills', async () => {
    g = new TestGroup({ size: 3 });
    g.startAll();
    const committed: string[] = [];
    for (let round = 0; round < 6; round++) {
      const l = await g.waitLeader(20_000);
      const vs = values(`k${round}`, 20);
      await g.proposeAll(l, vs);
      // Wait until the leader applied them: they are committed.
      await waitFor(() => vs.every((v) => l.applied.includes(v)), () => `round ${round} commit; ${g!.describe()}`, 20_000);
      committed.push(...vs);
      g.stop(l.name);
      g.start(l.name);
    }
    await g.waitLeader(20_000);
    await waitFor(() => g!.running().every((m) => m.applied.length >= committed.length), () => g!.describe(), 20_000);
    for (const m of g.running()) {
      for (const v of committed) assert.ok(m.applied.includes(v), `${m.name} has ${v}`);
      assert.deepEqual(m.applied.slice(0, committed.length), committed);
    }
  });

  test('a vote survives a crash: no second vote in the same term after a restart', async () => {
    g = new TestGroup({ size: 3, timing: { minElectionTimeout: 60_000, maxElectionTimeout: 90_000 } });
    g.startAll();
    const n1 = peerId('n1');
    // Outside candidates ask for votes in term 5 over the bus; we look at n1's answers.
    const ask = async (from: string): Promise<{ granted: boolean; term: number }> => {
      let got: { granted: boolean; term: number } | null = null;
      const ep = g!.bus.endpoint(from);
      const inbox = `$NRG.R.${from}`;
      const sub = ep.subscribe(inbox, (_s, _r, m) => {
        const vr = decodeVoteResponse(m)!;
        if (vr.peer === n1) got = { granted: vr.granted, term: vr.term };
      });
      ep.send(voteSubject(g!.group), inbox, encodeVoteRequest({ term: 5, lastTerm: 0, lastIndex: 0, candidate: peerId(from) }));
      await waitFor(() => got !== null, `n1's answer to ${from}`);
      sub.unsubscribe();
      return got!;
    };
    assert.deepEqual(await ask('cand-a'), { granted: true, term: 5 });
    // n1 crashes right after answering (nothing flushed at stop) and comes back.
    g.stop('n1');
    g.start('n1');
    assert.deepEqual(await ask('cand-b'), { granted: false, term: 5 }, 'n1 remembers its vote in term 5');
    // The same candidate may ask again (a lost response): the vote is repeated, not changed.
    assert.deepEqual(await ask('cand-a'), { granted: true, term: 5 });
  });
});
