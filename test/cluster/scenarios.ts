// Cross-node behaviour every cluster must show, whatever its nodes are (tsnats only, or mixed with a
// real nats-server): run by messaging.test.ts and mixed.test.ts against three running nodes.
import assert from 'node:assert/strict';
import { connect, type NatsConnection, type ConnectionOptions } from 'nats';
import { routeInterest, waitInterest, type ClusterNode } from '../helpers/cluster.js';
import { delay, waitFor } from '../helpers/wait.js';

/** Two accounts, each with one user whose password is its name. */
export const ACCOUNTS_CONF = `
accounts {
  A: { users: [{ user: a, password: a }] }
  B: { users: [{ user: b, password: b }] }
}
`;

export async function client(n: ClusterNode, user = 'a', opts: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ servers: n.hostport, user, pass: user, reconnect: false, ...opts });
}

async function closeAll(cs: NatsConnection[]): Promise<void> {
  await Promise.all(cs.map((c) => c.close().catch(() => {})));
}

/** Until `node` no longer holds route interest in `subject`. */
async function waitNoInterest(node: ClusterNode, subject: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await routeInterest(node, subject)) === 0) return;
    await delay(50);
  }
  throw new Error(`${node.kind}:${node.port} still has route interest in ${subject}`);
}

/** 2 × 10,000 messages from publishers on two nodes to a subscriber on the third: complete and in order. */
export async function inOrder(nodes: ClusterNode[]): Promise<void> {
  const [p1, p2, s] = await Promise.all([client(nodes[0]!), client(nodes[1]!), client(nodes[2]!)]);
  try {
    const N = 10_000;
    const next = new Map<string, number>([
      ['seq.p1', 0],
      ['seq.p2', 0],
    ]);
    const errors: string[] = [];
    s.subscribe('seq.>', {
      callback: (_e, m) => {
        const want = next.get(m.subject);
        const got = Number(m.string());
        if (want === undefined) errors.push(`unexpected subject ${m.subject}`);
        else if (got !== want) errors.push(`${m.subject}: expected ${want}, got ${got}`);
        else next.set(m.subject, want + 1);
      },
    });
    await s.flush();
    await Promise.all([waitInterest(nodes[0]!, 'seq.>', 1), waitInterest(nodes[1]!, 'seq.>', 1)]);
    for (let i = 0; i < N; i++) {
      p1.publish('seq.p1', String(i));
      p2.publish('seq.p2', String(i));
      if (i % 1000 === 999) await Promise.all([p1.flush(), p2.flush()]);
    }
    await Promise.all([p1.flush(), p2.flush()]);
    await waitFor(() => errors.length > 0 || (next.get('seq.p1') === N && next.get('seq.p2') === N), () => `both streams complete: ${[...next.values()].join(', ')}`, 60_000);
    assert.deepEqual(errors.slice(0, 5), []);
  } finally {
    await closeAll([p1, p2, s]);
  }
}

/** A publisher on one node reaches subscribers on all three. */
export async function fanOut(nodes: ClusterNode[]): Promise<void> {
  const cs = await Promise.all(nodes.map((n) => client(n)));
  try {
    const got = nodes.map(() => 0);
    cs.forEach((c, i) => c.subscribe('fan.out', { callback: () => void got[i]!++ }));
    await Promise.all(cs.map((c) => c.flush()));
    await waitInterest(nodes[0]!, 'fan.out', 2);
    for (let i = 0; i < 1000; i++) cs[0]!.publish('fan.out', String(i));
    await cs[0]!.flush();
    await waitFor(() => got.every((g) => g >= 1000), () => `fan-out: ${got.join(', ')}`, 30_000);
    await delay(200);
    assert.deepEqual(got, [1000, 1000, 1000]);
  } finally {
    await closeAll(cs);
  }
}

