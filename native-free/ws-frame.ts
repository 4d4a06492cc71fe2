// WebSocket framing (RFC 6455 §5) for the pure-Node WebSocket server in ws-server.ts: frame header
// encoding for the server side (unmasked, §5.2), in-place unmasking (§5.3), and an incremental frame
// parser for client frames that keeps its state between TCP reads, so a frame may be split at ANY byte
// offset. Payload bytes of uncompressed data frames are unmasked in place inside the socket's own Buffer
// and handed on as views (no copy, no reassembly: the NATS protocol is a byte stream, so message and
// frame boundaries carry no meaning); only a header split across reads (≤14 bytes), a control frame
// (≤125 bytes) and a compressed message (which must be inflated whole, RFC 7692 §7.2.2) are gathered.
//
// Text messages (opcode 1) are not checked for valid UTF-8 (§8.1 would fail the connection with 1007):
// the NATS protocol is ASCII lines plus opaque payloads, and nats-server does not check either.
import zlib from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';

// Opcodes (§5.2, §11.8).
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

// First-byte flags (§5.2; RSV1 marks a compressed message, RFC 7692 §6).
export const FIN = 0x80;
export const RSV1 = 0x40;

// Close status codes (§7.4.1).
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

export const MAX_CONTROL_PAYLOAD = 125; // §5.5

/** The empty-block trailer a sync-flushed deflate stream ends with (RFC 7692 §7.2.1/§7.2.2). */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const EMPTY = Buffer.alloc(0);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Size of a server (unmasked) frame header for a payload of `len` bytes (§5.2: 7, 16 or 64-bit length). */
export function headerLength(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** Writes an unmasked frame header at `off`; `b0` is FIN|RSV1|opcode. Returns the header's length. */
export function writeHeader(target: Buffer, off: number, b0: number, len: number): number {
  target[off] = b0;
  if (len < 126) {
    target[off + 1] = len;
    return 2;
  }
  if (len < 65536) {
    target[off + 1] = 126;
    target.writeUInt16BE(len, off + 2);
    return 4;
  }
  target[off + 1] = 127;
  target.writeUInt32BE(Math.floor(len / 0x100000000), off + 2);
  target.writeUInt32BE(len >>> 0, off + 6);
  return 10;
}

/** A whole unmasked frame (header + copy of the payload) — for control frames and small messages. */
export function encodeFrame(b0: number, payload: Buffer): Buffer {
  const h = headerLength(payload.length);
  const out = Buffer.allocUnsafe(h + payload.length);
  writeHeader(out, 0, b0, payload.length);
  payload.copy(out, h);
  return out;
}

/** Close frame payload (§5.5.1): 2-byte status then a UTF-8 reason, truncated to fit 125 bytes. */
export function closePayload(code: number, reason: string): Buffer {
  if (code === CLOSE_NO_STATUS || code === CLOSE_ABNORMAL) return EMPTY; // never sent on the wire (§7.4.1)
  let r = reason;
  if (Buffer.byteLength(r) > MAX_CONTROL_PAYLOAD - 2) {
    // Like nats-server: cut and mark with "..."; cut on characters so the reason stays valid UTF-8.
    while (Buffer.byteLength(r) > MAX_CONTROL_PAYLOAD - 5) r = r.slice(0, -1);
    r += '...';
  }
  const out = Buffer.allocUnsafe(2 + Buffer.byteLength(r));
  out.writeUInt16BE(code, 0);
  out.write(r, 2, 'utf8');
  return out;
}

/** Is `code` acceptable in a received close frame (§7.4.1, §7.4.2)? */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * XORs buf[start, end) in place with the 4-byte masking key (§5.3); `pos` is the key index (0..3) of
 * buf[start] (frames split across reads resume mid-key). Long runs go 32 bits at a time.
 */
export function unmask(buf: Uint8Array, start: number, end: number, key: Uint8Array, pos: number): void {
  let i = start;
  let p = pos;
  if (end - i >= 64) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      buf[i++]! ^= key[p & 3]!;
      p++;
    }
    const b0 = key[p & 3]!;
    const b1 = key[(p + 1) & 3]!;
    const b2 = key[(p + 2) & 3]!;
    const b3 = key[(p + 3) & 3]!;
    const word = LITTLE_ENDIAN ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
    const words = (end - i) >>> 2;
    const view = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= word;
    i += words << 2; // p is unchanged: 4·words key positions bring it back to the same index
  }
  for (; i < end; i++) {
    buf[i]! ^= key[p & 3]!;
    p++;
  }
}

