// Subject transforms (nats-server's subject_transform.go): a source pattern and a destination with
// `$N` / `{{wildcard(N)}}` placeholders and the mapping functions (partition, split, splitFromLeft,
// splitFromRight, sliceFromLeft, sliceFromRight, left, right). Streams use them for
// `subject_transform` on input, `republish`, and the `subject_transforms` of mirrors and sources;
// the JetStream worker also uses them to map service-import subjects.
//
// Errors carry nats-server's texts (`invalid mapping destination: ... in <token>`), because they
// end up in API error descriptions.

import { isValidLiteralSubject } from '../sublist/subject.js';

const T_NONE = 0;
const T_PARTITION = 2;
const T_WILDCARD = 3;
const T_SPLIT_LEFT = 4;
const T_SPLIT_RIGHT = 5;
const T_SLICE_LEFT = 6;
const T_SLICE_RIGHT = 7;
const T_SPLIT = 8;
const T_LEFT = 9;
const T_RIGHT = 10;

const INVALID = 'invalid mapping destination';
export const TransformErrors = {
  badSubject: 'invalid subject',
  invalidSubject: `${INVALID}: invalid subject`,
  notUsingAllWildcards: `${INVALID}: not using all of the token wildcard(s)`,
  unknownFunction: `${INVALID}: unknown function`,
  indexOutOfRange: `${INVALID}: wildcard index out of range`,
  notEnoughArgs: `${INVALID}: not enough arguments passed to the function`,
  invalidArg: `${INVALID}: function argument is invalid or in the wrong format`,
  tooManyArgs: `${INVALID}: too many arguments passed to the function`,
  notSupportedForImport: `${INVALID}: the only mapping function allowed for import transforms is {{Wildcard()}}`,
} as const;

export class TransformError extends Error {}

const destErr = (why: string, token: string): TransformError => new TransformError(`${why} in ${token}`);

// The mapping functions, as nats-server's regular expressions (case-insensitive first letters).
const FUNCS: [RegExp, number][] = [
  [/{{\s*[wW]ildcard\s*\((.*)\)\s*}}/, T_WILDCARD],
  [/{{\s*[pP]artition\s*\((.*)\)\s*}}/, T_PARTITION],
  [/{{\s*[sS]plit[fF]rom[lL]eft\s*\((.*)\)\s*}}/, T_SPLIT_LEFT],
  [/{{\s*[sS]plit[fF]rom[rR]ight\s*\((.*)\)\s*}}/, T_SPLIT_RIGHT],
  [/{{\s*[sS]lice[fF]rom[lL]eft\s*\((.*)\)\s*}}/, T_SLICE_LEFT],
  [/{{\s*[sS]lice[fF]rom[rR]ight\s*\((.*)\)\s*}}/, T_SLICE_RIGHT],
  [/{{\s*[rR]ight\s*\((.*)\)\s*}}/, T_RIGHT],
  [/{{\s*[lL]eft\s*\((.*)\)\s*}}/, T_LEFT],
  [/{{\s*[sS]plit\s*\((.*)\)\s*}}/, T_SPLIT],
];

interface Placeholder {
  type: number;
  /** Wildcard indexes (1-based) the function reads. */
  args: number[];
  int: number;
  str: string;
}

const atoi = (s: string): number => {
  const t = s.trim();
  return /^[+-]?\d+$/.test(t) ? Number(t) : NaN;
};

