// Stream and consumer group entries against nats-server's: the captured ORDERS stream group replays to
// the stream state nats-server snapshotted; the DUR consumer group replays to its snapshotted consumer
// state; our encodings read back and match nats-server's bytes.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EntryNormal, EntrySnapshot, decodeAppendEntry, type Entry } from '../../../src/jetstream/raft/codec.js';
import { decodeSnapshot, snapshotHasher } from '../../../src/jetstream/raft/snapshot.js';
import {
  decodeMsgDelete,
  decodeStreamMsgEntry,
  decodeStreamPurge,
  decodeStreamSnapshot,
  decodeSyncRequest,
  encodeMsgDelete,
  encodeStreamMsg,
  encodeStreamPurge,
  encodeStreamSnapshotBinary,
  encodeStreamSnapshotJson,
  encodeSyncRequest,
  isBinaryStreamSnapshot,
} from '../../../src/jetstream/cluster/stream-ops.js';
import {
  ReplicatedConsumerState,
  decodeAckUpdate,
  decodeConsumerState,
  decodeDeliveredUpdate,
  encodeAckUpdate,
  encodeConsumerState,
  encodeDeliveredUpdate,
  encodeSkipUpdate,
  emptyConsumerState,
} from '../../../src/jetstream/cluster/consumer-ops.js';
import { compressedStreamMsgOp, deleteMsgOp, purgeStreamOp, streamMsgOp, updateAcksOp, updateDeliveredOp } from '../../../src/jetstream/cluster/assignments.js';
import { fixtureDir, loadTraffic } from '../raft/fixtures.js';
import { ModelStream } from './model-stream.js';

/** A group's log from the capture (new entries and catch-up copies), by index. */
function groupLog(group: string): Entry[][] {
  const byIndex = new Map<number, Entry[]>();
  for (const m of loadTraffic('2.9.10')) {
    if (m.subject !== `$NRG.AE.${group}`) continue;
    const ae = decodeAppendEntry(m.data);
    if (ae.entries.length > 0) byIndex.set(ae.pindex + 1, ae.entries);
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);
}

/** The upper layer's data in the snapshot file nats-server left for `group` on `server`. */
function snapshotFile(server: string, group: string): Buffer {
  const dir = join(fixtureDir('2.9.10'), 'state', server, group);
  const name = readdirSync(dir).find((f) => f.startsWith('snap.'))!;
  return decodeSnapshot(snapshotHasher(group), readFileSync(join(dir, name))).data;
}

describe('stream group entries (nats-server 2.9.10)', () => {
  // ORDERS' group: the one with purge and delete entries.
  const orders = 'S-R3F-5rCdTG6o';

  test('replaying the ORDERS log gives the state nats-server snapshotted', () => {
    const s = new ModelStream();
    for (const entries of groupLog(orders)) for (const e of entries) s.apply(e);
    const snap = decodeStreamSnapshot(snapshotFile('n2', orders));
    assert.equal(isBinaryStreamSnapshot(snapshotFile('n2', orders)), false, '2.9 sends JSON snapshots');
    assert.equal(s.msgs.size, snap.msgs);
    assert.equal(Math.min(...s.msgs.keys()), snap.firstSeq);
    assert.equal(s.last, snap.lastSeq);
    // The messages themselves: subjects, headers, payloads.
    assert.equal(s.msgs.get(snap.lastSeq)!.subject, 'orders.new.60');
    const hdr = [...s.msgs.values()].find((m) => m.subject === 'orders.hdr')!;
    assert.match(hdr.hdr!.toString(), /^NATS\/1\.0\r\n/);
    assert.match(hdr.hdr!.toString(), /Nats-Msg-Id: id-1/);
    assert.equal(hdr.msg!.toString(), 'with header');
    const empty = [...s.msgs.values()].find((m) => m.subject === 'orders.empty')!;
    assert.equal(empty.msg, null);
    assert.ok(s.msgs.get(7)!.subject === 'orders.big' && s.msgs.get(7)!.msg!.length === 6000);
  });

  test('stream messages, purges and deletes re-encode byte for byte', () => {
    let n = 0;
    for (const entries of groupLog(orders)) {
      for (const e of entries) {
        if (e.type !== EntryNormal) continue;
        const op = e.data[0]!;
        if (op === streamMsgOp) {
          assert.deepEqual(encodeStreamMsg(decodeStreamMsgEntry(e.data)), e.data);
          n++;
        } else if (op === compressedStreamMsgOp) {
          // Our S2 output differs from nats-server's, but decodes to the same message.
          const m = decodeStreamMsgEntry(e.data);
          const ours = encodeStreamMsg(m, true);
          assert.equal(ours[0], compressedStreamMsgOp);
          assert.deepEqual(decodeStreamMsgEntry(ours), m);
        } else if (op === purgeStreamOp) {
          assert.deepEqual(encodeStreamPurge(decodeStreamPurge(e.data.subarray(1))), e.data);
        } else if (op === deleteMsgOp) {
          assert.deepEqual(encodeMsgDelete(decodeMsgDelete(e.data.subarray(1))), e.data);
        }
      }
    }
    assert.ok(n > 50);
  });

  test('stream snapshots: 2.9 JSON and 2.10 binary forms read back', () => {
    const st = { msgs: 5, bytes: 500, firstSeq: 3, lastSeq: 12, failed: 1, deleted: [4, 5, 6, 9, 11] };
    assert.deepEqual(decodeStreamSnapshot(encodeStreamSnapshotJson(st)), st);
    const bin = encodeStreamSnapshotBinary(st);
    assert.ok(isBinaryStreamSnapshot(bin));
    assert.deepEqual(decodeStreamSnapshot(bin), st);
    // A 2.10 AVL sequence-set delete block (v2: 32 buckets): sequences 3 and 70 in a node based at 0.
    const node = Buffer.alloc(8 + 32 * 8 + 2);
    node.writeBigUInt64LE(1n << 3n, 8);
    node.writeBigUInt64LE(1n << 6n, 16);
    const seqset = Buffer.concat([Buffer.from([22, 2]), Buffer.from([1, 0, 0, 0, 2, 0, 0, 0]), node]);
    const withSet = Buffer.concat([Buffer.from([42, 1, 2, 100, 1, 71, 0, 2]), seqset]);
    assert.deepEqual(decodeStreamSnapshot(withSet).deleted, [3, 70]);
    const req = { peer: 'abcdefgh', first_seq: 5, last_seq: 9 };
    assert.deepEqual(decodeSyncRequest(encodeSyncRequest(req)), req);
  });
});

