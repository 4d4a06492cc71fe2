// Lexer for the nats.conf format: a port of nats-server's conf/lex.go (as shipped in v2.9.10),
// keeping its state functions (same names) so that what it accepts and rejects stays the same.
// Each state reads runes and returns the next state; items are queued and pulled by the parser
// (conf.ts) one at a time. Differences from lex.go, all deliberate:
//  - error messages are our own; they carry the offset of the offending character (conf.ts turns
//    offsets into file:line:col) and name the key or container involved;
//  - in an array, a number directly followed by "]" ends there (lex.go 2.9.10 reads `2]` in
//    `[1, 2]` as the string "2]" and then fails), so `[1, 2]` is [1, 2] and `[1k]` is [1000];
//  - end of file inside a quoted string, a quoted include name, or right after `key:` is an error;
//  - a `( ... )` block never keeps its closing ")" (lex.go does when it is the last character).

/** Item kinds (lex.go itemType). */
export const T = { Error: 0, EOF: 1, Key: 2, String: 3, Bool: 4, Integer: 5, Float: 6, Datetime: 7, ArrayStart: 8,
  ArrayEnd: 9, MapStart: 10, MapEnd: 11, Variable: 12, Include: 13 } as const;
export type ItemType = (typeof T)[keyof typeof T];

export interface Item {
  type: ItemType;
  val: string; // the text; for Error, the message
  offset: number; // where the item starts in the input; for Error, the offending character
  quoted: boolean; // Key: written in quotes
  sep: string; // Key: the separator written after it (":", "=", or "" for white space)
}

/** Offsets to line numbers and "line:col" (conf.ts LineMap). */
export interface Lines { line(offset: number): number; at(offset: number): string }

type StateFn = (lx: Lexer) => StateFn | null;

const EOF = -1;
// { } [ ] , ; # / " ' ( ) \ $ - . : new line
const MAP_START = 0x7b, MAP_END = 0x7d, ARRAY_START = 0x5b, ARRAY_END = 0x5d, COMMA = 0x2c;
const SEMI = 0x3b, HASH = 0x23, SLASH = 0x2f, DQ = 0x22, SQ = 0x27;
const BLOCK_START = 0x28, BLOCK_END = 0x29, BACKSLASH = 0x5c, DOLLAR = 0x24, MINUS = 0x2d;
const DOT = 0x2e, COLON = 0x3a, NL = 0x0a;

const isWhitespace = (r: number): boolean => r === 0x09 || r === 0x20;
const isNL = (r: number): boolean => r === NL || r === 0x0d;
const isDigit = (r: number): boolean => r >= 0x30 && r <= 0x39;
const isKeySep = (r: number): boolean => r === 0x3d || r === COLON;
const isHex = (r: number): boolean => isDigit(r) || (r >= 0x41 && r <= 0x46) || (r >= 0x61 && r <= 0x66);
/** k m g t p e in either case (lex.go isNumberSuffix). */
const isNumberSuffix = (r: number): boolean => r > 0 && 'kKmMgGtTpPeE'.includes(String.fromCharCode(r));
/** Go's unicode.IsSpace. */
function isSpace(r: number): boolean {
  if (r < 0) return false;
  if (r <= 0xff) return r === 0x20 || (r >= 0x09 && r <= 0x0d) || r === 0x85 || r === 0xa0;
  return /\p{White_Space}/u.test(String.fromCharCode(r));
}
/** Runes that end a number written without quotes (lex.go's list, plus "]" in an array: see the header). */
const endsNumber = (lx: Lexer, r: number): boolean =>
  isNL(r) || r === EOF || r === MAP_END || r === SEMI || r === COMMA || isWhitespace(r) || (r === ARRAY_END && lx.level.kind === 'array');

/** How a rune is named in an error message. */
export function describe(r: number): string {
  if (r === EOF) return 'end of file';
  if (isNL(r)) return 'end of line';
  if (r === 0x09) return 'a tab';
  return JSON.stringify(String.fromCharCode(r));
}

