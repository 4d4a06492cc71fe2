// `npm run bench -- --hops <scenario>`: reads the per-thread histograms a tsnats started with
// TSNATS_HOPTRACE=<dir> wrote (src/monitor/hoptrace.ts), merges them per hop (the shards' figures
// together: "shard 0" and "shard 1" are both "shard") and renders the table.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface HistJson {
  n: number;
  sum: number;
  max: number;
  buckets: [number, number][];
}

export interface HopRow {
  hop: string;
  n: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

const SUB = 8;

/** The order of a message's path; anything else goes after, alphabetically. */
const ORDER = [
  /^shard: parse \+ route/,
  /^shard: socket read → ring publish/,
  /^shard: ring publish that rings/,
  /^shard: socket read → socket write/,
  /^ring shard→jetstream: .*doorbell/,
  /^ring shard→jetstream: .*awake/,
  /^jetstream: one ring drain/,
  /^jetstream: ring drain → ring publish/,
  /^jetstream: Stream\.process/,
  /^jetstream: store append/,
  /^jetstream: file store/,
  /^jetstream: ring publish that rings/,
  /^ring jetstream→shard: .*doorbell/,
  /^ring jetstream→shard: .*awake/,
  /^ring shard→shard: .*doorbell/,
  /^ring shard→shard: .*awake/,
  /^shard: one ring drain/,
  /^shard: ring drain → socket write/,
  /^shard: ring drain → ring publish/,
];

function rank(hop: string): number {
  const i = ORDER.findIndex((re) => re.test(hop));
  return i < 0 ? ORDER.length : i;
}

/** Merges every hops-*.json under `dir`; null when there are none. */
export function loadHops(dir: string): HopRow[] | null {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => /^hops-.*\.json$/.test(f));
  if (files.length === 0) return null;
  const merged = new Map<string, { n: number; sum: number; max: number; counts: Map<number, number> }>();
  for (const f of files) {
    let data: { hops: Record<string, HistJson> };
    try {
      data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { hops: Record<string, HistJson> };
    } catch {
      continue; // caught mid-write: the next dump of that thread is there too, or not at all
    }
    for (const [name, h] of Object.entries(data.hops)) {
      const hop = name.replace(/^shard \d+:/, 'shard:');
      const m = merged.get(hop) ?? { n: 0, sum: 0, max: 0, counts: new Map<number, number>() };
      m.n += h.n;
      m.sum += h.sum;
      m.max = Math.max(m.max, h.max);
      for (const [i, c] of h.buckets) m.counts.set(i, (m.counts.get(i) ?? 0) + c);
      merged.set(hop, m);
    }
  }
  const rows: HopRow[] = [];
  for (const [hop, m] of merged) {
    if (m.n === 0) continue;
    const sorted = [...m.counts.entries()].sort((a, b) => a[0] - b[0]);
    const q = (p: number): number => {
      const want = p * m.n;
      let seen = 0;
      for (const [i, c] of sorted) {
        seen += c;
        if (seen >= want) return Math.min(m.max, 2 ** ((i + 0.5) / SUB)) / 1000;
      }
      return m.max / 1000;
    };
    rows.push({ hop, n: m.n, meanUs: m.sum / m.n / 1000, p50Us: q(0.5), p90Us: q(0.9), p99Us: q(0.99), maxUs: m.max / 1000 });
  }
  return rows.sort((a, b) => rank(a.hop) - rank(b.hop) || a.hop.localeCompare(b.hop));
}

function us(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)} ms` : x >= 10 ? x.toFixed(0) : x.toFixed(1);
}

export function hopsTable(rows: HopRow[]): string {
  const out = ['| hop | count | mean µs | p50 µs | p90 µs | p99 µs | max µs |', '|---|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) out.push(`| ${r.hop} | ${r.n.toLocaleString('en-US')} | ${us(r.meanUs)} | ${us(r.p50Us)} | ${us(r.p90Us)} | ${us(r.p99Us)} | ${us(r.maxUs)} |`);
  return out.join('\n');
}
