// The benchmark scenarios. Each scenario is run against every target of its row, alternating targets
// run by run; see run.ts.
import os from 'node:os';
import type { SubSpec } from './types.js';
import type { Placement, TargetSpec } from './servers.js';

export type ScenarioKind = 'flow' | 'reqrep' | 'njs' | 'js-pub' | 'js-fetch' | 'self-pub' | 'self-sub';

/** Cores of this machine: the multi-publisher rows sweep tsnats --shards 1..CORES. */
export const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

export interface SubProc extends SubSpec {
  /**
   * Fraction of the published messages this subscriber must receive (1 for a plain subscriber whose
   * subject matches everything published; 1/1000 for a literal subject out of 1,000). Subscribers that
   * share a queue group are checked together: their sum must equal the fraction of the published total.
   */
  fraction?: number;
  /** Multi-publisher rows: this subscriber gets exactly what publisher `fromPub` sent (its own subject). */
  fromPub?: number;
}

export interface Scenario {
  id: string;
  /** Short label for the table. */
  title: string;
  /** One-line explanation for the README and the results file. */
  desc: string;
  kind: ScenarioKind;
  size: number;
  /** Publisher processes (flow, njs, self-pub). */
  pubs: number;
  /** Subjects each publisher cycles through. */
  pubSubjects: string[];
  /** Per publisher, when they differ (multi-publisher rows): publisher i cycles through pubSubjectsPer[i]. */
  pubSubjectsPer?: string[][];
  /** One subscriber process per entry (flow, njs, self-sub). */
  subs: SubProc[];
  /** Requests (reqrep) or JetStream publishes (js-pub) kept in flight. */
  inflight?: number;
  /** js-pub: every publish carries a unique Nats-Msg-Id header (the stream de-duplicates). */
  msgId?: boolean;
  /** Both servers run with JetStream (`-js -sd <fresh dir>`). */
  jetstream?: boolean;
  /**
   * Which servers this row runs against: `servers` tsnats (default shards) and nats-server;
   * `servers-shards` nats-server and tsnats --shards 1..CORES (each ratio against this row's
   * nats-server); `tsnats-shards` / `tsnats-placement` tsnats only (ratio against refScenario);
   * `cluster` a pair of each, pub on node A, subs on node B.
   */
  targets: 'servers' | 'servers-shards' | 'tsnats-shards' | 'tsnats-placement' | 'cluster' | 'none';
  /** For tsnats-shards rows: the shard counts to sweep; for tsnats-placement rows: the one shard count. */
  shards?: number[];
  /** For tsnats-placement rows: the placements to compare (alternating, like the shard sweep). */
  placements?: Placement[];
  /** For tsnats-shards / tsnats-placement rows: the scenario whose nats-server median is the reference for the ratio. */
  refScenario?: string;
  /** Part of a --quick run. */
  quick: boolean;
  /** What the msgs/s column means for this row. */
  metric: string;
}

const SUBJ = 'bench.data';
const wildSubjects = Array.from({ length: 1000 }, (_, i) => `bench.${i}`);

function pubsub(size: number): Scenario {
  return {
    id: `pubsub-${size}`,
    title: `1 pub → 1 sub, ${size} B`,
    desc: `One publisher and one subscriber on the same subject, ${size}-byte payloads.`,
    kind: 'flow',
    size,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'servers',
    quick: true,
    metric: 'delivered',
  };
}

/** Core rows at 128 B and 1 KiB (full runs): the issue's acceptance covers every core row at 16 B, 128 B and 1 KiB. */
function sized(base: Scenario, size: number): Scenario {
  return { ...base, id: `${base.id.replace(/-16$/, '')}-${size}`, title: base.title.replace(/16 B$/, `${size} B`), desc: `${base.desc} ${size}-byte payloads.`, size, quick: false };
}

const JS_STREAM = 'BENCH';
const JS_SUBJECTS = ['bench.js.>'];
const JS_SUBJ = 'bench.js.x';