/** nats-server's indexPlaceHolders: what a destination token asks for. */
function placeholder(token: string): Placeholder {
  const none: Placeholder = { type: T_NONE, args: [-1], int: -1, str: '' };
  const n = token.length;
  if (n <= 1) return none;
  if (token[0] === '$') {
    const i = atoi(token.slice(1));
    // Other things rely on tokens starting with '$' (e.g. `$KV`): not a placeholder then.
    return Number.isNaN(i) || !/^\d+$/.test(token.slice(1)) ? none : { type: T_WILDCARD, args: [i], int: -1, str: '' };
  }
  if (!(n > 4 && token.startsWith('{{') && token.endsWith('}}'))) return none;
  for (const [re, type] of FUNCS) {
    const m = re.exec(token);
    if (m === null) continue;
    const args = m[1]!.split(/,\s*/);
    switch (type) {
      case T_WILDCARD: {
        if (args.length === 1 && args[0] === '') throw destErr(TransformErrors.notEnoughArgs, token);
        if (args.length > 1) throw destErr(TransformErrors.tooManyArgs, token);
        const i = atoi(args[0]!);
        if (Number.isNaN(i)) throw destErr(TransformErrors.invalidArg, token);
        return { type, args: [i], int: -1, str: '' };
      }
      case T_PARTITION: {
        if (args.length < 2) throw destErr(TransformErrors.notEnoughArgs, token);
        const buckets = atoi(args[0]!);
        if (Number.isNaN(buckets)) throw destErr(TransformErrors.invalidArg, token);
        const idx = args.slice(1).map(atoi);
        if (idx.some(Number.isNaN)) throw destErr(TransformErrors.invalidArg, token);
        return { type, args: idx, int: buckets, str: '' };
      }
      case T_SPLIT: {
        if (args.length < 2) throw destErr(TransformErrors.notEnoughArgs, token);
        if (args.length > 2) throw destErr(TransformErrors.tooManyArgs, token);
        const i = atoi(args[0]!);
        if (Number.isNaN(i)) throw destErr(TransformErrors.invalidArg, token);
        if (args[1]!.includes(' ') || args[1]!.includes('.')) throw destErr(TransformErrors.invalidArg, token);
        return { type, args: [i], int: -1, str: args[1]! };
      }
      default: {
        // transformIndexIntArgsHelper: (wildcard index, integer)
        if (args.length < 2) throw destErr(TransformErrors.notEnoughArgs, token);
        if (args.length > 2) throw destErr(TransformErrors.tooManyArgs, token);
        const i = atoi(args[0]!);
        const k = atoi(args[1]!);
        if (Number.isNaN(i) || Number.isNaN(k)) throw destErr(TransformErrors.invalidArg, token);
        return { type, args: [i], int: k, str: '' };
      }
    }
  }
  throw destErr(TransformErrors.unknownFunction, token);
}

/** nats-server's subjectInfo: valid, tokens, partial wildcard count, ends with '>'. */
function subjectInfo(s: string): { ok: boolean; tokens: string[]; npwcs: number; fwc: boolean } {
  if (s === '') return { ok: false, tokens: [], npwcs: 0, fwc: false };
  const tokens = s.split('.');
  let npwcs = 0;
  let fwc = false;
  for (const t of tokens) {
    if (t.length === 0 || fwc) return { ok: false, tokens: [], npwcs: 0, fwc: false };
    if (t === '>') fwc = true;
    else if (t === '*') npwcs++;
  }
  return { ok: true, tokens, npwcs, fwc };
}

/** FNV-1a 32 (Go's hash/fnv New32a) over latin1 bytes of a string. */
function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  const b = Buffer.from(s, 'utf8');
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Does literal subject `tokens` match pattern `pattern` (isSubsetMatch for a literal)? */
function tokensMatch(pattern: string[], tokens: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '>') return tokens.length > i;
    if (i >= tokens.length) return false;
    if (p !== '*' && p !== tokens[i]) return false;
  }
  return pattern.length === tokens.length;
}

export class SubjectTransform {
  readonly src: string;
  readonly dest: string;
  private readonly stoks: string[];
  private readonly dtoks: string[];
  private readonly ph: Placeholder[];
  /** Destination token i's source token positions (0-based), for placeholders. */
  private readonly srcIdx: number[][];
  private readonly passthrough: boolean;

  private constructor(src: string, dest: string, stoks: string[], dtoks: string[], ph: Placeholder[], srcIdx: number[][]) {
    this.src = src;
    this.dest = dest;
    this.stoks = stoks;
    this.dtoks = dtoks;
    this.ph = ph;
    this.srcIdx = srcIdx;
    this.passthrough = (src === '>' || src === '') && (dest === '>' || dest === '');
  }

  /**
   * NewSubjectTransformWithStrict: null when dest is empty (no transform); throws TransformError
   * when the pair is not valid. `strict` (imports): only wildcard placeholders, all of them used.
   */
  static create(src: string, dest: string, strict = false): SubjectTransform | null {
    if (dest === '') return null;
    if (src === '') src = '>';
    const s = subjectInfo(src);
    const d = subjectInfo(dest);
    if (!s.ok || !d.ok || d.npwcs > 0 || s.fwc !== d.fwc) throw new TransformError(TransformErrors.badSubject);
    const ph: Placeholder[] = [];
    const srcIdx: number[][] = [];
    if (s.npwcs > 0 || s.fwc) {
      // Source position of the n-th '*' (1-based).
      const sti = new Map<number, number>();
      s.tokens.forEach((t, i) => {
        if (t === '*') sti.set(sti.size + 1, i);
      });
      let nphs = 0;
      for (const token of d.tokens) {
        const p = placeholder(token);
        if (strict && p.type !== T_NONE && p.type !== T_WILDCARD) throw destErr(TransformErrors.notSupportedForImport, token);
        if (s.npwcs === 0 && p.type !== T_NONE) throw destErr(TransformErrors.indexOutOfRange, token);
        ph.push(p);
        if (p.type === T_NONE) {
          srcIdx.push([-1]);
          continue;
        }
        nphs += p.args.length;
        const idx: number[] = [];
        for (const w of p.args) {
          if (w > s.npwcs) throw destErr(TransformErrors.indexOutOfRange, `${token}: [${w}]`);
          idx.push(sti.get(w) ?? -1);
        }
        srcIdx.push(idx);
      }
      if (strict && nphs < s.npwcs) throw destErr(TransformErrors.notUsingAllWildcards, dest);
    } else {
      for (const token of d.tokens) {
        if (placeholder(token).type !== T_NONE) throw destErr(TransformErrors.indexOutOfRange, token);
      }
    }
    return new SubjectTransform(src, dest, s.tokens, d.tokens, ph, srcIdx);
  }