/** What the lexer knows about an open container, for error messages. */
interface Level {
  kind: 'top' | 'map' | 'array';
  open: number; // offset of the "{" or "["
  name: string; // e.g. `map "authorization"`, `array "routes"`
  key: Item | null; // last key read at this level (null after an include)
  include: string | null; // file name of an include just read at this level
  valueStart: number; // start of the last value read at this level
  valueBare: boolean; // that value was an unquoted string
}

export class Lexer {
  readonly input: string;
  readonly lines: Lines;
  /** Accept `key:` followed by end of file as an empty string (lex.go does; used for env values). */
  readonly emptyValueAtEof: boolean;
  start = 0;
  pos = 0;
  width = 0;
  /** Offset where the item being lexed starts (reported in the item). */
  tokStart = 0;
  state: StateFn | null = lexTop;
  stack: StateFn[] = [];
  /** Pieces of a string with escapes (bytes, as \xHH escapes may build UTF-8 sequences). */
  parts: Buffer[] = [];
  stringStateFn: StateFn = lexString;
  items: Item[] = [];
  levels: Level[] = [];

  constructor(input: string, lines: Lines, emptyValueAtEof = false) {
    this.input = input;
    this.lines = lines;
    this.emptyValueAtEof = emptyValueAtEof;
    this.levels.push(newLevel('top', 0, 'the top level'));
  }

  nextItem(): Item {
    for (;;) {
      const it = this.items.shift();
      if (it !== undefined) return it;
      if (this.state === null) return { type: T.EOF, val: '', offset: this.input.length, quoted: false, sep: '' };
      this.state = this.state(this);
    }
  }

  push(s: StateFn): void { this.stack.push(s); }
  pop(): StateFn | null { return this.stack.pop() ?? this.errorf('internal lexer error: no state to return to', this.pos); }
  get level(): Level { return this.levels[this.levels.length - 1] as Level; }

  emit(type: ItemType, quoted = false): void {
    let val = this.input.slice(this.start, this.pos);
    if (this.parts.length > 0) {
      val = Buffer.concat([...this.parts, Buffer.from(val, 'utf8')]).toString('utf8');
      this.parts = [];
    }
    const item: Item = { type, val, offset: this.tokStart, quoted, sep: '' };
    this.items.push(item);
    this.start = this.pos;
    const lv = this.level;
    if (type === T.Key || type === T.Include) {
      lv.key = type === T.Key ? item : null;
      lv.include = type === T.Include ? val : null;
    } else if (type === T.MapEnd || type === T.ArrayEnd) {
      const closed = this.levels.pop() as Level;
      this.level.valueStart = closed.open;
      this.level.valueBare = false;
    } else {
      lv.valueStart = this.tokStart;
      lv.valueBare = type === T.String && this.stringStateFn === lexString && !quoted;
      if (type === T.MapStart || type === T.ArrayStart) {
        const kind = type === T.MapStart ? 'map' : 'array';
        const owner = lv.kind === 'array' ? `an element of ${lv.name}` : lv.key !== null ? `"${lv.key.val}"` : 'a value';
        this.levels.push(newLevel(kind, this.tokStart, `${kind} ${owner}`));
      }
    }
  }

  next(): number {
    if (this.pos >= this.input.length) { this.width = 0; return EOF; }
    this.width = 1;
    return this.input.charCodeAt(this.pos++);
  }
  ignore(): void { this.start = this.pos; }
  backup(): void { this.pos -= this.width; }
  peek(): number { const r = this.next(); this.backup(); return r; }
  /** Offset of the rune returned by the last next() (the end of input after EOF). */
  get last(): number { return this.pos - this.width; }

  /** Queues an error item and stops the lexer. */
  errorf(msg: string, offset: number): null {
    this.items.push({ type: T.Error, val: msg, offset, quoted: false, sep: '' });
    return null;
  }

  addCurrentStringPart(offset: number): void {
    this.parts.push(Buffer.from(this.input.slice(this.start, this.pos - offset), 'utf8'));
    this.start = this.pos;
  }
  addStringPart(b: Buffer): StateFn {
    this.parts.push(b);
    this.start = this.pos;
    return this.stringStateFn;
  }

