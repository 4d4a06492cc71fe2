// The NRG wire encodings against real nats-server traffic (test/fixtures/nrg, captured from a 3-node
// nats-server cluster by scripts/capture-nrg.mjs): every captured message decodes, and encodes back to
// the same bytes; peer ids computed from server names are the ids nats-server used; state files and
// snapshot files (with their HighwayHash checksums) read as nats-server wrote them.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  APPEND_ENTRY_RESPONSE_LEN,
  EntryAddPeer,
  EntryLeaderTransfer,
  EntryPeerState,
  EntryRemovePeer,
  EntrySnapshot,
  VOTE_REQUEST_LEN,
  VOTE_RESPONSE_LEN,
  decodeAppendEntry,
  decodeAppendEntryResponse,
  decodePeerState,
  decodeTermVote,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodeAppendEntryResponse,
  encodePeerState,
  encodeTermVote,
  encodeVoteRequest,
  encodeVoteResponse,
  putUvarint,
  putVarint,
  readUvarint,
  readVarint,
} from '../../../src/jetstream/raft/codec.js';
import { ID_LEN, groupName, hashSize, peerId, randomToken } from '../../../src/jetstream/raft/ids.js';
import { decodeSnapshot, encodeSnapshot, parseSnapshotFileName, snapshotHasher } from '../../../src/jetstream/raft/snapshot.js';
import { HighwayHash64 } from '../../../src/jetstream/raft/highwayhash.js';
import { fixtureVersions, loadServers, loadStateFiles, loadTraffic } from './fixtures.js';

