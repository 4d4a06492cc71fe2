// Micro-benchmarks of the hot components with tinybench: the PUB parser, the subject sublist and the
// SPSC ring. `npm run bench:micro -- --help` for the flags. Prints a markdown table and writes it to
// bench/results/<date>-<commit>-micro.{md,json}.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { parserCases } from './parser.js';
import { routeParserCases } from './route-parser.js';
import { ringCases } from './ring.js';
import { sublistCases } from './sublist.js';
import { doorbellTable, runAllDoorbells, type DoorbellResult } from './doorbell.js';
import { sink, type MicroCase } from './types.js';

const USAGE = `usage: npm run bench:micro -- [options]
  --time MS       measuring time per case (default 1000; --quick 250)
  --quick         short run (250 ms per case)
  --only a,b      groups or case-name substrings: parser, sublist, ring, doorbell, "cache hit", ...
                  (doorbell: two threads, ring wake-up strategies; its own table, --time per case)
  --no-save       do not write bench/results/<date>-<commit>-micro.{md,json}
`;

const repoRoot = new URL('../../../', import.meta.url).pathname; // dist/bench/micro -> repo root

interface Row {
  group: string;
  name: string;
  unit: string;
  perIter: number;
  opsPerSec: number;
  nsPerOp: number;
  rmePct: number;
  samples: number;
  error?: string;
}

function parseArgs(argv: string[]): { timeMs: number; only: string[] | undefined; save: boolean; quick: boolean } {
  let timeMs: number | undefined;
  let only: string[] | undefined;
  let save = true;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--time') timeMs = Number(val());
    else if (a === '--quick') quick = true;
    else if (a === '--only') only = [...(only ?? []), ...val().split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')];
    else if (a === '--no-save') save = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (timeMs !== undefined && !(timeMs > 0)) throw new Error('--time takes milliseconds > 0');
  return { timeMs: timeMs ?? (quick ? 250 : 1000), only, save, quick };
}

function fmtOps(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e8 ? 0 : x >= 1e7 ? 1 : 2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

function fmtNs(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function git(args: string[], fallback: string): string {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return fallback;
  }
}

function localDate(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function table(rows: Row[]): string {
  const out = ['| Component | Case | ops/s | ns/op | ± | samples |', '|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    if (r.error !== undefined) out.push(`| ${r.group} | ${r.name} | **ERROR** | | | ${r.error} |`);
    else out.push(`| ${r.group} | ${r.name} | ${fmtOps(r.opsPerSec)} ${r.unit}/s | ${fmtNs(r.nsPerOp)} | ${r.rmePct.toFixed(1)}% | ${r.samples} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let cases: MicroCase[] = [...parserCases(), ...routeParserCases(), ...sublistCases(), ...ringCases()];
  const withDoorbell = opts.only === undefined || opts.only.includes('doorbell');
  if (opts.only !== undefined) {
    const only = opts.only;
    cases = cases.filter((c) => only.some((o) => c.group === o || c.name.toLowerCase().includes(o)));
    if (cases.length === 0 && !withDoorbell) throw new Error(`--only ${only.join(',')} selects no case`);
  }
  const load = os.loadavg()[0] ?? 0;
  if (load > 0.5 * os.cpus().length) process.stderr.write(`note: load average is ${load.toFixed(2)} on ${os.cpus().length} cores; the figures will be noisy\n`);

  const bench = new Bench({ time: opts.timeMs, warmupTime: Math.min(500, opts.timeMs / 2), warmupIterations: 20 });
  for (const c of cases) bench.add(`${c.group}: ${c.name}`, c.fn);
  process.stderr.write(`tsnats micro: ${cases.length} cases, ${opts.timeMs} ms each (after warm-up)${withDoorbell ? ', then the doorbell cases' : ''}\n`);
  const t0 = Date.now();
  if (cases.length > 0) {
    await bench.warmup();
    await bench.run();
  }
  const doorbells: DoorbellResult[] = withDoorbell ? await runAllDoorbells(opts.timeMs, (l) => process.stderr.write(l + '\n')) : [];

  const rows: Row[] = cases.map((c, i) => {
    const task = bench.tasks[i]!;
    const r = task.result;
    const base = { group: c.group, name: c.name, unit: c.unit, perIter: c.perIter };
    if (r === undefined || r.error !== undefined) {
      return { ...base, opsPerSec: 0, nsPerOp: 0, rmePct: 0, samples: 0, error: String(r?.error ?? 'no result') };
    }
    const row: Row = { ...base, opsPerSec: r.hz * c.perIter, nsPerOp: (r.mean * 1e6) / c.perIter, rmePct: r.rme, samples: r.samples.length };
    const bad = c.check?.() ?? null;
    if (bad !== null) row.error = bad;
    return row;
  });

  const commit = git(['rev-parse', '--short', 'HEAD'], 'nocommit');
  const dirty = git(['status', '--porcelain'], '') !== '';
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, ${os.type()} ${os.release()}; load average at start ${load.toFixed(2)}`;
  const text = rows.length > 0 ? table(rows) : '';
  const dbText = doorbells.length > 0 ? doorbellTable(doorbells) : '';
  process.stdout.write(`\n${text}${text !== '' && dbText !== '' ? '\n\n' : ''}${dbText}\n\n${machine}\n`);
  if (sink.n === 0 && rows.length > 0) process.stdout.write('(sink is 0: nothing matched?)\n');

  if (opts.save) {
    const dir = join(repoRoot, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `${localDate()}-${commit}-micro${opts.quick ? '-quick' : ''}${opts.only !== undefined ? '-only' : ''}`);
    const md = [
      `# tsnats micro-benchmarks — ${localDate()} (${commit}${dirty ? ', uncommitted changes' : ''})`,
      '',
      `tinybench ${tinybenchVersion()}, ${opts.timeMs} ms per case after warm-up. ops/s = tinybench's hz × operations per call; ns/op = mean time per call / operations per call; ± = relative margin of error of the per-call mean (95%).`,
      '',
      `Machine: ${machine}.`,
      '',
      text,
      '',
      ...(dbText !== ''
        ? ['Doorbell (bench/micro/doorbell.ts): two threads, a ring each way, 8-byte frames; CPU is the whole process (both threads).', '', dbText, '']
        : []),
    ].join('\n');
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.json`, JSON.stringify({ date: localDate(), commit, dirty, timeMs: opts.timeMs, machine, node: process.version, rows, doorbells }, null, 2) + '\n');
    process.stderr.write(`wrote ${base}.md and .json (${((Date.now() - t0) / 1000).toFixed(0)}s)\n`);
  }
  if (rows.some((r) => r.error !== undefined)) process.exitCode = 1;
}

function tinybenchVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'tinybench', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:micro: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
