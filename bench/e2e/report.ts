// Aggregation (medians over runs) and the markdown / JSON reports.
import type { RunResult } from './engine.js';
import type { Scenario } from './scenarios.js';
import { ratioCheckTable, type RatioVerdict } from './targets.js';

export interface Summary {
  /** Runs that passed verification (the medians are over these). */
  okRuns: number;
  totalRuns: number;
  msgsPerSec: number;
  pubMsgsPerSec: number;
  perPubMsgsPerSec: number;
  perSubMsgsPerSec: number;
  /** (max - min) / median of msgsPerSec over the ok runs, in percent. */
  spreadPct: number;
  p50Us?: number;
  p99Us?: number;
  serverCpuS: number;
  /** Server CPU microseconds per message (per request for request/reply). */
  serverCpuUsPerMsg: number;
  genCpuS: number;
}

export interface TargetResult {
  label: string;
  kind: 'tsnats' | 'nats-server' | 'generator';
  shards?: number;
  /** tsnats: the shard count its start-up log reported ("Started N shards"). */
  reportedShards?: number;
  /** ok: all runs verified; partial: some failed; fail: none passed; n/a: could not run (did not start). */
  status: 'ok' | 'partial' | 'fail' | 'n/a';
  note?: string;
  warmup?: RunResult;
  runs: RunResult[];
  summary?: Summary;
}

export interface RowResult {
  id: string;
  title: string;
  desc: string;
  metric: string;
  kind: Scenario['kind'];
  size: number;
  refScenario?: string;
  /** nats-server and tsnats --shards 1..N in one row (multi-publisher rows): one line per tsnats target. */
  sweep?: boolean;
  targets: TargetResult[];
}

export interface Headroom {
  fastestPub16?: { msgsPerSec: number; where: string };
  fastestSub16?: { msgsPerSec: number; where: string };
  genPub1?: number;
  genPub2?: number;
  genSub?: number;
  pubHeadroom?: number;
  subHeadroom?: number;
  pass?: boolean;
  text: string[];
}

