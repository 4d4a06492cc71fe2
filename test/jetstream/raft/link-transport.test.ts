// LinkTransport: RAFT over the JetStream worker's link (a fake JsHost per server here, joined by a fake
// "cluster" that forwards each published message to the other servers, as routes would). A group
// elects and replicates over it; interest is added and removed in balance; only the system account's
// messages are taken.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkTransport, type RaftLinkHost } from '../../../src/jetstream/raft/link-transport.js';
import { RaftNode } from '../../../src/jetstream/raft/node.js';
import { FileWal } from '../../../src/jetstream/raft/wal.js';
import { bootstrapGroup } from '../../../src/jetstream/raft/state-files.js';
import { peerId } from '../../../src/jetstream/raft/ids.js';
import { FAST } from './harness.js';
import { waitFor } from '../../helpers/wait.js';

const SYS = 2;

class FakeHost implements RaftLinkHost {
  readonly interest = new Map<string, number>();
  transport: LinkTransport | null = null;
  private readonly net: FakeHost[];
  constructor(net: FakeHost[]) {
    this.net = net;
  }
  publish(acc: number, subject: string, reply: string | null, _hdr: Buffer | null, data: Buffer | null): void {
    const copy = Buffer.from(data ?? Buffer.alloc(0));
    // To every other server with interest; never back to ourselves.
    for (const h of this.net) {
      if (h === this || !h.wants(subject)) continue;
      setImmediate(() => h.transport?.deliver(acc, subject, reply, copy));
    }
  }
  subscribe(acc: number, subject: string): void {
    assert.equal(acc, SYS);
    this.interest.set(subject, (this.interest.get(subject) ?? 0) + 1);
  }
  unsubscribe(acc: number, subject: string): void {
    assert.equal(acc, SYS);
    const n = (this.interest.get(subject) ?? 0) - 1;
    if (n <= 0) this.interest.delete(subject);
    else this.interest.set(subject, n);
  }
  wants(subject: string): boolean {
    return this.interest.has(subject);
  }
}

test('a RAFT group over LinkTransport elects, replicates and releases its interest on stop', async () => {
  const root = mkdtempSync(join(tmpdir(), 'link-raft-'));
  const net: FakeHost[] = [];
  const names = ['a', 'b', 'c'];
  const ids = names.map(peerId);
  const applied = new Map<string, string[]>();
  const nodes: RaftNode[] = [];
  try {
    for (const name of names) {
      const host = new FakeHost(net);
      net.push(host);
      host.transport = new LinkTransport(host, SYS);
      const dir = join(root, name);
      bootstrapGroup(dir, ids, true);
      applied.set(name, []);
      const n: RaftNode = new RaftNode({
        group: '_meta_',
        dir,
        id: peerId(name),
        wal: new FileWal(dir),
        transport: host.transport,
        timing: FAST,
        onApply: (ce) => {
          if (!ce) return;
          for (const e of ce.entries) if (e.type === 0) applied.get(name)!.push(e.data.toString());
          n.appliedTo(ce.index);
        },
      });
      nodes.push(n.start());
    }
    await waitFor(() => nodes.filter((n) => n.isLeader()).length === 1, 'a leader', 15_000);
    const leader = nodes.find((n) => n.isLeader())!;
    for (let i = 0; i < 50; i++) leader.propose(Buffer.from(`v${i}`));
    await waitFor(() => [...applied.values()].every((a) => a.length === 50), 'replicated everywhere', 15_000);
    for (const a of applied.values()) assert.deepEqual(a, Array.from({ length: 50 }, (_, i) => `v${i}`));
    // Another account's message on a RAFT subject is not ours to take.
    assert.equal(net[0]!.transport!.deliver(SYS + 1, '$NRG.AE._meta_', '', Buffer.alloc(0)), false);
    // Every server subscribed the group's vote and append subjects and its own inboxes.
    for (const h of net) {
      assert.ok(h.interest.has('$NRG.V._meta_') && h.interest.has('$NRG.AE._meta_'));
      assert.ok([...h.interest.keys()].some((s) => s.startsWith('$NRG.R.')));
    }
    for (const n of nodes) n.stop();
    for (const h of net) assert.deepEqual([...h.interest.keys()], [], 'stop releases every subscription');
  } finally {
    for (const n of nodes) n.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