describe('consumer group entries (nats-server 2.9.10)', () => {
  const dur = 'C-R3F-5cL5bXjg';

  test('replaying DUR\'s log gives nats-server\'s consumer state', () => {
    const c = new ReplicatedConsumerState('explicit');
    const ops = new Set<number>();
    for (const entries of groupLog(dur)) {
      for (const e of entries) {
        if (e.type === EntrySnapshot) c.applySnapshot(e.data);
        if (e.type !== EntryNormal) continue;
        ops.add(e.data[0]!);
        assert.ok(c.apply(e.data), `op ${e.data[0]} known`);
      }
    }
    assert.ok(ops.has(updateDeliveredOp) && ops.has(updateAcksOp));
    // The log holds deliveries 1-4 and acks of 1, 3 and 2, in that order: the floor moves as
    // consumerFileStore.UpdateAcks moves it (to 2, not past the already-acked 3).
    assert.deepEqual(c.state.delivered, { consumer: 4, stream: 4 });
    assert.deepEqual(c.state.ackFloor, { consumer: 2, stream: 2 });
    assert.deepEqual([...c.state.pending.keys()], [4]);
    // nats-server's snapshot was taken after the stream purge (last_seq 8), which the consumer leader
    // applies locally (consumer.purge), not through this log: same consumer sequence, later stream floor.
    const theirs = decodeConsumerState(snapshotFile('n2', dur));
    assert.equal(theirs.delivered.consumer, c.state.delivered.consumer);
    assert.ok(theirs.ackFloor.stream >= c.state.ackFloor.stream);
    // Pull requests added and removed by the leader leave none pending.
    assert.equal(c.pendingRequests.size, 0);
  });

  test('consumer ops re-encode byte for byte', () => {
    let n = 0;
    for (const entries of groupLog(dur)) {
      for (const e of entries) {
        if (e.type !== EntryNormal) continue;
        if (e.data[0] === updateDeliveredOp) {
          const d = decodeDeliveredUpdate(e.data.subarray(1));
          assert.deepEqual(encodeDeliveredUpdate(d.dseq, d.sseq, d.dc, d.ts), e.data);
          n++;
        } else if (e.data[0] === updateAcksOp) {
          const a = decodeAckUpdate(e.data.subarray(1));
          assert.deepEqual(encodeAckUpdate(a.dseq, a.sseq), e.data);
          n++;
        }
      }
    }
    assert.ok(n >= 2);
  });

  test('consumer state encoding round-trips (pending, redelivered)', () => {
    const st = emptyConsumerState();
    st.delivered = { consumer: 10, stream: 20 };
    st.ackFloor = { consumer: 4, stream: 12 };
    const now = 1_800_000_000;
    st.pending.set(14, { sequence: 6, timestamp: (now - 3) * 1e9 });
    st.pending.set(19, { sequence: 9, timestamp: (now - 1) * 1e9 });
    st.redelivered.set(14, 2);
    const back = decodeConsumerState(encodeConsumerState(st, now));
    assert.deepEqual(back.delivered, st.delivered);
    assert.deepEqual(back.ackFloor, st.ackFloor);
    assert.deepEqual([...back.pending], [...st.pending]);
    assert.deepEqual([...back.redelivered], [...st.redelivered]);
  });

  test('follower ack semantics as consumerFileStore: explicit floor moves, ack-all clears below', () => {
    const c = new ReplicatedConsumerState('explicit');
    const t = 1_000_000_000_000_000_000n;
    for (let i = 1; i <= 5; i++) c.apply(encodeDeliveredUpdate(i, i + 10, 1, t));
    c.apply(encodeAckUpdate(2, 12));
    assert.deepEqual(c.state.ackFloor, { consumer: 0, stream: 0 });
    c.apply(encodeAckUpdate(1, 11));
    // As nats-server: the first ack moves the floor to it without looking further.
    assert.deepEqual(c.state.ackFloor, { consumer: 1, stream: 11 });
    for (const i of [3, 4, 5]) c.apply(encodeAckUpdate(i, i + 10));
    // Nothing pending: the floor is what was delivered.
    assert.deepEqual(c.state.ackFloor, { consumer: 5, stream: 15 });
    assert.equal(c.state.pending.size, 0);
    c.apply(encodeDeliveredUpdate(6, 16, 2, t));
    assert.equal(c.state.redelivered.get(16), 1);
    const all = new ReplicatedConsumerState('all');
    for (let i = 1; i <= 5; i++) all.apply(encodeDeliveredUpdate(i, i, 1, t));
    all.apply(encodeAckUpdate(4, 4));
    assert.deepEqual(all.state.ackFloor, { consumer: 4, stream: 4 });
    assert.deepEqual([...all.state.pending.keys()], [5]);
    all.apply(encodeSkipUpdate(99));
    assert.equal(all.skipSeq, 99);
  });
});
