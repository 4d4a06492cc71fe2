// nats.conf parser: turns the items of conf-lexer.ts into plain values, the way nats-server's
// conf/parse.go does (v2.9.10), and records where every key was written.
//
// Values: strings, numbers (integers with size suffixes already multiplied out, floats), booleans,
// arrays and maps. ISO8601 Zulu dates (2016-05-04T18:53:41Z) are validated and kept as the string
// written. Durations are ordinary strings ("2m"; note that an unquoted `2m` is the integer 2000000,
// as in nats-server).
//
// Keys keep their spelling; a key written twice keeps its last value (a block is replaced, not
// merged). $name refers to a key set earlier in the same or an enclosing block, else to the
// environment variable (its value parsed like a config value); unquoted `$2a$...` bcrypt hashes are
// strings. `include file` parses the file on its own (it does not see the includer's keys) and
// merges its top-level keys into the current block; its path is relative to the including file.
//
// Where parse.go silently does something odd we report an error instead (lexer-level differences
// are listed in conf-lexer.ts):
//  - a key with no value before "}" or end of file (parse.go would give the value to another key
//    or drop the key; nats-server 2.9.10 accepts `port` alone at the end of a file);
//  - `key:` as the very last thing in a file (parse.go: empty string) - it is a value left blank;
//  - an unknown size suffix such as `1kbb` (parse.go drops the value) and sizes overflowing 64 bits;
//  - include cycles and environment variables that refer to themselves (parse.go recurses forever).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Lexer, T } from './conf-lexer.js';
import type { Item, Lines } from './conf-lexer.js';

export interface ConfPos {
  file: string;
  line: number;
  col: number;
}

/** A configuration error at file:line:col (line and col are 1-based; 0 when there is no position). */
export class ConfError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The message without the position prefix. */
  readonly reason: string;
  constructor(file: string, line: number, col: number, reason: string) {
    super(line > 0 ? `${file}:${line}:${col}: ${reason}` : `${file}: ${reason}`);
    this.name = 'ConfError';
    this.file = file;
    this.line = line;
    this.col = col;
    this.reason = reason;
  }
}

export type ConfValue = string | number | boolean | ConfValue[] | ConfMap;
export interface ConfMap {
  [key: string]: ConfValue;
}

export interface ParsedConf {
  value: ConfMap;
  /**
   * Where each key was written, keyed by its dotted path as spelled in the file:
   * "authorization.password", "accounts.$SYS.users[0].user". Array elements have entries too
   * ("cluster.routes[1]", at the element). Keys merged from an include point into that file.
   */
  positions: Map<string, ConfPos>;
  /**
   * Dotted paths of keys whose value was used through a $variable. nats-server does not report
   * such keys as unknown fields (e.g. a top-level `TOKEN: "s3cr3t"` used as `token: $TOKEN`).
   */
  usedVariables?: Set<string>;
}

/** Size suffixes (parse.go): k m g t p e are powers of 1000; kb/ki/kib ... powers of 1024. */
const SIZE_SUFFIX: ReadonlyMap<string, bigint> = (() => {
  const m = new Map<string, bigint>([['', 1n]]);
  'kmgtpe'.split('').forEach((p, i) => {
    m.set(p, 1000n ** BigInt(i + 1));
    for (const s of ['b', 'i', 'ib']) m.set(p + s, 1024n ** BigInt(i + 1));
  });
  return m;
})();
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Value of an integer item such as `4222`, `-5`, `100MB`, `1GiB`. */
export function integerValue(text: string): number | string {
  let n = 0;
  while (n < text.length && /[0-9-]/.test(text[n] ?? '')) n++;
  const digits = text.slice(0, n);
  const suffix = text.slice(n).trim().toLowerCase();
  if (!/^-?[0-9]+$/.test(digits)) return `expected an integer, found "${text}"`;
  const base = BigInt(digits);
  if (base < INT64_MIN || base > INT64_MAX) return `integer "${text}" is out of the 64-bit range`;
  const mult = SIZE_SUFFIX.get(suffix);
  if (mult === undefined) {
    return `unknown size suffix "${text.slice(n)}" in "${text}" (use k, m, g, t, p, e for powers of 1000 or kb/ki/kib, mb/mi/mib, ... for powers of 1024)`;
  }
  const v = base * mult;
  if (v < INT64_MIN || v > INT64_MAX) return `size "${text}" is out of the 64-bit range`;
  return Number(v);
}

function dateError(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(text);
  if (m === null) return `expected a Zulu date like 2006-01-02T15:04:05Z, found "${text}"`;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const ok = t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
  return ok ? null : `invalid date "${text}" (a field is out of range)`;
}

function setProp(map: ConfMap, key: string, v: ConfValue): void {
  if (key === '__proto__') Object.defineProperty(map, key, { value: v, writable: true, enumerable: true, configurable: true });
  else map[key] = v;
}

function clone(v: ConfValue): ConfValue {
  if (Array.isArray(v)) return v.map(clone);
  if (typeof v === 'object') {
    const out: ConfMap = {};
    for (const [k, x] of Object.entries(v)) setProp(out, k, clone(x));
    return out;
  }
  return v;
}

