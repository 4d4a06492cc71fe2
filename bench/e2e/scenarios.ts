// The benchmark scenarios. Each scenario is run against every target of its row, alternating targets
// run by run; see run.ts.
import type { SubSpec } from './types.js';
import type { Placement, TargetSpec } from './servers.js';

export type ScenarioKind = 'flow' | 'reqrep' | 'njs' | 'self-pub' | 'self-sub';

export interface SubProc extends SubSpec {
  /**
   * Fraction of the published messages this subscriber must receive (1 for a plain subscriber whose
   * subject matches everything published; 1/1000 for a literal subject out of 1,000). Subscribers that
   * share a queue group are checked together: their sum must equal the fraction of the published total.
   */
  fraction?: number;
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
  /** One subscriber process per entry (flow, njs, self-sub). */
  subs: SubProc[];
  /** Requests kept in flight (reqrep). */
  inflight?: number;
  /** Which servers this row runs against ('cluster': a pair of each, pub on node A, subs on node B). */
  targets: 'servers' | 'tsnats-shards' | 'tsnats-placement' | 'cluster' | 'none';
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
  const out: TargetSpec[] = [];
  const cluster = sc.targets === 'cluster' ? { cluster: true } : {};
  if (server !== 'nats-server') out.push(tsnatsShards !== undefined ? { kind: 'tsnats', shards: tsnatsShards, ...cluster } : { kind: 'tsnats', ...cluster });
  if (server !== 'tsnats') out.push({ kind: 'nats-server', ...cluster });
  return out;
}

/** `--only a,b`: exact ids or prefixes ("pubsub" selects pubsub-16/128/1024, "selftest" the three self-tests). */
export function selectScenarios(only: string[] | undefined, quick: boolean): Scenario[] {
  if (only === undefined || only.length === 0) return scenarios.filter((s) => !quick || s.quick);
  const picked = scenarios.filter((s) => only.some((o) => s.id === o || s.id.startsWith(o)));
  const unknown = only.filter((o) => !scenarios.some((s) => s.id === o || s.id.startsWith(o)));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.id).join(', ')}`);
  }
  return picked;
}
