// NATS header blocks (`NATS/1.0[ status[ description]]\r\nKey: value\r\n...\r\n\r\n`), zero-dependency.
// The publish hot path only asks for one header at a time (getHeader), as nats-server's sliceHeader /
// getHeader do: keys match case-sensitively, exactly as nats-server looks them up, so a client that
// sends `nats-msg-id` gets no de-duplication there and none here either.

const CR = 13;
const LF = 10;
const COLON = 58;
const SPACE = 32;
const TAB = 9;

const PREAMBLE = 'NATS/1.0';

/** Offset of the first header line (just past the status line's CRLF), or -1 when malformed. */
function firstLine(buf: Buffer): number {
  if (buf.length < 10 || !keyEquals(buf, 0, PREAMBLE)) return -1;
  const i = buf.indexOf(LF, 8);
  return i < 0 ? -1 : i + 1;
}

/**
 * The headers a JetStream publish is checked against (stream.go processJetStreamMsg), each the first
 * occurrence's value (blanks trimmed) or null. Filled by one pass over the block (scanPublishHeaders)
 * where six getHeader calls walked it six times on every publish with headers.
 */
export interface PublishHeaders {
  msgId: string | null;
  expectedStream: string | null;
  expectedLastSeq: string | null;
  expectedLastSubjSeq: string | null;
  expectedLastSubjSeqSubj: string | null;
  expectedLastMsgId: string | null;
  rollup: string | null;
}

export function newPublishHeaders(): PublishHeaders {
  return { msgId: null, expectedStream: null, expectedLastSeq: null, expectedLastSubjSeq: null, expectedLastSubjSeqSubj: null, expectedLastMsgId: null, rollup: null };
}

const NATS_DASH = 'Nats-';

/** Fills `out` from `buf` (all null when the block is malformed); same lookups as getHeader's. */
export function scanPublishHeaders(buf: Buffer, out: PublishHeaders): void {
  out.msgId = out.expectedStream = out.expectedLastSeq = out.expectedLastSubjSeq = null;
  out.expectedLastSubjSeqSubj = out.expectedLastMsgId = out.rollup = null;
  let pos = firstLine(buf);
  if (pos < 0) return;
  const n = buf.length;
  while (pos < n) {
    let eol = buf.indexOf(LF, pos);
    if (eol < 0) eol = n;
    let end = eol;
    if (end > pos && buf[end - 1] === CR) end--;
    if (end === pos) return; // blank line: end of the block
    // Every key looked for starts with "Nats-"; other lines cost one byte compare.
    if (end - pos > 6 && buf[pos] === 78 /* N */ && keyEquals(buf, pos, NATS_DASH)) {
      const colon = buf.indexOf(COLON, pos + 5);
      if (colon > 0 && colon < end) {
        const klen = colon - pos;
        let vs = colon + 1;
        while (vs < end && (buf[vs] === SPACE || buf[vs] === TAB)) vs++;
        let ve = end;
        while (ve > vs && (buf[ve - 1] === SPACE || buf[ve - 1] === TAB)) ve--;
        // Dispatch on the key's length first: the names below all differ in it but two.
        switch (klen) {
          case 11: // Nats-Msg-Id, Nats-Rollup
            if (out.msgId === null && keyEquals(buf, pos, 'Nats-Msg-Id')) out.msgId = buf.toString('utf8', vs, ve);
            else if (out.rollup === null && keyEquals(buf, pos, 'Nats-Rollup')) out.rollup = buf.toString('utf8', vs, ve);
            break;
          case 20:
            if (out.expectedStream === null && keyEquals(buf, pos, 'Nats-Expected-Stream')) out.expectedStream = buf.toString('utf8', vs, ve);
            break;
          case 27:
            if (out.expectedLastSeq === null && keyEquals(buf, pos, 'Nats-Expected-Last-Sequence')) out.expectedLastSeq = buf.toString('utf8', vs, ve);
            break;
          case 25:
            if (out.expectedLastMsgId === null && keyEquals(buf, pos, 'Nats-Expected-Last-Msg-Id')) out.expectedLastMsgId = buf.toString('utf8', vs, ve);
            break;
          case 35:
            if (out.expectedLastSubjSeq === null && keyEquals(buf, pos, 'Nats-Expected-Last-Subject-Sequence')) out.expectedLastSubjSeq = buf.toString('utf8', vs, ve);
            break;
          case 43:
            if (out.expectedLastSubjSeqSubj === null && keyEquals(buf, pos, 'Nats-Expected-Last-Subject-Sequence-Subject')) out.expectedLastSubjSeqSubj = buf.toString('utf8', vs, ve);
            break;
        }
      }
    }
    pos = eol + 1;
  }
}