for (const version of fixtureVersions()) {
  describe(`nats-server ${version} NRG traffic`, () => {
    const traffic = loadTraffic(version);
    const servers = loadServers(version);
    const ids = new Map(servers.servers.map((s) => [peerId(s.name), s.name]));

    test('captured traffic covers every message kind', () => {
      const kinds = new Set(traffic.map((m) => m.subject.split('.')[1]));
      for (const k of ['AE', 'V', 'R', 'CR', 'RP']) assert.ok(kinds.has(k), `captured $NRG.${k}`);
    });

    test('append entries (new and catch-up) decode and re-encode byte for byte', () => {
      const types = new Set<number>();
      let n = 0;
      for (const m of traffic) {
        if (!m.subject.startsWith('$NRG.AE.') && !m.subject.startsWith('$NRG.CR.')) continue;
        const ae = decodeAppendEntry(m.data);
        n++;
        assert.equal(ae.leader.length, ID_LEN);
        assert.ok(ids.has(ae.leader), `leader ${ae.leader} is a peer id computed from a server name`);
        // A leader never announces a commit beyond its own log.
        if (m.subject.startsWith('$NRG.AE.')) assert.ok(ae.commit <= ae.pindex, `commit ${ae.commit} <= pindex ${ae.pindex}`);
        for (const e of ae.entries) types.add(e.type);
        assert.deepEqual(encodeAppendEntry(ae), m.data, `${m.subject} re-encodes`);
        // Replies to append entries go to the leader's $NRG.R.<token> inbox.
        assert.match(m.reply, /^\$NRG\.R\.[0-9A-Za-z]{8}$/);
      }
      assert.ok(n > 100);
      for (const t of [0, EntryPeerState, EntryAddPeer, EntryRemovePeer, EntryLeaderTransfer, EntrySnapshot]) assert.ok(types.has(t), `entry type ${t} seen`);
    });

    test('peer state entries decode and re-encode', () => {
      let n = 0;
      for (const m of traffic) {
        if (!m.subject.startsWith('$NRG.AE.') && !m.subject.startsWith('$NRG.CR.')) continue;
        for (const e of decodeAppendEntry(m.data).entries) {
          if (e.type !== EntryPeerState) continue;
          const ps = decodePeerState(e.data);
          n++;
          assert.equal(ps.knownPeers.length <= ps.clusterSize || ps.clusterSize === 0, true);
          for (const p of ps.knownPeers) assert.ok(ids.has(p), `peer ${p} known`);
          assert.deepEqual(encodePeerState(ps), e.data);
        }
      }
      assert.ok(n > 0);
    });

    test('votes, vote responses and append entry responses decode and re-encode', () => {
      const voteInboxes = new Set<string>();
      let votes = 0;
      for (const m of traffic) {
        if (!m.subject.startsWith('$NRG.V.')) continue;
        assert.equal(m.data.length, VOTE_REQUEST_LEN);
        const vr = decodeVoteRequest(m.data)!;
        assert.ok(ids.has(vr.candidate));
        assert.deepEqual(encodeVoteRequest(vr), m.data);
        voteInboxes.add(m.reply);
        votes++;
      }
      assert.ok(votes > 0);
      let vresps = 0;
      let aresps = 0;
      for (const m of traffic) {
        if (!m.subject.startsWith('$NRG.R.')) continue;
        if (m.data.length === VOTE_RESPONSE_LEN) {
          const vr = decodeVoteResponse(m.data)!;
          assert.ok(ids.has(vr.peer));
          assert.deepEqual(encodeVoteResponse(vr), m.data);
          assert.ok(voteInboxes.has(m.subject), 'vote responses go to the candidate\'s vote inbox');
          vresps++;
        } else {
          assert.equal(m.data.length, APPEND_ENTRY_RESPONSE_LEN);
          const ar = decodeAppendEntryResponse(m.data)!;
          assert.ok(ids.has(ar.peer));
          assert.deepEqual(encodeAppendEntryResponse(ar), m.data);
          // A failed response with a reply is a catch-up request: the reply is a $NRG.CR inbox.
          if (!ar.success && m.reply) assert.match(m.reply, /^\$NRG\.CR\.[0-9A-Za-z]{8}$/);
          aresps++;
        }
      }
      assert.ok(vresps > 0 && aresps > 100);
    });

    test('forwarded peer removals carry a peer id', () => {
      const rps = traffic.filter((m) => m.subject.startsWith('$NRG.RP.'));
      assert.ok(rps.length > 0);
      for (const m of rps) {
        assert.equal(m.data.length, ID_LEN);
        assert.ok(ids.has(m.data.toString('latin1')));
      }
    });

    test('group names have nats-server\'s shape', () => {
      const groups = new Set(traffic.filter((m) => m.subject.startsWith('$NRG.AE.')).map((m) => m.subject.slice(8)));
      assert.ok(groups.has('_meta_'));
      for (const g of groups) if (g !== '_meta_') assert.match(g, /^[SC]-R[1-5][FM]-[0-9A-Za-z]{8}$/);
    });

    test('state files: peers.idx, tav.idx and snapshots read as nats-server wrote them', () => {
      const files = loadStateFiles(version);
      let snaps = 0;
      for (const f of files) {
        if (f.file === 'peers.idx') {
          const ps = decodePeerState(f.data);
          for (const p of ps.knownPeers) assert.ok(ids.has(p));
          assert.deepEqual(encodePeerState(ps), f.data);
        } else if (f.file === 'tav.idx') {
          const tv = decodeTermVote(f.data);
          assert.ok(tv.term > 0);
          assert.ok(tv.vote === '' || ids.has(tv.vote), `vote ${JSON.stringify(tv.vote)}`);
          assert.deepEqual(encodeTermVote(tv.term, tv.vote), f.data);
        } else {
          const name = parseSnapshotFileName(f.file);
          assert.ok(name, f.file);
          const hh = snapshotHasher(f.group);
          const snap = decodeSnapshot(hh, f.data);
          assert.equal(snap.lastTerm, name.term);
          assert.equal(snap.lastIndex, name.index);
          decodePeerState(snap.peerState);
          // Re-encoding gives the same bytes, checksum included.
          assert.deepEqual(encodeSnapshot(hh, snap), f.data);
          // A flipped byte is caught by the checksum.
          const bad = Buffer.from(f.data);
          bad[10] = bad[10]! ^ 0xff;
          assert.throws(() => decodeSnapshot(hh, bad), /checksum/);
          snaps++;
        }
      }
      assert.ok(snaps >= 3);
    });
  });
}