/** A queue group with members on every node gets each of 9,000 messages exactly once. */
export async function queueOnce(nodes: ClusterNode[]): Promise<void> {
  const pubs = await Promise.all(nodes.map((n) => client(n)));
  const members = await Promise.all([...nodes, ...nodes].map((n) => client(n)));
  try {
    const seen = new Map<string, number>();
    const perNode = nodes.map(() => 0);
    members.forEach((c, i) =>
      c.subscribe('work.q', {
        queue: 'workers',
        callback: (_e, m) => {
          const k = m.string();
          seen.set(k, (seen.get(k) ?? 0) + 1);
          perNode[i % nodes.length]!++;
        },
      }),
    );
    await Promise.all(members.map((c) => c.flush()));
    // Each node hears the group's weight from the two others.
    await Promise.all(nodes.map((n) => waitInterest(n, 'work.q', 2)));
    for (let i = 0; i < 3000; i++) pubs.forEach((p, j) => p.publish('work.q', `${j}-${i}`));
    await Promise.all(pubs.map((p) => p.flush()));
    const total = (): number => [...seen.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => total() >= 9000, () => `queue: ${total()} of 9000`, 30_000);
    await delay(300);
    assert.equal(seen.size, 9000);
    assert.equal(total(), 9000, 'each message delivered exactly once');
    for (const n of perNode) assert.ok(n > 0, `every node's members get some: ${perNode.join(', ')}`);
  } finally {
    await closeAll([...pubs, ...members]);
  }
}

/** Request/reply across nodes; no responders when nobody anywhere listens. */
export async function requestReply(nodes: ClusterNode[]): Promise<void> {
  const [req, other, svc] = await Promise.all([client(nodes[0]!), client(nodes[1]!), client(nodes[2]!)]);
  try {
    svc.subscribe('svc.echo', { callback: (_e, m) => m.respond(`echo:${m.string()}`) });
    await svc.flush();
    await waitInterest(nodes[0]!, 'svc.echo', 1);
    const r = await req.request('svc.echo', 'hi', { timeout: 5000 });
    assert.equal(r.string(), 'echo:hi');
    const r2 = await other.request('svc.echo', 'there', { timeout: 5000 });
    assert.equal(r2.string(), 'echo:there');
    await assert.rejects(req.request('svc.none', 'x', { timeout: 5000 }), (e: Error & { code?: string }) => e.code === '503');
  } finally {
    await closeAll([req, other, svc]);
  }
}

/** An UNSUB on one node removes the interest the others had: a request then finds no responders. */
export async function unsubCrosses(nodes: ClusterNode[]): Promise<void> {
  const [req, svc] = await Promise.all([client(nodes[0]!), client(nodes[1]!)]);
  try {
    const sub = svc.subscribe('gone.soon', { callback: (_e, m) => m.respond('here') });
    await svc.flush();
    await waitInterest(nodes[0]!, 'gone.soon', 1);
    assert.equal((await req.request('gone.soon', '', { timeout: 5000 })).string(), 'here');
    sub.unsubscribe();
    await svc.flush();
    await waitNoInterest(nodes[0]!, 'gone.soon');
    await assert.rejects(req.request('gone.soon', '', { timeout: 5000 }), (e: Error & { code?: string }) => e.code === '503');
  } finally {
    await closeAll([req, svc]);
  }
}

/** Accounts A and B stay apart across routes: same subject, each account only sees its own. */
export async function accountsIsolated(nodes: ClusterNode[]): Promise<void> {
  const [pa, pb, sb, sa] = await Promise.all([client(nodes[0]!, 'a'), client(nodes[0]!, 'b'), client(nodes[1]!, 'b'), client(nodes[2]!, 'a')]);
  try {
    const gotA: string[] = [];
    const gotB: string[] = [];
    sa.subscribe('iso', { callback: (_e, m) => void gotA.push(m.string()) });
    sb.subscribe('iso', { callback: (_e, m) => void gotB.push(m.string()) });
    await Promise.all([sa.flush(), sb.flush()]);
    await waitInterest(nodes[0]!, 'iso', 2);
    for (let i = 0; i < 5; i++) pa.publish('iso', 'A');
    for (let i = 0; i < 3; i++) pb.publish('iso', 'B');
    await Promise.all([pa.flush(), pb.flush()]);
    await waitFor(() => gotA.length >= 5 && gotB.length >= 3, () => `A ${gotA.length}, B ${gotB.length}`, 15_000);
    await delay(300);
    assert.deepEqual(gotA, ['A', 'A', 'A', 'A', 'A']);
    assert.deepEqual(gotB, ['B', 'B', 'B']);
  } finally {
    await closeAll([pa, pb, sb, sa]);
  }
}
