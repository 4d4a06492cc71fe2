// Helpers for mixed JetStream clusters (issue 16): tsnats nodes and a real nats-server in one meta
// group. Leadership is steered the way an operator would: $JS.API.META.LEADER.STEPDOWN (system
// account), $JS.API.STREAM.LEADER.STEPDOWN and $JS.API.CONSUMER.LEADER.STEPDOWN, repeated (bounded)
// until the wanted kind of server leads; nats-server 2.9 takes no preferred server in a stepdown.

import { before, after } from 'node:test';
import { connect, type NatsConnection, type JetStreamManager } from 'nats';
import { JsClusterHarness } from './js-cluster.js';
import type { NodeKind } from './cluster.js';
import { natsServerBin } from './cluster.js';
import { delay } from './wait.js';

/** Skip reason for node:test when nats-server is missing (CI installs it; .ci/run too). */
export const mixedSkip: string | false = natsServerBin() === null ? 'nats-server is not installed (apt-get install nats-server, or set NATS_SERVER_BIN)' : false;

/**
 * The cluster a mixed-JS test file runs against: two tsnats nodes and a nats-server (n1-c1, n2-c1
 * tsnats; n3-c1 nats-server), started in a node:test `before` hook once the meta group has a leader,
 * and stopped in an `after` hook with every client opened through `client` (or pushed to `conns`).
 * Construct it at a test file's top level.
 */
export class MixedJsCluster {
  h: JsClusterHarness | null = null;
  readonly conns: NatsConnection[] = [];

  constructor() {
    before(async () => {
      if (mixedSkip !== false) return;
      this.h = await JsClusterHarness.start(['tsnats', 'tsnats', 'nats-server']);
      await this.h.waitMetaLeader(90_000);
    });
    after(async () => {
      for (const nc of this.conns) await nc.close().catch(() => {});
      await this.h?.stop();
    });
  }

  async client(i: number): Promise<NatsConnection> {
    const nc = await connect({ servers: this.h!.url(i), maxReconnectAttempts: 0 });
    this.conns.push(nc);
    return nc;
  }
}

export interface ClusterBlock {
  name: string;
  leader?: string;
  replicas?: { name: string; current: boolean; active: number; lag?: number; offline?: boolean }[];
}

export function kindOf(h: JsClusterHarness, server: string | undefined): NodeKind | undefined {
  const i = server === undefined ? -1 : h.indexOf(server);
  return i < 0 ? undefined : h.nodes[i]!.kind;
}

/** The meta leader as every running node names it (throws unless they agree). */
export async function metaLeader(h: JsClusterHarness): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < h.nodes.length; i++) {
    if (h.nodes[i]!.node === null) continue;
    const mc = (await h.jsz(i))['meta_cluster'] as { leader?: string } | undefined;
    seen.add(mc?.leader ?? '');
  }
  const [l] = [...seen];
  if (seen.size !== 1 || !l) throw new Error(`meta leader not agreed: ${JSON.stringify([...seen])}`);
  return l;
}

async function sysConn(h: JsClusterHarness, i: number): Promise<NatsConnection> {
  return connect({ servers: h.url(i), user: 'admin', pass: 'admin', maxReconnectAttempts: 0 });
}

/** Steps the meta leader down until a server of `kind` leads (at most `rounds` stepdowns). */
export async function forceMetaLeader(h: JsClusterHarness, kind: NodeKind, rounds = 12): Promise<string> {
  let last = '';
  for (let r = 0; r <= rounds; r++) {
    const leader = await h.waitMetaLeader(60_000);
    last = leader;
    if (kindOf(h, leader) === kind) return leader;
    if (r === rounds) break;
    // Ask through the leader itself (any node forwards it, but the leader answers).
    const nc = await sysConn(h, h.indexOf(leader));
    try {
      await nc.request('$JS.API.META.LEADER.STEPDOWN', '', { timeout: 10_000 }).catch(() => undefined);
    } finally {
      await nc.close().catch(() => {});
    }
    // Wait for the leader to change (bounded), then look again.
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      await delay(300);
      const now = await metaLeader(h).catch(() => '');
      if (now !== '' && now !== leader) break;
    }
  }
  throw new Error(`no ${kind} meta leader after ${rounds} stepdowns (last ${last})`);
}

export async function streamCluster(jsm: JetStreamManager, stream: string): Promise<ClusterBlock> {
  return (await jsm.streams.info(stream)).cluster as ClusterBlock;
}