/**
 * The value of header `name` (first occurrence, surrounding blanks trimmed), or null when absent.
 * Walks the block once without building a map (nats-server's sliceHeader).
 */
export function getHeader(buf: Buffer | null, name: string): string | null {
  if (buf === null) return null;
  let pos = firstLine(buf);
  if (pos < 0) return null;
  const n = buf.length;
  const klen = name.length;
  while (pos < n) {
    let eol = buf.indexOf(LF, pos);
    if (eol < 0) eol = n;
    let end = eol;
    if (end > pos && buf[end - 1] === CR) end--;
    if (end === pos) return null; // blank line: end of the block
    if (end - pos > klen && buf[pos + klen] === COLON && keyEquals(buf, pos, name)) {
      let vs = pos + klen + 1;
      while (vs < end && (buf[vs] === SPACE || buf[vs] === TAB)) vs++;
      let ve = end;
      while (ve > vs && (buf[ve - 1] === SPACE || buf[ve - 1] === TAB)) ve--;
      return buf.toString('utf8', vs, ve);
    }
    pos = eol + 1;
  }
  return null;
}

function keyEquals(buf: Buffer, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (buf[at + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** Every header (values in order of appearance), or null when the block is not a NATS header block. */
export function parseHeaders(buf: Buffer): Map<string, string[]> | null {
  let pos = firstLine(buf);
  if (pos < 0) return null;
  const out = new Map<string, string[]>();
  const text = buf.toString('utf8', pos);
  for (const line of text.split('\r\n')) {
    if (line === '') break;
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const key = line.slice(0, c).trim();
    const value = line.slice(c + 1).trim();
    const list = out.get(key);
    if (list === undefined) out.set(key, [value]);
    else list.push(value);
  }
  return out;
}

/** Status code and description of a header block's first line (`NATS/1.0 404 Message Not Found`). */
export function headerStatus(buf: Buffer): { code: number; description: string } | null {
  const pos = firstLine(buf);
  if (pos < 0) return null;
  const line = buf.toString('latin1', 8, pos).trim();
  if (line === '') return { code: 0, description: '' };
  const sp = line.indexOf(' ');
  const code = Number(sp < 0 ? line : line.slice(0, sp));
  return { code: Number.isFinite(code) ? code : 0, description: sp < 0 ? '' : line.slice(sp + 1) };
}

/**
 * A header block: `status` is the part after `NATS/1.0 ` (e.g. `404 Message Not Found`) or null.
 * Always ends with the blank line, so it can be sent as it is.
 */
export function buildHeaders(status: string | null, entries: readonly (readonly [string, string])[]): Buffer {
  let s = status === null ? PREAMBLE : `${PREAMBLE} ${status}`;
  s += '\r\n';
  for (const [k, v] of entries) s += `${k}: ${v}\r\n`;
  s += '\r\n';
  return Buffer.from(s, 'utf8');
}

/**
 * Appends headers to an existing block (or builds a new one when hdr is null), as nats-server's
 * genHeader does for direct-get replies: the original lines stay first, in their order.
 */
export function appendHeaders(hdr: Buffer | null, entries: readonly (readonly [string, string])[]): Buffer {
  if (hdr === null || firstLine(hdr) < 0) return buildHeaders(null, entries);
  // Drop the terminating blank line (the last CRLF) and add ours before a new one.
  let end = hdr.length;
  if (end >= 4 && hdr[end - 1] === LF && hdr[end - 2] === CR && hdr[end - 3] === LF && hdr[end - 4] === CR) end -= 2;
  let add = '';
  for (const [k, v] of entries) add += `${k}: ${v}\r\n`;
  add += '\r\n';
  const tail = Buffer.from(add, 'utf8');
  const out = Buffer.allocUnsafe(end + tail.length);
  hdr.copy(out, 0, 0, end);
  tail.copy(out, end);
  return out;
}
