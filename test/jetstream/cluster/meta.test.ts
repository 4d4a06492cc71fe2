// The meta layer against nats-server's own meta log: every captured `_meta_` entry decodes, assignment
// encodings come out byte for byte as nats-server's, and replaying the log yields the state nats-server
// wrote in its meta snapshot. Plus the recovery rules and snapshot diffs of applyMetaSnapshot.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConsumerAssignment,
  type StreamAssignment,
  assignConsumerOp,
  assignStreamOp,
  decodeConsumerAssignment,
  decodeConsumerAssignmentCompressed,
  decodeStreamAssignment,
  encodeConsumerAssignment,
  encodeConsumerAssignmentCompressed,
  encodeStreamAssignment,
  goTimeNow,
  removeConsumerOp,
  removeStreamOp,
  updateStreamOp,
} from '../../../src/jetstream/cluster/assignments.js';
import { MetaState } from '../../../src/jetstream/cluster/meta-state.js';
import { EntryAddPeer, EntryNormal, EntrySnapshot, decodeAppendEntry, type Entry } from '../../../src/jetstream/raft/codec.js';
import { decodeSnapshot, snapshotHasher } from '../../../src/jetstream/raft/snapshot.js';
import { s2Decode } from '../../../src/jetstream/cluster/s2.js';
import { peerId } from '../../../src/jetstream/raft/ids.js';
import { fixtureDir, loadTraffic } from '../raft/fixtures.js';

/** The `_meta_` log as captured: entries by index (pindex + 1), new and catch-up copies merged. */
function metaLog(): Map<number, Entry[]> {
  const log = new Map<number, Entry[]>();
  for (const m of loadTraffic('2.9.10')) {
    if (m.subject !== '$NRG.AE._meta_') continue;
    const ae = decodeAppendEntry(m.data);
    if (ae.entries.length === 0) continue;
    log.set(ae.pindex + 1, ae.entries);
  }
  return log;
}

function normalEntries(log: Map<number, Entry[]>): Buffer[] {
  const out: Buffer[] = [];
  for (const idx of [...log.keys()].sort((a, b) => a - b)) for (const e of log.get(idx)!) if (e.type === EntryNormal) out.push(e.data);
  return out;
}

