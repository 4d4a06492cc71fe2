// Ratio targets (tsnats median / nats-server median, same run) for `npm run bench -- --ratio-check`:
// the rows of issue 18's acceptance list. This table is the one place they are written down; a row
// not listed here is reported but never checked (the multi-publisher sweeps, the shard and placement
// rows, the nats.js client row, the self-tests).
import type { RowResult, TargetResult } from './report.js';

export interface RatioTarget {
  /** Scenario id (bench/e2e/scenarios.ts). */
  id: string;
  /** Lowest acceptable ratio. */
  min: number;
}

const CORE = ['pub-only', 'pubsub', 'fanout-4', 'queue-4', 'wildcard'];
const SIZES = [16, 128, 1024];

function coreId(base: string, size: number): string {
  if (base === 'pubsub') return `pubsub-${size}`;
  return size === 16 ? base : `${base}-${size}`;
}

export const RATIO_TARGETS: readonly RatioTarget[] = [
  // Every core row (pub-only, 1→1, fan-out 4, queue 4, wildcards; 16 B, 128 B, 1 KiB) ≥ 1.0×.
  ...SIZES.flatMap((size) => CORE.map((base) => ({ id: coreId(base, size), min: 1.0 }))),
  // Request/reply sequential and 64 in flight ≥ 1.0×.
  { id: 'req-seq', min: 1.0 },
  { id: 'req-64', min: 1.0 },
  // JetStream publish sync ≥ 1.0×, async 256 at 128 B and 1 KiB (with and without Msg-Id) ≥ 1.0×.
  { id: 'js-pub-sync-128', min: 1.0 },
  { id: 'js-pub-async-128', min: 1.0 },
  { id: 'js-pub-async-1024', min: 1.0 },
  { id: 'js-pub-async-128-msgid', min: 1.0 },
  { id: 'js-pub-async-1024-msgid', min: 1.0 },
  // Pull fetch + ack ≥ 1.0×.
  { id: 'js-fetch-ack-128', min: 1.0 },
  { id: 'js-fetch-ack-1024', min: 1.0 },
];

export interface RatioVerdict {
  id: string;
  min: number;
  ratio: number | null;
  /** pass, below (the ratio misses the target), no-figure (a server failed or was not run), not-run (row not in this run). */
  verdict: 'pass' | 'below' | 'no-figure' | 'not-run';
  note?: string;
}

function rate(t: TargetResult | undefined): number | undefined {
  return t?.status === 'ok' || t?.status === 'partial' ? t.summary?.msgsPerSec : undefined;
}

/** Checks each targeted row of this run; rows the run did not include are `not-run`. */
export function ratioCheck(rows: RowResult[]): RatioVerdict[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return RATIO_TARGETS.map(({ id, min }) => {
    const row = byId.get(id);
    if (row === undefined) return { id, min, ratio: null, verdict: 'not-run' as const };
    const ts = rate(row.targets.find((t) => t.kind === 'tsnats'));
    const ns = rate(row.targets.find((t) => t.kind === 'nats-server'));
    if (ts === undefined || ns === undefined || !(ns > 0)) {
      return { id, min, ratio: null, verdict: 'no-figure' as const, note: ts === undefined ? 'no tsnats figure' : 'no nats-server figure' };
    }
    const ratio = ts / ns;
    return { id, min, ratio, verdict: ratio >= min ? ('pass' as const) : ('below' as const) };
  });
}

export function ratioCheckTable(v: RatioVerdict[]): string {
  if (v.every((x) => x.verdict === 'not-run')) return 'No row of this run has a target (bench/e2e/targets.ts): nothing checked.';
  const lines = ['| Row | ratio | target | verdict |', '|---|---:|---:|---|'];
  for (const x of v) {
    if (x.verdict === 'not-run') continue;
    const verdict = x.verdict === 'pass' ? 'ok' : x.verdict === 'below' ? '**below target**' : `**no figure** (${x.note ?? ''})`;
    lines.push(`| ${x.id} | ${x.ratio === null ? '—' : `${x.ratio.toFixed(2)}x`} | ${x.min.toFixed(2)}x | ${verdict} |`);
  }
  const skipped = v.filter((x) => x.verdict === 'not-run').map((x) => x.id);
  if (skipped.length > 0) lines.push('', `Not in this run (not checked): ${skipped.join(', ')}.`);
  return lines.join('\n');
}
