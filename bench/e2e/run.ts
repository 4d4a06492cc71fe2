// End-to-end benchmark: tsnats vs nats-server. `npm run bench -- --help` for the flags.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { killAllWorkers, runOnce, type RunResult } from './engine.js';
import { hopsTable, loadHops } from './hops.js';
import { ratioCheck, ratioCheckTable } from './targets.js';
import {
  computeHeadroom,
  fastest16,
  fmtRate,
  markdown,
  selftestTable,
  serverTable,
  summarize,
  type BenchReport,
  type Headroom,
  type RowResult,
  type TargetResult,
} from './report.js';
import { buildTree, renderFlameSvg } from './flamegraph-svg.js';
import { loadProfile, selfTime, summarizeProfile, type LoadedProfile } from './profile.js';
import { selectScenarios, targetsFor } from './scenarios.js';
import {
  findNatsServer,
  killAllServers,
  natsServerVersion,
  repoRoot,
  startServer,
  targetLabel,
  tsnatsBuilt,
  tsnatsMain,
  type RunningServer,
  type TargetSpec,
} from './servers.js';

const USAGE = `usage: npm run bench -- [options] [scenario ...]
  scenario ...           same as --only (e.g. \`npm run flame -- fanout-4\`)
  --quick                fewer, shorter runs (3 runs of 1 s); the whole quick run stays under ~5 minutes
  --runs N               measured runs per server and scenario (default 5, quick 3)
  --duration S           seconds per measured run (default 3, quick 1)
  --only a,b             scenarios by id or id prefix (e.g. pubsub, req, shards, selftest)
  --server WHICH         tsnats | nats-server | both (default both)
  --selftest             same as --only selftest: load-generator capacity against trivial sinks
  --shards N             start the tsnats of the ordinary rows with --shards N (default: tsnats's own default);
                         the shards-* rows always sweep --shards 1 and 2
  --flame                profile tsnats with node --cpu-prof (tsnats only, 1 run, default --only pubsub-16);
                         .cpuprofile files go to bench/results/tmp/flame-<time>/ (no results file written),
                         and the shard threads' profiles, merged, become flamegraphs/<scenario>.svg
  --cpu-prof-interval US with --flame: node's sampling interval in µs (default 1000)
  --ratio-check          after the run, compare each row of issue 18's acceptance list with its target ratio
                         (bench/e2e/targets.ts); exit status 3 when one is below (or has no figure)
  --hops                 per-hop latency of tsnats (TSNATS_HOPTRACE; tsnats only, 1 run, default --only js-pub-sync-128):
                         histograms per hop (socket read → ring → JetStream → store → ring → socket write), table
                         printed and written to bench/results/<date>-<commit>-hops-<ids>.md; not for ratios
  --update-readme        also put this run's tables into bench/README.md ("Latest results")
  --no-save              do not write bench/results/<date>-<commit>.{md,json}
  --list                 list the scenarios and exit
`;

interface Options {
  quick: boolean;
  runs: number;
  durationMs: number;
  warmupMs: number;
  only: string[] | undefined;
  server: 'tsnats' | 'nats-server' | 'both';
  flame: boolean;
  save: boolean;
  shards: number | undefined;
  updateReadme: boolean;
  cpuProfIntervalUs: number | undefined;
  ratioCheck: boolean;
  hops: boolean;
}

