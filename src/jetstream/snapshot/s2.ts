// The S2 stream format nats-server writes snapshots in (github.com/klauspost/compress/s2, a superset
// of Snappy's framing format): a stream identifier chunk (`0xff`, "S2sTwO"), then chunks of type 0x00
// (compressed block) or 0x01 (uncompressed), each with the masked CRC-32C of its uncompressed bytes.
//
// The blocks written here use only Snappy's element kinds (literals, 1- and 2-byte-offset copies),
// which every S2 and Snappy decoder reads, so `s2 -d` and nats tools can read our snapshots. The
// reader takes S2 blocks (Snappy's elements plus S2's repeat-offset copies): it decodes nats-server's
// snapshots too.

const STREAM_ID = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x53, 0x32, 0x73, 0x54, 0x77, 0x4f]); // "S2sTwO"
const SNAPPY_ID = Buffer.from('sNaPpY', 'latin1');
const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;
/** Uncompressed bytes per block: Snappy's limit, so the stream is also plain Snappy-framed. */
export const S2_BLOCK = 64 * 1024;

// ---- CRC-32C (Castagnoli) ------------------------------------------------------------------------

const CRC_C = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  CRC_C[n] = c;
}

export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_C[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Snappy's masked checksum. */
function masked(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- block compression (Snappy elements) ---------------------------------------------------------

const HASH_BITS = 14;

function hash4(b: Uint8Array, i: number): number {
  const v = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  return Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function putVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function emitLiteral(out: number[], src: Uint8Array, start: number, end: number): void {
  const n = end - start - 1;
  if (n < 0) return;
  if (n < 60) out.push(n << 2);
  else if (n < 0x100) out.push(60 << 2, n);
  else if (n < 0x10000) out.push(61 << 2, n & 0xff, n >>> 8);
  else out.push(62 << 2, n & 0xff, (n >>> 8) & 0xff, n >>> 16);
  for (let i = start; i < end; i++) out.push(src[i]!);
}

function emitCopy(out: number[], offset: number, len: number): void {
  while (len > 0) {
    if (len >= 4 && len <= 11 && offset < 2048) {
      out.push(0x01 | ((len - 4) << 2) | ((offset >>> 8) << 5), offset & 0xff);
      return;
    }
    const n = len > 64 ? (len - 64 < 4 ? 60 : 64) : len;
    out.push(0x02 | ((n - 1) << 2), offset & 0xff, offset >>> 8);
    len -= n;
  }
}

/** One Snappy block (at most 64 KiB of input): varint length, then literals and copies. */
export function compressBlock(src: Uint8Array): Buffer {
  const out: number[] = [];
  putVarint(out, src.length);
  const n = src.length;
  if (n < 16) {
    emitLiteral(out, src, 0, n);
    return Buffer.from(out);
  }
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  let lit = 0;
  let i = 0;
  const limit = n - 4;
  while (i <= limit) {
    const h = hash4(src, i);
    const cand = table[h]!;
    table[h] = i;
    if (cand >= 0 && i - cand < 65536 && src[cand] === src[i] && src[cand + 1] === src[i + 1] && src[cand + 2] === src[i + 2] && src[cand + 3] === src[i + 3]) {
      emitLiteral(out, src, lit, i);
      let len = 4;
      while (i + len < n && src[cand + len] === src[i + len]) len++;
      emitCopy(out, i - cand, len);
      i += len;
      lit = i;
      continue;
    }
    i++;
  }
  emitLiteral(out, src, lit, n);
  return Buffer.from(out);
}

/** Decodes one Snappy block (S2 repeat-offset copies included). */
export function decompressBlock(src: Buffer): Buffer {
  let pos = 0;
  let len = 0;
  let shift = 1;
  for (;;) {
    if (pos >= src.length) throw new Error('s2: corrupt block length');
    const b = src[pos++]!;
    len += (b & 0x7f) * shift;
    if (b < 0x80) break;
    shift *= 128;
    if (shift > 2 ** 35) throw new Error('s2: corrupt block length');
  }
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  let lastOffset = 0;
  const copy = (offset: number, n: number): void => {
    if (offset <= 0 || offset > o || o + n > len) throw new Error('s2: corrupt copy');
    for (let k = 0; k < n; k++, o++) out[o] = out[o - offset]!;
    lastOffset = offset;
  };
  while (pos < src.length) {
    const tag = src[pos++]!;
    switch (tag & 3) {
      case 0: {
        let n = tag >>> 2;
        if (n >= 60) {
          const extra = n - 59;
          n = 0;
          for (let k = 0; k < extra; k++) n |= src[pos + k]! << (8 * k);
          n >>>= 0;
          pos += extra;
        }
        n += 1;
        if (pos + n > src.length || o + n > len) throw new Error('s2: corrupt literal');
        src.copy(out, o, pos, pos + n);
        pos += n;
        o += n;
        break;
      }
      case 1: {
        let n = (tag >>> 2) & 7;
        const offset = ((tag >>> 5) << 8) | src[pos++]!;
        if (offset === 0) {
          // S2 repeat: the last offset again; lengths 5-7 take 1-3 more bytes.
          if (n === 5) {
            n = src[pos]! + 4;
            pos += 1;
          } else if (n === 6) {
            n = (src[pos]! | (src[pos + 1]! << 8)) + (1 << 8);
            pos += 2;
          } else if (n === 7) {
            n = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16)) + (1 << 16);
            pos += 3;
          }
          copy(lastOffset, n + 4);
        } else copy(offset, n + 4);
        break;
      }
      case 2: {
        const n = (tag >>> 2) + 1;
        const offset = src[pos]! | (src[pos + 1]! << 8);
        pos += 2;
        copy(offset, n);
        break;
      }
      default: {
        const n = (tag >>> 2) + 1;
        const offset = src.readUInt32LE(pos);
        pos += 4;
        copy(offset, n);
      }
    }
  }
  if (o !== len) throw new Error('s2: short block');
  return out;
}

// ---- framing ------------------------------------------------------------------------------------

/** Frames data as an S2 stream; pass `first` for the chunk that starts the stream. */
export function frame(data: Uint8Array, first: boolean): Buffer {
  const parts: Buffer[] = first ? [STREAM_ID] : [];
  for (let at = 0; at < data.length; at += S2_BLOCK) {
    const block = data.subarray(at, Math.min(at + S2_BLOCK, data.length));
    const crc = masked(crc32c(block));
    const c = compressBlock(block);
    const useC = c.length < block.length - (block.length >>> 5);
    const body = useC ? c : Buffer.from(block);
    const h = Buffer.allocUnsafe(8);
    h[0] = useC ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED;
    h.writeUIntLE(body.length + 4, 1, 3);
    h.writeUInt32LE(crc, 4);
    parts.push(h, body);
  }
  return Buffer.concat(parts);
}

/** Incremental reader of an S2 (or Snappy-framed) stream: push bytes, take the decoded data. */
export class S2Reader {
  private pending: Buffer = Buffer.alloc(0);
  private sawId = false;

  /** Decodes every complete chunk in what was pushed so far. */
  push(bytes: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const out: Buffer[] = [];
    let p = 0;
    const buf = this.pending;
    while (buf.length - p >= 4) {
      const type = buf[p]!;
      const n = buf.readUIntLE(p + 1, 3);
      if (buf.length - p - 4 < n) break;
      const body = buf.subarray(p + 4, p + 4 + n);
      p += 4 + n;
      if (type === 0xff) {
        if (!body.equals(STREAM_ID.subarray(4)) && !body.equals(SNAPPY_ID)) throw new Error('s2: bad stream identifier');
        this.sawId = true;
        continue;
      }
      if (!this.sawId) throw new Error('s2: missing stream identifier');
      if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
        if (n < 4) throw new Error('s2: short chunk');
        const want = body.readUInt32LE(0);
        const data = type === CHUNK_COMPRESSED ? decompressBlock(body.subarray(4)) : Buffer.from(body.subarray(4));
        if (masked(crc32c(data)) !== want) throw new Error('s2: checksum mismatch');
        out.push(data);
      } else if (type >= 0x02 && type <= 0x7f) {
        throw new Error(`s2: unsupported chunk type ${type}`);
      }
      // 0x80-0xfe: skippable (padding, index)
    }
    this.pending = buf.subarray(p);
    return out;
  }

  /** True when everything pushed was consumed (no partial chunk left). */
  get done(): boolean {
    return this.pending.length === 0;
  }
}
