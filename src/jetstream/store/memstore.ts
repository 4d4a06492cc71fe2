// The memory store (nats-server's memstore.go): each message's header and payload are copied into one
// buffer kept in the shared per-sequence index (core.ts), which also does limits, purge and subjects.
// Size accounting as nats-server: len(subject) + len(hdr) + len(data) + 16.

import type { StoreLimits, StoredMsg } from '../types.js';
import { KIND_MEMORY, StoreCore, type SeqChunk } from './core.js';

export class MemoryStore extends StoreCore {
  constructor(limits: StoreLimits, opts: { firstSeq?: number } = {}) {
    super(KIND_MEMORY, limits, opts.firstSeq ?? 1);
  }

  protected msgSize(subjBytes: number, hdr: Buffer | null, data: Buffer): number {
    return subjBytes + (hdr === null ? 0 : hdr.length) + data.length + 16;
  }

  protected putBody(_seq: number, _subject: string, _sb: number, hdr: Buffer | null, data: Buffer, _ts: number, _size: number, c: SeqChunk, i: number): void {
    const hlen = hdr === null ? 0 : hdr.length;
    const body = Buffer.allocUnsafe(hlen + data.length);
    if (hdr !== null) hdr.copy(body, 0);
    data.copy(body, hlen);
    c.body![i] = body;
    c.hlen![i] = hdr === null ? -1 : hlen;
  }

  protected getBody(seq: number, subject: string, c: SeqChunk, i: number): StoredMsg | null {
    const body = c.body![i]!;
    const hlen = c.hlen![i]!;
    return {
      subject,
      seq,
      ts: c.ts[i]!,
      hdr: hlen < 0 ? null : body.subarray(0, hlen),
      data: hlen < 0 ? body : body.subarray(hlen),
    };
  }

  protected dropBody(_seq: number, c: SeqChunk, i: number): void {
    c.body![i] = undefined;
  }

  protected dropAll(_nextSeq: number): void {}

  async flush(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopTimers();
  }

  async destroy(): Promise<void> {
    this.stopTimers();
    this.onRemove = null;
    this.purge({});
  }
}
