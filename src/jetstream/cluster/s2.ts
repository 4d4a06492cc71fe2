// S2 block format (github.com/klauspost/compress/s2), which nats-server uses for meta snapshots
// (s2.EncodeBetter), compressed consumer assignments (s2.Encode) and compressed stream messages in
// stream groups and catch-ups (compressedStreamMsgOp). S2 extends the Snappy block format with "repeat"
// copies (a 1-byte-offset copy whose offset is 0 reuses the previous offset, with a longer length), so
// an S2 decoder reads Snappy blocks and a Snappy-format block is valid S2: we decode full S2 and encode
// plain Snappy elements, which every S2 decoder accepts.
//
// Block: uvarint decoded length, then elements; the tag's low two bits select:
//   00 literal    len-1 in the upper 6 bits (< 60), or 60..63 = 1..4 following bytes hold len-1
//   01 copy, 1-byte offset: len 4 + bits 2-4, offset bits 5-7 << 8 | next byte;
//      offset 0 = S2 repeat: bits 2-4 = 0..4: len 4..8; 5: next byte + 8; 6: next u16 + 260;
//      7: next u24 + 65540
//   10 copy, 2-byte offset: len 1 + upper 6 bits, u16 offset
//   11 copy, 4-byte offset: len 1 + upper 6 bits, u32 offset

export class S2Error extends Error {}

function readUvarint(src: Buffer): [number, number] {
  let x = 0;
  let s = 1;
  for (let i = 0; i < 5 && i < src.length; i++) {
    const c = src[i]!;
    if (c < 0x80) return [x + c * s, i + 1];
    x += (c & 0x7f) * s;
    s *= 128;
  }
  throw new S2Error('s2: corrupt input (length)');
}

/** The decoded length a block announces. */
export function s2DecodedLen(src: Buffer): number {
  return readUvarint(src)[0];
}

/** s2.Decode. */
export function s2Decode(src: Buffer, maxLen = 64 * 1024 * 1024): Buffer {
  const [dLen, hdr] = readUvarint(src);
  if (dLen > maxLen) throw new S2Error('s2: decoded block too large');
  const dst = Buffer.allocUnsafe(dLen);
  let d = 0;
  let s = hdr;
  let offset = 0;
  const n = src.length;
  while (s < n) {
    const tag = src[s]!;
    let length: number;
    switch (tag & 3) {
      case 0: {
        let x = tag >>> 2;
        if (x < 60) s++;
        else {
          const nb = x - 59;
          if (s + 1 + nb > n) throw new S2Error('s2: corrupt input');
          x = 0;
          for (let i = 0; i < nb; i++) x += src[s + 1 + i]! * 2 ** (8 * i);
          s += 1 + nb;
        }
        length = x + 1;
        if (length > dLen - d || length > n - s) throw new S2Error('s2: corrupt input');
        src.copy(dst, d, s, s + length);
        d += length;
        s += length;
        continue;
      }
      case 1: {
        if (s + 2 > n) throw new S2Error('s2: corrupt input');
        length = (tag >>> 2) & 7;
        const toff = ((tag & 0xe0) << 3) | src[s + 1]!;
        s += 2;
        if (toff === 0) {
          // S2 repeat: keep the last offset.
          if (length === 5) {
            if (s + 1 > n) throw new S2Error('s2: corrupt input');
            length = src[s]! + 4;
            s += 1;
          } else if (length === 6) {
            if (s + 2 > n) throw new S2Error('s2: corrupt input');
            length = (src[s]! | (src[s + 1]! << 8)) + (1 << 8);
            s += 2;
          } else if (length === 7) {
            if (s + 3 > n) throw new S2Error('s2: corrupt input');
            length = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16)) + (1 << 16);
            s += 3;
          }
        } else offset = toff;
        length += 4;
        break;
      }
      case 2: {
        if (s + 3 > n) throw new S2Error('s2: corrupt input');
        length = 1 + (tag >>> 2);
        offset = src[s + 1]! | (src[s + 2]! << 8);
        s += 3;
        break;
      }
      default: {
        if (s + 5 > n) throw new S2Error('s2: corrupt input');
        length = 1 + (tag >>> 2);
        offset = src.readUInt32LE(s + 1);
        s += 5;
        break;
      }
    }
    if (offset <= 0 || d < offset || length > dLen - d) throw new S2Error('s2: corrupt input');
    // Overlapping copies repeat the pattern: byte by byte when they overlap.
    if (offset >= length) {
      dst.copy(dst, d, d - offset, d - offset + length);
      d += length;
    } else {
      for (let i = 0; i < length; i++, d++) dst[d] = dst[d - offset]!;
    }
  }
  if (d !== dLen) throw new S2Error('s2: corrupt input (short)');
  return dst;
}

