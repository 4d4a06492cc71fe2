// nats-server's getHash (server.go): the first 8 characters of base64url(sha256(name)). Used for the
// node id in JetStream API reply subjects and for client ids in session subjects and durable names.

import { createHash, randomBytes } from 'node:crypto';

export function getHash(name: string, size = 8): string {
  return createHash('sha256').update(name).digest('base64url').slice(0, size);
}

const NUID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A nuid-shaped unique token (22 base62 characters): random prefix, then a counter. */
export class Nuid {
  private prefix = '';
  private seq = 0;

  constructor() {
    this.reset();
  }

  private reset(): void {
    const b = randomBytes(12);
    let p = '';
    for (let i = 0; i < 12; i++) p += NUID_ALPHABET[b[i]! % 62];
    this.prefix = p;
    this.seq = Math.floor(Math.random() * 1e9);
  }

  next(): string {
    if (++this.seq > 3e15) this.reset();
    return this.prefix + this.seq.toString(36).padStart(10, '0');
  }
}
