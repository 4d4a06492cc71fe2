// Argument rules of the client protocol's SUB/UNSUB/PUB lines, as nats-server applies them (not on the
// message path: SUB and UNSUB only, and PUB subjects in pedantic mode).
//
// nats-server checks less than one might expect, and clients rely on it: a SUB subject is whatever
// its sublist accepts (client.go processSub -> sublist.go Insert: no empty token, '>' only last), so
// control bytes such as \f, \v or ESC are part of a subject; a queue name is not checked at all;
// a pedantic PUB subject must only be literal (sublist.go IsValidLiteralSubject). Blanks cannot be
// inside any of these: splitArg has already cut the line on them.

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/** client.go splitArg: fields separated by runs of space, tab, CR or LF (SUB and UNSUB lines). */
export function splitArg(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13 || c === 10) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

/** A subject the sublist takes for a subscription: tokens non-empty, '>' only as the last token. */
export function isInsertableSubject(s: string): boolean {
  if (s.length === 0) return false;
  let tokenStart = 0;
  let sawFwc = false;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== DOT) continue;
    if (i === tokenStart || sawFwc) return false;
    if (i - tokenStart === 1 && s.charCodeAt(tokenStart) === GT) sawFwc = true;
    tokenStart = i + 1;
  }
  return true;
}

/** sublist.go IsValidLiteralSubject: no empty token and no wildcard token. */
export function isLiteralSubject(s: string): boolean {
  if (s.length === 0) return false;
  let tokenStart = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== DOT) continue;
    if (i === tokenStart) return false;
    if (i - tokenStart === 1) {
      const c = s.charCodeAt(tokenStart);
      if (c === STAR || c === GT) return false;
    }
    tokenStart = i + 1;
  }
  return true;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const GO_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 0x22: '\\"', 0x5c: '\\\\' };

/**
 * Go's %q of a byte string (strconv.Quote), for the subjects and queues quoted in -ERR texts:
 * `s` holds bytes as latin1 characters; valid UTF-8 prints as text when printable, other bytes as \xNN.
 */
export function goQuote(s: string): string {
  const b = Buffer.from(s, 'latin1');
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      const esc = GO_ESCAPES[c];
      if (esc !== undefined) out += esc;
      else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
      else out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    const ch = n > 0 && i + n <= b.length ? b.toString('utf8', i, i + n) : '';
    if (ch.length > 0 && !ch.includes('\ufffd') && Buffer.byteLength(ch) === n) {
      const cp = ch.codePointAt(0)!;
      out += PRINTABLE.test(ch) ? ch : cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
      i += n;
    } else {
      out += `\\x${c.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out + '"';
}