  /** Emits the text before the rune just read and returns to the pushed state; `drop` skips the rune. */
  close(type: ItemType, drop = false, quoted = false): StateFn | null {
    this.backup();
    this.emit(type, quoted);
    if (drop) { this.next(); this.ignore(); }
    return this.pop();
  }
  closeLevel(type: typeof T.MapEnd | typeof T.ArrayEnd): StateFn | null {
    this.ignore();
    this.emit(type);
    return this.pop();
  }
  emitEOF(): null {
    this.tokStart = this.pos;
    this.emit(T.EOF);
    return null;
  }
  setSep(r: number): void { if (this.level.key !== null) this.level.key.sep = String.fromCharCode(r); }
  keyText(lv: Level = this.level): string { return lv.key === null ? 'the key' : `"${lv.key.val}${lv.key.sep}"`; }
  /** Error for a value with no value (a new line or end of file right after `key:`). */
  noValue(r: number): null {
    const k = this.level.key;
    return this.errorf(`expected a value after ${this.keyText()}, found ${describe(r)}`, k !== null ? k.offset : this.last);
  }
  /** Error for a rune that cannot follow a value at the current level. */
  badValueEnd(r: number, expected: string): null {
    const lv = this.level;
    if (r === EOF && lv.kind !== 'top') return this.unclosed(lv);
    const k = lv.key;
    if (lv.kind === 'map' && k !== null && lv.valueBare && this.lines.line(lv.valueStart) > this.lines.line(k.offset)) {
      // `password:` left blank: lex.go skips new lines before a map value, so the next line was
      // read as the value. Report the key that has no value of its own.
      const taken = this.input.slice(lv.valueStart, this.last).trimEnd();
      return this.errorf(
        `expected a value after ${this.keyText(lv)}, found end of line (${JSON.stringify(taken)} on line ` +
          `${this.lines.line(lv.valueStart)} was read as its value, then ${describe(r)} at ${this.lines.at(this.last)} was unexpected)`,
        k.offset,
      );
    }
    let what = `the value of "${k?.val ?? ''}"`;
    if (lv.kind === 'array') what = `an element of ${lv.name}`;
    else if (lv.include !== null) what = `include ${JSON.stringify(lv.include)}`;
    return this.errorf(`expected ${expected} after ${what}, found ${describe(r)}`, this.last);
  }
  unclosed(lv: Level): null {
    const close = lv.kind === 'map' ? '"}"' : '"]"';
    return this.errorf(`expected ${close} to close ${lv.name} opened at ${this.lines.at(lv.open)}, found end of file`, this.input.length);
  }
}

function newLevel(kind: Level['kind'], open: number, name: string): Level {
  return { kind, open, name, key: null, include: null, valueStart: open, valueBare: false };
}

/** lex.go lexSkip: drop what was read and continue with `next`. */
function skip(lx: Lexer, next: StateFn): StateFn {
  lx.ignore();
  return next;
}

/**
 * "#" or "//" (r is the rune just read) starts a comment that returns to `back`. Returns null
 * when it is not a comment; after a lone "/" the rune following it has been put back.
 */
function comment(lx: Lexer, r: number, back: StateFn): StateFn | null {
  if (r === HASH) { lx.push(back); return lexComment; }
  if (r === SLASH) {
    if (lx.next() === SLASH) { lx.push(back); return lexComment; }
    lx.backup();
  }
  return null;
}

// ---- top level and keys ----------------------------------------------------------------------

function lexTop(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isSpace(r) || r === MAP_START) return skip(lx, lexTop); // a config may be wrapped in { }
  const c = comment(lx, r, lexTop);
  if (c !== null) return c;
  if (r === SLASH) return lx.errorf('unexpected "/" where a key was expected (comments start with "#" or "//")', lx.pos - 1);
  if (r === EOF) return lx.emitEOF();
  lx.backup();
  lx.push(lexTopValueEnd);
  return lexKeyStart;
}

function lexTopValueEnd(lx: Lexer): StateFn | null {
  const r = lx.next();
  const c = comment(lx, r, lexTop);
  if (c !== null) return c;
  if (isWhitespace(r) || r === SLASH) return lexTopValueEnd; // lex.go ignores a lone "/" here
  if (isNL(r) || r === EOF || r === SEMI || r === COMMA || r === MAP_END) return skip(lx, lexTop);
  return lx.badValueEnd(r, 'a new line, ";", "," or a comment');
}