describe('meta assignments (nats-server 2.9.10 traffic)', () => {
  const log = metaLog();

  test('every op kind the capture exercised decodes; encodings match nats-server byte for byte', () => {
    const ops = new Set<number>();
    for (const buf of normalEntries(log)) {
      const op = buf[0]!;
      ops.add(op);
      const body = buf.subarray(1);
      if (op === assignStreamOp || op === removeStreamOp || op === updateStreamOp) {
        const sa = decodeStreamAssignment(body);
        assert.ok(sa.group.name.startsWith('S-R'));
        assert.deepEqual(encodeStreamAssignment(op, sa), buf, 'stream assignment re-encodes identically');
      } else if (op === assignConsumerOp || op === removeConsumerOp) {
        const ca = decodeConsumerAssignment(body);
        assert.ok(ca.group.name.startsWith('C-R'));
        assert.deepEqual(encodeConsumerAssignment(op, ca), buf, 'consumer assignment re-encodes identically');
      } else {
        assert.fail(`unexpected meta op ${op}`);
      }
    }
    for (const op of [assignStreamOp, assignConsumerOp, removeStreamOp, removeConsumerOp, updateStreamOp]) assert.ok(ops.has(op), `op ${op} captured`);
  });

  test('assignments carry nats-server\'s fields', () => {
    const first = normalEntries(log).find((b) => b[0] === assignStreamOp)!;
    const sa = decodeStreamAssignment(first.subarray(1));
    assert.equal(sa.client?.acc, 'APP');
    assert.equal(sa.client?.cluster, 'C1');
    assert.match(sa.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.match(sa.sync, /^\$JSC\.SYNC\.[0-9A-Za-z]{8}$/);
    assert.match(sa.subject, /^\$JS\.API\.STREAM\.CREATE\./);
    assert.equal(sa.group.store, 'file');
    assert.equal(sa.group.cluster, 'C1');
    const names = new Set(['n1', 'n2', 'n3'].map(peerId));
    for (const p of sa.group.peers) assert.ok(names.has(p));
    assert.ok(sa.group.preferred && sa.group.peers.includes(sa.group.preferred));
  });

  test('replaying the captured meta log gives the state nats-server snapshotted at shutdown', () => {
    const ms = new MetaState(peerId('n1'));
    ms.endRecovery();
    for (const idx of [...log.keys()].sort((a, b) => a - b)) ms.applyEntries(log.get(idx)!);
    const snap = decodeSnapshot(snapshotHasher('_meta_'), readFileSync(join(fixtureDir('2.9.10'), 'state', 'n1', '_meta_', 'snap.2.18')));
    const theirs = JSON.parse(s2Decode(snap.data).toString()) as { stream: { name: string }; group: { peers: string[] }; Consumers: { name: string }[] | null }[];
    const ours = [...ms.allStreams()].map(([, sa]) => sa);
    assert.deepEqual(ours.map((s) => s.stream['name']).sort(), theirs.map((s) => s.stream.name).sort());
    for (const t of theirs) {
      const o = ms.stream('APP', t.stream.name)!;
      assert.deepEqual(o.group.peers, t.group.peers, `${t.stream.name} peers`);
      assert.deepEqual([...(o.consumers?.keys() ?? [])].sort(), (t.Consumers ?? []).map((c) => c.name).sort());
    }
    // Our snapshot of that state reads back (by us) to the same state.
    const ms2 = new MetaState(peerId('n2'));
    ms2.endRecovery();
    ms2.applyEntries([{ type: EntrySnapshot, data: ms.snapshot() }]);
    assert.deepEqual([...ms2.allStreams()].map(([, s]) => s.stream['name']).sort(), ours.map((s) => s.stream['name']).sort());
    // And nats-server's snapshot applies to an empty state.
    const ms3 = new MetaState(peerId('n3'));
    const changes = ms3.applyEntries([{ type: EntrySnapshot, data: snap.data }]);
    assert.ok(changes.some((c) => c.op === 'stream-assign' && c.isMember));
    assert.ok(changes.some((c) => c.op === 'consumer-assign'));
  });
});

function mkStream(name: string, peers: string[], acc = 'A'): StreamAssignment {
  return {
    client: { acc, server: 's1', cluster: 'C1' },
    created: goTimeNow(),
    stream: { name, subjects: [`${name}.>`], num_replicas: peers.length, storage: 'file' },
    group: { name: `S-R${peers.length}F-abcdefgh`, peers, store: 'file', cluster: 'C1' },
    sync: '$JSC.SYNC.aaaaaaaa',
    subject: '$JS.API.STREAM.CREATE.' + name,
    reply: '_INBOX.x',
  };
}

function mkConsumer(stream: string, name: string, peers: string[], acc = 'A'): ConsumerAssignment {
  return {
    client: { acc, server: 's1', cluster: 'C1' },
    created: goTimeNow(),
    name,
    stream,
    consumer: { durable_name: name, ack_policy: 'explicit' },
    group: { name: `C-R${peers.length}F-abcdefgh`, peers, store: 'file' },
    subject: '',
    reply: '',
  };
}

const E = (b: Buffer): Entry => ({ type: EntryNormal, data: b });

describe('meta state machine', () => {
  const me = peerId('me');
  const other = peerId('other');

  test('assign, update, consumers, remove; membership is reported', () => {
    const ms = new MetaState(me);
    ms.endRecovery();
    let ch = ms.applyEntries([E(encodeStreamAssignment(assignStreamOp, mkStream('S', [me, other])))]);
    assert.equal(ch[0]!.op, 'stream-assign');
    assert.equal((ch[0] as { isMember: boolean }).isMember, true);
    ch = ms.applyEntries([E(encodeConsumerAssignment(assignConsumerOp, mkConsumer('S', 'C', [other])))]);
    assert.equal(ch[0]!.op, 'consumer-assign');
    assert.equal((ch[0] as { isMember: boolean }).isMember, false);
    // A consumer of an unknown stream is ignored (nats-server logs and drops it).
    assert.deepEqual(ms.applyEntries([E(encodeConsumerAssignment(assignConsumerOp, mkConsumer('NOPE', 'C', [me])))]), []);
    const upd = mkStream('S', [other]);
    ch = ms.applyEntries([E(encodeStreamAssignment(updateStreamOp, upd))]);
    assert.equal(ch[0]!.op, 'stream-update');
    assert.equal(ms.stream('A', 'S')!.consumers!.get('C')!.name, 'C', 'consumers survive an update');
    ch = ms.applyEntries([E(encodeConsumerAssignment(removeConsumerOp, mkConsumer('S', 'C', [other])))]);
    assert.equal(ch[0]!.op, 'consumer-remove');
    ch = ms.applyEntries([E(encodeStreamAssignment(removeStreamOp, upd))]);
    assert.equal(ch[0]!.op, 'stream-remove');
    assert.equal(ms.stream('A', 'S'), undefined);
    assert.equal(ms.streams.size, 0);
  });

  test('during replay, removals and updates wait for the end; a stream deleted later is never created twice', () => {
    const ms = new MetaState(me);
    const sa = mkStream('S', [me]);
    const ch1 = ms.applyEntries([E(encodeStreamAssignment(assignStreamOp, sa)), E(encodeConsumerAssignment(assignConsumerOp, mkConsumer('S', 'C', [me])))]);
    // The stream assignment applies (nats-server processes it during recovery too), the consumer waits.
    assert.deepEqual(ch1.map((c) => c.op), ['stream-assign']);
    const ch2 = ms.applyEntries([E(encodeStreamAssignment(removeStreamOp, sa)), { type: EntryAddPeer, data: Buffer.from(other) }]);
    assert.deepEqual(ch2, [], 'removals and peer changes wait while recovering');
    const done = ms.endRecovery();
    assert.deepEqual(done.map((c) => c.op), ['stream-remove']);
    assert.equal(ms.stream('A', 'S'), undefined);
    // The pending consumer found no stream.
    assert.ok(!done.some((c) => c.op === 'consumer-assign'));
  });

  test('recovered assignments drop their preferred leader and restore state', () => {
    const ms = new MetaState(me);
    const sa = mkStream('S', [me, other]);
    sa.group.preferred = me;
    sa.restore_state = { messages: 1 };
    ms.applyEntries([E(encodeStreamAssignment(assignStreamOp, sa))]);
    const got = ms.stream('A', 'S')!;
    assert.equal(got.group.preferred, undefined);
    assert.equal(got.restore_state, undefined);
  });

  test('compressed consumer assignments (restore) decode; state passes to the change', () => {
    const ca = mkConsumer('S', 'C', [me]);
    ca.state = { delivered: { consumer_seq: 5, stream_seq: 5 }, ack_floor: { consumer_seq: 3, stream_seq: 3 } };
    const enc = encodeConsumerAssignmentCompressed(ca);
    const back = decodeConsumerAssignmentCompressed(enc.subarray(1));
    assert.deepEqual(back.state, ca.state);
    const ms = new MetaState(me);
    ms.endRecovery();
    ms.applyEntries([E(encodeStreamAssignment(assignStreamOp, mkStream('S', [me])))]);
    const ch = ms.applyEntries([E(enc)]);
    assert.equal(ch[0]!.op, 'consumer-assign');
    assert.deepEqual((ch[0] as { state: unknown }).state, ca.state);
    assert.equal(ms.consumer('A', 'S', 'C')!.state, undefined);
  });

  test('a snapshot replaces the state: adds, removes and consumer deltas', () => {
    const src = new MetaState(me);
    src.endRecovery();
    src.applyEntries([
      E(encodeStreamAssignment(assignStreamOp, mkStream('KEEP', [me]))),
      E(encodeStreamAssignment(assignStreamOp, mkStream('NEW', [me]))),
      E(encodeConsumerAssignment(assignConsumerOp, mkConsumer('KEEP', 'C2', [me]))),
    ]);
    const dst = new MetaState(me);
    dst.endRecovery();
    dst.applyEntries([
      E(encodeStreamAssignment(assignStreamOp, mkStream('KEEP', [me]))),
      E(encodeStreamAssignment(assignStreamOp, mkStream('GONE', [me]))),
      E(encodeConsumerAssignment(assignConsumerOp, mkConsumer('KEEP', 'C1', [me]))),
    ]);
    const ch = dst.applyEntries([{ type: EntrySnapshot, data: src.snapshot() }]);
    const kinds = ch.map((c) => `${c.op}:${'sa' in c ? c.sa.stream['name'] : c.op.startsWith('consumer') ? (c as { ca: ConsumerAssignment }).ca.name : ''}`);
    assert.ok(kinds.includes('stream-remove:GONE'));
    assert.ok(kinds.includes('stream-assign:NEW'));
    assert.ok(kinds.includes('consumer-remove:C1'));
    assert.ok(kinds.includes('consumer-assign:C2'));
    assert.deepEqual([...dst.allStreams()].map(([, s]) => s.stream['name']).sort(), ['KEEP', 'NEW']);
    // An empty state snapshots as no bytes; applying it empties the state.
    const empty = new MetaState(me);
    assert.equal(empty.snapshot().length, 0);
    dst.applyEntries([{ type: EntrySnapshot, data: Buffer.alloc(0) }]);
    assert.equal(dst.streams.size, 0);
  });

  test('an unknown op stops the apply (nats-server panics)', () => {
    const ms = new MetaState(me);
    assert.throws(() => ms.applyEntries([E(Buffer.from([200, 0x7b, 0x7d]))]), /Unknown meta entry op/);
  });

  test('Go JSON: HTML characters escaped, trailing newline, time format', () => {
    const sa = mkStream('S', [me]);
    sa.stream['subjects'] = ['a.>', 'b.<&>'];
    const enc = encodeStreamAssignment(assignStreamOp, sa).toString();
    assert.ok(enc.includes('"a.\\u003e"'));
    assert.ok(enc.includes('"b.\\u003c\\u0026\\u003e"'));
    assert.ok(enc.endsWith('}\n'));
    assert.equal(goTimeNow(Date.UTC(2026, 0, 2, 3, 4, 5, 250), 1), '2026-01-02T03:04:05.250000001Z');
    assert.equal(goTimeNow(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), '2026-01-02T03:04:05Z');
  });
});
