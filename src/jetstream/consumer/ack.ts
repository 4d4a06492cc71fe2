// Ack reply subjects and ack bodies (consumer.go ackReply / ackReplyInfo / processAck).
//
// Every delivered message carries the reply `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.
// <ts_ns>.<pending>`. Clients read their sequences from it (nats.js parseInfo, ordered consumers
// even with ack_policy none) and send acks back to it. nats.js also parses the 12-token v2 form
// (`$JS.ACK.<domain>.<account hash>.<stream>.<consumer>....<random>`); we send the 9-token form, as
// a nats-server without a domain does, and accept both.

export const AckKind = {
  ACK: 0,
  NAK: 1,
  PROGRESS: 2,
  NEXT: 3,
  TERM: 4,
} as const;
export type AckKind = (typeof AckKind)[keyof typeof AckKind];

export interface AckReplyInfo {
  stream: string;
  consumer: string;
  /** Delivery count of this delivery. */
  dc: number;
  sseq: number;
  dseq: number;
}

/** `$JS.ACK.<stream>.<consumer>`: the fixed part of a consumer's ack replies. */
export function ackPrefix(stream: string, consumer: string): string {
  return `$JS.ACK.${stream}.${consumer}`;
}

/**
 * ackReplyInfo: null when the subject is not an ack reply (wrong token count or prefix). One scan of
 * the dots (no split: this runs for every ack, and a split made nine strings of which two were kept).
 */
export function parseAckSubject(subject: string): AckReplyInfo | null {
  if (!subject.startsWith('$JS.ACK.')) return null;
  // Dot positions after `$JS.ACK`: 9 tokens have 7 more dots after index 7, 12 tokens have 10.
  const dots = DOTS;
  let n = 0;
  for (let i = 8; i < subject.length; i++) {
    if (subject.charCodeAt(i) !== 46 /* . */) continue;
    if (n === 10) return null;
    dots[n++] = i;
  }
  // Token k (k >= 2) spans (dots[k-3], dots[k-2]); token 2 starts at 8.
  let o: number;
  if (n === 6) o = 0;
  else if (n === 9) o = 2; // `$JS.ACK.<domain>.<account hash>.<stream>…`
  else return null;
  const streamStart = o === 0 ? 8 : dots[o - 1]! + 1;
  const stream = subject.slice(streamStart, dots[o]!);
  const consumer = subject.slice(dots[o]! + 1, dots[o + 1]!);
  const dc = num(subject, dots[o + 1]! + 1, dots[o + 2]!);
  const sseq = num(subject, dots[o + 2]! + 1, dots[o + 3]!);
  const dseq = num(subject, dots[o + 3]! + 1, dots[o + 4]!);
  if (dc < 0 || sseq < 0 || dseq < 0 || stream.length === 0 || consumer.length === 0) return null;
  return { stream, consumer, dc, sseq, dseq };
}

const DOTS = new Int32Array(10);

/** parseAckReplyNum over subject[from, to): digits only, else -1. */
function num(s: string, from: number, to: number): number {
  const len = to - from;
  if (len <= 0 || len > 16) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

export interface AckBody {
  kind: AckKind;
  /** What follows the verb (`-NAK {"delay":...}`, `+NXT {...}`, `+TERM reason`), trimmed. */
  arg: string;
}

/** True when buf[start, end) is an empty body or `+ACK`: an ack with nothing more to read. */
export function isPlainAck(buf: Buffer, start: number, end: number): boolean {
  const n = end - start;
  return n === 0 || (n === 4 && buf[start] === 43 && buf[start + 1] === 65 && buf[start + 2] === 67 && buf[start + 3] === 75);
}

/** Shared by every plain ack (nothing writes to a parsed body). */
const PLAIN_ACK: AckBody = Object.freeze({ kind: AckKind.ACK, arg: '' });

const startsWith = (b: Buffer, s: string): boolean => b.length >= s.length && b.toString('latin1', 0, s.length) === s;

/**
 * processAck's switch: an empty body, `+ACK` and the deprecated `+OK` are acks; `-NAK`, `+WPI`, `+NXT`
 * and `+TERM` the others. Anything else is ignored by nats-server (null here).
 */
export function parseAckBody(data: Buffer): AckBody | null {
  // The common cases first, without a string: an empty body and `+ACK`.
  if (isPlainAck(data, 0, data.length)) return PLAIN_ACK;
  if (startsWith(data, '+ACK') || startsWith(data, '+OK')) {
    return data.length === 4 || (data.length === 3 && startsWith(data, '+OK')) ? { kind: AckKind.ACK, arg: '' } : null;
  }
  if (startsWith(data, '+NXT')) return { kind: AckKind.NEXT, arg: data.toString('utf8', 4).trim() };
  if (startsWith(data, '-NAK')) return { kind: AckKind.NAK, arg: data.toString('utf8', 4).trim() };
  if (startsWith(data, '+WPI')) return data.length === 4 ? { kind: AckKind.PROGRESS, arg: '' } : null;
  if (startsWith(data, '+TERM')) return { kind: AckKind.TERM, arg: data.toString('utf8', 5).trim() };
  return null;
}

/**
 * The delay of a `-NAK` in nanoseconds: `{"delay": ns}` or a Go duration (`-NAK 5s`); -1 when there
 * is none or it does not parse (then it is a plain NAK, as processNak does).
 */
export function nakDelayNs(arg: string): number {
  if (arg === '') return -1;
  if (arg.startsWith('{')) {
    try {
      const v = JSON.parse(arg) as { delay?: unknown };
      return typeof v.delay === 'number' && Number.isFinite(v.delay) ? Math.max(0, v.delay) : 0;
    } catch {
      return -1;
    }
  }
  const d = parseGoDuration(arg);
  return d === null ? -1 : d;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration (`1h2m3.5s`, `250ms`), in nanoseconds; null when malformed. */
export function parseGoDuration(s: string): number | null {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    pos = 1;
  }
  if (pos >= s.length) return null;
  re.lastIndex = pos;
  while (pos < s.length) {
    const m = re.exec(s);
    if (m === null || m.index !== pos) return null;
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return neg ? -total : total;
}