function lexKeyStart(lx: Lexer): StateFn | null {
  const r = lx.peek();
  if (isKeySep(r)) return lx.errorf(`unexpected ${describe(r)} where a key was expected`, lx.pos);
  lx.next();
  if (isSpace(r)) return skip(lx, lexKeyStart);
  lx.tokStart = lx.last;
  if (r === DQ || r === SQ) return skip(lx, quotedKey(r, lexKeyEnd));
  lx.start = lx.last;
  return lexKey;
}

/** State for the text of a key between quotes `q`, continuing with `after`. */
function quotedKey(q: number, after: StateFn): StateFn {
  const self = (lx: Lexer): StateFn | null => {
    const r = lx.peek();
    if (r === EOF) return lx.errorf(`unterminated quoted key opened at ${lx.lines.at(lx.tokStart)}`, lx.pos);
    if (r !== q) { lx.next(); return self; }
    lx.emit(T.Key, true);
    lx.next();
    return skip(lx, after);
  };
  return self;
}

/** A key followed by white space may be the keyword `include`. */
function keyCheckKeyword(lx: Lexer, fallThrough: StateFn, push: StateFn | null): StateFn {
  if (lx.input.slice(lx.start, lx.pos).toLowerCase() !== 'include') { lx.emit(T.Key); return fallThrough; }
  lx.ignore();
  if (push !== null) lx.push(push);
  return lexIncludeStart;
}

function lexKey(lx: Lexer): StateFn | null {
  const r = lx.peek();
  if (isSpace(r)) return keyCheckKeyword(lx, lexKeyEnd, null);
  if (isKeySep(r) || r === EOF) { lx.emit(T.Key); return lexKeyEnd; }
  lx.next();
  return lexKey;
}

function lexKeyEnd(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isSpace(r)) return skip(lx, lexKeyEnd); // at the top level `port\n4222` is port = 4222
  if (isKeySep(r)) { lx.setSep(r); return skip(lx, lexValue); }
  if (r === EOF) return lx.emitEOF(); // the parser reports the key without a value
  lx.backup();
  return lexValue;
}

// ---- include -----------------------------------------------------------------------------------

function lexIncludeStart(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isWhitespace(r)) return skip(lx, lexIncludeStart);
  lx.backup();
  return lexInclude;
}

function lexInclude(lx: Lexer): StateFn | null {
  const r = lx.next();
  lx.tokStart = lx.last;
  let bad = '';
  if (r === SQ || r === DQ) return skip(lx, includeQuoted(r));
  else if (r === ARRAY_START) bad = 'the start of an array "["';
  else if (r === MAP_START) bad = 'the start of a map "{"';
  else if (r === BLOCK_START) bad = 'the start of a block "("';
  else if (isDigit(r) || r === MINUS) bad = `the start of a number ${describe(r)}`;
  else if (r === BACKSLASH) bad = 'an escape sequence';
  else if (isNL(r)) bad = 'end of line';
  if (bad !== '') return lx.errorf(`expected a file name after "include", found ${bad}`, lx.last);
  lx.backup();
  return lexIncludeString;
}

function includeQuoted(q: number): StateFn {
  const self = (lx: Lexer): StateFn | null => {
    const r = lx.next();
    if (r === EOF) return lx.errorf(`unterminated include file name opened at ${lx.lines.at(lx.tokStart)}`, lx.pos);
    if (r !== q) return self;
    return lx.close(T.Include, true);
  };
  return self;
}

function lexIncludeString(lx: Lexer): StateFn | null {
  const r = lx.next();
  const end = isNL(r) || r === EOF || r === SEMI || r === MAP_END || isWhitespace(r) || r === SQ;
  return end ? lx.close(T.Include, r === SQ) : lexIncludeString; // lex.go drops a "'" ending the name
}

// ---- values ------------------------------------------------------------------------------------

