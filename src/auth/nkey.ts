// NKEY user authentication (nats-server auth.go, nkeys): the server sends a random nonce in INFO, the
// client signs it with its ed25519 seed and sends `nkey` (public key `U…`, base32 with a CRC16) and
// `sig` (base64url of the raw signature). We verify with node:crypto.

import { createPublicKey, randomBytes, verify } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** DER prefix of an ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PREFIX_USER = 20 << 3; // 'U'

function base32Decode(s: string): Buffer | null {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** CRC-16/XMODEM, as nkeys' crc16.go. */
function crc16(b: Buffer): number {
  let crc = 0;
  for (const byte of b) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The raw 32-byte ed25519 key of a user public nkey, or null when it is not one. */
export function decodeUserNkey(nkey: string): Buffer | null {
  const raw = base32Decode(nkey);
  if (raw === null || raw.length !== 35) return null;
  const body = raw.subarray(0, 33);
  if (raw.readUInt16LE(33) !== crc16(body)) return null;
  if (body[0] !== PREFIX_USER) return null;
  return Buffer.from(body.subarray(1));
}

export function verifyNonce(nkey: string, nonce: string, sigB64: string): boolean {
  const key = decodeUserNkey(nkey);
  if (key === null) return false;
  const sig = Buffer.from(sigB64.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (sig.length !== 64) return false;
  try {
    const pub = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, key]), format: 'der', type: 'spki' });
    return verify(null, Buffer.from(nonce), pub, sig);
  } catch {
    return false;
  }
}

/** A nonce as nats-server makes them: 11 random bytes, base64url without padding. */
export function newNonce(): string {
  return randomBytes(11).toString('base64url');
}
