// Client-protocol parser: one flat byte-state machine, after nats-server's server/parser.go.
//
// Arguments are reported as offsets into the buffer they live in (the read buffer itself, or the
// parser's scratch buffer when a control line was split across two reads); the payload is skipped in
// one jump. Only a frame split across reads is copied, once: the control line into `argBuf`, the
// payload into `msgBuf`. Nothing is allocated per message on the PUB path.
//
// The parser calls back into a `ParserHandler` (the connection) with plain numbers; the handler may
// set `stopped` to end parsing (connection closed).
import { parseDigits } from './wire.js';

/** Parser states. Plain numbers: a `const` object, not an enum. */
const S = {
  OP_START: 0,
  OP_P: 1, OP_PU: 2, OP_PUB: 3, OP_PUB_SPC: 4,
  OP_H: 5, OP_HP: 6, OP_HPU: 7, OP_HPUB: 8, OP_HPUB_SPC: 9,
  OP_S: 10, OP_SU: 11, OP_SUB: 12, OP_SUB_SPC: 13,
  OP_U: 14, OP_UN: 15, OP_UNS: 16, OP_UNSU: 17, OP_UNSUB: 18, OP_UNSUB_SPC: 19,
  OP_C: 20, OP_CO: 21, OP_CON: 22, OP_CONN: 23, OP_CONNE: 24, OP_CONNEC: 25, OP_CONNECT: 26,
  OP_I: 27, OP_IN: 28, OP_INF: 29, OP_INFO: 30,
  OP_PI: 31, OP_PIN: 32, OP_PING: 33,
  OP_PO: 34, OP_PON: 35, OP_PONG: 36,
  OP_PLUS: 37, OP_PLUS_O: 38, OP_PLUS_OK: 39,
  OP_MINUS: 40, OP_MINUS_E: 41, OP_MINUS_ER: 42, OP_MINUS_ERR: 43,
  /** Reading a control line's arguments up to '\n'; `argOp` says which op. */
  ARG: 44,
  MSG_PAYLOAD: 45,
  /** Skipping to the end of a line whose content is ignored (PING/PONG/+OK/-ERR tails). */
  SKIP_LINE: 46,
} as const;

/** Which op an ARG line belongs to. */
export const Op = {
  PUB: 1,
  HPUB: 2,
  SUB: 3,
  UNSUB: 4,
  CONNECT: 5,
  INFO: 6,
  ERR: 7,
  PING: 8,
  PONG: 9,
  OK: 10,
} as const;

/** Why parsing failed; the handler maps these to nats-server's -ERR texts. */
export const ParseError = {
  /** Unknown op, or a frame not terminated by CRLF: `Unknown Protocol Operation`. */
  UNKNOWN_OP: 1,
  /** Control line longer than max_control_line: `Maximum Control Line Exceeded`. */
  CONTROL_LINE: 2,
  /** PUB/HPUB arguments malformed (count or size): processPub Parse Error. */
  PUB_ARGS: 3,
  /** Authentication required and the first op was not CONNECT. */
  AUTH: 4,
  /** The client sent -ERR: client.go processErr closes the connection. */
  CLIENT_ERR: 5,
} as const;
export type ParseErrorCode = (typeof ParseError)[keyof typeof ParseError];

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

export interface ParserHandler {
  /** Set to true to stop parsing (the connection was closed). */
  stopped: boolean;
  processConnect(buf: Buffer, start: number, end: number): void;
  processPing(): void;
  processPong(): void;
  processSub(buf: Buffer, start: number, end: number): void;
  processUnsub(buf: Buffer, start: number, end: number): void;
  /** Called when PUB/HPUB arguments are parsed (parser.pa*); return false to refuse (connection closed). */
  processPubArgs(p: ClientParser): boolean;
  /** A whole message: arguments in parser.pa*, payload (headers included) in buf[start, end). */
  processMsg(p: ClientParser, buf: Buffer, start: number, end: number): void;
  parseError(code: ParseErrorCode): void;
}

const INITIAL_SCRATCH = 512;
/** First size of the scratch for a payload split across reads (it doubles up to the payload). */
const SPLIT_INITIAL = 64 * 1024;