/** A growing output buffer (sized for the worst case up front: Snappy's MaxEncodedLen). */
class Out {
  buf: Buffer;
  n = 0;
  constructor(cap: number) {
    this.buf = Buffer.allocUnsafe(cap);
  }
  byte(b: number): void {
    this.buf[this.n++] = b;
  }
  copy(src: Buffer, from: number, to: number): void {
    src.copy(this.buf, this.n, from, to);
    this.n += to - from;
  }
}

function emitLiteral(out: Out, src: Buffer, from: number, to: number): void {
  let len = to - from;
  while (len > 0) {
    const chunk = Math.min(len, 65536);
    const n = chunk - 1;
    if (n < 60) out.byte(n << 2);
    else if (n < 256) {
      out.byte(60 << 2);
      out.byte(n);
    } else {
      out.byte(61 << 2);
      out.byte(n & 0xff);
      out.byte(n >>> 8);
    }
    out.copy(src, from, from + chunk);
    from += chunk;
    len -= chunk;
  }
}

function emitCopy(out: Out, offset: number, length: number): void {
  // Snappy elements only (offset > 0), so any S2 decoder reads them.
  while (length > 0) {
    if (length >= 4 && length <= 11 && offset < 2048) {
      out.byte(1 | ((length - 4) << 2) | ((offset >>> 8) << 5));
      out.byte(offset & 0xff);
      return;
    }
    const l = Math.min(length, 64);
    if (offset < 65536) {
      out.byte(2 | ((l - 1) << 2));
      out.byte(offset & 0xff);
      out.byte(offset >>> 8);
    } else {
      out.byte(3 | ((l - 1) << 2));
      out.byte(offset & 0xff);
      out.byte((offset >>> 8) & 0xff);
      out.byte((offset >>> 16) & 0xff);
      out.byte(offset >>> 24);
    }
    length -= l;
  }
}

/** s2.Encode (Snappy-compatible elements; greedy matching on 4-byte hashes). */
export function s2Encode(src: Buffer): Buffer {
  const n = src.length;
  const out = new Out(32 + n + Math.ceil(n / 6) + 10);
  let v = n;
  while (v >= 0x80) {
    out.byte((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.byte(v);
  if (n < 8) {
    if (n > 0) emitLiteral(out, src, 0, n);
    return out.buf.subarray(0, out.n);
  }
  const TBITS = 14;
  const table = new Int32Array(1 << TBITS).fill(-1);
  let lit = 0;
  let i = 0;
  const limit = n - 4;
  while (i <= limit) {
    const word = src.readUInt32LE(i);
    const h = Math.imul(word, 0x1e35a7bd) >>> (32 - TBITS);
    const cand = table[h]!;
    table[h] = i;
    if (cand >= 0 && src.readUInt32LE(cand) === word) {
      let len = 4;
      while (i + len < n && src[cand + len] === src[i + len]) len++;
      if (lit < i) emitLiteral(out, src, lit, i);
      emitCopy(out, i - cand, len);
      i += len;
      lit = i;
      continue;
    }
    i++;
  }
  if (lit < n) emitLiteral(out, src, lit, n);
  return out.buf.subarray(0, out.n);
}