function jsPub(size: number, inflight: number, msgId: boolean, quick: boolean): Scenario {
  const mode = inflight === 1 ? 'sync' : `async ${inflight}`;
  return {
    id: `js-pub-${inflight === 1 ? 'sync' : 'async'}-${size}${msgId ? '-msgid' : ''}`,
    title: `JetStream publish, ${mode}, ${size} B${msgId ? ', Msg-Id' : ''}`,
    desc:
      `JetStream publishes to a file stream (created afresh per run), ${inflight === 1 ? 'one at a time (each waits for its pub ack)' : `${inflight} in flight`}, ` +
      `${size}-byte payloads${msgId ? ', each with a unique Nats-Msg-Id header (HPUB; the stream de-duplicates)' : ''}; raw protocol; ` +
      'latency is publish → pub ack; every ack is checked and the stream must hold every acknowledged message afterwards.',
    kind: 'js-pub',
    size,
    pubs: 1,
    pubSubjects: [JS_SUBJ],
    subs: [],
    inflight,
    msgId,
    jetstream: true,
    targets: 'servers',
    quick,
    metric: 'acknowledged publishes',
  };
}

function jsFetch(size: number, quick: boolean): Scenario {
  return {
    id: `js-fetch-ack-${size}`,
    title: `JetStream pull fetch + ack, ${size} B`,
    desc:
      `A durable pull consumer (explicit ack) on a file stream holding ${size}-byte messages: fetch batches of up to 256 (never more than are left) ` +
      'and ack every message; the next fetch goes out when a batch is complete. Raw protocol; the stream is filled once per server, each run has a consumer of its own ' +
      'and ends with the PONG after its last ack; the consumer must have no ack pending afterwards.',
    kind: 'js-fetch',
    size,
    pubs: 1,
    pubSubjects: [JS_SUBJ],
    subs: [],
    jetstream: true,
    targets: 'servers',
    quick,
    metric: 'messages fetched and acked',
  };
}

/** P publishers → P subscribers, publisher i on its own subject, subscriber i on it. */
function multiPairs(p: number): Scenario {
  const subj = (i: number): string => `bench.mp.${i}`;
  return {
    id: 'multi-pub-pairs',
    title: `${p} pubs → ${p} subs, distinct subjects, 16 B`,
    desc:
      `${p} publishers (2 × ${CORES} cores), each on its own subject, and ${p} subscribers, one per subject: independent streams that a multi-core ` +
      `server can spread. nats-server and tsnats --shards 1..${CORES} in the same run, each ratio against this row's nats-server.`,
    kind: 'flow',
    size: 16,
    pubs: p,
    pubSubjects: [subj(0)],
    pubSubjectsPer: Array.from({ length: p }, (_, i) => [subj(i)]),
    subs: Array.from({ length: p }, (_, i) => ({ subject: subj(i), fromPub: i })),
    targets: 'servers-shards',
    quick: true,
    metric: 'delivered (total)',
  };
}