/** Where the parser delivers what it decodes (one object per connection; no per-frame closures). */
export interface FrameSink {
  /** Application bytes: unmasked payload of text/binary/continuation frames, or an inflated message. */
  data(chunk: Buffer): void;
  /** A complete control frame (close, ping, pong) with its unmasked payload (≤125 bytes). */
  control(opcode: number, payload: Buffer): void;
  /** The client broke the protocol; the parser is dead from here on. Answer with a close frame `code`. */
  error(code: number, reason: string): void;
}

export interface ParserOptions {
  maxPayload: number;
  /** permessage-deflate negotiated: RSV1 allowed on the first frame of a data message. */
  compression: boolean;
  /** Reject unmasked frames (§5.1). Off only for nats-server's "Nats-No-Masking: true" clients. */
  requireMask: boolean;
}

const S_HEADER = 0;
const S_PAYLOAD = 1;

/**
 * Incremental parser of client-to-server frames (§5.2). `push` each chunk read from the socket.
 * Setting `paused` from inside a sink callback stops at that point; the unparsed rest of the chunk is
 * kept (as a view, not a copy) until `resume()`. Setting `dead` drops everything from then on.
 */
export class FrameParser {
  paused = false;
  dead = false;
  private readonly sink: FrameSink;
  private readonly maxPayload: number;
  private readonly compression: boolean;
  private readonly requireMask: boolean;
  private rest: Buffer | null = null;
  private state = S_HEADER;
  // Header being gathered across reads.
  private readonly hdr = Buffer.allocUnsafe(14);
  private hdrLen = 0;
  private hdrNeed = 2;
  // Current frame.
  private opcode = 0;
  private fin = false;
  private masked = false;
  private readonly key = new Uint8Array(4);
  private keyPos = 0;
  private remaining = 0;
  private ctrl: Buffer = EMPTY;
  private ctrlLen = 0;
  // Current (possibly fragmented) data message.
  private inMessage = false;
  private msgCompressed = false;
  private msgLen = 0;
  private cparts: Buffer[] = [];

  constructor(sink: FrameSink, opts: ParserOptions) {
    this.sink = sink;
    this.maxPayload = opts.maxPayload;
    this.compression = opts.compression;
    this.requireMask = opts.requireMask;
  }

  /** Bytes are waiting for `resume()`. */
  get hasPending(): boolean {
    return this.rest !== null;
  }

  push(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    if (this.rest !== null) {
      this.rest = Buffer.concat([this.rest, chunk]); // only while paused: keep order
      return;
    }
    if (this.paused) {
      this.rest = chunk;
      return;
    }
    this.run(chunk, 0);
  }

  /** Clears `paused` and parses what was held back. */
  resume(): void {
    this.paused = false;
    const r = this.rest;
    if (r === null || this.dead) return;
    this.rest = null;
    this.run(r, 0);
  }

  private run(buf: Buffer, start: number): void {
    let off = start;
    const len = buf.length;
    while (off < len) {
      if (this.dead) return;
      if (this.paused) {
        this.rest = off === 0 ? buf : buf.subarray(off);
        return;
      }
      off = this.state === S_HEADER ? this.readHeader(buf, off) : this.readPayload(buf, off);
    }
  }

  private fail(code: number, reason: string): number {
    this.dead = true;
    this.rest = null;
    this.cparts = [];
    this.sink.error(code, reason);
    return -1;
  }

