// Post-processing of V8 .cpuprofile files written by `node --cpu-prof` (the --flame mode of run.ts):
// a "top functions by self time" summary and a folded-stacks file (one "a;b;c count" line per stack,
// the input format of flamegraph.pl, speedscope and inferno), plus the pieces flamegraph-svg.ts uses
// to merge the shard threads' profiles into one flamegraph.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime?: number;
  endTime?: number;
  samples?: number[];
}

/** One sampled stack, outermost frame first, and how many samples ended in it. */
export interface Stack {
  frames: string[];
  hits: number;
}

export interface LoadedProfile {
  file: string;
  /** From node's file name CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile; tid 0 is the main thread. */
  pid: number;
  tid: number;
  /** Stacks with at least one sample; `(idle)` is among them (a stack of its own). */
  stacks: Stack[];
  totalSamples: number;
  idleSamples: number;
  /** Wall time the profile covers, in µs. */
  durationUs: number;
  /** The thread ran tsnats's shard code (src/shard/): a shard worker, or the single in-process shard. */
  isShard: boolean;
  /** Ran the JetStream worker (src/jetstream/link.ts drained its rings). */
  isJetStream: boolean;
}

function frameName(cf: CallFrame, root: string): string {
  const fn = cf.functionName !== '' ? cf.functionName : '(anonymous)';
  if (cf.url === '') return fn;
  const file = cf.url.startsWith('file://') ? relative(root, new URL(cf.url).pathname) : cf.url;
  return `${fn} ${file}:${cf.lineNumber + 1}`;
}

export function loadProfile(file: string, root: string): LoadedProfile {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks: Stack[] = [];
  let total = 0;
  let idle = 0;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    if (n.callFrame.functionName === '(idle)') idle += hits;
    const frames: string[] = [];
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined || node.callFrame.functionName === '(root)') break;
      frames.push(frameName(node.callFrame, root).replace(/;/g, ':'));
    }
    stacks.push({ frames: frames.reverse(), hits });
  }
  const m = /\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(basename(file));
  return {
    file,
    pid: m !== null ? Number(m[1]) : 0,
    tid: m !== null ? Number(m[2]) : 0,
    stacks,
    totalSamples: total,
    idleSamples: idle,
    durationUs: prof.endTime !== undefined && prof.startTime !== undefined ? prof.endTime - prof.startTime : 0,
    isShard: prof.nodes.some((n) => /\/src\/shard\/(shard|client)\.[jt]s$/.test(n.callFrame.url)),
    isJetStream: prof.nodes.some((n) => /\/src\/jetstream\/link\.[jt]s$/.test(n.callFrame.url)),
  };
}

/** Self samples per frame over the busy (non-idle) samples of the given profiles, hottest first. */
export function selfTime(profiles: LoadedProfile[]): { busy: number; frames: Array<{ name: string; hits: number; pct: number }> } {
  const self = new Map<string, number>();
  let busy = 0;
  for (const p of profiles) {
    for (const s of p.stacks) {
      const leaf = s.frames[s.frames.length - 1] ?? '(root)';
      if (leaf === '(idle)') continue;
      busy += s.hits;
      self.set(leaf, (self.get(leaf) ?? 0) + s.hits);
    }
  }
  const frames = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, hits]) => ({ name, hits, pct: (hits / Math.max(1, busy)) * 100 }));
  return { busy, frames };
}

/** Writes `<file>.folded` next to the profile and returns the top self-time lines. */
export function summarizeProfile(file: string, root: string, top = 15): string[] {
  const p = loadProfile(file, root);
  writeFileSync(`${file}.folded`, p.stacks.map((s) => `${s.frames.join(';')} ${s.hits}`).join('\n') + '\n');
  const { busy, frames } = selfTime([p]);
  return [
    `busy ${((busy / Math.max(1, p.totalSamples)) * 100).toFixed(0)}% of ${p.totalSamples} samples; share of busy samples:`,
    ...frames.slice(0, top).map((f) => `${f.pct.toFixed(1).padStart(5)}%  ${f.name}`),
  ];
}
