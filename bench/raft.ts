// RAFT replication throughput and latency of RaftNode alone: three nodes in one process on the
// in-process bus (no network), file WALs, with and without fsync. Async: up to 256 entries in flight
// (as an async publisher); sync: one entry at a time, waiting for it to apply on the leader (a sync
// publisher's round trip without the network). Run: `npm run build && node dist/bench/raft.js [--quick]`.
// These numbers bound what a replicated stream can do on this machine; the end-to-end R3 comparison with
// nats-server belongs to the JetStream cluster bench (phase 2).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../src/jetstream/raft/bus.js';
import { peerId } from '../src/jetstream/raft/ids.js';
import { RaftNode } from '../src/jetstream/raft/node.js';
import { bootstrapGroup } from '../src/jetstream/raft/state-files.js';
import { FileWal } from '../src/jetstream/raft/wal.js';

const quick = process.argv.includes('--quick');
const N = quick ? 5000 : 20_000;
const SYNC_N = quick ? 100 : 300;
const IN_FLIGHT = 256;
const SIZE = 128;

async function group(fsync: boolean): Promise<{ nodes: RaftNode[]; applied: number[]; close(): void }> {
  const bus = new MemoryBus();
  const root = mkdtempSync(join(tmpdir(), 'raft-bench-'));
  const names = ['b1', 'b2', 'b3'];
  const ids = names.map(peerId);
  const applied = [0, 0, 0];
  const nodes = names.map((name, i) => {
    const dir = join(root, name);
    bootstrapGroup(dir, ids, true, 0, fsync);
    const n: RaftNode = new RaftNode({
      group: 'S-R3F-benchgrp',
      dir,
      id: ids[i]!,
      wal: new FileWal(dir, { fsync }),
      transport: bus.endpoint(name),
      fsync,
      timing: { minElectionTimeout: 1000, maxElectionTimeout: 2000, minCampaignTimeout: 10, maxCampaignTimeout: 50, hbInterval: 250 },
      onApply: (ce) => {
        if (!ce) return;
        applied[i]! += ce.entries.length;
        n.appliedTo(ce.index);
      },
    });
    return n.start();
  });
  nodes[0]!.campaign();
  const t = Date.now();
  while (!nodes.some((n) => n.isLeader())) {
    if (Date.now() - t > 10_000) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    nodes,
    applied,
    close() {
      for (const n of nodes) n.stop();
      bus.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function run(fsync: boolean): Promise<void> {
  const g = await group(fsync);
  const li = g.nodes.findIndex((n) => n.isLeader());
  const leader = g.nodes[li]!;
  const payload = Buffer.alloc(SIZE, 0x61);
  // Async: keep IN_FLIGHT proposals outstanding.
  let base = g.applied[li]!;
  let sent = 0;
  const t0 = process.hrtime.bigint();
  while (g.applied[li]! - base < N) {
    while (sent < N && sent - (g.applied[li]! - base) < IN_FLIGHT) {
      leader.propose(payload);
      sent++;
    }
    await turn();
  }
  const asyncMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // Sync: one at a time.
  base = g.applied[li]!;
  const t1 = process.hrtime.bigint();
  for (let i = 1; i <= SYNC_N; i++) {
    leader.propose(payload);
    while (g.applied[li]! - base < i) await turn();
  }
  const syncMs = Number(process.hrtime.bigint() - t1) / 1e6;
  console.log(
    `| ${fsync ? 'fsync' : 'no fsync'} | ${Math.round((N / asyncMs) * 1000).toLocaleString()} entries/s | ${Math.round((SYNC_N / syncMs) * 1000).toLocaleString()} entries/s | ${(syncMs / SYNC_N).toFixed(2)} ms |`,
  );
  g.close();
}

console.log(`RaftNode, 3 nodes in one process, ${SIZE} B entries, file WAL (${N} async with ${IN_FLIGHT} in flight, ${SYNC_N} sync)\n`);
console.log('| WAL | async commit rate | sync commit rate | sync latency |');
console.log('|---|---|---|---|');
await run(false);
await run(true);
