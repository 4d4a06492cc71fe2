// Route-protocol parser: the ops nats-server speaks between cluster nodes (parser.go for a ROUTER
// connection), in the flat byte-state style of src/protocol/parser.ts.
//
//   INFO {json}            CONNECT {json}          PING / PONG / +OK / -ERR 'text'
//   RS+ <acc> <subject> [<queue> <weight>]         RS- <acc> <subject> [<queue>]
//   LS+ <origin> <acc> <subject> [<queue> <weight>]  LS- <acc> <subject> [<queue>]
//   RMSG <acc> <subject> [<reply> | + <reply> <q>... | '|' <q>...] <size>
//   HMSG <acc> <subject> [...same...] <hdr> <size>
//   LMSG <origin> <acc> <subject> [...same...] <hdr> <size>
//   A+ / A- <acc>          (account interest: gateways only, ignored on routes)
//
// Op names are recognised byte by byte into a small hash (they may be split across reads); the
// arguments are reported as offsets into the buffer they live in, the payload is skipped in one jump.
// Only a frame split across reads is copied. Nothing is allocated per message on the RMSG path.
import { parseDigits } from '../protocol/wire.js';

/** Which op an argument line belongs to. */
export const RouteOp = {
  INFO: 1,
  CONNECT: 2,
  ERR: 3,
  RS_SUB: 4,
  RS_UNSUB: 5,
  LS_SUB: 6,
  LS_UNSUB: 7,
  RMSG: 8,
  HMSG: 9,
  LMSG: 10,
  A_SUB: 11,
  A_UNSUB: 12,
  PING: 13,
  PONG: 14,
  OK: 15,
} as const;

const S = {
  OP_START: 0,
  /** Reading an op name (letters and +/-) into `opHash`. */
  OP_NAME: 1,
  /** After an op that takes arguments: skipping blanks before them. */
  OP_SPC: 2,
  ARG: 3,
  MSG_PAYLOAD: 4,
  /** Skipping to '\n' (PING, PONG, +OK). */
  SKIP_LINE: 5,
} as const;

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;
/** No limit in nats-server for routes; a megabyte keeps a broken peer from growing memory unbounded. */
const MAX_ROUTE_CONTROL_LINE = 1024 * 1024;
const MAX_OP_NAME = 8;

function opHashOf(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 64 + name.charCodeAt(i)) % 0x7fffffff;
  return h;
}

const OPS = new Map<number, number>([
  [opHashOf('INFO'), RouteOp.INFO],
  [opHashOf('CONNECT'), RouteOp.CONNECT],
  [opHashOf('-ERR'), RouteOp.ERR],
  [opHashOf('RS+'), RouteOp.RS_SUB],
  [opHashOf('RS-'), RouteOp.RS_UNSUB],
  [opHashOf('LS+'), RouteOp.LS_SUB],
  [opHashOf('LS-'), RouteOp.LS_UNSUB],
  [opHashOf('RMSG'), RouteOp.RMSG],
  [opHashOf('HMSG'), RouteOp.HMSG],
  [opHashOf('LMSG'), RouteOp.LMSG],
  [opHashOf('A+'), RouteOp.A_SUB],
  [opHashOf('A-'), RouteOp.A_UNSUB],
  [opHashOf('PING'), RouteOp.PING],
  [opHashOf('PONG'), RouteOp.PONG],
  [opHashOf('+OK'), RouteOp.OK],
]);

export interface RouteParserHandler {
  /** Set to true to stop parsing (the connection was closed, or waits for a verdict). */
  stopped: boolean;
  processInfo(buf: Buffer, s: number, e: number): void;
  processConnect(buf: Buffer, s: number, e: number): void;
  processPing(): void;
  processPong(): void;
  processErr(buf: Buffer, s: number, e: number): void;
  /** RS+ (origin false) or LS+ (origin true): the arguments line. */
  processRemoteSub(buf: Buffer, s: number, e: number, origin: boolean): void;
  /** RS- or LS-: the arguments line. */
  processRemoteUnsub(buf: Buffer, s: number, e: number): void;
  /** RMSG/HMSG/LMSG: arguments in the parser's pa* fields, payload (headers included) in buf[start, end). */
  processRoutedMsg(p: RouteParser, buf: Buffer, start: number, end: number): void;
  /** The peer sent something that is not the route protocol; `what` is for the log. */
  parseError(what: string): void;
}