export const scenarios: Scenario[] = [
  {
    id: 'pub-only',
    title: 'pub only, 16 B',
    desc: 'One publisher, no subscribers: how fast the server ingests and parses PUBs (and drops them).',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [],
    targets: 'servers',
    quick: true,
    metric: 'published',
  },
  pubsub(16),
  pubsub(128),
  pubsub(1024),
  {
    id: 'fanout-4',
    title: '1 pub → 4 subs (fan-out), 16 B',
    desc: 'One publisher, four subscribers (four processes) on the same subject: every message is delivered four times.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }],
    targets: 'servers',
    quick: true,
    metric: 'delivered (4 per published)',
  },
  {
    id: 'queue-4',
    title: '1 pub → queue group of 4, 16 B',
    desc: 'One publisher, four subscribers in one queue group: every message is delivered once, to one member.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [0, 1, 2, 3].map(() => ({ subject: SUBJ, queue: 'q' })),
    targets: 'servers',
    quick: true,
    metric: 'delivered',
  },
  {
    id: 'wildcard',
    title: 'wildcards, 1,000 subjects, 16 B',
    desc:
      'One publisher cycling through bench.0 … bench.999; subscribers on bench.*, bench.> and *.* (each gets every message) ' +
      'and one on the literal bench.500 (gets 1 in 1,000).',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: wildSubjects,
    subs: [{ subject: 'bench.*' }, { subject: 'bench.>' }, { subject: '*.*' }, { subject: 'bench.500', fraction: 1 / 1000 }],
    targets: 'servers',
    quick: true,
    metric: 'delivered (≈3 per published)',
  },
  {
    id: 'req-seq',
    title: 'request/reply, sequential, 16 B',
    desc: 'One requester with one request in flight at a time, one replier; latency is request sent → reply received.',
    kind: 'reqrep',
    size: 16,
    pubs: 1,
    pubSubjects: ['bench.req'],
    subs: [],
    inflight: 1,
    targets: 'servers',
    quick: true,
    metric: 'requests completed',
  },
  {
    id: 'req-64',
    title: 'request/reply, 64 in flight, 16 B',
    desc: 'One requester keeping 64 requests in flight (one reply inbox per slot), one replier.',
    kind: 'reqrep',
    size: 16,
    pubs: 1,
    pubSubjects: ['bench.req'],
    subs: [],
    inflight: 64,
    targets: 'servers',
    quick: true,
    metric: 'requests completed',
  },
  {
    id: 'natsjs',
    title: 'nats.js v2 client: 1 pub → 1 sub, 16 B',
    desc:
      'The official `nats` (v2) client as publisher and subscriber instead of the raw load generator. ' +
      'This row measures the client at least as much as the server.',
    kind: 'njs',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'servers',
    quick: true,
    metric: 'delivered',
  },
  jsPub(128, 1, false, true),
  jsPub(128, 256, false, true),
  jsPub(1024, 256, false, true),
  jsPub(128, 256, true, true),
  jsPub(1024, 256, true, true),
  jsFetch(128, true),
  jsFetch(1024, false),
  multiPairs(2 * CORES),
  {
    id: 'multi-pub-fanout',
    title: '4 pubs → 1 subject → 4 subs (fan-out), 16 B',
    desc:
      `Four publishers on one subject with four subscribers on it: every subscriber gets every publisher's messages. nats-server and tsnats --shards 1..${CORES} ` +
      "in the same run, each ratio against this row's nats-server.",
    kind: 'flow',
    size: 16,
    pubs: 4,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }],
    targets: 'servers-shards',
    quick: true,
    metric: 'delivered (4 per published)',
  },
  {
    id: 'shards-pubsub',
    title: '1 pub → 1 sub, 16 B',
    desc: 'tsnats with --shards 1 and --shards 2 (alternating), ratio against nats-server on pubsub-16.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'tsnats-shards',
    shards: [1, 2],
    refScenario: 'pubsub-16',
    quick: true,
    metric: 'delivered',
  },
  {
    id: 'shards-fanout',
    title: '1 pub → 4 subs (fan-out), 16 B',
    desc: 'tsnats with --shards 1 and --shards 2 (alternating), ratio against nats-server on fanout-4.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }],
    targets: 'tsnats-shards',
    shards: [1, 2],
    refScenario: 'fanout-4',
    quick: false,
    metric: 'delivered (4 per published)',
  },
  {
    id: 'shard-placement-pubsub',
    title: '1 pub → 1 sub, 16 B',
    desc:
      'tsnats --shards 2 with TSNATS_DEBUG_INFO=1: the load generator keeps only connections whose INFO names the wanted shard; ' +
      'publisher and subscriber both on shard 0, vs publisher on shard 0 and subscriber on shard 1 (alternating). Ratio against nats-server on pubsub-16.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'tsnats-placement',
    shards: [2],
    placements: ['same', 'different'],
    refScenario: 'pubsub-16',
    quick: true,
    metric: 'delivered',
  },
  {
    id: 'shard-placement-fanout',
    title: '1 pub → 4 subs (fan-out), 16 B',
    desc:
      'The same for fan-out: publisher and all four subscribers on shard 0, vs publisher on shard 0 and the four subscribers on shard 1. ' +
      'Ratio against nats-server on fanout-4.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }, { subject: SUBJ }],
    targets: 'tsnats-placement',
    shards: [2],
    placements: ['same', 'different'],
    refScenario: 'fanout-4',
    quick: false,
    metric: 'delivered (4 per published)',
  },
  {
    id: 'shard-placement-req-seq',
    title: 'request/reply, sequential, 16 B',
    desc:
      'tsnats --shards 2: requester and replier on the same shard vs on different shards (placed as in shard-placement-pubsub), alternating. ' +
      'Ratio against nats-server on req-seq. The cross-shard request/reply path: two ring hops and two doorbell wakes per request.',
    kind: 'reqrep',
    size: 16,
    pubs: 1,
    pubSubjects: ['bench.req'],
    subs: [],
    inflight: 1,
    targets: 'tsnats-placement',
    shards: [2],
    placements: ['same', 'different'],
    refScenario: 'req-seq',
    quick: true,
    metric: 'requests completed',
  },
  {
    id: 'shard-placement-req-64',
    title: 'request/reply, 64 in flight, 16 B',
    desc: 'The same with 64 requests in flight. Ratio against nats-server on req-64.',
    kind: 'reqrep',
    size: 16,
    pubs: 1,
    pubSubjects: ['bench.req'],
    subs: [],
    inflight: 64,
    targets: 'tsnats-placement',
    shards: [2],
    placements: ['same', 'different'],
    refScenario: 'req-64',
    quick: false,
    metric: 'requests completed',
  },
  {
    id: 'cluster-pubsub-16',
    title: '1 pub (node A) → 1 sub (node B), 16 B',
    desc:
      'Two servers of the same kind joined by a route (A solicits B): the publisher on A, the subscriber on B, so every ' +
      'message crosses the route (RMSG). tsnats pair vs nats-server pair.',
    kind: 'flow',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'cluster',
    quick: true,
    metric: 'delivered',
  },
  {
    id: 'selftest-pub',
    title: 'generator: 1 publisher → discard sink, 16 B',
    desc: 'Load-generator capacity, pub side: one publisher process into a node:net server that discards its input.',
    kind: 'self-pub',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [],
    targets: 'none',
    quick: true,
    metric: 'published',
  },
  {
    id: 'selftest-pub2',
    title: 'generator: 2 publishers → 2 discard sinks, 16 B',
    desc: 'Same with two publisher processes, each into its own sink process (total).',
    kind: 'self-pub',
    size: 16,
    pubs: 2,
    pubSubjects: [SUBJ],
    subs: [],
    targets: 'none',
    quick: true,
    metric: 'published (total)',
  },
  {
    id: 'selftest-sub',
    title: 'generator: MSG blaster → 1 subscriber, 16 B',
    desc: 'Load-generator capacity, sub side: a node:net server writing pre-encoded MSG frames as fast as the subscriber reads them.',
    kind: 'self-sub',
    size: 16,
    pubs: 1,
    pubSubjects: [SUBJ],
    subs: [{ subject: SUBJ }],
    targets: 'none',
    quick: true,
    metric: 'received',
  },
];

