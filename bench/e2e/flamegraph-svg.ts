// A small flamegraph renderer (no dependencies): merges sampled stacks (here: the shard threads'
// .cpuprofile files of one tsnats process) into a call tree and draws it as a standalone SVG in the
// manner of Brendan Gregg's flamegraph.pl: one rectangle per frame, width proportional to the samples
// spent in it and its callees, callers below callees (root at the bottom), the frame's name as text
// where it fits, and a <title> tooltip with the sample count and the share of all busy samples.
// Idle samples are left out; (program) and (garbage collector) stay (they are work the thread did).
import type { Stack } from './profile.js';

export interface FlameNode {
  name: string;
  /** Samples in this frame and its callees. */
  total: number;
  /** Samples in this frame itself. */
  self: number;
  children: Map<string, FlameNode>;
}

export function buildTree(stacks: Iterable<Stack>, rootName = 'all'): FlameNode {
  const root: FlameNode = { name: rootName, total: 0, self: 0, children: new Map() };
  for (const s of stacks) {
    if (s.hits <= 0) continue;
    if (s.frames.length === 1 && s.frames[0] === '(idle)') continue;
    root.total += s.hits;
    let node = root;
    for (const f of s.frames) {
      let child = node.children.get(f);
      if (child === undefined) {
        child = { name: f, total: 0, self: 0, children: new Map() };
        node.children.set(f, child);
      }
      child.total += s.hits;
      node = child;
    }
    node.self += s.hits;
  }
  return root;
}

export interface SvgOptions {
  title: string;
  /** Lines under the title (how it was made). */
  subtitle?: string[];
  width?: number;
  frameHeight?: number;
  fontSize?: number;
  /** Frames narrower than this many pixels are not drawn (nor their callees). */
  minWidthPx?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Deterministic 0..1 from a string (so a function keeps its colour from one graph to the next). */
function hash01(s: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return ((h >>> 0) % 1000) / 1000;
}

/** Colour by kind: tsnats code warm orange/red, Node's own JS yellow, V8/native builtins pink-red, VM states grey. */
function colour(name: string, isRoot: boolean): string {
  const fn = name.split(' ')[0] ?? name;
  const v1 = hash01(fn, 1);
  const v2 = hash01(fn, 2);
  if (isRoot || /^\((program|garbage collector|root)\)$/.test(name)) {
    const g = Math.round(180 + 40 * v1);
    return `rgb(${g},${g},${Math.round(g * 0.95)})`;
  }
  if (/ (dist\/)?src\//.test(name) || / bench\//.test(name)) return `rgb(${Math.round(220 + 35 * v1)},${Math.round(90 + 100 * v2)},${Math.round(30 + 30 * v1)})`;
  if (/ node:/.test(name)) return `rgb(${Math.round(210 + 40 * v1)},${Math.round(190 + 40 * v2)},${Math.round(60 + 40 * v1)})`;
  return `rgb(${Math.round(220 + 30 * v1)},${Math.round(100 + 60 * v2)},${Math.round(110 + 50 * v2)})`;
}

/** Renders the tree as an SVG document (a flame graph: the root at the bottom). */
export function renderFlameSvg(root: FlameNode, opts: SvgOptions): string {
  const width = opts.width ?? 1200;
  const fh = opts.frameHeight ?? 16;
  const fs = opts.fontSize ?? 11;
  const minW = opts.minWidthPx ?? 0.2;
  const pad = 10;
  const sub = opts.subtitle ?? [];
  const headH = 28 + sub.length * 15 + 8;
  const innerW = width - 2 * pad;
  const total = Math.max(1, root.total);
  const charW = fs * 0.6;

  // Depth of the deepest frame that is drawn.
  let maxDepth = 0;
  const depthOf = (n: FlameNode, d: number): void => {
    if ((n.total / total) * innerW < minW) return;
    if (d > maxDepth) maxDepth = d;
    for (const c of n.children.values()) depthOf(c, d + 1);
  };
  depthOf(root, 0);
  const height = headH + (maxDepth + 1) * fh + 30;
  const yOf = (depth: number): number => height - 30 - (depth + 1) * fh;

  const out: string[] = [];
  out.push('<?xml version="1.0" standalone="no"?>');
  out.push(`<svg version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">`);
  out.push(`<!-- Made by bench/e2e/flamegraph-svg.ts (tsnats). Width of a frame = samples in it and its callees; root at the bottom. -->`);
  out.push('<style>text { font-family: Verdana, "DejaVu Sans", sans-serif; fill: #000; } .f text { font-size: ' + fs + 'px; pointer-events: none; } .f:hover rect { stroke: #000; stroke-width: 0.5; } .t { font-size: 17px; } .s { font-size: 12px; fill: #333; }</style>');
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f8"/>`);
  out.push(`<text class="t" x="${width / 2}" y="24" text-anchor="middle">${esc(opts.title)}</text>`);
  sub.forEach((line, i) => out.push(`<text class="s" x="${width / 2}" y="${24 + 16 + i * 15}" text-anchor="middle">${esc(line)}</text>`));

  const draw = (n: FlameNode, depth: number, x: number): void => {
    const w = (n.total / total) * innerW;
    if (w < minW) return;
    const y = yOf(depth);
    const pct = (n.total / total) * 100;
    const selfPct = (n.self / total) * 100;
    const tip = `${n.name} (${n.total.toLocaleString('en-US')} samples, ${pct.toFixed(2)}%; self ${n.self.toLocaleString('en-US')}, ${selfPct.toFixed(2)}%)`;
    out.push(`<g class="f"><title>${esc(tip)}</title>`);
    out.push(`<rect x="${(pad + x).toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${fh - 1}" rx="2" ry="2" fill="${colour(n.name, depth === 0)}"/>`);
    const fit = Math.floor((w - 6) / charW);
    if (fit >= 3) {
      const label = n.name.length <= fit ? n.name : `${n.name.slice(0, fit - 2)}..`;
      out.push(`<text x="${(pad + x + 3).toFixed(2)}" y="${y + fh - 4.5}">${esc(label)}</text>`);
    }
    out.push('</g>');
    // Callees left to right by name, as flamegraph.pl sorts them (an alphabetic, not a time, order).
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      draw(c, depth + 1, cx);
      cx += (c.total / total) * innerW;
    }
  };
  draw(root, 0, 0);
  out.push(`<text class="s" x="${pad}" y="${height - 10}">colours: orange = tsnats (dist/src), yellow = Node.js internals (node:), pink = V8 / native builtins, grey = VM states. Hover for sample counts.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
