// Protocol bytes built once (pino's habit: precompute what is written often).

export const CRLF = Buffer.from('\r\n');
export const PING = Buffer.from('PING\r\n');
export const PONG = Buffer.from('PONG\r\n');
export const OK = Buffer.from('+OK\r\n');
export const MSG_PREFIX = Buffer.from('MSG ');
export const HMSG_PREFIX = Buffer.from('HMSG ');

/** nats-server's exact -ERR texts (server/const.go, client.go); clients match on them. */
export const Errors = {
  AUTH_VIOLATION: 'Authorization Violation',
  AUTH_TIMEOUT: 'Authentication Timeout',
  MAX_PAYLOAD: 'Maximum Payload Violation',
  STALE: 'Stale Connection',
  UNKNOWN_OP: 'Unknown Protocol Operation',
  MAX_CONNECTIONS: 'maximum connections exceeded',
  TLS_REQUIRED: 'Secure Connection - TLS Required',
  // Lower case, as nats-server sends it (ErrMaxControlLine's text).
  MAX_CONTROL_LINE: 'maximum control line exceeded',
  MAX_SUBSCRIPTIONS: 'maximum subscriptions exceeded',
  INVALID_SUBJECT: 'Invalid Subject',
  INVALID_PUB_SUBJECT: 'Invalid Publish Subject',
  BAD_PROTOCOL: 'invalid client protocol',
  NO_RESPONDERS_NEEDS_HEADERS: 'no responders requires headers support',
} as const;

export function errLine(text: string): Buffer {
  return Buffer.from(`-ERR '${text}'\r\n`);
}

/** Writes the decimal form of a non-negative integer at buf[pos]; returns the new position. */
export function writeUint(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  const digits = uintLen(n);
  let p = pos + digits - 1;
  // Integer arithmetic while the value fits 31 bits (most sizes and sequences), doubles above.
  while (n > 0x7fffffff) {
    const q = Math.floor(n / 10);
    buf[p--] = 48 + (n - q * 10);
    n = q;
  }
  let m = n | 0;
  while (m >= 10) {
    const q = (m / 10) | 0;
    buf[p--] = 48 + (m - q * 10);
    m = q;
  }
  buf[p] = 48 + m;
  return pos + digits;
}

/** Decimal digits of a non-negative integer (any double, as writeUintAny writes it). */
export function uintLen(n: number): number {
  if (n < 1e5) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 1e4 ? 4 : 5;
  if (n < 1e10) return n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
  if (n > Number.MAX_SAFE_INTEGER) return uintLen(splitHigh(n)) + 9;
  let d = 11;
  for (let t = n / 1e10; t >= 10; t /= 10) d++;
  return d;
}

/** n / 1e9 rounded down, exactly (for n past 2^53, where n's own division may round up). */
function splitHigh(n: number): number {
  const hi = Math.floor(n / 1e9);
  const lo = n - hi * 1e9; // exact: hi * 1e9 is representable below ~4.5e18
  return lo < 0 ? hi - 1 : lo >= 1e9 ? hi + 1 : hi;
}

/**
 * writeUint for any non-negative integer-valued double, also past 2^53 (nanosecond timestamps):
 * the exact decimal value, as Go prints the int64 it holds.
 */
export function writeUintAny(buf: Buffer, pos: number, n: number): number {
  if (n <= Number.MAX_SAFE_INTEGER) return writeUint(buf, pos, n);
  const hi = splitHigh(n);
  let lo = (n - hi * 1e9) | 0;
  pos = writeUint(buf, pos, hi);
  for (let i = pos + 8; i >= pos; i--) {
    const q = (lo / 10) | 0;
    buf[i] = 48 + (lo - q * 10);
    lo = q;
  }
  return pos + 9;
}

/**
 * Writes a string's latin1 bytes at dst[pos] (each char code's low byte, as Buffer.write(…, 'latin1'));
 * returns the new position. A loop for short strings: subjects and replies, where the native call's
 * overhead cost more than the copy (the JetStream worker writes three per delivery).
 */
export function writeLatin1(dst: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n < 64) {
    for (let i = 0; i < n; i++) dst[pos + i] = s.charCodeAt(i) & 0xff;
    return pos + n;
  }
  return pos + dst.write(s, pos, 'latin1');
}

/** The decimal number in b[s, e): digits only and at most maxLen of them, else -1. */
export function parseDigits(b: Buffer, s: number, e: number, maxLen: number): number {
  if (e <= s || e - s > maxLen) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Copies src[s, e) to dst[pos]; a byte loop beats Buffer.copy's call overhead for short runs. */
export function copyBytes(dst: Buffer, pos: number, src: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n < 24) {
    for (let i = 0; i < n; i++) dst[pos + i] = src[s + i]!;
  } else {
    src.copy(dst, pos, s, e);
  }
  return pos + n;
}