/** Waits until the stream has a leader and two current replicas (as its leader reports). */
export async function waitStreamHealthy(jsm: JetStreamManager, stream: string, replicas = 2, timeoutMs = 60_000): Promise<ClusterBlock> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const c = await streamCluster(jsm, stream);
      last = JSON.stringify(c);
      if (c.leader !== undefined && c.replicas?.length === replicas && c.replicas.every((r) => r.current)) return c;
    } catch (err) {
      last = String(err);
    }
    await delay(300);
  }
  throw new Error(`stream ${stream} not healthy in ${timeoutMs} ms: ${last}`);
}

/** Steps the stream leader down until a server of `kind` leads it. */
export async function forceStreamLeader(h: JsClusterHarness, nc: NatsConnection, stream: string, kind: NodeKind, rounds = 12): Promise<string> {
  const jsm = await nc.jetstreamManager();
  let last = '';
  for (let r = 0; r <= rounds; r++) {
    const c = await waitStreamHealthy(jsm, stream);
    last = c.leader!;
    if (kindOf(h, c.leader) === kind) return c.leader!;
    if (r === rounds) break;
    await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 10_000 }).catch(() => undefined);
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      await delay(300);
      const l = await streamCluster(jsm, stream).then((x) => x.leader).catch(() => undefined);
      if (l !== undefined && l !== c.leader) break;
    }
  }
  throw new Error(`no ${kind} leader for stream ${stream} after ${rounds} stepdowns (last ${last})`);
}

/** Steps the consumer leader down until a server of `kind` leads it. */
export async function forceConsumerLeader(h: JsClusterHarness, nc: NatsConnection, stream: string, consumer: string, kind: NodeKind, rounds = 12): Promise<string> {
  const jsm = await nc.jetstreamManager();
  let last = '';
  for (let r = 0; r <= rounds; r++) {
    const until0 = Date.now() + 60_000;
    let c: ClusterBlock | undefined;
    while (Date.now() < until0) {
      c = (await jsm.consumers.info(stream, consumer).catch(() => undefined))?.cluster as ClusterBlock | undefined;
      if (c?.leader !== undefined && c.replicas?.length === 2 && c.replicas.every((x) => x.current)) break;
      await delay(300);
    }
    if (c?.leader === undefined) throw new Error(`consumer ${stream}/${consumer} has no leader: ${JSON.stringify(c)}`);
    last = c.leader;
    if (kindOf(h, c.leader) === kind) return c.leader;
    if (r === rounds) break;
    // Let the followers learn the commit of the last acks first (the next append entry or heartbeat
    // carries it; hbInterval is 1 s): a nats-server 2.9 follower that becomes consumer leader reads its
    // ack floor from its store once, when it takes over, so acks that commit only after the transfer
    // are stored but not shown (its info keeps the older floor until the next ack).
    await delay(2500);
    await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`, '', { timeout: 10_000 }).catch(() => undefined);
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      await delay(300);
      const l = ((await jsm.consumers.info(stream, consumer).catch(() => undefined))?.cluster as ClusterBlock | undefined)?.leader;
      if (l !== undefined && l !== c.leader) break;
    }
  }
  throw new Error(`no ${kind} leader for consumer ${stream}/${consumer} after ${rounds} stepdowns (last ${last})`);
}

/** The stream's state as one server's own replica holds it (/jsz?streams=true on that server). */
export async function localStreamState(h: JsClusterHarness, i: number, stream: string): Promise<{ messages: number; bytes: number; first_seq: number; last_seq: number } | undefined> {
  const j = await h.jsz(i, '?accounts=true&streams=true');
  const sd = ((j['account_details'] as { stream_detail?: { name: string; state: never }[] }[] | undefined) ?? []).flatMap((a) => a.stream_detail ?? []);
  return sd.find((s) => s.name === stream)?.state;
}

/**
 * Restarts node i with its store and ports. Bounded retries when its cluster or client port was taken
 * meanwhile (another process on this loaded machine may grab a freed ephemeral port for a while).
 */
export async function restartNode(h: JsClusterHarness, i: number, attempts = 15): Promise<void> {
  for (let a = 1; ; a++) {
    try {
      await h.startNode(i);
      return;
    } catch (err) {
      if (a >= attempts || !/address already in use|EADDRINUSE/i.test(String(err))) throw err;
      await delay(2000);
    }
  }
}