export interface BenchReport {
  date: string;
  commit: string;
  dirty: boolean;
  mode: 'quick' | 'full';
  runs: number;
  durationMs: number;
  warmupMs: number;
  servers: string;
  /** Set when tsnats ran from $TSNATS_MAIN instead of dist/src/main.js. */
  tsnatsMain?: string;
  /** --shards given to tsnats in the ordinary rows (undefined: tsnats's default). */
  tsnatsShards?: number;
  machine: { cpus: number; model: string; memGiB: number; loadavg: number[]; loadavgAtEnd: number[]; os: string };
  node: string;
  natsServer: string;
  natsJs: string;
  rows: RowResult[];
  headroom: Headroom;
  failures: string[];
  wallS: number;
  /** --ratio-check: each targeted row's verdict (bench/e2e/targets.ts). */
  ratioCheck?: RatioVerdict[];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(t: TargetResult): void {
  const ok = t.runs.filter((r) => r.ok);
  if (t.status === 'n/a') return;
  if (ok.length === 0) {
    t.status = 'fail';
    return;
  }
  t.status = ok.length === t.runs.length ? 'ok' : 'partial';
  const rates = ok.map((r) => r.msgsPerSec);
  const med = median(rates);
  const lat = ok.filter((r) => r.latency !== undefined);
  t.summary = {
    okRuns: ok.length,
    totalRuns: t.runs.length,
    msgsPerSec: med,
    pubMsgsPerSec: median(ok.map((r) => r.pubMsgsPerSec)),
    perPubMsgsPerSec: median(ok.map((r) => r.perPubMsgsPerSec)),
    perSubMsgsPerSec: median(ok.map((r) => r.perSubMsgsPerSec)),
    spreadPct: med > 0 ? ((Math.max(...rates) - Math.min(...rates)) / med) * 100 : 0,
    serverCpuS: median(ok.map((r) => r.serverCpuS)),
    serverCpuUsPerMsg: median(ok.map((r) => (r.delivered > 0 ? (r.serverCpuS * 1e6) / Math.max(r.delivered, r.sent) : 0))),
    genCpuS: median(ok.map((r) => r.genCpuS)),
    ...(lat.length > 0 ? { p50Us: median(lat.map((r) => r.latency!.p50Us)), p99Us: median(lat.map((r) => r.latency!.p99Us)) } : {}),
  };
}

// ------------------------------------------------------------------------------------------ format

export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 1 : 2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`;
  return x.toFixed(0);
}

function fmtUs(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  return x >= 1000 ? `${(x / 1000).toFixed(2)}ms` : `${x.toFixed(0)}`;
}

function cell(t: TargetResult | undefined): string {
  if (t === undefined) return '—';
  if (t.status === 'n/a') return 'n/a';
  if (t.status === 'fail' || t.summary === undefined) return '**FAIL**';
  const s = t.summary;
  const partial = t.status === 'partial' ? ` (**${s.okRuns}/${s.totalRuns} ok**)` : '';
  return `${fmtRate(s.msgsPerSec)}${s.spreadPct > 15 ? ` ±${(s.spreadPct / 2).toFixed(0)}%` : ''}${partial}`;
}

function latCell(t: TargetResult | undefined): string {
  const s = t?.summary;
  if (s?.p50Us === undefined) return '';
  return `${fmtUs(s.p50Us)} / ${fmtUs(s.p99Us)}`;
}

function cpuCell(t: TargetResult | undefined): string {
  const s = t?.summary;
  if (s === undefined) return '';
  return `${s.serverCpuS.toFixed(2)} (${s.serverCpuUsPerMsg.toFixed(2)})`;
}

function ratio(a: TargetResult | undefined, b: TargetResult | undefined): string {
  const x = a?.summary?.msgsPerSec;
  const y = b?.summary?.msgsPerSec;
  if (x === undefined || y === undefined || !(y > 0)) return '';
  return `${(x / y).toFixed(2)}x`;
}

export function serverTable(rows: RowResult[]): string {
  const lines: string[] = [];
  lines.push('| Scenario | tsnats msgs/s | nats-server msgs/s | ratio | tsnats p50 / p99 µs | nats-server p50 / p99 µs | tsnats CPU s/run (µs/msg) | nats-server CPU s/run (µs/msg) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) {
    if (r.kind === 'self-pub' || r.kind === 'self-sub') continue;
    const ref = r.refScenario !== undefined ? byId.get(r.refScenario)?.targets.find((t) => t.kind === 'nats-server') : undefined;
    if (r.refScenario !== undefined) {
      // Shard sweep: one line per tsnats configuration, nats-server figure from the reference scenario.
      for (const t of r.targets) {
        const refCell = ref !== undefined ? `${cell(ref)} (ref: ${r.refScenario})` : '—';
        lines.push(`| ${r.title} [${t.label}] | ${cell(t)} | ${refCell} | ${ratio(t, ref)} | ${latCell(t)} | ${latCell(ref)} | ${cpuCell(t)} | ${cpuCell(ref)} |`);
      }
      continue;
    }
    const ns = r.targets.find((t) => t.kind === 'nats-server');
    if (r.sweep === true) {
      // One line per tsnats configuration, each against this row's own nats-server.
      for (const t of r.targets) {
        if (t.kind !== 'tsnats') continue;
        lines.push(`| ${r.title} [${t.label}] | ${cell(t)} | ${cell(ns)} | ${ratio(t, ns)} | ${latCell(t)} | ${latCell(ns)} | ${cpuCell(t)} | ${cpuCell(ns)} |`);
      }
      continue;
    }
    const ts = r.targets.find((t) => t.kind === 'tsnats');
    lines.push(`| ${r.title} | ${cell(ts)} | ${cell(ns)} | ${ratio(ts, ns)} | ${latCell(ts)} | ${latCell(ns)} | ${cpuCell(ts)} | ${cpuCell(ns)} |`);
  }
  return lines.join('\n');
}

export function selftestTable(rows: RowResult[]): string {
  const st = rows.filter((r) => r.kind === 'self-pub' || r.kind === 'self-sub');
  if (st.length === 0) return '';
  const lines = ['| Generator self-test | msgs/s | generator CPU s/run | sink/blaster CPU s/run |', '|---|---:|---:|---:|'];
  for (const r of st) {
    const t = r.targets[0];
    lines.push(`| ${r.title} | ${cell(t)} | ${t?.summary?.genCpuS.toFixed(2) ?? ''} | ${t?.summary?.serverCpuS.toFixed(2) ?? ''} |`);
  }
  return lines.join('\n');
}

/** Fastest per-publisher and per-subscriber rates any server reached at 16 B (raw load generator rows). */
export function fastest16(rows: RowResult[]): Pick<Headroom, 'fastestPub16' | 'fastestSub16'> {
  let pub: Headroom['fastestPub16'];
  let sub: Headroom['fastestSub16'];
  for (const r of rows) {
    if (r.kind !== 'flow' || r.size !== 16) continue;
    for (const t of r.targets) {
      const s = t.summary;
      if (s === undefined) continue;
      if (pub === undefined || s.perPubMsgsPerSec > pub.msgsPerSec) pub = { msgsPerSec: s.perPubMsgsPerSec, where: `${t.label} ${r.id}` };
      if (s.perSubMsgsPerSec > 0 && (sub === undefined || s.perSubMsgsPerSec > sub.msgsPerSec)) sub = { msgsPerSec: s.perSubMsgsPerSec, where: `${t.label} ${r.id}` };
    }
  }
  return { ...(pub !== undefined ? { fastestPub16: pub } : {}), ...(sub !== undefined ? { fastestSub16: sub } : {}) };
}

export function computeHeadroom(rows: RowResult[], fallback: Pick<Headroom, 'fastestPub16' | 'fastestSub16'> | null, fallbackFrom: string | null): Headroom {
  const gen = (id: string): number | undefined => rows.find((r) => r.id === id)?.targets[0]?.summary?.msgsPerSec;
  const h: Headroom = { text: [] };
  const g1 = gen('selftest-pub');
  const g2 = gen('selftest-pub2');
  const gs = gen('selftest-sub');
  if (g1 !== undefined) h.genPub1 = g1;
  if (g2 !== undefined) h.genPub2 = g2;
  if (gs !== undefined) h.genSub = gs;
  if (g1 === undefined && g2 === undefined && gs === undefined) return h;
  // Per side: this run's server figures when it has them, else the newest earlier results file's.
  const here = fastest16(rows);
  const ref: Pick<Headroom, 'fastestPub16' | 'fastestSub16'> = {};
  let pubFrom = 'this run';
  let subFrom = 'this run';
  if (here.fastestPub16 !== undefined) ref.fastestPub16 = here.fastestPub16;
  else if (fallback?.fastestPub16 !== undefined) {
    ref.fastestPub16 = fallback.fastestPub16;
    pubFrom = fallbackFrom ?? 'an earlier run';
  }
  if (here.fastestSub16 !== undefined) ref.fastestSub16 = here.fastestSub16;
  else if (fallback?.fastestSub16 !== undefined) {
    ref.fastestSub16 = fallback.fastestSub16;
    subFrom = fallbackFrom ?? 'an earlier run';
  }
  Object.assign(h, ref);
  const pubCap = Math.max(g1 ?? 0, g2 ?? 0);
  if (ref.fastestPub16 !== undefined && pubCap > 0) {
    h.pubHeadroom = pubCap / ref.fastestPub16.msgsPerSec;
    const which = (g2 ?? 0) > (g1 ?? 0) ? '2 publisher processes' : '1 publisher process';
    h.text.push(
      `pub side: ${fmtRate(pubCap)} msgs/s (${which}) vs fastest per-publisher server rate at 16 B ${fmtRate(ref.fastestPub16.msgsPerSec)} (${ref.fastestPub16.where}, ${pubFrom}): ${h.pubHeadroom.toFixed(1)}x headroom`,
    );
  }
  if (ref.fastestSub16 !== undefined && gs !== undefined) {
    h.subHeadroom = gs / ref.fastestSub16.msgsPerSec;
    h.text.push(
      `sub side: ${fmtRate(gs)} msgs/s vs fastest per-subscriber server rate at 16 B ${fmtRate(ref.fastestSub16.msgsPerSec)} (${ref.fastestSub16.where}, ${subFrom}): ${h.subHeadroom.toFixed(1)}x headroom`,
    );
  }
  if (h.pubHeadroom !== undefined || h.subHeadroom !== undefined) {
    h.pass = (h.pubHeadroom ?? Infinity) >= 3 && (h.subHeadroom ?? Infinity) >= 3;
    h.text.push(h.pass ? 'generator headroom ≥ 3x: OK' : 'generator headroom < 3x: the load generator may be the bottleneck; treat the fastest figures as lower bounds');
  } else {
    h.text.push('no server figures at 16 B to compare with (run the server scenarios, or keep an earlier results file in bench/results/)');
  }
  return h;
}

export function markdown(rep: BenchReport, withScenarios = true): string {
  const out: string[] = [];
  out.push(`# tsnats benchmark — ${rep.date} (${rep.commit}${rep.dirty ? ', uncommitted changes' : ''})`);
  out.push('');
  out.push(
    `Mode: ${rep.mode}, ${rep.runs} measured runs per server and scenario (alternating servers), ${rep.durationMs / 1000}s each, ` +
      `after a ${rep.warmupMs / 1000}s warm-up run. Servers: ${rep.servers}` +
      `${rep.tsnatsShards !== undefined ? ` (tsnats started with --shards ${rep.tsnatsShards})` : ''}. Wall time ${rep.wallS.toFixed(0)}s.`,
  );
  if (rep.tsnatsMain !== undefined) out.push(`tsnats ran from \`${rep.tsnatsMain}\` ($TSNATS_MAIN), not dist/.`);
  const reported = [...new Set(rep.rows.flatMap((r) => r.targets.filter((t) => t.kind === 'tsnats' && t.shards === undefined && t.reportedShards !== undefined).map((t) => t.reportedShards!)))];
  if (reported.length > 0) out.push(`tsnats rows without --shards ran with its default of ${reported.join(' / ')} shard(s) (from its start-up log).`);
  out.push('');
  out.push(
    `Machine: ${rep.machine.cpus} × ${rep.machine.model}, ${rep.machine.memGiB} GiB, ${rep.machine.os}; load average at start ${rep.machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${rep.machine.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')}. ` +
      `Node ${rep.node}; ${rep.natsServer}; nats.js ${rep.natsJs}. The load generator shares the cores with the servers: compare ratios, not absolute numbers.`,
  );
  out.push('');
  out.push('msgs/s is the median over the runs (± half the max–min spread when it exceeds 15%); ratio = tsnats median / nats-server median. ' +
    'Latency is request → reply (JetStream: publish → pub ack), medians of the per-run p50 / p99. CPU is utime+stime of the server process tree during one run (median), ' +
    'and in brackets per message delivered (per published message for pub-only, per request for request/reply).');
  out.push('');
  if (rep.rows.some((r) => r.kind !== 'self-pub' && r.kind !== 'self-sub')) {
    out.push(serverTable(rep.rows));
    out.push('');
  }
  const st = selftestTable(rep.rows);
  if (st !== '') {
    out.push(st);
    out.push('');
    for (const t of rep.headroom.text) out.push(`- ${t}`);
    out.push('');
  }
  if (withScenarios) {
    out.push('Scenarios:');
    out.push('');
    for (const r of rep.rows) out.push(`- \`${r.id}\` — ${r.desc} msgs/s = ${r.metric} per second.`);
    out.push('');
  }
  if (rep.ratioCheck !== undefined) {
    out.push('Ratio check (`--ratio-check`, targets in bench/e2e/targets.ts):');
    out.push('');
    out.push(ratioCheckTable(rep.ratioCheck));
    out.push('');
  }
  if (rep.failures.length > 0) {
    out.push('## Failures');
    out.push('');
    for (const f of rep.failures) out.push(`- ${f}`);
    out.push('');
  }
  return out.join('\n');
}