function lexValue(lx: Lexer): StateFn | null {
  // White space may precede a value, but not a new line (arrays and maps skip those themselves).
  const r = lx.next();
  if (isWhitespace(r)) return skip(lx, lexValue);
  lx.tokStart = lx.last;
  switch (r) {
    case ARRAY_START:
    case MAP_START:
      lx.ignore();
      lx.emit(r === MAP_START ? T.MapStart : T.ArrayStart);
      return r === MAP_START ? lexMapKeyStart : lexArrayValue;
    case SQ:
      return skip(lx, lexQuotedString);
    case DQ:
      lx.stringStateFn = lexDubQuotedString;
      return skip(lx, lexDubQuotedString);
    case MINUS:
      return lexNegNumberStart;
    case BLOCK_START:
      return skip(lx, lexBlock);
    case DOT:
      return lx.errorf('a number cannot start with "." (write 0.5, not .5)', lx.last);
  }
  if (isDigit(r)) return lexNumberOrDateOrStringOrIP;
  if (isNL(r) || (r === EOF && !lx.emptyValueAtEof)) return lx.noValue(r);
  lx.backup();
  lx.stringStateFn = lexString;
  return lexString;
}

function lexArrayValue(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isSpace(r)) return skip(lx, lexArrayValue);
  const c = comment(lx, r, lexArrayValue);
  if (c !== null) return c;
  if (r === SLASH) return lx.errorf(`unexpected "/" in ${lx.level.name} (comments start with "#" or "//")`, lx.last);
  if (r === COMMA) return lx.errorf(`expected a value or "]" in ${lx.level.name}, found ","`, lx.last);
  if (r === EOF) return lx.unclosed(lx.level);
  if (r === ARRAY_END) { lx.tokStart = lx.last; return lexArrayEnd; }
  lx.backup();
  lx.push(lexArrayValueEnd);
  return lexValue;
}

function lexArrayValueEnd(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isWhitespace(r)) return skip(lx, lexArrayValueEnd);
  const c = comment(lx, r, lexArrayValueEnd);
  if (c !== null) return c;
  if (r === COMMA || isNL(r) || r === SLASH) return skip(lx, lexArrayValue); // lex.go: a lone "/" acts as ","
  if (r === ARRAY_END) { lx.tokStart = lx.last; return lexArrayEnd; }
  return lx.badValueEnd(r, '",", "]" or a new line');
}

function lexArrayEnd(lx: Lexer): StateFn | null {
  return lx.closeLevel(T.ArrayEnd);
}

function lexMapKeyStart(lx: Lexer): StateFn | null {
  const r = lx.peek();
  if (isKeySep(r)) return lx.errorf(`unexpected ${describe(r)} where a key was expected in ${lx.level.name}`, lx.pos);
  if (r === ARRAY_END) return lx.errorf(`unexpected "]" in ${lx.level.name}`, lx.pos);
  if (r === EOF) return lx.unclosed(lx.level);
  lx.next();
  if (isSpace(r)) return skip(lx, lexMapKeyStart);
  lx.tokStart = lx.last;
  if (r === MAP_END) return skip(lx, lexMapEnd);
  if (r === DQ || r === SQ) return skip(lx, quotedKey(r, lexMapKeyEnd));
  const c = comment(lx, r, lexMapKeyStart);
  if (c !== null) return c;
  // lex.go drops a lone "/" and starts the key with the rune after it
  lx.start = r === SLASH ? lx.pos : lx.last;
  if (r === SLASH) { lx.tokStart = lx.pos; lx.next(); }
  return lexMapKey;
}

function lexMapKey(lx: Lexer): StateFn | null {
  const r = lx.peek();
  if (r === EOF) {
    const what = `key "${lx.input.slice(lx.start, lx.pos)}" in ${lx.level.name} opened at ${lx.lines.at(lx.level.open)}`;
    return lx.errorf(`unexpected end of file after ${what}`, lx.pos);
  }
  if (isSpace(r)) return keyCheckKeyword(lx, lexMapKeyEnd, lexMapValueEnd);
  if (isKeySep(r)) { lx.emit(T.Key); return lexMapKeyEnd; }
  lx.next();
  return lexMapKey;
}

function lexMapKeyEnd(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isSpace(r)) return skip(lx, lexMapKeyEnd);
  if (isKeySep(r)) { lx.setSep(r); return skip(lx, lexMapValue); }
  lx.backup();
  return lexMapValue;
}