// The core rows at 128 B and 1 KiB go right after the 16 B ones (before req-seq).
{
  const bases = ['pub-only', 'fanout-4', 'queue-4', 'wildcard'].map((id) => scenarios.find((s) => s.id === id)!);
  const at = scenarios.findIndex((s) => s.id === 'req-seq');
  scenarios.splice(at, 0, ...[128, 1024].flatMap((size) => bases.map((b) => sized(b, size))));
}

export function targetsFor(sc: Scenario, server: 'tsnats' | 'nats-server' | 'both', tsnatsShards?: number): TargetSpec[] {
  if (sc.targets === 'none') return [];
  if (sc.targets === 'tsnats-placement') {
    if (server === 'nats-server') return [];
    const n = sc.shards?.[0] ?? 2;
    return (sc.placements ?? ['same', 'different']).map((placement) => ({ kind: 'tsnats' as const, shards: n, placement }));
  }
  if (sc.targets === 'tsnats-shards') {
    if (server === 'nats-server') return [];
    return (sc.shards ?? [1]).map((n) => ({ kind: 'tsnats' as const, shards: n }));
  }
  if (sc.targets === 'servers-shards') {
    const out: TargetSpec[] = [];
    if (server !== 'tsnats') out.push({ kind: 'nats-server' });
    if (server !== 'nats-server') for (let n = 1; n <= CORES; n++) out.push({ kind: 'tsnats', shards: n });
    return out;
  }
  const out: TargetSpec[] = [];
  const cluster = sc.targets === 'cluster' ? { cluster: true } : {};
  if (server !== 'nats-server') out.push(tsnatsShards !== undefined ? { kind: 'tsnats', shards: tsnatsShards, ...cluster } : { kind: 'tsnats', ...cluster });
  if (server !== 'tsnats') out.push({ kind: 'nats-server', ...cluster });
  return out;
}

/**
 * `--only a,b`: exact ids or prefixes ("pubsub" selects pubsub-16/128/1024, "selftest" the three
 * self-tests, "js" the JetStream rows); a name that is a scenario's exact id selects just that one
 * ("fanout-4" is not also fanout-4-128).
 */
export function selectScenarios(only: string[] | undefined, quick: boolean): Scenario[] {
  if (only === undefined || only.length === 0) return scenarios.filter((s) => !quick || s.quick);
  const selects = (s: Scenario, o: string): boolean => s.id === o || (!scenarios.some((x) => x.id === o) && s.id.startsWith(o));
  const picked = scenarios.filter((s) => only.some((o) => selects(s, o)));
  const unknown = only.filter((o) => !scenarios.some((s) => s.id === o || s.id.startsWith(o)));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.id).join(', ')}`);
  }
  return picked;
}