export class ClientParser {
  state: number = S.OP_START;
  /** Which op the current ARG line belongs to. */
  argOp = 0;
  /** Start of the current argument line in the read buffer (when not spilled). */
  as = 0;
  /** Bytes of a split control line saved in argBuf. */
  argLen = 0;
  argBuf: Buffer = Buffer.allocUnsafe(INITIAL_SCRATCH);
  /** Scratch for a split payload; reused across messages. */
  msgBuf: Buffer | null = null;
  /** Bytes of the split payload (+CRLF) collected so far; -1 when not collecting. */
  msgLen = -1;
  maxControlLine = 4096;
  /** When true the first op must be CONNECT (authorization required). */
  requireConnect = false;

  // Parsed PUB/HPUB arguments. `paBuf` is the buffer the offsets point into.
  paBuf: Buffer = this.argBuf;
  paSubjectStart = 0;
  paSubjectEnd = 0;
  /** -1 when there is no reply subject. */
  paReplyStart = -1;
  paReplyEnd = -1;
  /** Header length, or -1 for PUB. */
  paHdr = -1;
  /** Total payload size (headers included). */
  paSize = 0;

  readonly handler: ParserHandler;

  constructor(handler: ParserHandler) {
    this.handler = handler;
  }

  /** True between frames: nothing of a split op is held (a connection may change hands here). */
  atFrameBoundary(): boolean {
    return this.state === S.OP_START && this.argLen === 0 && this.msgLen < 0;
  }

