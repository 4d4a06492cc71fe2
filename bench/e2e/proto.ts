// Minimal, allocation-free NATS protocol pieces for the load generator.
//
// ProtoReader counts MSG frames straight from the raw bytes the socket hands us: per frame it does one
// native indexOf for the end of the control line, reads the byte count backwards from the "\r", and then
// skips the payload. No strings, no per-message objects. A handler can be attached for the few modes that
// need to look at a frame (request/reply), and it receives offsets into the chunk, not copies.

export const CR = 13;
export const LF = 10;
const CH_M = 77; // M
const CH_H = 72; // H (HMSG)
const CH_P = 80; // P
const CH_I = 73; // I
const CH_O = 79; // O
const CH_PLUS = 43; // +
const CH_MINUS = 45; // -
const CH_0 = 48;
const CH_9 = 57;

/** Called with the chunk and the bounds of a MSG control line: buf[start] is 'M' (or 'H' for HMSG), buf[end] is '\r'. */
export type MsgLineHandler = (buf: Buffer, start: number, end: number, size: number) => void;
/**
 * Called with a whole frame: the control line `buf[start, end)` (end is its '\r') and the payload
 * `buf[payStart, payEnd)` (headers included for HMSG), contiguous, valid during the call only.
 */
export type MsgHandler = (buf: Buffer, start: number, end: number, payStart: number, payEnd: number) => void;

export class ProtoReader {
  /** Complete MSG frames (control line + payload + CRLF) seen so far. */
  count = 0;
  /** Sum of payload sizes of complete frames. */
  payloadBytes = 0;
  /** Frames whose payload size differed from `expectSize` (when set). */
  badSize = 0;
  expectSize = -1;
  onMsgLine: MsgLineHandler | null = null;
  /** When set, each frame is handed over whole (a payload split across reads is carried over). */
  onMsg: MsgHandler | null = null;
  onPing: (() => void) | null = null;
  onPong: (() => void) | null = null;
  onInfo: ((line: string) => void) | null = null;
  onErr: ((line: string) => void) | null = null;
  /** Anything we could not parse; the reader stops after it. */
  protocolError: string | null = null;

  private skip = 0; // payload + CRLF bytes still to skip
  private pendingSize = -1; // size of the MSG whose payload we are skipping, -1 when none
  private carry: Buffer | null = null; // an incomplete control line from the previous chunk

  feed(chunk: Buffer): void {
    if (this.protocolError !== null) return;
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const avail = n - i;
        if (avail < this.skip) {
          this.skip -= avail;
          return;
        }
        i += this.skip;
        this.skip = 0;
        this.completeMsg();
        continue;
      }
      const nl = buf.indexOf(LF, i);
      if (nl < 0) {
        if (n - i > 4096) {
          this.protocolError = `control line longer than 4096 bytes: ${JSON.stringify(buf.toString('latin1', i, i + 80))}...`;
          return;
        }
        this.carry = Buffer.from(buf.subarray(i)); // small copy; lets the big chunk go
        return;
      }
      const c0 = buf[i]!;
      if (c0 === CH_M || c0 === CH_H) {
        // MSG <subject> <sid> [reply-to] <#bytes>\r\n : the byte count is the last token (HMSG: the
        // total of headers and payload, also the last token).
        let j = nl - 2; // nl - 1 is '\r'
        let size = 0;
        let mul = 1;
        while (j > i) {
          const c = buf[j]!;
          if (c < CH_0 || c > CH_9) break;
          size += (c - CH_0) * mul;
          mul *= 10;
          j--;
        }
        const need = size + 2;
        if (this.onMsg !== null) {
          if (n - (nl + 1) < need) {
            // Keep the frame's start for the next chunk, so the handler sees it whole.
            this.carry = Buffer.from(buf.subarray(i));
            return;
          }
          this.onMsg(buf, i, nl - 1, nl + 1, nl + 1 + size);
        }
        if (this.onMsgLine !== null) this.onMsgLine(buf, i, nl - 1, size);
        i = nl + 1;
        if (n - i >= need) {
          // Fast path: the whole payload is in this chunk.
          i += need;
          this.count++;
          this.payloadBytes += size;
          if (this.expectSize >= 0 && size !== this.expectSize) this.badSize++;
        } else {
          this.skip = need;
          this.pendingSize = size;
        }
        continue;
      }
      if (c0 === CH_P) {
        const c1 = buf[i + 1];
        if (c1 === CH_I) this.onPing?.();
        else if (c1 === CH_O) this.onPong?.();
      } else if (c0 === CH_I) {
        this.onInfo?.(buf.toString('latin1', i, nl - 1));
      } else if (c0 === CH_MINUS) {
        const line = buf.toString('latin1', i, nl > i && buf[nl - 1] === CR ? nl - 1 : nl);
        if (this.onErr !== null) this.onErr(line);
      } else if (c0 !== CH_PLUS) {
        this.protocolError = `unexpected protocol line: ${JSON.stringify(buf.toString('latin1', i, Math.min(nl + 1, i + 120)))}`;
        return;
      }
      i = nl + 1;
    }
  }

  private completeMsg(): void {
    this.count++;
    this.payloadBytes += this.pendingSize;
    if (this.expectSize >= 0 && this.pendingSize !== this.expectSize) this.badSize++;
    this.pendingSize = -1;
  }
}

/** Payload bytes that never contain CR/LF. */
export function makePayload(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26); // a..z
  return b;
}

/**
 * Pre-encodes `PUB <subject> [reply] <size>\r\n<payload>\r\n` frames into one buffer of at least
 * `targetBytes` (whole cycles through `subjects`). Returns the buffer and how many frames it holds.
 */
export function buildPubBatch(subjects: string[], size: number, targetBytes: number): { buf: Buffer; frames: number } {
  if (subjects.length === 0) throw new Error('buildPubBatch: no subjects');
  const payload = makePayload(size);
  const heads = subjects.map((s) => Buffer.from(`PUB ${s} ${size}\r\n`, 'latin1'));
  const cycleBytes = heads.reduce((a, h) => a + h.length + size + 2, 0);
  const cycles = Math.max(1, Math.floor(targetBytes / cycleBytes));
  const buf = Buffer.allocUnsafe(cycles * cycleBytes);
  let o = 0;
  for (let c = 0; c < cycles; c++) {
    for (const h of heads) {
      o += h.copy(buf, o);
      o += payload.copy(buf, o);
      buf[o++] = CR;
      buf[o++] = LF;
    }
  }
  return { buf, frames: cycles * subjects.length };
}

/** Same for MSG frames as a server would send them (for the self-test blaster). */
export function buildMsgBatch(subject: string, sid: string, size: number, targetBytes: number): { buf: Buffer; frames: number } {
  const payload = makePayload(size);
  const head = Buffer.from(`MSG ${subject} ${sid} ${size}\r\n`, 'latin1');
  const frameBytes = head.length + size + 2;
  const frames = Math.max(1, Math.floor(targetBytes / frameBytes));
  const buf = Buffer.allocUnsafe(frames * frameBytes);
  let o = 0;
  for (let f = 0; f < frames; f++) {
    o += head.copy(buf, o);
    o += payload.copy(buf, o);
    buf[o++] = CR;
    buf[o++] = LF;
  }
  return { buf, frames };
}

/** Monotonic clock in ns as a double (CLOCK_MONOTONIC: comparable across processes on one Linux host). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