function parseArgs(argv: string[]): Options {
  let quick = false;
  let runs: number | undefined;
  let duration: number | undefined;
  let only: string[] | undefined;
  let server: Options['server'] = 'both';
  let flame = false;
  let save = true;
  let shards: number | undefined;
  let updateReadme = false;
  let cpuProfIntervalUs: number | undefined;
  let ratioCheck = false;
  let hops = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => inline ?? val();
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--runs':
        runs = Number(value());
        if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
        break;
      case '--duration':
        duration = Number(value());
        if (!(duration > 0)) throw new Error('--duration takes seconds > 0');
        break;
      case '--only':
        only = [...(only ?? []), ...value().split(',').map((s) => s.trim()).filter((s) => s !== '')];
        break;
      case '--selftest':
        only = [...(only ?? []), 'selftest'];
        break;
      case '--server': {
        const v = value();
        if (v !== 'tsnats' && v !== 'nats-server' && v !== 'both') throw new Error('--server takes tsnats, nats-server or both');
        server = v;
        break;
      }
      case '--shards':
        shards = Number(value());
        if (!Number.isInteger(shards) || shards < 1) throw new Error('--shards takes a positive integer');
        break;
      case '--flame':
        flame = true;
        break;
      case '--cpu-prof-interval':
        cpuProfIntervalUs = Number(value());
        if (!Number.isInteger(cpuProfIntervalUs) || cpuProfIntervalUs < 1) throw new Error('--cpu-prof-interval takes microseconds (a positive integer)');
        break;
      case '--update-readme':
        updateReadme = true;
        break;
      case '--ratio-check':
        ratioCheck = true;
        break;
      case '--hops':
        hops = true;
        break;
      case '--no-save':
        save = false;
        break;
      case '--list':
        for (const s of selectScenarios(undefined, false)) process.stdout.write(`${s.id.padEnd(26)} ${s.quick ? '      ' : '(full)'} ${s.desc}\n`);
        process.exit(0);
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        if (!a.startsWith('-')) {
          // A bare word is a scenario id or prefix: `npm run flame -- fanout-4`.
          only = [...(only ?? []), ...a.split(',').map((x) => x.trim()).filter((x) => x !== '')];
          break;
        }
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (flame && hops) throw new Error('--flame and --hops do not go together (the instrumentation would be in the profile)');
  if (flame || hops) {
    server = 'tsnats';
    runs ??= 1;
    only ??= [flame ? 'pubsub-16' : 'js-pub-sync-128'];
    save = false;
  }
  const durationMs = (duration ?? (quick ? 1 : 3)) * 1000;
  if (cpuProfIntervalUs !== undefined && !flame) throw new Error('--cpu-prof-interval goes with --flame');
  return { quick, runs: runs ?? (quick ? 3 : 5), durationMs, warmupMs: quick ? 500 : 1000, only, server, flame, save, shards, updateReadme, cpuProfIntervalUs, ratioCheck, hops };
}

function log(s: string): void {
  process.stderr.write(s + '\n');
}

function gitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'nocommit', dirty: true };
  }
}

function natsJsVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'nats', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

