// Post-processing of V8 .cpuprofile files written by `node --cpu-prof` (the --flame mode of run.ts):
// a "top functions by self time" summary and a folded-stacks file (one "a;b;c count" line per stack,
// the input format of flamegraph.pl, speedscope and inferno).
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

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
}

function frameName(cf: CallFrame, root: string): string {
  const fn = cf.functionName !== '' ? cf.functionName : '(anonymous)';
  if (cf.url === '') return fn;
  const file = cf.url.startsWith('file://') ? relative(root, new URL(cf.url).pathname) : cf.url;
  return `${fn} ${file}:${cf.lineNumber + 1}`;
}

/** Writes `<file>.folded` next to the profile and returns the top self-time lines. */
export function summarizeProfile(file: string, root: string, top = 15): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  let total = 0;
  const folded: string[] = [];
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const name = frameName(n.callFrame, root);
    self.set(name, (self.get(name) ?? 0) + hits);
    const stack: string[] = [];
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined || node.callFrame.functionName === '(root)') break;
      stack.push(frameName(node.callFrame, root).replace(/;/g, ':'));
    }
    folded.push(`${stack.reverse().join(';')} ${hits}`);
  }
  writeFileSync(`${file}.folded`, folded.join('\n') + '\n');
  // Percentages of the busy samples; idle time is reported once.
  const idle = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  const busy = Math.max(1, total - idle);
  return [
    `busy ${((busy / Math.max(1, total)) * 100).toFixed(0)}% of ${total} samples; share of busy samples:`,
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => `${((hits / busy) * 100).toFixed(1).padStart(5)}%  ${name}`),
  ];
}