  /** Match: the transformed subject, or null when subject does not match the source (or is not literal). */
  match(subject: string): string | null {
    if (this.passthrough) return subject;
    const tokens = subject.split('.');
    if (!isValidLiteralSubject(subject)) return null;
    if (this.src === '>' || tokensMatch(this.stoks, tokens)) return this.transformTokens(tokens);
    return null;
  }

  /** TransformTokenizedSubject: applies the destination to an already matching subject. */
  transformTokens(tokens: string[]): string {
    if (this.ph.length === 0) return this.dest;
    let out = '';
    const last = this.ph.length - 1;
    for (let i = 0; i < this.ph.length; i++) {
      const p = this.ph[i]!;
      if (p.type === T_NONE) {
        if (this.dtoks[i] === '>') break;
        out += this.dtoks[i];
      } else {
        const src = tokens[this.srcIdx[i]![0]!] ?? '';
        switch (p.type) {
          case T_PARTITION: {
            let key = '';
            for (const k of this.srcIdx[i]!) key += tokens[k] ?? '';
            out += String(fnv32a(key) % p.int);
            break;
          }
          case T_WILDCARD:
            out += src;
            break;
          case T_SPLIT_LEFT:
            out += p.int > 0 && p.int < src.length ? `${src.slice(0, p.int)}.${src.slice(p.int)}` : src;
            break;
          case T_SPLIT_RIGHT:
            out += p.int > 0 && p.int < src.length ? `${src.slice(0, src.length - p.int)}.${src.slice(src.length - p.int)}` : src;
            break;
          case T_SLICE_LEFT:
            out += sliceFromLeft(src, p.int);
            break;
          case T_SLICE_RIGHT:
            out += sliceFromRight(src, p.int);
            break;
          case T_SPLIT:
            out += src
              .split(p.str)
              .filter((x) => x !== '')
              .join('.');
            break;
          case T_LEFT:
            out += p.int > 0 && p.int < src.length ? src.slice(0, p.int) : src;
            break;
          case T_RIGHT:
            out += p.int > 0 && p.int < src.length ? src.slice(src.length - p.int) : src;
            break;
        }
      }
      if (i < last) out += '.';
    }
    // With '>' the remaining source tokens follow.
    if (this.dtoks[this.dtoks.length - 1] === '>') {
      out += tokens.slice(this.stoks.length - 1).join('.');
    }
    return out;
  }
}

function sliceFromLeft(s: string, size: number): string {
  if (!(size > 0 && size < s.length)) return s;
  const parts: string[] = [];
  for (let i = 0; i < s.length; i += size) parts.push(s.slice(i, i + size));
  return parts.join('.');
}

function sliceFromRight(s: string, size: number): string {
  if (!(size > 0 && size < s.length)) return s;
  const parts: string[] = [];
  const rem = s.length % size;
  if (rem > 0) parts.push(s.slice(0, rem));
  for (let i = rem; i < s.length; i += size) parts.push(s.slice(i, i + size));
  return parts.join('.');
}

/** nats-server's ValidateMappingDestination: null when dest is a usable destination. */
export function validateMappingDestination(dest: string): string | null {
  if (dest === '') return null;
  let fwc = false;
  for (const t of dest.split('.')) {
    const n = t.length;
    if (n === 0 || fwc) return `${TransformErrors.invalidSubject} in ${t}`;
    if (n > 4 && t.startsWith('{{') && t.endsWith('}}')) {
      if (!FUNCS.some(([re, type]) => type !== T_LEFT && type !== T_RIGHT && re.test(t))) return `${TransformErrors.unknownFunction} in ${t}`;
      continue;
    }
    if (t === '>') fwc = true;
    else if (/[\t\n\f\r ]/.test(t)) return TransformErrors.invalidSubject;
  }
  return null;
}

/** A transform, or null when the pair is invalid (for checks that only need a yes/no). */
export function tryTransform(src: string, dest: string): SubjectTransform | null | 'invalid' {
  try {
    return SubjectTransform.create(src, dest);
  } catch {
    return 'invalid';
  }
}