export class RouteParser {
  state: number = S.OP_START;
  private opHash = 0;
  private opLen = 0;
  argOp = 0;
  private as = 0;
  private argLen = 0;
  private argBuf: Buffer = Buffer.allocUnsafe(512);
  private msgBuf: Buffer | null = null;
  private msgLen = -1;
  /** Token boundaries of the current message line (start, end pairs). */
  private tok = new Int32Array(32);

  // The current message (MsgArgs for delivery, plus the route's own fields). Offsets into paBuf.
  paBuf: Buffer = this.argBuf;
  paAccStart = 0;
  paAccEnd = 0;
  paSubjectStart = 0;
  paSubjectEnd = 0;
  paReplyStart = -1;
  paReplyEnd = -1;
  /** Queue names (blank-separated) the sender chose this server for; start === end when none. */
  paQueuesStart = 0;
  paQueuesEnd = 0;
  /** LMSG origin cluster; -1 when none. */
  paOriginStart = -1;
  paOriginEnd = -1;
  paHdr = -1;
  paSize = 0;

  readonly handler: RouteParserHandler;

  constructor(handler: RouteParserHandler) {
    this.handler = handler;
  }

  /** Parses one read; returns the bytes consumed (all, unless the handler stopped the parser). */
  parse(buf: Buffer): number {
    const h = this.handler;
    const len = buf.length;
    let i = 0;
    while (i < len) {
      switch (this.state) {
        case S.OP_START: {
          const b = buf[i]!;
          if (b === CR || b === LF) {
            i++; // stray line ends between ops are tolerated
            break;
          }
          this.opHash = 0;
          this.opLen = 0;
          this.state = S.OP_NAME;
          break;
        }
        case S.OP_NAME: {
          // The hot op is RMSG: recognised at once when its name is whole in this read.
          if (this.opLen === 0 && i + 4 < len && (buf[i]! | 0x20) === 0x72 && (buf[i + 1]! | 0x20) === 0x6d && (buf[i + 2]! | 0x20) === 0x73 && (buf[i + 3]! | 0x20) === 0x67 && (buf[i + 4] === SPACE || buf[i + 4] === TAB)) {
            this.argOp = RouteOp.RMSG;
            this.state = S.OP_SPC;
            i += 5;
            break;
          }
          let b = buf[i]!;
          while (b !== SPACE && b !== TAB && b !== CR && b !== LF) {
            if (++this.opLen > MAX_OP_NAME) return this.fail('unknown protocol operation');
            if (b >= 0x61 && b <= 0x7a) b -= 32; // upper-case
            this.opHash = (this.opHash * 64 + b) % 0x7fffffff;
            if (++i === len) return len;
            b = buf[i]!;
          }
          const op = OPS.get(this.opHash) ?? 0;
          if (op === 0) return this.fail('unknown protocol operation');
          this.argOp = op;
          if (op === RouteOp.PING || op === RouteOp.PONG || op === RouteOp.OK) this.state = S.SKIP_LINE;
          else if (b === CR || b === LF) return this.fail('missing arguments');
          else this.state = S.OP_SPC;
          break;
        }
        case S.OP_SPC: {
          const b = buf[i]!;
          if (b === SPACE || b === TAB) {
            i++;
            break;
          }
          this.as = i;
          this.argLen = 0;
          this.state = S.ARG;
          break;
        }
        case S.SKIP_LINE: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) return len;
          i = nl + 1;
          this.state = S.OP_START;
          if (this.argOp === RouteOp.PING) h.processPing();
          else if (this.argOp === RouteOp.PONG) h.processPong();
          if (h.stopped) return i;
          break;
        }
        case S.ARG: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) {
            this.spillArg(buf, this.argLen > 0 ? i : this.as, len);
            if (this.argLen > MAX_ROUTE_CONTROL_LINE) return this.fail('control line too long');
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
          this.state = S.OP_START;
          switch (this.argOp) {
            case RouteOp.RMSG:
            case RouteOp.HMSG:
            case RouteOp.LMSG: {
              const err = this.parseMsgArgs(lb, ls, le, this.argOp);
              if (err !== null) return this.fail(err);
              i = this.startPayload(buf, i, len, lb, ls, le);
              break;
            }
            case RouteOp.RS_SUB:
              h.processRemoteSub(lb, ls, le, false);
              break;
            case RouteOp.LS_SUB:
              h.processRemoteSub(lb, ls, le, true);
              break;
            case RouteOp.RS_UNSUB:
            case RouteOp.LS_UNSUB:
              h.processRemoteUnsub(lb, ls, le);
              break;
            case RouteOp.INFO:
              h.processInfo(lb, ls, le);
              break;
            case RouteOp.CONNECT:
              h.processConnect(lb, ls, le);
              break;
            case RouteOp.ERR:
              h.processErr(lb, ls, le);
              break;
            default:
              break; // A+/A-: gateway interest, nothing to do on a route
          }
          if (h.stopped) return i;
          break;
        }
        case S.MSG_PAYLOAD:
          i = this.continuePayload(buf, i, len);
          if (h.stopped) return i;
          break;
        default:
          return this.fail('bad parser state');
      }
    }
    return len;
  }

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

  /** Splits the line into tokens (tok[2k], tok[2k+1]); returns their number. */
  private tokenize(lb: Buffer, s: number, e: number): number {
    let n = 0;
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
      if (2 * n + 2 > this.tok.length) {
        const t = new Int32Array(this.tok.length * 2);
        t.set(this.tok);
        this.tok = t;
      }
      this.tok[2 * n] = ts;
      this.tok[2 * n + 1] = i;
      n++;
    }
    return n;
  }

  /**
   * processRoutedMsgArgs / processRoutedHeaderMsgArgs / processRoutedOriginClusterMsgArgs: fills pa*;
   * returns an error text or null.
   */
  private parseMsgArgs(lb: Buffer, s: number, e: number, op: number): string | null {
    const n = this.tokenize(lb, s, e);
    const t = this.tok;
    const off = op === RouteOp.LMSG ? 1 : 0;
    const sizes = op === RouteOp.RMSG ? 1 : 2;
    // origin? account subject ... [hdr] size
    if (n < 3 + off + (sizes - 1)) return 'parse error';
    this.paBuf = lb;
    if (off === 1) {
      this.paOriginStart = t[0]!;
      this.paOriginEnd = t[1]!;
    } else this.paOriginStart = this.paOriginEnd = -1;
    this.paAccStart = t[2 * off]!;
    this.paAccEnd = t[2 * off + 1]!;
    this.paSubjectStart = t[2 * off + 2]!;
    this.paSubjectEnd = t[2 * off + 3]!;
    this.paReplyStart = this.paReplyEnd = -1;
    this.paQueuesStart = this.paQueuesEnd = 0;
    const mid = n - (2 + off) - sizes; // tokens between the subject and the sizes
    const m0 = 2 + off; // index of the first middle token
    if (mid === 1) {
      this.paReplyStart = t[2 * m0]!;
      this.paReplyEnd = t[2 * m0 + 1]!;
    } else if (mid > 1) {
      const ind = t[2 * m0]!;
      if (t[2 * m0 + 1]! - ind !== 1) return 'bad or missing reply indicator';
      let q0 = m0 + 1;
      if (lb[ind] === 0x2b) {
        this.paReplyStart = t[2 * m0 + 2]!;
        this.paReplyEnd = t[2 * m0 + 3]!;
        q0 = m0 + 2;
      } else if (lb[ind] !== 0x7c) return 'bad or missing reply indicator';
      const qn = n - sizes; // first size token
      if (q0 < qn) {
        this.paQueuesStart = t[2 * q0]!;
        this.paQueuesEnd = t[2 * (qn - 1) + 1]!;
      }
    }
    this.paSize = parseSize(lb, t[2 * (n - 1)]!, t[2 * (n - 1) + 1]!);
    if (this.paSize < 0) return 'bad or missing size';
    if (sizes === 2) {
      this.paHdr = parseSize(lb, t[2 * (n - 2)]!, t[2 * (n - 2) + 1]!);
      if (this.paHdr < 0) return 'bad or missing header size';
      if (this.paHdr > this.paSize) return 'header size larger than total size';
    } else this.paHdr = -1;
    return null;
  }

  private startPayload(buf: Buffer, i: number, len: number, lb: Buffer, ls: number, le: number): number {
    const end = i + this.paSize;
    if (end + 2 <= len) {
      if (buf[end] !== CR || buf[end + 1] !== LF) {
        this.fail('message not terminated by CRLF');
        return len;
      }
      this.handler.processRoutedMsg(this, buf, i, end);
      return end + 2;
    }
    // Split payload: the arguments must survive the caller reusing `buf`: keep the line in argBuf.
    if (lb === buf) this.saveArgs(lb, ls, le);
    const need = this.paSize + 2;
    if (this.msgBuf === null || this.msgBuf.length < need) this.msgBuf = Buffer.allocUnsafe(Math.max(need, 256));
    this.msgLen = 0;
    this.state = S.MSG_PAYLOAD;
    return this.continuePayload(buf, i, len);
  }

  private continuePayload(buf: Buffer, i: number, len: number): number {
    const mb = this.msgBuf!;
    const need = this.paSize + 2;
    const n = Math.min(need - this.msgLen, len - i);
    buf.copy(mb, this.msgLen, i, i + n);
    this.msgLen += n;
    if (this.msgLen < need) return len;
    this.state = S.OP_START;
    this.msgLen = -1;
    if (mb[need - 2] !== CR || mb[need - 1] !== LF) {
      this.fail('message not terminated by CRLF');
      return len;
    }
    this.handler.processRoutedMsg(this, mb, 0, this.paSize);
    if (mb.length > 65536) this.msgBuf = null;
    return i + n;
  }

  /** Copies the argument line into argBuf and rebases every offset into it. */
  private saveArgs(lb: Buffer, ls: number, le: number): void {
    const n = le - ls;
    if (this.argBuf.length < n) this.argBuf = Buffer.allocUnsafe(Math.max(n, this.argBuf.length * 2));
    lb.copy(this.argBuf, 0, ls, le);
    this.paAccStart -= ls;
    this.paAccEnd -= ls;
    this.paSubjectStart -= ls;
    this.paSubjectEnd -= ls;
    if (this.paReplyStart >= 0) {
      this.paReplyStart -= ls;
      this.paReplyEnd -= ls;
    }
    if (this.paQueuesEnd > this.paQueuesStart) {
      this.paQueuesStart -= ls;
      this.paQueuesEnd -= ls;
    }
    if (this.paOriginStart >= 0) {
      this.paOriginStart -= ls;
      this.paOriginEnd -= ls;
    }
    this.paBuf = this.argBuf;
  }

  private fail(what: string): number {
    this.state = S.OP_START;
    this.argLen = 0;
    this.msgLen = -1;
    this.handler.parseError(what);
    this.handler.stopped = true;
    return -1;
  }
}

/** Decimal digits only, as parser.go parseSize; -1 for empty, non-digits or too large. */
function parseSize(b: Buffer, s: number, e: number): number {
  return parseDigits(b, s, e, 15);
}