describe('NRG ids', () => {
  test('peer ids are 8 base-62 characters of sha256(server name), stable', () => {
    const id = peerId('n1');
    assert.match(id, /^[0-9A-Za-z]{8}$/);
    assert.equal(peerId('n1'), id);
    assert.notEqual(peerId('n2'), id);
    assert.equal(hashSize('n1', 6), id.slice(0, 6));
  });

  test('group names and inbox tokens', () => {
    assert.match(groupName('S', 3, 'file'), /^S-R3F-[0-9A-Za-z]{8}$/);
    assert.match(groupName('C', 1, 'memory'), /^C-R1M-[0-9A-Za-z]{8}$/);
    assert.match(randomToken(), /^[0-9A-Za-z]{8}$/);
  });
});

describe('NRG codec edges', () => {
  test('an append entry with a truncated entry is refused', () => {
    const b = encodeAppendEntry({ leader: 'abcdefgh', term: 1, commit: 0, pterm: 0, pindex: 0, entries: [{ type: 0, data: Buffer.from('hello') }], lterm: 0 });
    assert.throws(() => decodeAppendEntry(b.subarray(0, b.length - 1)));
    assert.throws(() => decodeAppendEntry(b.subarray(0, 41)));
    assert.throws(() => encodeAppendEntry({ leader: 'short', term: 1, commit: 0, pterm: 0, pindex: 0, entries: [], lterm: 0 }));
  });

  test('2.11+ append entries carry a trailing uvarint leader term; we read it', () => {
    const b = encodeAppendEntry({ leader: 'abcdefgh', term: 7, commit: 3, pterm: 6, pindex: 4, entries: [], lterm: 0 });
    const withL: number[] = [];
    putUvarint(withL, 300);
    const ae = decodeAppendEntry(Buffer.concat([b, Buffer.from(withL)]));
    assert.equal(ae.lterm, 300);
    assert.equal(ae.term, 7);
  });

  test('wrong lengths for responses and votes decode to null', () => {
    assert.equal(decodeAppendEntryResponse(Buffer.alloc(24)), null);
    assert.equal(decodeVoteRequest(Buffer.alloc(33)), null);
    assert.equal(decodeVoteResponse(Buffer.alloc(16)), null);
    assert.throws(() => decodePeerState(Buffer.alloc(4)));
    // A peer count beyond the data is corrupt.
    const ps = encodePeerState({ knownPeers: ['aaaaaaaa'], clusterSize: 3, domainExt: 0 });
    ps.writeUInt32LE(2, 4);
    assert.throws(() => decodePeerState(ps));
  });

  test('Go varints', () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 32, 2 ** 53 - 1]) {
      const out: number[] = [];
      putUvarint(out, v);
      assert.deepEqual(readUvarint(Buffer.from(out), 0), [v, out.length]);
    }
    for (const v of [0, -1, 1, -64, 64, -1_700_000_000_000_000_000, 1_700_000_000_000_000_000]) {
      const out: number[] = [];
      putVarint(out, v);
      assert.deepEqual(readVarint(Buffer.from(out), 0), [v, out.length]);
    }
    assert.equal(readUvarint(Buffer.from([0x80]), 0)[1], 0);
  });

  test('HighwayHash-64 is keyed and covers every remainder length', () => {
    const a = new HighwayHash64(Buffer.alloc(32, 1));
    const b = new HighwayHash64(Buffer.alloc(32, 2));
    const seen = new Set<string>();
    const data = Buffer.from(Array.from({ length: 70 }, (_, i) => i));
    for (let n = 0; n <= 70; n++) {
      const h = a.digest(data.subarray(0, n)).toString('hex');
      assert.ok(!seen.has(h), `distinct hash for length ${n}`);
      seen.add(h);
      assert.equal(a.digest(data.subarray(0, n)).toString('hex'), h, 'deterministic');
    }
    assert.notEqual(a.digest(data).toString('hex'), b.digest(data).toString('hex'));
  });
});
