// A RAFT group of in-process nodes on a MemoryBus, for the RAFT tests: each node applies committed
// entries to a list (its "state machine"), can be stopped, restarted from its directory, and cut off.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../../../src/jetstream/raft/bus.js';
import { EntryNormal, EntrySnapshot } from '../../../src/jetstream/raft/codec.js';
import { peerId } from '../../../src/jetstream/raft/ids.js';
import { RaftNode, type CommittedEntry, type RaftTiming } from '../../../src/jetstream/raft/node.js';
import { bootstrapGroup } from '../../../src/jetstream/raft/state-files.js';
import { FileWal, MemoryWal, type Wal } from '../../../src/jetstream/raft/wal.js';
import { waitFor } from '../../helpers/wait.js';

/** Short timers for tests; generous enough for a loaded 2-core machine. */
export const FAST: Partial<RaftTiming> = {
  minElectionTimeout: 400,
  maxElectionTimeout: 800,
  minCampaignTimeout: 20,
  maxCampaignTimeout: 120,
  hbInterval: 100,
  lostQuorumInterval: 1500,
  lostQuorumCheck: 500,
  catchupActivity: 1000,
};

export interface Member {
  name: string;
  id: string;
  dir: string;
  node: RaftNode | null;
  /** Applied normal entries' data, in order (as strings). */
  applied: string[];
  /** Snapshot data seen by the state machine, in order. */
  snapshots: string[];
  /** Index of the last committed entry handed to this member's state machine. */
  lastIndex: number;
  leaderChanges: boolean[];
  replayDone: boolean;
}

export interface GroupOptions {
  size: number;
  group?: string;
  storage?: 'file' | 'memory';
  timing?: Partial<RaftTiming>;
  fsync?: boolean;
  /** Members created but not in the initial peer set (to be added later). */
  extra?: number;
  observers?: string[];
}

export class TestGroup {
  readonly bus = new MemoryBus();
  readonly root = mkdtempSync(join(tmpdir(), 'raft-test-'));
  readonly group: string;
  readonly members: Member[] = [];
  readonly storage: 'file' | 'memory';
  readonly timing: Partial<RaftTiming>;
  readonly fsync: boolean;
  readonly observers: Set<string>;
  /** Called for each entry a member applies (to build state machines in tests). */
  onEntry: ((m: Member, ce: CommittedEntry) => void) | null = null;