  /** Checks the first two header bytes; returns the full header length, or -1 after failing. */
  private check(b0: number, b1: number): number {
    if ((b0 & 0x30) !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'reserved bits set');
    const op = b0 & 0x0f;
    const fin = (b0 & FIN) !== 0;
    const rsv1 = (b0 & RSV1) !== 0;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    if (!masked && this.requireMask) return this.fail(CLOSE_PROTOCOL_ERROR, 'mask bit missing');
    if (op >= 8) {
      if (op > OP_PONG) return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`);
      if (!fin) return this.fail(CLOSE_PROTOCOL_ERROR, 'control frame does not have final bit set');
      if (len7 > MAX_CONTROL_PAYLOAD) return this.fail(CLOSE_PROTOCOL_ERROR, 'control frame length bigger than 125 bytes');
      if (rsv1) return this.fail(CLOSE_PROTOCOL_ERROR, 'RSV1 set on a control frame');
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (this.inMessage) return this.fail(CLOSE_PROTOCOL_ERROR, 'new message started before final frame for previous message was received');
      if (rsv1 && !this.compression) return this.fail(CLOSE_PROTOCOL_ERROR, 'RSV1 set without permessage-deflate');
    } else if (op === OP_CONTINUATION) {
      if (!this.inMessage || rsv1) return this.fail(CLOSE_PROTOCOL_ERROR, 'invalid continuation frame');
    } else {
      return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`);
    }
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private readHeader(buf: Buffer, start: number): number {
    let off = start;
    const len = buf.length;
    if (this.hdrLen === 0 && len - off >= 2) {
      // Fast path: the whole header is in this chunk.
      const need = this.check(buf[off]!, buf[off + 1]!);
      if (need < 0) return len;
      if (len - off >= need) {
        this.beginFrame(buf, off);
        return off + need;
      }
    }
    while (off < len && this.hdrLen < this.hdrNeed) {
      this.hdr[this.hdrLen++] = buf[off++]!;
      if (this.hdrLen === 2) {
        const need = this.check(this.hdr[0]!, this.hdr[1]!);
        if (need < 0) return len;
        this.hdrNeed = need;
      }
    }
    if (this.hdrLen >= 2 && this.hdrLen === this.hdrNeed) {
      this.hdrLen = 0;
      this.hdrNeed = 2;
      this.beginFrame(this.hdr, 0);
    }
    return off;
  }

  /** Decodes a complete (already checked) header at src[p]. */
  private beginFrame(src: Buffer, p: number): void {
    const b0 = src[p]!;
    const b1 = src[p + 1]!;
    let q = p + 2;
    let len = b1 & 0x7f;
    if (len === 126) {
      len = src.readUInt16BE(q);
      q += 2;
    } else if (len === 127) {
      const hi = src.readUInt32BE(q);
      if (hi > 0x1fffff) {
        this.fail(hi > 0x7fffffff ? CLOSE_PROTOCOL_ERROR : CLOSE_TOO_BIG, 'frame length too large');
        return;
      }
      len = hi * 0x100000000 + src.readUInt32BE(q + 4);
      q += 8;
    }
    this.masked = (b1 & 0x80) !== 0;
    if (this.masked) {
      this.key[0] = src[q]!;
      this.key[1] = src[q + 1]!;
      this.key[2] = src[q + 2]!;
      this.key[3] = src[q + 3]!;
    }
    this.keyPos = 0;
    const op = b0 & 0x0f;
    this.opcode = op;
    this.fin = (b0 & FIN) !== 0;
    this.remaining = len;
    if (op >= 8) {
      this.ctrl = len === 0 ? EMPTY : Buffer.allocUnsafe(len);
      this.ctrlLen = 0;
    } else {
      if (op !== OP_CONTINUATION) {
        this.inMessage = true;
        this.msgCompressed = (b0 & RSV1) !== 0;
        this.msgLen = 0;
      }
      if (this.msgLen + len > this.maxPayload) {
        this.fail(CLOSE_TOO_BIG, 'message too big');
        return;
      }
      this.msgLen += len;
    }
    if (len === 0) this.endFrame();
    else this.state = S_PAYLOAD;
  }