/** Maps offsets to 1-based line and column (columns count code points). */
class LineMap implements Lines {
  private readonly starts: number[] = [0];
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  line(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
  pos(offset: number): { line: number; col: number } {
    const line = this.line(offset);
    let col = 1;
    for (let i = this.starts[line - 1] ?? 0; i < offset && i < this.text.length; i++) {
      const c = this.text.charCodeAt(i);
      if (c < 0xdc00 || c > 0xdfff) col++; // a low surrogate belongs to the code point before it
    }
    return { line, col };
  }
  at(offset: number): string {
    const p = this.pos(offset);
    return `${p.line}:${p.col}`;
  }
}

const childPath = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

interface Frame {
  value: ConfMap | ConfValue[];
  isArray: boolean;
  path: string;
  /** Offset of the "{" or "[" (0 for the top level). */
  open: number;
  /** Key read in this map whose value has not been set yet. */
  pending: Item | null;
}

interface Context {
  /** Absolute paths of the files being parsed, outermost first (include cycle detection). */
  includes: string[];
  /** Environment variables being expanded, outermost first (cycle detection). */
  env: string[];
}

/** Thrown through nested environment parses up to the reference that started the cycle. */
class EnvCycle extends Error {}

class Parser {
  private readonly lx: Lexer;
  private readonly lines: LineMap;
  private readonly file: string;
  private readonly dir: string;
  private readonly ctx: Context;
  private readonly frames: Frame[] = [];
  private readonly root: ConfMap = {};
  private readonly positions = new Map<string, ConfPos>();
  private readonly used = new Set<string>();

  constructor(text: string, file: string, dir: string, ctx: Context, envValue = false) {
    const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a byte order mark is not a key
    this.lines = new LineMap(input);
    this.lx = new Lexer(input, this.lines, envValue);
    this.file = file;
    this.dir = dir;
    this.ctx = ctx;
    this.frames.push({ value: this.root, isArray: false, path: '', open: 0, pending: null });
  }

  run(): ParsedConf {
    for (;;) {
      const it = this.lx.nextItem();
      switch (it.type) {
        case T.Error:
          throw this.error(it.offset, it.val);
        case T.EOF:
          this.finish(it);
          return { value: this.root, positions: this.positions, usedVariables: this.used };
        case T.Key:
          this.key(it);
          break;
        case T.MapStart:
          this.frames.push({ value: {}, isArray: false, path: this.valuePath(it), open: it.offset, pending: null });
          break;
        case T.ArrayStart:
          this.frames.push({ value: [], isArray: true, path: this.valuePath(it), open: it.offset, pending: null });
          break;
        case T.MapEnd:
        case T.ArrayEnd: {
          const f = this.frames.pop() as Frame;
          if (f.pending !== null) {
            const k = f.pending;
            throw this.error(k.offset, `expected a value after "${k.val}${k.sep ?? ''}", found "}" at ${this.lines.at(it.offset)}`);
          }
          this.setValue(f.value, f.open);
          break;
        }
        case T.String:
          this.setValue(it.val, it.offset);
          break;
        case T.Bool:
          this.setValue(/^(true|yes|on)$/i.test(it.val), it.offset);
          break;
        case T.Integer: {
          const v = integerValue(it.val);
          if (typeof v === 'string') throw this.error(it.offset, v);
          this.setValue(v, it.offset);
          break;
        }
        case T.Float: {
          const v = Number(it.val);
          if (!Number.isFinite(v)) throw this.error(it.offset, `float "${it.val}" is out of range`);
          this.setValue(v, it.offset);
          break;
        }
        case T.Datetime: {
          const e = dateError(it.val);
          if (e !== null) throw this.error(it.offset, e);
          this.setValue(it.val, it.offset);
          break;
        }
        case T.Variable:
          this.setValue(this.lookup(it), it.offset);
          break;
        case T.Include:
          this.include(it);
          break;
      }
    }
  }

  private error(offset: number, reason: string): ConfError {
    const p = this.lines.pos(offset);
    return new ConfError(this.file, p.line, p.col, reason);
  }
  private pos(offset: number): ConfPos {
    const p = this.lines.pos(offset);
    return { file: this.file, line: p.line, col: p.col };
  }
  private get top(): Frame {
    return this.frames[this.frames.length - 1] as Frame;
  }

  private key(it: Item): void {
    const f = this.top;
    if (f.isArray || f.pending !== null) {
      throw this.error(f.pending?.offset ?? it.offset, `expected a value after "${f.pending?.val ?? ''}", found key "${it.val}"`);
    }
    if (Object.hasOwn(f.value, it.val)) this.forget(childPath(f.path, it.val)); // redefined: later wins
    f.pending = it;
  }

  /** Path of the value about to be set in the current frame. */
  private valuePath(it: Item): string {
    const f = this.top;
    if (f.isArray) return `${f.path}[${(f.value as ConfValue[]).length}]`;
    if (f.pending === null) throw this.error(it.offset, 'a value must follow a key');
    return childPath(f.path, f.pending.val);
  }