  constructor(opts: GroupOptions) {
    this.group = opts.group ?? 'S-R3F-testgrp1';
    this.storage = opts.storage ?? 'file';
    this.timing = { ...FAST, ...opts.timing };
    this.fsync = opts.fsync ?? true;
    this.observers = new Set(opts.observers ?? []);
    const names: string[] = [];
    for (let i = 1; i <= opts.size + (opts.extra ?? 0); i++) names.push(`n${i}`);
    const initial = names.slice(0, opts.size).map((n) => peerId(n));
    for (const name of names) {
      const dir = join(this.root, name, this.group);
      const m: Member = { name, id: peerId(name), dir, node: null, applied: [], snapshots: [], lastIndex: 0, leaderChanges: [], replayDone: false };
      this.members.push(m);
      if (initial.includes(m.id)) bootstrapGroup(dir, initial, true, 0, this.fsync);
    }
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** Bootstraps a member that was not in the initial set with the given known peers. */
  bootstrap(name: string, knownPeers: string[]): void {
    bootstrapGroup(this.member(name).dir, knownPeers, true, 0, this.fsync);
  }

  private walFor(m: Member): Wal {
    if (this.storage === 'file') return new FileWal(m.dir, { fsync: this.fsync, segmentBytes: 64 * 1024 });
    // A memory WAL is lost on restart, as in nats-server.
    return new MemoryWal();
  }

  start(name: string): RaftNode {
    const m = this.member(name);
    if (m.node) throw new Error(`${name} already running`);
    m.applied = [];
    m.snapshots = [];
    m.lastIndex = 0;
    m.replayDone = false;
    const node = new RaftNode({
      group: this.group,
      dir: m.dir,
      id: m.id,
      wal: this.walFor(m),
      transport: this.bus.endpoint(name),
      timing: this.timing,
      fsync: this.fsync,
      observer: this.observers.has(name),
      onApply: (ce) => {
        if (ce === null) {
          m.replayDone = true;
          return;
        }
        for (const e of ce.entries) {
          if (e.type === EntryNormal) m.applied.push(e.data.toString());
          else if (e.type === EntrySnapshot) {
            // The test state machine's snapshot is the JSON list of everything applied so far.
            m.snapshots.push(e.data.toString());
            m.applied = JSON.parse(e.data.toString()) as string[];
          }
        }
        if (ce.index <= m.lastIndex) throw new Error(`${name}: index ${ce.index} applied after ${m.lastIndex}`);
        m.lastIndex = ce.index;
        this.onEntry?.(m, ce);
        node.appliedTo(ce.index);
      },
      onLeaderChange: (l) => m.leaderChanges.push(l),
    });
    m.node = node;
    node.start();
    return node;
  }

  startAll(): void {
    for (const m of this.members) if (!m.node && hasState(m)) this.start(m.name);
  }

  /** Stops a member (as a crash: nothing is flushed beyond what is already written). */
  stop(name: string): void {
    const m = this.member(name);
    m.node?.stop();
    m.node = null;
    this.bus.remove(name);
  }

  running(): Member[] {
    return this.members.filter((m) => m.node !== null);
  }

  leaders(): Member[] {
    return this.running().filter((m) => m.node!.isLeader());
  }

  /** Waits until exactly one running member leads and the others (in `among`) follow it. */
  async waitLeader(timeoutMs = 15_000, among?: string[]): Promise<Member> {
    let found: Member | null = null;
    await waitFor(
      () => {
        const members = this.running().filter((m) => !among || among.includes(m.name));
        const ls = members.filter((m) => m.node!.isLeader());
        if (ls.length !== 1) return false;
        const l = ls[0]!;
        const term = l.node!.getTerm();
        if (members.some((m) => m !== l && (m.node!.groupLeader() !== l.id || m.node!.getTerm() !== term))) return false;
        found = l;
        return true;
      },
      () => `one leader; states: ${this.describe()}`,
      timeoutMs,
    );
    return found!;
  }

  describe(): string {
    return this.members
      .map((m) => {
        if (!m.node) return `${m.name}:down`;
        const n = m.node;
        const p = n.progressInfo();
        return `${m.name}:${['F', 'L', 'C', 'O', 'X'][n.getState()]} t${n.getTerm()} ldr=${n.groupLeader() || '-'} idx=${p.index - 1} c=${p.commit} a=${m.applied.length}`;
      })
      .join(' ');
  }

  async proposeAll(leader: Member, values: string[]): Promise<void> {
    for (const v of values) leader.node!.propose(Buffer.from(v));
  }

  /** Waits until every member in `names` (default: all running) has applied `expected` in order. */
  async waitApplied(expected: string[], names?: string[], timeoutMs = 20_000): Promise<void> {
    const ms = names ? names.map((n) => this.member(n)) : this.running();
    await waitFor(
      () => ms.every((m) => m.applied.length >= expected.length),
      () => `applied ${expected.length}; ${this.describe()}`,
      timeoutMs,
    );
    for (const m of ms) {
      const got = m.applied.slice(0, expected.length);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`${m.name} applied ${JSON.stringify(got.slice(0, 20))}... expected ${JSON.stringify(expected.slice(0, 20))}...`);
      }
    }
  }

  close(): void {
    for (const m of this.members) {
      m.node?.stop();
      m.node = null;
    }
    this.bus.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

function hasState(m: Member): boolean {
  return existsSync(join(m.dir, 'peers.idx'));
}