function localDate(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Fastest 16 B figures from the newest results file, for a self-test run on its own. */
function previousFastest(resultsDir: string, exclude: string): { ref: Pick<Headroom, 'fastestPub16' | 'fastestSub16'>; from: string } | null {
  if (!existsSync(resultsDir)) return null;
  const files = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && join(resultsDir, f) !== exclude)
    .map((f) => ({ f, t: statSync(join(resultsDir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .map((x) => x.f);
  for (const f of files) {
    try {
      const rep = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as Partial<BenchReport>;
      const ref = fastest16(rep.rows ?? []);
      if (ref.fastestPub16 !== undefined || ref.fastestSub16 !== undefined) return { ref, from: `bench/results/${f}` };
    } catch {
      /* skip */
    }
  }
  return null;
}

function describe(r: RunResult): string {
  const lat = r.latency !== undefined ? ` p50 ${r.latency.p50Us.toFixed(0)}µs p99 ${r.latency.p99Us.toFixed(0)}µs` : '';
  const placed = r.placementAttempts !== undefined ? `, placement took ${r.placementAttempts} connection(s)` : '';
  return r.ok
    ? `${fmtRate(r.msgsPerSec)} msgs/s${lat}, server cpu ${r.serverCpuS.toFixed(2)}s, gen cpu ${r.genCpuS.toFixed(2)}s${placed}`
    : `FAILED: ${r.error ?? 'unknown error'}`;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const opts = parseArgs(process.argv.slice(2));
  let server = opts.server;
  const natsBin = findNatsServer();
  if (natsBin === null && server !== 'tsnats') {
    log('nats-server was not found on $PATH (or $NATS_SERVER_BIN). Install it to get the comparison, e.g.:');
    log('  apt-get install nats-server      (Debian/Ubuntu)');
    log('  or download a release from https://github.com/nats-io/nats-server/releases and put it on $PATH');
    log('Running tsnats alone.');
    server = 'tsnats';
  }
  if (!tsnatsBuilt() && server !== 'nats-server') log(`warning: ${tsnatsMain} does not exist yet; tsnats rows will be n/a`);
  if (opts.runs < 3) log(`note: --runs ${opts.runs}: fewer than 3 runs per server, medians are not robust`);

  const scenarios = selectScenarios(opts.only, opts.quick);
  const flameDir = opts.flame ? join(repoRoot, 'bench', 'results', 'tmp', `flame-${new Date().toISOString().replace(/[:.]/g, '-')}`) : undefined;
  const hopsDir = opts.hops ? join(repoRoot, 'bench', 'results', 'tmp', `hops-${new Date().toISOString().replace(/[:.]/g, '-')}`) : undefined;
  /** --hops: per scenario (and tsnats configuration), the merged hop table and the client-side latency. */
  const hopReports: Array<{ id: string; title: string; label: string; table: string; client: string }> = [];
  // js-fetch: messages per run, in proportion to the run's length (the fill happens once per server).
  const fetchMsgs = Math.max(5_000, Math.round((20_000 * opts.durationMs) / 1000));
  const rows: RowResult[] = [];
  const failures: string[] = [];
  /** --flame: which tsnats process (pid) ran which scenario and configuration. */
  const profiled: FlameTarget[] = [];
  const git = gitInfo();
  const resultsDir = join(repoRoot, 'bench', 'results');
  // The whole set writes <date>-<commit>; a subset gets a suffix so it never overwrites a full run's file.
  const suffix = [
    opts.quick ? 'quick' : '',
    server !== 'both' ? server : '',
    opts.shards !== undefined ? `shards${opts.shards}` : '',
    opts.only !== undefined ? `only-${opts.only.join('+').replace(/[^A-Za-z0-9+_-]/g, '')}`.slice(0, 60) : '',
  ].filter((x) => x !== '');
  const base = join(resultsDir, [`${localDate()}-${git.commit}`, ...suffix].join('-'));

  const loadAtStart = os.loadavg();
  const load1 = loadAtStart[0] ?? 0;
  if (load1 > 0.5 * os.cpus().length) log(`note: load average is ${load1.toFixed(2)} on ${os.cpus().length} cores; other work on the machine makes the numbers noisy`);
  log(
    `tsnats bench: ${scenarios.length} scenario(s), ${opts.runs} run(s) × ${opts.durationMs / 1000}s per server, warm-up ${opts.warmupMs / 1000}s, ` +
      `servers: ${server}${natsBin !== null && server !== 'tsnats' ? ` (${natsBin})` : ''}`,
  );

  for (const [si, sc] of scenarios.entries()) {
    const tag = `[${String(si + 1).padStart(2)}/${scenarios.length}] ${sc.id}`;
    const specs: Array<TargetSpec | null> = sc.targets === 'none' ? [null] : targetsFor(sc, server, opts.shards);
    if (specs.length === 0) {
      log(`${tag}: skipped (no target for --server ${server})`);
      continue;
    }
    const row: RowResult = {
      id: sc.id,
      title: sc.title,
      desc: sc.desc,
      metric: sc.metric,
      kind: sc.kind,
      size: sc.size,
      ...(sc.refScenario !== undefined ? { refScenario: sc.refScenario } : {}),
      ...(sc.targets === 'servers-shards' ? { sweep: true } : {}),
      targets: [],
    };
    rows.push(row);
    const active: Array<{ tr: TargetResult; srv: RunningServer | null; storeDir?: string; hopDir?: string }> = [];
    for (const spec of specs) {
      const tr: TargetResult = {
        label: spec === null ? 'generator' : targetLabel(spec),
        kind: spec === null ? 'generator' : spec.kind,
        ...(spec?.shards !== undefined ? { shards: spec.shards } : {}),
        status: 'ok',
        runs: [],
      };
      row.targets.push(tr);
      if (spec === null) {
        active.push({ tr, srv: null });
        continue;
      }
      // JetStream rows: both servers with -js and a store directory of their own, removed afterwards.
      const storeDir = sc.jetstream === true ? mkdtempSync(join(os.tmpdir(), 'tsnats-bench-js-')) : undefined;
      const hopDir = hopsDir !== undefined && spec.kind === 'tsnats' ? join(hopsDir, `${sc.id}-${active.length}`) : undefined;
      try {
        const srv = await startServer(spec, {
          ...(natsBin !== null ? { natsServerBin: natsBin } : {}),
          ...(flameDir !== undefined && spec.kind === 'tsnats' ? { cpuProfDir: flameDir } : {}),
          ...(opts.cpuProfIntervalUs !== undefined ? { cpuProfIntervalUs: opts.cpuProfIntervalUs } : {}),
          ...(storeDir !== undefined ? { extraArgs: ['-js', '-sd', storeDir] } : {}),
          ...(hopDir !== undefined ? { env: { TSNATS_HOPTRACE: hopDir } } : {}),
        });
        const shardsLine = /Started (\d+) shards?/.exec(srv.output());
        if (spec.kind === 'tsnats' && shardsLine !== null) tr.reportedShards = Number(shardsLine[1]);
        log(`${tag}: started ${srv.label} on port ${srv.port} (pid ${srv.pid}${tr.reportedShards !== undefined ? `, ${tr.reportedShards} shard(s)` : ''})`);
        if (flameDir !== undefined && spec.kind === 'tsnats') {
          const suffix = [
            spec.shards !== undefined && (opts.shards !== undefined || sc.targets !== 'servers') ? `shards${spec.shards}` : '',
            spec.placement ?? '',
          ].filter((x) => x !== '');
          profiled.push({ pid: srv.pid, scenario: sc.id, title: sc.title, label: srv.label, shards: tr.reportedShards ?? spec.shards, name: [sc.id, ...suffix].join('-'), tr, jetstream: sc.jetstream === true });
        }
        active.push({ tr, srv, ...(storeDir !== undefined ? { storeDir } : {}), ...(hopDir !== undefined ? { hopDir } : {}) });
      } catch (e) {
        if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true });
        tr.status = 'n/a';
        tr.note = (e as Error).message;
        log(`${tag}: ${tr.label} n/a — ${tr.note}`);
      }
    }

    const runOn = async (a: { tr: TargetResult; srv: RunningServer | null }, durationMs: number): Promise<RunResult> => {
      if (a.srv !== null && a.srv.exited()) {
        const tail = a.srv.output().trim().split('\n').slice(-5).join(' | ');
        return failedResult(`${a.tr.label} is no longer running (${a.srv.proc.exitCode ?? a.srv.proc.signalCode}); last output: ${tail}`);
      }
      const outBefore = a.srv?.output().length ?? 0;
      const target =
        a.srv !== null
          ? {
              port: a.srv.port,
              pid: a.srv.pid,
              fetchMsgs,
              ...(a.srv.spec.placement !== undefined ? { placement: a.srv.spec.placement } : {}),
              ...(a.srv.subPort !== undefined ? { subPort: a.srv.subPort } : {}),
              ...(a.srv.extraPids !== undefined ? { extraPids: a.srv.extraPids } : {}),
              ...(a.srv.waitInterest !== undefined ? { waitInterest: a.srv.waitInterest } : {}),
            }
          : { port: 0, fetchMsgs };
      const r = await runOnce(sc, target, durationMs);
      if (!r.ok && a.srv !== null) {
        // Attach what the server logged about it (warnings, errors, slow consumers) during this run.
        const lines = a.srv
          .output()
          .slice(outBefore)
          .split('\n')
          .filter((l) => /\[(WRN|ERR|FTL)\]|slow consumer|error/i.test(l));
        if (lines.length > 0) {
          const shown = lines.slice(0, 3).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, '').trim());
          r.error = `${r.error ?? ''} [server log: ${shown.join(' | ')}${lines.length > 3 ? ` | … ${lines.length - 3} more` : ''}]`;
        }
      }
      return r;
    };

    try {
      // Warm-up: one short unmeasured run per target (JIT, connection setup); a target failing it is skipped.
      for (const a of active) {
        if (opts.warmupMs <= 0) break;
        const w = await runOn(a, opts.warmupMs);
        a.tr.warmup = w;
        if (!w.ok) {
          a.tr.status = 'fail';
          a.tr.note = `warm-up failed: ${w.error ?? 'unknown'}`;
          log(`${tag} · ${a.tr.label} · warm-up FAILED: ${w.error ?? ''}`);
        }
      }
      const measured = active.filter((a) => a.tr.status === 'ok');
      for (let i = 0; i < opts.runs; i++) {
        // Alternate the order each round (A B, B A, A B, ...) so drift and warm caches hit both servers alike.
        const order = i % 2 === 0 ? measured : [...measured].reverse();
        for (const a of order) {
          const r = await runOn(a, opts.durationMs);
          a.tr.runs.push(r);
          log(`${tag} · ${a.tr.label} · run ${i + 1}/${opts.runs} · ${describe(r)}`);
        }
      }
    } finally {
      for (const a of active) {
        if (a.srv !== null) {
          if (a.srv.exited()) {
            const msg = `${sc.id}: ${a.tr.label} exited during the scenario (${a.srv.proc.exitCode ?? a.srv.proc.signalCode}); last output: ${a.srv.output().trim().split('\n').slice(-5).join(' | ')}`;
            log(`${tag}: ${msg}`);
            a.tr.note ??= msg;
          }
          await a.srv.stop();
        }
        if (a.storeDir !== undefined) rmSync(a.storeDir, { recursive: true, force: true });
        if (a.hopDir !== undefined) {
          const hops = loadHops(a.hopDir);
          const lat = a.tr.runs.filter((r) => r.ok && r.latency !== undefined).map((r) => `p50 ${r.latency!.p50Us.toFixed(0)} µs, p99 ${r.latency!.p99Us.toFixed(0)} µs`);
          const client = lat.length > 0 ? `client-side round trip per run: ${lat.join('; ')}` : 'no client-side latency for this scenario';
          if (hops === null) log(`${tag}: --hops: no hop files in ${a.hopDir} (was tsnats built with the instrumentation?)`);
          else hopReports.push({ id: sc.id, title: sc.title, label: a.tr.label, table: hopsTable(hops), client });
        }
      }
    }
    for (const tr of row.targets) {
      summarize(tr);
      if (tr.status === 'fail' || tr.status === 'partial') {
        const errs = [...new Set([tr.note, ...tr.runs.filter((r) => !r.ok).map((r) => r.error)].filter((x): x is string => x !== undefined))];
        failures.push(`${sc.id} on ${tr.label}: ${tr.status === 'fail' ? 'FAILED' : 'some runs failed'}: ${errs.join(' / ')}`);
      }
    }
  }

  const prev = previousFastest(resultsDir, `${base}.json`);
  const headroom = computeHeadroom(rows, prev?.ref ?? null, prev?.from ?? null);
  const report: BenchReport = {
    date: localDate(),
    commit: git.commit,
    dirty: git.dirty,
    mode: opts.quick ? 'quick' : 'full',
    runs: opts.runs,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    servers: server === 'both' ? 'tsnats and nats-server' : server,
    ...(opts.shards !== undefined ? { tsnatsShards: opts.shards } : {}),
    ...(process.env.TSNATS_MAIN !== undefined && process.env.TSNATS_MAIN !== '' ? { tsnatsMain: relative(repoRoot, process.env.TSNATS_MAIN) } : {}),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      loadavg: loadAtStart,
      loadavgAtEnd: os.loadavg(),
      os: `${os.type()} ${os.release()}`,
    },
    node: process.version,
    natsServer: natsBin !== null ? natsServerVersion(natsBin) : 'nats-server not found',
    natsJs: natsJsVersion(),
    rows,
    headroom,
    failures,
    wallS: (Date.now() - t0) / 1000,
  };

  if (rows.some((r) => r.kind !== 'self-pub' && r.kind !== 'self-sub')) process.stdout.write('\n' + serverTable(rows) + '\n');
  const st = selftestTable(rows);
  if (st !== '') {
    process.stdout.write('\n' + st + '\n');
    for (const t of headroom.text) process.stdout.write(`  ${t}\n`);
  }
  if (opts.ratioCheck) {
    report.ratioCheck = ratioCheck(rows);
    process.stdout.write('\nRatio check (targets: bench/e2e/targets.ts):\n\n' + ratioCheckTable(report.ratioCheck) + '\n');
  }
  if (hopReports.length > 0) {
    const parts: string[] = [
      `# tsnats per-hop latency — ${report.date} (${git.commit}${git.dirty ? ', uncommitted changes' : ''})`,
      '',
      `\`npm run bench -- --hops ${(opts.only ?? []).join(',')}\` (${opts.runs} run(s) of ${opts.durationMs / 1000}s after a ${opts.warmupMs / 1000}s warm-up; warm-up included in the histograms). ` +
        `Machine: ${report.machine.cpus} cores, load average at start ${report.machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}. ` +
        'tsnats ran with TSNATS_HOPTRACE (src/monitor/hoptrace.ts): the instrumentation itself costs a few µs per hop, so compare hops with each other, not with nats-server.',
      '',
    ];
    for (const h of hopReports) parts.push(`## ${h.id} — ${h.title} [${h.label}]`, '', h.client, '', h.table, '');
    const text = parts.join('\n');
    process.stdout.write('\n' + text + '\n');
    mkdirSync(resultsDir, { recursive: true });
    const hopsFile = join(resultsDir, `${localDate()}-${git.commit}-hops-${(opts.only ?? []).join('+').replace(/[^A-Za-z0-9+_-]/g, '').slice(0, 60)}.md`);
    writeFileSync(hopsFile, text);
    log(`wrote ${hopsFile}`);
  }
  if (failures.length > 0) {
    process.stdout.write('\nFAILURES:\n');
    for (const f of failures) process.stdout.write(`  - ${f}\n`);
  }
  if (opts.save) {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(`${base}.md`, markdown(report));
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
    log(`\nwrote ${base}.md and .json (${report.wallS.toFixed(0)}s)`);
  }
  if (opts.updateReadme) {
    const readme = join(repoRoot, 'bench', 'README.md');
    const text = readFileSync(readme, 'utf8');
    const start = '<!-- latest-results:start -->';
    const end = '<!-- latest-results:end -->';
    const a = text.indexOf(start);
    const b = text.indexOf(end);
    if (a < 0 || b < a) log(`--update-readme: markers ${start} / ${end} not found in ${readme}`);
    else {
      const body = markdown(report, false).replace(/^# .*\n/, `From \`bench/results/${base.slice(resultsDir.length + 1)}.md\` (${report.date}, ${report.commit}).\n`);
      writeFileSync(readme, `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`);
      log(`updated ${readme}`);
    }
  }
  if (flameDir !== undefined) {
    const profiles = existsSync(flameDir) ? readdirSync(flameDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (profiles.length > 0) {
      log(`\nCPU profiles (open in Chrome DevTools › Performance, or https://www.speedscope.app):`);
      for (const p of profiles) {
        const file = join(flameDir, p);
        log(`  ${file}`);
        try {
          const topLines = summarizeProfile(file, repoRoot);
          log(`    folded stacks (flamegraph.pl / speedscope / inferno): ${file}.folded`);
          log(`    top self time:`);
          for (const l of topLines) log(`      ${l}`);
        } catch (e) {
          log(`    (could not summarize: ${(e as Error).message})`);
        }
      }
      writeFlamegraphs(flameDir, profiled, opts, git);
    } else {
      log(`\nno .cpuprofile was written to ${flameDir}: node writes it only when the process exits normally; ` + 'tsnats must exit (process.exit / end of event loop) on SIGTERM rather than die from the signal.');
    }
  }
  const ratioMissed = report.ratioCheck?.some((v) => v.verdict === 'below' || v.verdict === 'no-figure') ?? false;
  process.exitCode = failures.length > 0 ? 1 : ratioMissed ? 3 : 0;
}

interface FlameTarget {
  pid: number;
  scenario: string;
  title: string;
  label: string;
  shards: number | undefined;
  /** File name without .svg. */
  name: string;
  tr: TargetResult;
  /** A JetStream row: the JetStream worker thread gets a flamegraph of its own (<name>-jsworker.svg). */
  jetstream: boolean;
}

/**
 * --flame: merges the shard threads' profiles of each profiled tsnats into flamegraphs/<name>.svg and
 * prints the merged top self-time frames.
 */
function writeFlamegraphs(flameDir: string, targets: FlameTarget[], opts: Options, git: { commit: string; dirty: boolean }): void {
  const files = readdirSync(flameDir).filter((f) => f.endsWith('.cpuprofile'));
  const outDir = join(repoRoot, 'flamegraphs');
  for (const t of targets) {
    const mine = files.filter((f) => new RegExp(`\\.${t.pid}\\.\\d+\\.\\d+\\.cpuprofile$`).test(f)).map((f) => loadProfile(join(flameDir, f), repoRoot));
    // The shard worker threads (tid > 0 running src/shard/); a tsnats without workers runs its one shard on the main thread.
    let shards = mine.filter((p) => p.tid > 0 && p.isShard);
    if (shards.length === 0) shards = mine.filter((p) => p.isShard);
    const groups: Array<{ profiles: LoadedProfile[]; file: string; what: string }> = [];
    if (shards.length > 0) groups.push({ profiles: shards, file: t.name, what: `${shards.length} shard thread${shards.length === 1 ? '' : 's'} merged` });
    else log(`\nflamegraph ${t.name}: no shard-thread profile among ${mine.length} profile(s) of pid ${t.pid}; nothing written`);
    if (t.jetstream) {
      const js = mine.filter((p) => p.isJetStream && !p.isShard);
      if (js.length > 0) groups.push({ profiles: js, file: `${t.name}-jsworker`, what: 'the JetStream worker thread' });
      else log(`\nflamegraph ${t.name}-jsworker: no JetStream worker profile among ${mine.length} profile(s) of pid ${t.pid}; nothing written`);
    }
    const rates = t.tr.runs.filter((r) => r.ok).map((r) => fmtRate(r.msgsPerSec));
    const cmd = `npm run flame -- ${t.scenario}${opts.shards !== undefined ? ` --shards ${opts.shards}` : ''}${opts.runs !== 1 ? ` --runs ${opts.runs}` : ''}${opts.durationMs !== 3000 ? ` --duration ${opts.durationMs / 1000}` : ''}${opts.cpuProfIntervalUs !== undefined ? ` --cpu-prof-interval ${opts.cpuProfIntervalUs}` : ''}`;
    for (const g of groups) {
      const total = g.profiles.reduce((a, p) => a + p.totalSamples, 0);
      const { busy, frames } = selfTime(g.profiles);
      const wallUs = g.profiles.reduce((a, p) => a + p.durationUs, 0);
      const intervalUs = total > 0 ? wallUs / total : 0;
      const svg = renderFlameSvg(buildTree(g.profiles.flatMap((p) => p.stacks), g.profiles.length > 1 ? 'all shard threads' : 'thread'), {
        title: `tsnats ${t.scenario}: ${t.title} — ${g.what}`,
        subtitle: [
          `${t.label}${t.shards !== undefined ? ` (${t.shards} shard${t.shards === 1 ? '' : 's'})` : ''}; ${opts.runs} measured run(s) of ${opts.durationMs / 1000}s after a ${opts.warmupMs / 1000}s warm-up; ${rates.length > 0 ? `measured ${rates.join(', ')} msgs/s under the profiler` : 'no run passed'}`,
          `${busy.toLocaleString('en-US')} busy samples of ${total.toLocaleString('en-US')} (${((busy / Math.max(1, total)) * 100).toFixed(0)}% of the thread time; idle left out), one per ~${intervalUs.toFixed(0)} µs`,
          `commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''}, ${localDate()}, Node ${process.version}: ${cmd}`,
        ],
      });
      mkdirSync(outDir, { recursive: true });
      const out = join(outDir, `${g.file}.svg`);
      writeFileSync(out, svg);
      log(`\nflamegraph: ${out} (${g.what}, ${busy} busy samples of ${total})`);
      log(`  top self time (share of busy samples):`);
      for (const f of frames.slice(0, 12)) log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
    }
  }
}

function failedResult(error: string): RunResult {
  return { ok: false, error, msgsPerSec: 0, pubMsgsPerSec: 0, perPubMsgsPerSec: 0, perSubMsgsPerSec: 0, sent: 0, delivered: 0, elapsedS: 0, serverCpuS: 0, genCpuS: 0 };
}

function cleanupAndExit(code: number): void {
  killAllWorkers();
  killAllServers();
  process.exit(code);
}
process.on('SIGINT', () => cleanupAndExit(130));
process.on('SIGTERM', () => cleanupAndExit(143));
process.on('exit', () => {
  killAllWorkers();
  killAllServers();
});

main().catch((e: unknown) => {
  log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  cleanupAndExit(2);
});