  private setValue(v: ConfValue, offset: number): void {
    const f = this.top;
    if (f.isArray) {
      const arr = f.value as ConfValue[];
      this.positions.set(`${f.path}[${arr.length}]`, this.pos(offset));
      arr.push(v);
      return;
    }
    const k = f.pending;
    if (k === null) throw this.error(offset, 'a value must follow a key');
    setProp(f.value as ConfMap, k.val, v);
    this.positions.set(childPath(f.path, k.val), this.pos(k.offset));
    f.pending = null;
  }

  /** Drops the positions recorded under `path` (the key is being redefined). */
  private forget(path: string): void {
    for (const k of [...this.positions.keys()]) {
      if (k === path || k.startsWith(`${path}.`) || k.startsWith(`${path}[`)) this.positions.delete(k);
    }
  }

  private finish(it: Item): void {
    const k = this.top.pending;
    // A config wrapped in "{ ... }" ends with "}" read as a key (lex.go); nats-server ignores it.
    if (k !== null && !(k.val === '}' && !k.quoted && this.frames.length === 1)) {
      throw this.error(k.offset, `expected a value after "${k.val}${k.sep ?? ''}", found end of file`);
    }
    if (this.frames.length !== 1) throw this.error(it.offset, 'unexpected end of file');
  }

  /**
   * $name: a key set earlier in this block or an enclosing one (arrays are skipped), else the
   * environment variable, parsed as a value would be (parse.go lookupVariable). Unquoted bcrypt
   * hashes ($2a$...) are plain strings.
   */
  private lookup(it: Item): ConfValue {
    const name = it.val;
    if (name.startsWith('2a$')) return `$${name}`;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i] as Frame;
      if (!f.isArray && Object.hasOwn(f.value, name)) {
        this.used.add(childPath(f.path, name));
        return clone((f.value as ConfMap)[name] as ConfValue);
      }
    }
    const env = process.env[name];
    if (env === undefined) {
      const hint = /^2[a-z]\$/.test(name) ? ' (only $2a$ bcrypt hashes may be left unquoted; quote this one)' : '';
      throw this.error(
        it.offset,
        `variable "$${name}" is not defined: no key "${name}" earlier in this block or an enclosing one, and no environment variable ${name}${hint}`,
      );
    }
    const nested = this.ctx.env.length > 0;
    if (this.ctx.env.includes(name)) {
      throw new EnvCycle([...this.ctx.env, name].map((n) => `$${n}`).join(' -> '));
    }
    try {
      const ctx: Context = { includes: this.ctx.includes, env: [...this.ctx.env, name] };
      const sub = new Parser(`pk=${env}`, `environment variable ${name}`, this.dir, ctx, true).run();
      return sub.value['pk'] ?? '';
    } catch (e) {
      if (nested) throw e;
      if (e instanceof EnvCycle) throw this.error(it.offset, `environment variables refer to each other in a cycle: ${e.message}`);
      if (e instanceof ConfError) {
        throw this.error(it.offset, `cannot use environment variable ${name}=${JSON.stringify(env)} for "$${name}": ${e.reason}`);
      }
      throw e;
    }
  }

  /** include: parse the file on its own and merge its top-level keys into the current block. */
  private include(it: Item): void {
    if (it.val === '') throw this.error(it.offset, 'expected a file name after "include"');
    const path = join(this.dir, it.val); // as Go's filepath.Join: relative to the including file
    const abs = resolve(path);
    if (this.ctx.includes.includes(abs)) {
      throw this.error(it.offset, `include cycle: "${it.val}" (${abs}) is already being parsed`);
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw this.error(it.offset, `cannot read include file "${it.val}" (${path}): ${why}`);
    }
    let sub: ParsedConf;
    try {
      sub = new Parser(text, path, dirname(path), { includes: [...this.ctx.includes, abs], env: [] }).run();
    } catch (e) {
      if (!(e instanceof ConfError)) throw e;
      throw new ConfError(e.file, e.line, e.col, `${e.reason} (in a file included from ${this.file}:${this.lines.at(it.offset)})`);
    }
    const f = this.top;
    const map = f.value as ConfMap;
    for (const [k, v] of Object.entries(sub.value)) {
      const p = childPath(f.path, k);
      if (Object.hasOwn(map, k)) this.forget(p);
      setProp(map, k, v);
    }
    for (const [k, pos] of sub.positions) this.positions.set(childPath(f.path, k), pos);
    for (const k of sub.usedVariables ?? []) this.used.add(childPath(f.path, k));
  }
}

/**
 * Parses nats.conf text. `file` names the text in errors and positions; includes are resolved
 * relative to its directory (the current directory for the default "<string>").
 */
export function parseConf(text: string, file = '<string>'): ParsedConf {
  const named = file !== '<string>';
  return new Parser(text, file, named ? dirname(file) : '.', { includes: named ? [resolve(file)] : [], env: [] }).run();
}

/** Reads and parses a nats.conf file. */
export function parseConfFile(path: string): ParsedConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ConfError(path, 0, 0, `cannot read config file: ${why}`);
  }
  return parseConf(text, path);
}