function lexMapValue(lx: Lexer): StateFn | null {
  // Unlike the top level, new lines may come between a key and its value in a map.
  const r = lx.next();
  if (isSpace(r)) return skip(lx, lexMapValue);
  if (r === COMMA) return lx.errorf(`expected a value after ${lx.keyText()}, found ","`, lx.last);
  if (r === EOF) return lx.unclosed(lx.level);
  if (r === MAP_END) {
    lx.tokStart = lx.last;
    return skip(lx, lexMapEnd); // the parser reports the key without a value
  }
  lx.backup();
  lx.push(lexMapValueEnd);
  return lexValue;
}

function lexMapValueEnd(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isWhitespace(r)) return skip(lx, lexMapValueEnd);
  const c = comment(lx, r, lexMapValueEnd);
  if (c !== null) return c;
  if (r === SEMI || r === COMMA || isNL(r) || r === SLASH) return skip(lx, lexMapKeyStart); // lone "/": as ","
  if (r === MAP_END) { lx.tokStart = lx.last; return skip(lx, lexMapEnd); }
  return lx.badValueEnd(r, '",", ";", "}" or a new line');
}

function lexMapEnd(lx: Lexer): StateFn | null {
  return lx.closeLevel(T.MapEnd);
}

// ---- strings -----------------------------------------------------------------------------------

function lexQuotedString(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === EOF) return lx.errorf(`unterminated string: the "'" at ${lx.lines.at(lx.tokStart)} is never closed`, lx.pos);
  return r === SQ ? lx.close(T.String, true, true) : lexQuotedString;
}

function lexDubQuotedString(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === EOF) return lx.errorf(`unterminated string: the '"' at ${lx.lines.at(lx.tokStart)} is never closed`, lx.pos);
  if (r === BACKSLASH) { lx.addCurrentStringPart(1); return lexStringEscape; }
  return r === DQ ? lx.close(T.String, true, true) : lexDubQuotedString;
}

/** Unquoted string; may turn out to be a boolean or a $variable. */
function lexString(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === BACKSLASH) { lx.addCurrentStringPart(1); return lexStringEscape; }
  if (isNL(r) || r === EOF || r === SEMI || r === COMMA || r === ARRAY_END || r === MAP_END || isWhitespace(r)) {
    lx.backup();
    const text = lx.input.slice(lx.start, lx.pos);
    if (lx.parts.length > 0) {
      lx.emit(T.String, true); // escapes make it a plain string, never a boolean or variable
    } else if (/^(true|false|yes|no|on|off)$/i.test(text)) {
      lx.emit(T.Bool);
    } else if (text.charCodeAt(0) === DOLLAR) {
      lx.start += 1;
      lx.emit(T.Variable);
    } else {
      lx.emit(T.String);
    }
    return lx.pop();
  }
  return r === SQ ? lx.close(T.String, true) : lexString; // lex.go: a "'" ends it and is dropped
}

/** `( ... )`: raw text up to a ")" alone on its line. */
function lexBlock(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === EOF) return lx.errorf(`unterminated block: the "(" at ${lx.lines.at(lx.tokStart)} needs a ")" alone on a line`, lx.pos);
  if (r !== BLOCK_END) return lexBlock;
  const at = lx.last;
  const after = at + 1 < lx.input.length ? lx.input.charCodeAt(at + 1) : EOF;
  if (lx.input.charCodeAt(at - 1) !== NL || (after !== NL && after !== EOF)) return lexBlock;
  lx.pos = at; // the text ends with the new line before ")"
  lx.emit(T.String);
  lx.pos = at + 1;
  lx.ignore();
  return lx.pop();
}

const ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '"': '"', '\\': '\\' };
const ALLOWED_ESCAPES = '(allowed: \\t \\n \\r \\" \\\\ \\xHH)';