  private readPayload(buf: Buffer, off: number): number {
    const n = Math.min(this.remaining, buf.length - off);
    const end = off + n;
    if (this.masked) {
      unmask(buf, off, end, this.key, this.keyPos);
      this.keyPos = (this.keyPos + n) & 3;
    }
    this.remaining -= n;
    if (this.opcode >= 8) {
      buf.copy(this.ctrl, this.ctrlLen, off, end);
      this.ctrlLen += n;
      if (this.remaining === 0) this.endFrame();
    } else if (this.msgCompressed) {
      this.cparts.push(buf.subarray(off, end)); // a view: socket Buffers are never reused
      if (this.remaining === 0) this.endFrame();
    } else {
      if (this.remaining === 0) this.endFrame(); // state first: the sink may pause/close re-entrantly
      this.sink.data(buf.subarray(off, end));
    }
    return end;
  }

  private endFrame(): void {
    this.state = S_HEADER;
    const op = this.opcode;
    if (op >= 8) {
      const payload = this.ctrl;
      this.ctrl = EMPTY;
      this.sink.control(op, payload);
      return;
    }
    if (!this.fin) return;
    this.inMessage = false;
    if (!this.msgCompressed) return;
    this.msgCompressed = false;
    const parts = this.cparts;
    this.cparts = [];
    parts.push(DEFLATE_TAIL);
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(parts.length === 1 ? parts[0]! : Buffer.concat(parts), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.max(1, Math.min(Math.floor(this.maxPayload), bufferConstants.MAX_LENGTH)),
      });
    } catch (e) {
      const tooBig = e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      this.fail(tooBig ? CLOSE_TOO_BIG : CLOSE_INVALID_DATA, tooBig ? 'message too big' : 'invalid compressed data');
      return;
    }
    if (out.length > this.maxPayload) {
      this.fail(CLOSE_TOO_BIG, 'message too big');
      return;
    }
    if (out.length > 0) this.sink.data(out);
  }
}

/** Accepted permessage-deflate parameters (RFC 7692 §7.1). */
export interface DeflateAgreement {
  /** zlib windowBits for our deflate (server_max_window_bits when the client asked for one, else 15). */
  serverWindowBits: number;
  /** The Sec-WebSocket-Extensions value to answer with. */
  response: string;
}

/**
 * Picks the first acceptable permessage-deflate offer of a Sec-WebSocket-Extensions header (RFC 7692
 * §5, §7.1). We always answer server_no_context_takeover and client_no_context_takeover (§7.1.1.1-2;
 * like nats-server), honour server_max_window_bits=9..15 (§7.1.2.1; 8 cannot be produced by zlib's raw
 * deflate, so such an offer is declined), and ignore client_max_window_bits (§7.1.2.2: we inflate with
 * a 32 KiB window, which reads any smaller one). Offers with unknown or repeated parameters are declined
 * (§7.1). Returns null when nothing is acceptable.
 */
export function negotiateDeflate(header: string | undefined): DeflateAgreement | null {
  if (header === undefined || header === '') return null;
  offers: for (const offer of header.split(',')) {
    const params = offer.split(';');
    if (params[0]!.trim().toLowerCase() !== 'permessage-deflate') continue;
    const seen = new Set<string>();
    let serverBits = 15;
    let askedServerBits = false;
    for (let i = 1; i < params.length; i++) {
      const p = params[i]!.trim();
      if (p === '') continue;
      const eq = p.indexOf('=');
      const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      let value = eq < 0 ? undefined : p.slice(eq + 1).trim();
      if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (seen.has(name)) continue offers;
      seen.add(name);
      if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
        if (value !== undefined) continue offers;
      } else if (name === 'server_max_window_bits') {
        const n = value === undefined || !/^[0-9]{1,2}$/.test(value) ? NaN : Number(value);
        if (!(n >= 9 && n <= 15)) continue offers;
        serverBits = n;
        askedServerBits = true;
      } else if (name === 'client_max_window_bits') {
        if (value !== undefined) {
          const n = /^[0-9]{1,2}$/.test(value) ? Number(value) : NaN;
          if (!(n >= 8 && n <= 15)) continue offers;
        }
      } else {
        continue offers;
      }
    }
    let response = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
    if (askedServerBits) response += `; server_max_window_bits=${serverBits}`;
    return { serverWindowBits: serverBits, response };
  }
  return null;
}
