// HighwayHash-64 (Google's keyed hash; nats-server uses github.com/minio/highwayhash), needed for the one
// place RAFT files carry it: the 8-byte checksum at the end of a snapshot file, keyed with
// sha256(group name) (raft.go encodeSnapshot / loadLastSnapshot). Written from the published algorithm
// (the reference C implementation's state update, zipper merge, remainder and finalisation) with
// BigInt lanes: snapshots are written rarely and are small, so clarity wins over speed here.

const M64 = 0xffffffffffffffffn;
const M32 = 0xffffffffn;

const INIT0 = [0xdbe6d5d5fe4cce2fn, 0xa4093822299f31d0n, 0x13198a2e03707344n, 0x243f6a8885a308d3n];
const INIT1 = [0x3bd39e10cb0ef593n, 0xc0acf169b5f18a8cn, 0xbe5466cf34e90c6cn, 0x452821e638d01377n];

function rot32(x: bigint): bigint {
  return ((x >> 32n) | (x << 32n)) & M64;
}

export class HighwayHash64 {
  private readonly v0: bigint[] = [0n, 0n, 0n, 0n];
  private readonly v1: bigint[] = [0n, 0n, 0n, 0n];
  private readonly mul0: bigint[] = [0n, 0n, 0n, 0n];
  private readonly mul1: bigint[] = [0n, 0n, 0n, 0n];
  private readonly key: Buffer;

  /** `key` must be 32 bytes. */
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('highwayhash: key must be 32 bytes');
    this.key = Buffer.from(key);
    this.reset();
  }

  reset(): void {
    for (let i = 0; i < 4; i++) {
      const k = this.key.readBigUInt64LE(i * 8);
      this.mul0[i] = INIT0[i]!;
      this.mul1[i] = INIT1[i]!;
      this.v0[i] = INIT0[i]! ^ k;
      this.v1[i] = INIT1[i]! ^ rot32(k);
    }
  }

  private update(lanes: bigint[]): void {
    const { v0, v1, mul0, mul1 } = this;
    for (let i = 0; i < 4; i++) {
      v1[i] = (v1[i]! + mul0[i]! + lanes[i]!) & M64;
      mul0[i] = mul0[i]! ^ (((v1[i]! & M32) * (v0[i]! >> 32n)) & M64);
      v0[i] = (v0[i]! + mul1[i]!) & M64;
      mul1[i] = mul1[i]! ^ (((v0[i]! & M32) * (v1[i]! >> 32n)) & M64);
    }
    zipperMergeAndAdd(v1[1]!, v1[0]!, v0, 1, 0);
    zipperMergeAndAdd(v1[3]!, v1[2]!, v0, 3, 2);
    zipperMergeAndAdd(v0[1]!, v0[0]!, v1, 1, 0);
    zipperMergeAndAdd(v0[3]!, v0[2]!, v1, 3, 2);
  }

  private updatePacket(b: Buffer, off: number): void {
    this.update([b.readBigUInt64LE(off), b.readBigUInt64LE(off + 8), b.readBigUInt64LE(off + 16), b.readBigUInt64LE(off + 24)]);
  }

  /** The hash of `data` from the freshly keyed state (the state is reset before and after). */
  sum64(data: Buffer): bigint {
    this.reset();
    const full = data.length - (data.length % 32);
    for (let off = 0; off < full; off += 32) this.updatePacket(data, off);
    const mod32 = data.length % 32;
    if (mod32 > 0) this.updateRemainder(data.subarray(full), mod32);
    for (let i = 0; i < 4; i++) {
      const v0 = this.v0;
      this.update([rot32(v0[2]!), rot32(v0[3]!), rot32(v0[0]!), rot32(v0[1]!)]);
    }
    const h = (this.v0[0]! + this.v1[0]! + this.mul0[0]! + this.mul1[0]!) & M64;
    this.reset();
    return h;
  }

  /** The 8-byte little-endian digest, as minio's Sum(nil). */
  digest(data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeBigUInt64LE(this.sum64(data));
    return out;
  }

  private updateRemainder(rem: Buffer, mod32: number): void {
    const mod4 = mod32 & 3;
    const whole = mod32 & ~3;
    const inc = (BigInt(mod32) << 32n) + BigInt(mod32);
    for (let i = 0; i < 4; i++) {
      this.v0[i] = (this.v0[i]! + inc) & M64;
      const lo = Number(this.v1[i]! & M32);
      const hi = Number(this.v1[i]! >> 32n);
      this.v1[i] = (BigInt(rotl32(hi, mod32)) << 32n) | BigInt(rotl32(lo, mod32));
    }
    const packet = Buffer.alloc(32);
    rem.copy(packet, 0, 0, whole);
    if (mod32 & 16) {
      for (let i = 0; i < 4; i++) packet[28 + i] = rem[whole + i + mod4 - 4]!;
    } else if (mod4 !== 0) {
      packet[16] = rem[whole]!;
      packet[17] = rem[whole + (mod4 >> 1)]!;
      packet[18] = rem[whole + mod4 - 1]!;
    }
    this.updatePacket(packet, 0);
  }
}

function rotl32(x: number, c: number): number {
  if (c === 0) return x >>> 0;
  return ((x << c) | (x >>> (32 - c))) >>> 0;
}

function zipperMergeAndAdd(v1: bigint, v0: bigint, add: bigint[], i1: number, i0: number): void {
  const a0 =
    (((v0 & 0xff000000n) | (v1 & 0xff00000000n)) >> 24n) |
    (((v0 & 0xff0000000000n) | (v1 & 0xff000000000000n)) >> 16n) |
    (v0 & 0xff0000n) |
    ((v0 & 0xff00n) << 32n) |
    ((v1 & 0xff00000000000000n) >> 8n) |
    ((v0 << 56n) & M64);
  const a1 =
    (((v1 & 0xff000000n) | (v0 & 0xff00000000n)) >> 24n) |
    (v1 & 0xff0000n) |
    ((v1 & 0xff0000000000n) >> 16n) |
    ((v1 & 0xff00n) << 24n) |
    ((v0 & 0xff000000000000n) >> 8n) |
    ((v1 & 0xffn) << 48n) |
    (v0 & 0xff00000000000000n);
  add[i0] = (add[i0]! + a0) & M64;
  add[i1] = (add[i1]! + a1) & M64;
}