function lexStringEscape(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === 0x78 /* x */) return lexStringBinary;
  const e = r === EOF ? undefined : ESCAPES[String.fromCharCode(r)];
  if (e !== undefined) return lx.addStringPart(Buffer.from(e, 'utf8'));
  if (r === EOF || isNL(r)) {
    return lx.errorf(`expected an escape character after "\\", found ${describe(r)} ${ALLOWED_ESCAPES}`, lx.last);
  }
  return lx.errorf(`invalid escape ${JSON.stringify('\\' + String.fromCharCode(r))} ${ALLOWED_ESCAPES}`, lx.last - 1);
}

function lexStringBinary(lx: Lexer): StateFn | null {
  const at = lx.pos;
  const a = lx.next();
  const b = a === EOF || isNL(a) ? a : lx.next();
  if (!isHex(a) || !isHex(b)) {
    const got = lx.input.slice(at, at + 2).replace(/[\r\n][^]*$/, '');
    return lx.errorf(`expected two hexadecimal digits after "\\x", found ${got === '' ? describe(a) : JSON.stringify(got)}`, at);
  }
  lx.addStringPart(Buffer.from([parseInt(lx.input.slice(at, at + 2), 16)]));
  return lx.stringStateFn;
}

// ---- numbers, dates, IP addresses ----------------------------------------------------------------

/** An integer, float, date, IP address, or a string that starts with a digit. */
function lexNumberOrDateOrStringOrIP(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r)) return lexNumberOrDateOrStringOrIP;
  if (r === MINUS) {
    if (lx.pos - lx.start === 5) return lexDateAfterYear;
    return lx.errorf('unexpected "-" in a number; dates must be in full ISO8601 Zulu form (2006-01-02T15:04:05Z)', lx.last);
  }
  if (r === DOT) return lexFloatStart; // a float, or an IP address
  if (isNumberSuffix(r)) return lexConvenientNumber;
  if (!endsNumber(lx, r)) {
    lx.stringStateFn = lexString; // e.g. `10s`, `4222abc`: the whole thing is a string
    return lexString;
  }
  return lx.close(T.Integer);
}

/** A size suffix: 1k, 1MB, 1GiB. */
function lexConvenientNumber(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (r === 0x62 || r === 0x42 || r === 0x69 || r === 0x49) return lexConvenientNumber; // b B i I
  if (endsNumber(lx, r) || isDigit(r)) return lx.close(T.Integer);
  lx.backup();
  lx.stringStateFn = lexString; // e.g. `500ms`: a string
  return lexString;
}

function lexDateAfterYear(lx: Lexer): StateFn | null {
  for (const f of '00-00T00:00:00Z') {
    const r = lx.next();
    if (f === '0' ? isDigit(r) : r === f.charCodeAt(0)) continue;
    const want = f === '0' ? 'a digit' : `"${f}"`;
    return lx.errorf(`expected ${want} in ISO8601 date (2006-01-02T15:04:05Z), found ${describe(r)}`, lx.last);
  }
  lx.emit(T.Datetime);
  return lx.pop();
}

function lexNegNumberStart(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r)) return lexNegNumber;
  if (r === DOT) return lx.errorf('a number cannot start with "." (write -0.5, not -.5)', lx.last);
  return lx.errorf(`expected a digit after "-", found ${describe(r)}`, lx.last);
}

function lexNegNumber(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r)) return lexNegNumber;
  if (r === DOT) return lexFloatStart;
  if (isNumberSuffix(r)) return lexConvenientNumber;
  return lx.close(T.Integer);
}

function lexFloatStart(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r)) return lexFloat;
  return lx.errorf(`expected a digit after "." in a number, found ${describe(r)}`, lx.last);
}

function lexFloat(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r)) return lexFloat;
  if (r === DOT) return lexIPAddr; // 127.0.0.1
  return lx.close(T.Float);
}

/** An IP address, with a port maybe: 127.0.0.1:4222. */
function lexIPAddr(lx: Lexer): StateFn | null {
  const r = lx.next();
  if (isDigit(r) || r === DOT || r === COLON || r === MINUS) return lexIPAddr;
  return lx.close(T.String);
}

/** A comment runs to the end of the line; the state pushed before it resumes at the new line. */
function lexComment(lx: Lexer): StateFn | null {
  const r = lx.peek();
  if (isNL(r) || r === EOF) { lx.ignore(); return lx.pop(); }
  lx.next();
  return lexComment;
}