  /**
   * Parses one read. The buffer may be reused by the caller after this returns. Returns how many
   * bytes were consumed: all of them, unless the handler stopped the parser (then the index just
   * after the op that stopped it, so a suspended connection can keep the rest for later).
   */
  parse(buf: Buffer): number {
    const h = this.handler;
    const len = buf.length;
    let i = 0;
    let b = 0;
    while (i < len) {
      switch (this.state) {
        case S.OP_START:
          b = buf[i]!;
          // "PUB " in one piece (a publisher's every message): straight to its arguments, four byte
          // compares instead of four turns through the per-byte states below.
          if (b === 0x50 && i + 4 < len && buf[i + 1] === 0x55 && buf[i + 2] === 0x42 && buf[i + 3] === SPACE && !this.requireConnect) {
            this.state = S.OP_PUB_SPC;
            i = this.startArg(buf, i + 4, Op.PUB);
            break;
          }
          if (this.requireConnect && b !== 0x43 && b !== 0x63) return this.fail(ParseError.AUTH);
          switch (b) {
            case 0x50: case 0x70: this.state = S.OP_P; break; // P
            case 0x48: case 0x68: this.state = S.OP_H; break; // H
            case 0x53: case 0x73: this.state = S.OP_S; break; // S
            case 0x55: case 0x75: this.state = S.OP_U; break; // U
            case 0x43: case 0x63: this.state = S.OP_C; break; // C
            case 0x49: case 0x69: this.state = S.OP_I; break; // I
            case 0x2b: this.state = S.OP_PLUS; break; // +
            case 0x2d: this.state = S.OP_MINUS; break; // -
            default: return this.fail(ParseError.UNKNOWN_OP);
          }
          i++;
          break;
        case S.OP_P:
          b = buf[i++]! | 0x20; // lower-case
          if (b === 0x75) this.state = S.OP_PU;
          else if (b === 0x69) this.state = S.OP_PI;
          else if (b === 0x6f) this.state = S.OP_PO;
          else return this.fail(ParseError.UNKNOWN_OP);
          break;
        case S.OP_PU:
          if ((buf[i++]! | 0x20) !== 0x62) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_PUB;
          break;
        case S.OP_PUB:
          b = buf[i++]!;
          if (b !== SPACE && b !== TAB) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_PUB_SPC;
          break;
        case S.OP_PUB_SPC:
          i = this.startArg(buf, i, Op.PUB);
          break;
        case S.OP_H:
          b = buf[i++]! | 0x20;
          if (b !== 0x70) return this.fail(ParseError.UNKNOWN_OP); // clients never send HMSG
          this.state = S.OP_HP;
          break;
        case S.OP_HP:
          if ((buf[i++]! | 0x20) !== 0x75) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_HPU;
          break;
        case S.OP_HPU:
          if ((buf[i++]! | 0x20) !== 0x62) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_HPUB;
          break;
        case S.OP_HPUB:
          b = buf[i++]!;
          if (b !== SPACE && b !== TAB) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_HPUB_SPC;
          break;
        case S.OP_HPUB_SPC:
          i = this.startArg(buf, i, Op.HPUB);
          break;
        case S.OP_S:
          if ((buf[i++]! | 0x20) !== 0x75) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_SU;
          break;
        case S.OP_SU:
          if ((buf[i++]! | 0x20) !== 0x62) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_SUB;
          break;
        case S.OP_SUB:
          b = buf[i++]!;
          if (b !== SPACE && b !== TAB) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_SUB_SPC;
          break;
        case S.OP_SUB_SPC:
          i = this.startArg(buf, i, Op.SUB);
          break;
        case S.OP_U:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_UN;
          break;
        case S.OP_UN:
          if ((buf[i++]! | 0x20) !== 0x73) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_UNS;
          break;
        case S.OP_UNS:
          if ((buf[i++]! | 0x20) !== 0x75) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_UNSU;
          break;
        case S.OP_UNSU:
          if ((buf[i++]! | 0x20) !== 0x62) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_UNSUB;
          break;
        case S.OP_UNSUB:
          b = buf[i++]!;
          if (b !== SPACE && b !== TAB) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_UNSUB_SPC;
          break;
        case S.OP_UNSUB_SPC:
          i = this.startArg(buf, i, Op.UNSUB);
          break;
        case S.OP_C:
          if ((buf[i++]! | 0x20) !== 0x6f) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CO;
          break;
        case S.OP_CO:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CON;
          break;
        case S.OP_CON:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CONN;
          break;
        case S.OP_CONN:
          if ((buf[i++]! | 0x20) !== 0x65) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CONNE;
          break;
        case S.OP_CONNE:
          if ((buf[i++]! | 0x20) !== 0x63) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CONNEC;
          break;
        case S.OP_CONNEC:
          if ((buf[i++]! | 0x20) !== 0x74) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_CONNECT;
          break;
        case S.OP_CONNECT:
          // parser.go: spaces after CONNECT are skipped, anything else starts the argument.
          i = this.startArg(buf, i, Op.CONNECT);
          break;
        case S.OP_I:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_IN;
          break;
        case S.OP_IN:
          if ((buf[i++]! | 0x20) !== 0x66) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_INF;
          break;
        case S.OP_INF:
          if ((buf[i++]! | 0x20) !== 0x6f) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_INFO;
          break;
        case S.OP_INFO:
          // A client's INFO is accepted and ignored (nats-server only acts on it for routes).
          i = this.startArg(buf, i, Op.INFO);
          break;
        case S.OP_PI:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_PIN;
          break;
        case S.OP_PIN:
          if ((buf[i++]! | 0x20) !== 0x67) return this.fail(ParseError.UNKNOWN_OP);
          this.argOp = Op.PING;
          this.state = S.SKIP_LINE;
          break;
        case S.OP_PO:
          if ((buf[i++]! | 0x20) !== 0x6e) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_PON;
          break;
        case S.OP_PON:
          if ((buf[i++]! | 0x20) !== 0x67) return this.fail(ParseError.UNKNOWN_OP);
          this.argOp = Op.PONG;
          this.state = S.SKIP_LINE;
          break;
        case S.OP_PLUS:
          if ((buf[i++]! | 0x20) !== 0x6f) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_PLUS_O;
          break;
        case S.OP_PLUS_O:
          if ((buf[i++]! | 0x20) !== 0x6b) return this.fail(ParseError.UNKNOWN_OP);
          this.argOp = Op.OK;
          this.state = S.SKIP_LINE;
          break;
        case S.OP_MINUS:
          if ((buf[i++]! | 0x20) !== 0x65) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_MINUS_E;
          break;
        case S.OP_MINUS_E:
          if ((buf[i++]! | 0x20) !== 0x72) return this.fail(ParseError.UNKNOWN_OP);
          this.state = S.OP_MINUS_ER;
          break;
        case S.OP_MINUS_ER:
          if ((buf[i++]! | 0x20) !== 0x72) return this.fail(ParseError.UNKNOWN_OP);
          this.argOp = Op.ERR;
          this.state = S.SKIP_LINE;
          break;
        case S.SKIP_LINE: {
          // Everything up to '\n' is ignored (parser.go OP_PING: "PINGxyz\r\n" is a PING).
          const nl = buf.indexOf(LF, i);
          if (nl < 0) return len;
          i = nl + 1;
          this.state = S.OP_START;
          if (this.argOp === Op.PING) h.processPing();
          else if (this.argOp === Op.PONG) h.processPong();
          else if (this.argOp === Op.ERR) return this.fail(ParseError.CLIENT_ERR);
          if (h.stopped) return i;
          break;
        }
        case S.ARG: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) {
            // Split control line: keep what we have and wait for the rest.
            this.spillArg(buf, this.argLen > 0 ? i : this.as, len);
            if (this.argLen > this.maxControlLine) return this.fail(ParseError.CONTROL_LINE);
            return len;
          }
          let lb: Buffer;
          let ls: number;
          let le: number;
          if (this.argLen > 0) {
            this.spillArg(buf, i, nl);
            lb = this.argBuf;
            ls = 0;
            le = this.argLen;
            this.argLen = 0;
          } else {
            lb = buf;
            ls = this.as;
            le = nl;
          }
          i = nl + 1;
          if (le > ls && lb[le - 1] === CR) le--;
          if (le - ls > this.maxControlLine) return this.fail(ParseError.CONTROL_LINE);
          this.state = S.OP_START;
          switch (this.argOp) {
            case Op.PUB:
            case Op.HPUB:
              if (!this.parsePubArgs(lb, ls, le, this.argOp === Op.HPUB)) return this.fail(ParseError.PUB_ARGS);
              if (!h.processPubArgs(this)) return len;
              i = this.startPayload(buf, i, len);
              break;
            case Op.SUB:
              h.processSub(lb, ls, le);
              break;
            case Op.UNSUB:
              h.processUnsub(lb, ls, le);
              break;
            case Op.CONNECT:
              h.processConnect(lb, ls, le);
              break;
            default:
              break; // INFO from a client: ignored
          }
          if (h.stopped) return i;
          break;
        }
        case S.MSG_PAYLOAD:
          i = this.continuePayload(buf, i, len);
          if (h.stopped) return i;
          break;
        default:
          return this.fail(ParseError.UNKNOWN_OP);
      }
    }
    return len;
  }

  /** After an op's separator: skip blanks; the first other byte starts the argument line. */
  private startArg(buf: Buffer, i: number, op: number): number {
    const b = buf[i]!;
    if (b === SPACE || b === TAB) return i + 1;
    this.argOp = op;
    this.as = i;
    this.argLen = 0;
    this.state = S.ARG;
    return i;
  }

  /** Appends buf[from, to) to argBuf, growing it as needed. */
  private spillArg(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (this.argLen + n > this.argBuf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.argBuf.length * 2, this.argLen + n));
      this.argBuf.copy(grown, 0, 0, this.argLen);
      this.argBuf = grown;
    }
    buf.copy(this.argBuf, this.argLen, from, to);
    this.argLen += n;
  }

  /**
   * Splits PUB/HPUB arguments (subject [reply] [hdr] size) into the pa* fields, as processPub /
   * processHeaderPub do. Blanks (space, tab) separate; runs count as one.
   */
  private parsePubArgs(lb: Buffer, s: number, e: number, headers: boolean): boolean {
    // Up to 4 tokens; record start/end of each.
    let n = 0;
    let t0s = 0, t0e = 0, t1s = 0, t1e = 0, t2s = 0, t2e = 0, t3s = 0, t3e = 0;
    let i = s;
    while (i < e) {
      let b = lb[i]!;
      if (b === SPACE || b === TAB) {
        i++;
        continue;
      }
      const ts = i;
      while (i < e) {
        b = lb[i]!;
        if (b === SPACE || b === TAB) break;
        i++;
      }
      switch (n) {
        case 0: t0s = ts; t0e = i; break;
        case 1: t1s = ts; t1e = i; break;
        case 2: t2s = ts; t2e = i; break;
        case 3: t3s = ts; t3e = i; break;
        default: return false;
      }
      n++;
    }
    this.paBuf = lb;
    this.paSubjectStart = t0s;
    this.paSubjectEnd = t0e;
    this.paReplyStart = -1;
    this.paReplyEnd = -1;
    if (!headers) {
      this.paHdr = -1;
      if (n === 2) {
        this.paSize = parseSize(lb, t1s, t1e);
      } else if (n === 3) {
        this.paReplyStart = t1s;
        this.paReplyEnd = t1e;
        this.paSize = parseSize(lb, t2s, t2e);
      } else return false;
      return this.paSize >= 0;
    }
    if (n === 3) {
      this.paHdr = parseSize(lb, t1s, t1e);
      this.paSize = parseSize(lb, t2s, t2e);
    } else if (n === 4) {
      this.paReplyStart = t1s;
      this.paReplyEnd = t1e;
      this.paHdr = parseSize(lb, t2s, t2e);
      this.paSize = parseSize(lb, t3s, t3e);
    } else return false;
    // processHeaderPub: a header size above the total is a parse error.
    return this.paHdr >= 0 && this.paSize >= 0 && this.paHdr <= this.paSize;
  }

  /** The control line of a PUB is done: deliver in place if the whole payload is here, else spill. */
  private startPayload(buf: Buffer, i: number, len: number): number {
    const end = i + this.paSize;
    if (end + 2 <= len) {
      if (buf[end] !== CR || buf[end + 1] !== LF) {
        this.fail(ParseError.UNKNOWN_OP);
        return len;
      }
      this.handler.processMsg(this, buf, i, end);
      return end + 2;
    }
    // parser.go checks MSG_END_R/MSG_END_N byte by byte: a wrong byte already here is an error now.
    if ((end < len && buf[end] !== CR) || (end + 1 < len && buf[end + 1] !== LF)) {
      this.fail(ParseError.UNKNOWN_OP);
      return len;
    }
    // Split payload: the arguments must survive the caller reusing `buf`, so move them to argBuf.
    if (this.paBuf === buf) this.saveArgs(buf);
    const need = this.paSize + 2;
    // Room for what is here, doubling as the rest arrives: a payload announced (up to max_payload)
    // but never sent costs what was sent, not the size it claimed (garbage on many connections).
    const first = Math.min(need, Math.max(SPLIT_INITIAL, 2 * (len - i)));
    if (this.msgBuf === null || this.msgBuf.length < first) this.msgBuf = Buffer.allocUnsafe(Math.max(first, 256));
    this.msgLen = 0;
    this.state = S.MSG_PAYLOAD;
    return this.continuePayload(buf, i, len);
  }

  private continuePayload(buf: Buffer, i: number, len: number): number {
    let mb = this.msgBuf!;
    const need = this.paSize + 2;
    const n = Math.min(need - this.msgLen, len - i);
    if (mb.length < this.msgLen + n) {
      const grown = Buffer.allocUnsafe(Math.min(need, Math.max(mb.length * 2, this.msgLen + n)));
      mb.copy(grown, 0, 0, this.msgLen);
      this.msgBuf = mb = grown;
    }
    buf.copy(mb, this.msgLen, i, i + n);
    this.msgLen += n;
    if (this.msgLen < need) {
      if (this.msgLen > this.paSize && mb[this.paSize] !== CR) this.fail(ParseError.UNKNOWN_OP);
      return len;
    }
    this.state = S.OP_START;
    this.msgLen = -1;
    if (mb[need - 2] !== CR || mb[need - 1] !== LF) {
      this.fail(ParseError.UNKNOWN_OP);
      return len;
    }
    this.handler.processMsg(this, mb, 0, this.paSize);
    // Do not keep a large scratch buffer alive for a connection that sent one big message.
    if (mb.length > 65536) this.msgBuf = null;
    return i + n;
  }

  /** Copies the subject and reply of the pending PUB into argBuf and rebases the offsets. */
  private saveArgs(buf: Buffer): void {
    const sLen = this.paSubjectEnd - this.paSubjectStart;
    const rLen = this.paReplyStart >= 0 ? this.paReplyEnd - this.paReplyStart : 0;
    if (this.argBuf.length < sLen + rLen) this.argBuf = Buffer.allocUnsafe(Math.max(sLen + rLen, this.argBuf.length * 2));
    buf.copy(this.argBuf, 0, this.paSubjectStart, this.paSubjectEnd);
    this.paSubjectStart = 0;
    this.paSubjectEnd = sLen;
    if (this.paReplyStart >= 0) {
      buf.copy(this.argBuf, sLen, this.paReplyStart, this.paReplyEnd);
      this.paReplyStart = sLen;
      this.paReplyEnd = sLen + rLen;
    }
    this.paBuf = this.argBuf;
  }

  /** Reports a parse error; the connection is closed, so nothing more of the input is consumed. */
  private fail(code: ParseErrorCode): number {
    this.state = S.OP_START;
    this.argLen = 0;
    this.msgLen = -1;
    this.handler.parseError(code);
    this.handler.stopped = true;
    return -1;
  }
}

/**
 * Decimal digits only, as util.go parseSize; -1 for empty, non-digits or more than 9 digits
 * (maxParseSizeLen, 999M): a 10-digit PUB size is a parse error (closed without -ERR), not a
 * payload above max_payload.
 */
export function parseSize(b: Buffer, s: number, e: number): number {
  return parseDigits(b, s, e, 9);
}
