// The file store (after nats-server's filestore.go): a stream's messages in append-only block files
// `<stream dir>/msgs/<id>.blk`, the per-sequence and per-subject indexes in memory (core.ts, about 28
// bytes per message, no object per message), and an index file written on clean stop so that a
// restart need not read every block.
//
// Record layout (little-endian; the record length equals nats-server's fileStoreMsgSize, which is
// what the stream accounts in `bytes`):
//
//   off  size  field
//   0    4     len     total record length; bit 31 set = the record has headers
//   4    4     seq lo
//   8    4     seq hi  bit 31 (byte 11 = 0x80) = DELETED, flipped in place when the message is
//                      removed; not covered by the crc (it is checked as 0)
//   12   4     ts lo   timestamp, epoch ns (u64)
//   16   4     ts hi
//   20   2     subjLen
//   22   subjLen        subject (UTF-8)
//   [    4     hdrLen   only when bit 31 of len is set
//        hdrLen         header block ]
//        ...            payload (up to len - 8)
//   len-8 4    crc32    of bytes [0, len-8) with the DELETED bit clear
//   len-4 4    len      again (no header bit): a scan checks both ends before the crc
//
//   size = 22 + subjLen + len(payload) + 8, or 22 + subjLen + 4 + len(hdr) + len(payload) + 8.
//
// Removals: a removed message's record gets its DELETED bit set in place (one byte written at
// offset+11), so deletes live in the block that holds the message and can never outlive it or be
// lost with another block. A block whose messages are all gone is unlinked (unless it is the block
// being written). Purging everything writes a DELETED empty-subject "marker" record carrying the last
// sequence into a fresh block before unlinking the old ones, so sequences never go back after a
// restart; a store created with first_seq > 1 writes such a marker for first_seq - 1.
//
// Writes: storeMsg encodes the record and queues it; the queued records of every store go to their
// files with one positioned writev per store (flushPendingWrites) before the JetStream worker makes
// anything visible to the shards (its ring publish, src/jetstream/link.ts), at the latest in a
// microtask after the call, and before any other access to the file (a read that misses the cache,
// a delete mark, a marker, a sync, a block roll). So a pub ack still leaves only after its record
// is written (to the page cache), but one drain's publishes cost one system call instead of one each.
// fsync every syncIntervalMs (default 2 minutes, nats-server's sync_interval) or, with syncAlways,
// after each write (each flush: one fsync per batch of publishes). Reads: recent records from a small in-memory ring, older ones with one
// positioned readSync and a crc check.
//
// Recovery: `msgs/index.bin` (written by stop(), removed again at open so it is never trusted twice)
// is used when every block's size and mtime match it; otherwise every block is scanned. A bad record
// at the end of the last block (torn write, garbage) is truncated with a warning; a bad record
// elsewhere is skipped by scanning forward to the next record whose length, trailer and crc check
// out, and the lost sequence range is logged as an error.

import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { StoreLimits, StoredMsg } from '../types.js';
import { KIND_FILE, StoreCore, type SeqChunk } from './core.js';
import { crc32, crc32Byte, crc32Update } from './crc32.js';

const HDR_BIT = 0x80000000;
const DEL_BYTE = 0x80;
const FIXED = 22;
const TRAILER = 8;
const MIN_REC = FIXED + TRAILER;
const TWO32 = 4294967296;
const DEFAULT_BLOCK = 8 * 1024 * 1024;
const MAX_BLOCK = 1 << 30;
const DEFAULT_SYNC_MS = 120_000;
const CACHE = 1024;
const SLAB = 256 * 1024;
/** Bytes read at once when a record is not cached: the window serves the records after it. */
const READ_AHEAD = 256 * 1024;
const MAX_OPEN = 32;
const INDEX_MAGIC = 'TSNIDX01';
/** At most this many queued records (IOV_MAX is 1024) or bytes go in one writev. */
const WQ_MAX_RECORDS = 1024;
const WQ_MAX_BYTES = 4 * 1024 * 1024;

/** Stores with queued records, flushed together (see "Writes" above). */
const pendingStores = new Set<FileStore>();
let flushQueued = false;

/** Writes the queued records of every file store: call before making their pub acks visible. */
export function flushPendingWrites(): void {
  flushQueued = false;
  if (pendingStores.size === 0) return;
  for (const fs of pendingStores) fs.flushWrites();
  pendingStores.clear();
}
const INDEX_ENTRY = 32;

export interface FileStoreOptions {
  firstSeq?: number;
  /** Roll to a new block file past this many bytes (default 8 MiB). */
  blockSize?: number;
  /** fsync period (default 120000, nats-server's sync_interval). */
  syncIntervalMs?: number;
  /** fsync after every write (nats-server's sync_always). */
  syncAlways?: boolean;
  log?: Logger;
}

class Block {
  readonly id: number;
  readonly path: string;
  fd = -1;
  size = 0;
  first = 0;
  last = 0;
  live = 0;
  dirty = false;
  constructor(id: number, path: string) {
    this.id = id;
    this.path = path;
  }
}

const noop = (): void => {};
const NOOP_LOG = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop } as unknown as Logger;
const DEL_MARK = Buffer.from([DEL_BYTE]);

/** Length of a valid record at buf[pos], or 0 (bad length, trailer, layout or crc). */
function checkRecord(buf: Buffer, pos: number, n: number): number {
  if (n - pos < MIN_REC) return 0;
  const w = buf.readUInt32LE(pos);
  const len = (w & 0x7fffffff) >>> 0;
  if (len < MIN_REC || len > n - pos) return 0;
  if (buf.readUInt32LE(pos + len - 4) !== len) return 0;
  let need = FIXED + buf.readUInt16LE(pos + 20) + TRAILER;
  if (w & HDR_BIT) {
    if (need + 4 > len) return 0;
    need += 4 + buf.readUInt32LE(pos + need - TRAILER);
  }
  if (need > len) return 0;
  let c = crc32Update(0, buf, pos, pos + 11);
  c = crc32Byte(c, buf[pos + 11]! & 0x7f);
  c = crc32Update(c, buf, pos + 12, pos + len - TRAILER);
  return c === buf.readUInt32LE(pos + len - TRAILER) ? len : 0;
}

function recSeq(buf: Buffer, pos: number): number {
  return buf.readUInt32LE(pos + 4) + (buf.readUInt32LE(pos + 8) & 0x00ffffff) * TWO32;
}

function recTs(buf: Buffer, pos: number): number {
  return buf.readUInt32LE(pos + 12) + buf.readUInt32LE(pos + 16) * TWO32;
}

export class FileStore extends StoreCore {
  /** The `msgs` directory. */
  readonly dir: string;
  /** How the last open recovered: from the index file, or by scanning the blocks. */
  recoveredFrom: 'index' | 'scan' | 'new' = 'new';
  private readonly log: Logger;
  private readonly blockSize: number;
  private readonly syncAlways: boolean;
  private blocks: Block[] = [];
  private readonly blockById = new Map<number, Block>();
  private tail!: Block;
  private openFds = 0;
  private syncTimer: NodeJS.Timeout | null = null;
  private bulk = 0;
  private pending: number[] = [];
  private readonly cacheSeq = new Float64Array(CACHE);
  private readonly cacheRec: (Buffer | undefined)[] = new Array<Buffer | undefined>(CACHE);
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB);
  private slabOff = 0;
  /** Read-ahead window: bytes [raOff, raOff + raLen) of block raBlock (-1: none). */
  private raBlock = -1;
  private raOff = 0;
  private raLen = 0;
  private raBuf: Buffer | null = null;
  /** Queued records (not yet written) for block wqBlock, from file offset wqPos on. */
  private readonly wq: Buffer[] = [];
  private wqBlock: Block | null = null;
  private wqPos = 0;
  private wqBytes = 0;
  /** Set by a failed write: every later store fails with it. */
  private writeError: Error | null = null;

  private constructor(dir: string, limits: StoreLimits, opts: FileStoreOptions) {
    super(KIND_FILE, limits, 1);
    this.dir = dir;
    this.log = opts.log ?? NOOP_LOG;
    this.blockSize = Math.min(MAX_BLOCK, Math.max(1024, opts.blockSize ?? DEFAULT_BLOCK));
    this.syncAlways = opts.syncAlways === true;
  }

  /** Opens (creating or recovering) the store of the stream directory `dir`; blocks go in `dir/msgs`. */
  static async open(dir: string, limits: StoreLimits, opts: FileStoreOptions = {}): Promise<FileStore> {
    const mdir = join(dir, 'msgs');
    mkdirSync(mdir, { recursive: true });
    const fs = new FileStore(mdir, limits, opts);
    fs.recover(opts.firstSeq ?? 1);
    fs.applyLimitsNow();
    if (!fs.syncAlways) {
      fs.syncTimer = setInterval(() => fs.syncDirty(), Math.max(1, opts.syncIntervalMs ?? DEFAULT_SYNC_MS));
      fs.syncTimer.unref();
    }
    return fs;
  }

  // ---- sizes, bodies ----------------------------------------------------------------------------

  protected msgSize(subjBytes: number, hdr: Buffer | null, data: Buffer): number {
    return hdr === null ? FIXED + subjBytes + data.length + TRAILER : FIXED + subjBytes + 4 + hdr.length + data.length + TRAILER;
  }

  private recordBuf(size: number): Buffer {
    if (size > SLAB >>> 3) return Buffer.allocUnsafe(size);
    if (this.slabOff + size > SLAB) {
      this.slab = Buffer.allocUnsafeSlow(SLAB);
      this.slabOff = 0;
    }
    const b = this.slab.subarray(this.slabOff, this.slabOff + size);
    this.slabOff = (this.slabOff + size + 7) & ~7;
    return b;
  }

  /** Encodes a record (crc computed with the DELETED bit clear). */
  private encode(seq: number, subject: string, subjBytes: number, hdr: Buffer | null, data: Buffer, ts: number, size: number): Buffer {
    if (subjBytes > 0xffff) throw new Error('subject too long');
    const b = this.recordBuf(size);
    b.writeUInt32LE((hdr === null ? size : size | HDR_BIT) >>> 0, 0);
    b.writeUInt32LE(seq >>> 0, 4);
    b.writeUInt32LE(Math.floor(seq / TWO32), 8);
    b.writeUInt32LE(ts >>> 0, 12);
    b.writeUInt32LE(Math.floor(ts / TWO32), 16);
    b.writeUInt16LE(subjBytes, 20);
    let p = FIXED;
    if (subjBytes > 0) p += b.write(subject, FIXED, subjBytes, 'utf8');
    if (hdr !== null) {
      b.writeUInt32LE(hdr.length, p);
      p += 4 + hdr.copy(b, p + 4);
    }
    p += data.copy(b, p);
    b.writeUInt32LE(crc32(b, 0, p), p);
    b.writeUInt32LE(size, p + 4);
    return b;
  }

  private writeAt(blk: Block, buf: Buffer, len: number, pos: number): void {
    if (this.wqBlock !== null) this.flushWrites();
    let done = 0;
    while (done < len) done += writeSync(blk.fd, buf, done, len - done, pos + done);
    blk.dirty = true;
  }

  protected putBody(seq: number, subject: string, subjBytes: number, hdr: Buffer | null, data: Buffer, ts: number, size: number, c: SeqChunk, i: number): void {
    if (this.writeError !== null) throw this.writeError;
    let t = this.tail;
    let prev: Block | null = null;
    if (t.size > 0 && t.size + size > this.blockSize) {
      prev = t;
      t = this.newBlock();
    }
    const rec = this.encode(seq, subject, subjBytes, hdr, data, ts, size);
    this.queueWrite(t, rec, t.size);
    c.blk![i] = t.id;
    c.off![i] = t.size;
    t.size += size;
    t.live++;
    if (t.first === 0) t.first = seq;
    t.last = seq;
    const k = seq % CACHE;
    this.cacheSeq[k] = seq;
    this.cacheRec[k] = rec;
    if (prev !== null) {
      this.sync(prev);
      if (prev.live === 0) this.unlinkBlock(prev);
    }
  }

  /** Queues a record for block b at file offset pos (always right after what is queued). */
  private queueWrite(b: Block, rec: Buffer, pos: number): void {
    if (this.wqBlock !== b) {
      if (this.wqBlock !== null) this.flushWrites();
      this.wqBlock = b;
      this.wqPos = pos;
    }
    this.wq.push(rec);
    this.wqBytes += rec.length;
    if (this.wq.length >= WQ_MAX_RECORDS || this.wqBytes >= WQ_MAX_BYTES) {
      this.flushWrites();
      return;
    }
    if (this.wq.length === 1) {
      pendingStores.add(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushPendingWrites);
      }
    }
  }

  /**
   * Writes the queued records (one writev), then fsyncs with syncAlways. A failing write is logged
   * and fails every later store (their publishes get an error ack); the records of the failed batch
   * are lost although their acks may already be queued in a ring.
   */
  flushWrites(): void {
    const b = this.wqBlock;
    if (b === null) return;
    const q = this.wq;
    const total = this.wqBytes;
    const pos = this.wqPos;
    this.wqBlock = null;
    this.wqBytes = 0;
    try {
      let done = q.length === 1 ? writeSync(b.fd, q[0]!, 0, total, pos) : writevSync(b.fd, q, pos);
      if (done < total) {
        // A short write: the rest record by record.
        let off = 0;
        for (const rec of q) {
          const end = off + rec.length;
          if (end > done) {
            let from = Math.max(0, done - off);
            while (from < rec.length) {
              const n = writeSync(b.fd, rec, from, rec.length - from, pos + off + from);
              from += n;
              done += n;
            }
          }
          off = end;
        }
      }
      b.dirty = true;
      if (this.syncAlways) this.sync(b);
    } catch (err) {
      this.writeError = err instanceof Error ? err : new Error(String(err));
      this.log.error({ err, block: b.id, offset: pos, records: q.length }, 'filestore: write failed');
    } finally {
      q.length = 0;
    }
  }

  protected getBody(seq: number, subject: string, c: SeqChunk, i: number): StoredMsg | null {
    const size = c.size[i]!;
    const k = seq % CACHE;
    let rec: Buffer;
    if (this.cacheSeq[k] === seq && this.cacheRec[k] !== undefined) {
      rec = this.cacheRec[k]!;
    } else {
      const b = this.blockById.get(c.blk![i]!);
      if (b === undefined) return null;
      if (this.wqBlock === b) this.flushWrites();
      const off = c.off![i]!;
      let got = 0;
      try {
        if (b.id === this.raBlock && off >= this.raOff && off + size <= this.raOff + this.raLen) {
          // Inside the read-ahead window: consumers read forward, one readSync serves many records.
          rec = this.raBuf!.subarray(off - this.raOff, off - this.raOff + size);
          got = size;
        } else if (size <= READ_AHEAD / 4) {
          // A fresh buffer each time (never refilled): records handed out stay valid.
          const ra = Buffer.allocUnsafeSlow(READ_AHEAD);
          const fd = this.fdFor(b);
          let n = 0;
          for (let r = -1; r !== 0 && n < READ_AHEAD; n += r) r = readSync(fd, ra, n, READ_AHEAD - n, off + n);
          this.raBlock = b.id;
          this.raOff = off;
          this.raLen = n;
          this.raBuf = ra;
          got = Math.min(n, size);
          rec = ra.subarray(0, size);
        } else {
          rec = Buffer.allocUnsafe(size);
          const fd = this.fdFor(b);
          while (got < size) {
            const n = readSync(fd, rec, got, size - got, off + got);
            if (n === 0) break;
            got += n;
          }
        }
      } catch (err) {
        this.log.error({ err, seq, block: b.id }, 'filestore: read failed');
        return null;
      }
      if (got < size || checkRecord(rec, 0, size) !== size || recSeq(rec, 0) !== seq) {
        this.log.error({ seq, block: b.id, offset: off }, 'filestore: stored record is damaged');
        return null;
      }
    }
    const w = rec.readUInt32LE(0);
    let p = FIXED + rec.readUInt16LE(20);
    let hdr: Buffer | null = null;
    if (w & HDR_BIT) {
      const hl = rec.readUInt32LE(p);
      hdr = rec.subarray(p + 4, p + 4 + hl);
      p += 4 + hl;
    }
    return { subject, seq, ts: c.ts[i]!, hdr, data: rec.subarray(p, size - TRAILER) };
  }

  protected dropBody(seq: number, c: SeqChunk, i: number): void {
    const k = seq % CACHE;
    if (this.cacheSeq[k] === seq) {
      this.cacheSeq[k] = 0;
      this.cacheRec[k] = undefined;
    }
    const b = this.blockById.get(c.blk![i]!);
    if (b === undefined) return;
    b.live--;
    if (b.live === 0 && b !== this.tail) {
      this.unlinkBlock(b);
      return;
    }
    const off = c.off![i]!;
    if (this.bulk > 0) this.pending.push(b.id, off);
    else {
      this.markDeleted(b, off);
      if (this.syncAlways) this.sync(b);
    }
  }

  private markDeleted(b: Block, off: number): void {
    try {
      this.fdFor(b);
      this.writeAt(b, DEL_MARK, 1, off + 11);
    } catch (err) {
      this.log.error({ err, block: b.id, offset: off }, 'filestore: could not mark a record deleted');
    }
  }

  protected override bulkBegin(): void {
    this.bulk++;
  }

  protected override bulkEnd(): void {
    if (--this.bulk > 0) return;
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = [];
    for (let j = 0; j < p.length; j += 2) {
      const b = this.blockById.get(p[j]!);
      if (b !== undefined) this.markDeleted(b, p[j + 1]!);
    }
    if (this.syncAlways) this.syncDirty();
  }

  protected dropAll(nextSeq: number): void {
    // The new block (holding a marker for the last sequence) exists before the old ones go, so a
    // crash in between can bring back purged messages but never reuse a sequence.
    const old = this.blocks.slice();
    const nb = this.newBlock();
    const lastSeq = Math.max(this.last, nextSeq - 1);
    if (lastSeq > 0) this.writeMarker(nb, lastSeq, this.lastTs);
    for (const b of old) this.unlinkBlock(b);
    this.pending = [];
    this.cacheSeq.fill(0);
    this.cacheRec.fill(undefined);
  }

  protected override persistSkip(seq: number): void {
    // A deleted marker record carrying the last sequence, as after a purge: a restart keeps it.
    this.writeMarker(this.tail, seq, this.lastTs);
  }

  private writeMarker(b: Block, seq: number, ts: number): void {
    const rec = this.encode(seq, '', 0, null, Buffer.alloc(0), ts, MIN_REC);
    rec[11] = rec[11]! | DEL_BYTE;
    this.writeAt(b, rec, MIN_REC, b.size);
    b.size += MIN_REC;
    if (b.first === 0) b.first = seq;
    b.last = seq;
    this.sync(b);
  }

  // ---- blocks and fds ---------------------------------------------------------------------------

  private blockPath(id: number): string {
    return join(this.dir, `${id}.blk`);
  }

  private newBlock(): Block {
    const id = this.blocks.length > 0 ? this.blocks[this.blocks.length - 1]!.id + 1 : 1;
    const b = new Block(id, this.blockPath(id));
    b.fd = openSync(b.path, 'w+');
    this.openFds++;
    this.blocks.push(b);
    this.blockById.set(id, b);
    this.tail = b;
    this.closeSpareFds();
    return b;
  }

  private fdFor(b: Block): number {
    if (b.fd < 0) {
      b.fd = openSync(b.path, 'r+');
      this.openFds++;
      this.closeSpareFds(b);
    }
    return b.fd;
  }

  private closeSpareFds(keep: Block | null = null): void {
    if (this.openFds <= MAX_OPEN) return;
    for (const o of this.blocks) {
      if (this.openFds <= MAX_OPEN) break;
      if (o.fd >= 0 && o !== this.tail && o !== keep) this.closeBlock(o);
    }
  }

  private closeBlock(b: Block): void {
    if (this.wqBlock === b) this.flushWrites();
    if (b.fd < 0) return;
    try {
      if (b.dirty) fsyncSync(b.fd);
    } catch {
      // The data is in the page cache; nothing better to do on a failing fsync here.
    }
    closeSync(b.fd);
    b.fd = -1;
    b.dirty = false;
    this.openFds--;
  }

  private unlinkBlock(b: Block): void {
    if (this.wqBlock === b) this.flushWrites();
    if (this.raBlock === b.id) this.raBlock = -1;
    if (b.fd >= 0) {
      closeSync(b.fd);
      b.fd = -1;
      this.openFds--;
    }
    try {
      unlinkSync(b.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, block: b.id }, 'filestore: could not remove block');
    }
    const j = this.blocks.indexOf(b);
    if (j >= 0) this.blocks.splice(j, 1);
    this.blockById.delete(b.id);
  }

  private sync(b: Block): void {
    if (this.wqBlock === b) this.flushWrites();
    if (b.fd >= 0 && b.dirty) {
      fsyncSync(b.fd);
      b.dirty = false;
    }
  }

  private syncDirty(): void {
    for (const b of this.blocks) {
      try {
        this.sync(b);
      } catch (err) {
        this.log.error({ err, block: b.id }, 'filestore: fsync failed');
      }
    }
  }

  // ---- recovery ---------------------------------------------------------------------------------

  private recover(firstSeq: number): void {
    const ids: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^(\d+)\.blk$/.exec(name);
      if (m !== null) ids.push(Number(m[1]));
    }
    ids.sort((a, b) => a - b);
    for (const id of ids) {
      const b = new Block(id, this.blockPath(id));
      this.blocks.push(b);
      this.blockById.set(id, b);
    }
    this.first = 1;
    this.last = 0;
    const indexPath = join(this.dir, 'index.bin');
    let fromIndex = false;
    if (ids.length > 0) {
      try {
        fromIndex = this.loadIndex(indexPath);
      } catch (err) {
        this.log.warn({ err }, 'filestore: index unreadable, rebuilding from blocks');
        fromIndex = false;
      }
      if (!fromIndex) this.resetIndex();
      else this.recoveredFrom = 'index';
    }
    rmSync(indexPath, { force: true });
    if (!fromIndex && ids.length > 0) {
      this.recoveredFrom = 'scan';
      for (let j = 0; j < this.blocks.length; j++) this.scanBlock(this.blocks[j]!, j === this.blocks.length - 1);
    }
    // Trailing empty blocks go (the tail is then the block holding the last sequence), then every
    // other block with no live message.
    while (this.blocks.length > 0 && this.blocks[this.blocks.length - 1]!.size === 0) this.unlinkBlock(this.blocks[this.blocks.length - 1]!);
    for (const b of this.blocks.slice(0, -1)) if (b.live === 0) this.unlinkBlock(b);
    if (this.last === 0) {
      // Nothing recovered: a new store.
      if (this.recoveredFrom !== 'new' && this.blocks.length > 0) this.log.warn({ dir: this.dir }, 'filestore: no records recovered');
      for (const b of this.blocks.slice()) this.unlinkBlock(b);
      const f = firstSeq > 0 ? firstSeq : 1;
      this.first = f;
      this.last = f - 1;
      this.chunkBase = f;
      const nb = this.newBlock();
      if (f > 1) this.writeMarker(nb, f - 1, 0);
      return;
    }
    if (this.msgs === 0) this.first = this.last + 1;
    this.tail = this.blocks[this.blocks.length - 1]!;
    this.fdFor(this.tail);
  }

  private resetIndex(): void {
    this.chunks = [];
    this.subjects.clear();
    this.byId = [];
    this.msgs = 0;
    this.bytes = 0;
    this.first = 1;
    this.last = 0;
    this.lastTs = 0;
    for (const b of this.blocks) {
      b.live = 0;
      b.first = 0;
      b.last = 0;
      b.size = 0;
    }
  }

  /** Scans one block, indexing its records; handles torn tails and corrupt records (see header). */
  private scanBlock(b: Block, isLast: boolean): void {
    const buf = readFileSync(b.path);
    let n = buf.length;
    let pos = 0;
    while (pos < n) {
      const len = checkRecord(buf, pos, n);
      if (len > 0) {
        this.addRecord(b, buf, pos, len);
        pos += len;
        continue;
      }
      // A bad record: look for the next good one.
      let next = -1;
      for (let p = pos + 1; p + MIN_REC <= n; p++) {
        const l = (buf.readUInt32LE(p) & 0x7fffffff) >>> 0;
        if (l < MIN_REC || l > n - p || buf.readUInt32LE(p + l - 4) !== l) continue;
        if (checkRecord(buf, p, n) === l && recSeq(buf, p) > this.last) {
          next = p;
          break;
        }
      }
      if (next < 0) {
        if (isLast) {
          this.log.warn({ block: b.id, offset: pos, bytes: n - pos, last_seq: this.last }, 'filestore: torn tail truncated');
          const fd = this.fdFor(b);
          ftruncateSync(fd, pos);
          fsyncSync(fd);
        } else {
          this.log.error({ block: b.id, offset: pos, bytes: n - pos, after_seq: this.last }, 'filestore: unreadable end of block skipped');
        }
        n = pos;
        break;
      }
      const nextSeq = recSeq(buf, next);
      this.log.error(
        { block: b.id, offset: pos, bytes: next - pos, first_seq: this.last + 1, last_seq: nextSeq - 1 },
        'filestore: corrupt record(s) skipped, sequences lost',
      );
      pos = next;
    }
    b.size = isLast ? n : buf.length;
  }

  private addRecord(b: Block, buf: Buffer, pos: number, len: number): void {
    const seq = recSeq(buf, pos);
    if (seq <= this.last) {
      this.log.warn({ block: b.id, offset: pos, seq, last_seq: this.last }, 'filestore: out-of-order record ignored');
      return;
    }
    const ts = recTs(buf, pos);
    if (b.first === 0) b.first = seq;
    b.last = seq;
    if (buf[pos + 11]! & DEL_BYTE) {
      this.last = seq;
      this.lastTs = ts;
      return;
    }
    const sl = buf.readUInt16LE(pos + 20);
    const subject = buf.toString('utf8', pos + FIXED, pos + FIXED + sl);
    const c = this.indexAdd(seq, subject, ts, len);
    const i = this.slotOf(seq);
    c.blk![i] = b.id;
    c.off![i] = pos;
    b.live++;
  }

  // ---- index file -------------------------------------------------------------------------------

  /** Loads index.bin when it matches the blocks exactly; false otherwise (then blocks are scanned). */
  private loadIndex(path: string): boolean {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return false;
    }
    if (buf.length < 16 || buf.toString('latin1', 0, 8) !== INDEX_MAGIC) return false;
    if (crc32(buf, 0, buf.length - 4) !== buf.readUInt32LE(buf.length - 4)) return false;
    const hl = buf.readUInt32LE(8);
    const head = JSON.parse(buf.toString('utf8', 12, 12 + hl)) as {
      last: number;
      lastTs: number;
      count: number;
      blocks: [number, number, number, number, number][];
      subjects: (string | null)[];
    };
    if (head.blocks.length !== this.blocks.length) return false;
    for (let j = 0; j < head.blocks.length; j++) {
      const [id, size, mtime] = head.blocks[j]!;
      const b = this.blocks[j]!;
      if (b.id !== id) return false;
      const st = statSync(b.path);
      if (st.size !== size || st.mtimeMs !== mtime) return false;
    }
    let p = 12 + hl;
    if (buf.length !== p + head.count * INDEX_ENTRY + 4) return false;
    for (let j = 0; j < head.blocks.length; j++) {
      const [, size, , first, last] = head.blocks[j]!;
      const b = this.blocks[j]!;
      b.size = size;
      b.first = first;
      b.last = last;
    }
    for (let j = 0; j < head.count; j++, p += INDEX_ENTRY) {
      const seq = buf.readDoubleLE(p);
      const ts = buf.readDoubleLE(p + 8);
      const b = this.blockById.get(buf.readUInt32LE(p + 16));
      const subject = head.subjects[buf.readUInt32LE(p + 28)];
      if (b === undefined || typeof subject !== 'string' || seq <= this.last) return false;
      const c = this.indexAdd(seq, subject, ts, buf.readUInt32LE(p + 24));
      const i = this.slotOf(seq);
      c.blk![i] = b.id;
      c.off![i] = buf.readUInt32LE(p + 20);
      b.live++;
    }
    this.last = head.last;
    this.lastTs = head.lastTs;
    if (this.msgs === 0) this.first = this.last + 1;
    return true;
  }

  private writeIndex(): void {
    const subjects = this.byId.map((s) => (s === null ? null : s.subject));
    const blocks = this.blocks.map((b) => [b.id, statSync(b.path).size, statSync(b.path).mtimeMs, b.first, b.last]);
    const head = Buffer.from(JSON.stringify({ last: this.last, lastTs: this.lastTs, count: this.msgs, blocks, subjects }));
    const out = Buffer.allocUnsafe(12 + head.length + this.msgs * INDEX_ENTRY + 4);
    out.write(INDEX_MAGIC, 0, 'latin1');
    out.writeUInt32LE(head.length, 8);
    head.copy(out, 12);
    let p = 12 + head.length;
    let written = 0;
    for (let k = 0; k < this.chunks.length; k++) {
      const c = this.chunks[k];
      if (c === null || c === undefined || c.live === 0) continue;
      const base = this.chunkBase + k * (c.subj.length);
      for (let i = 0; i < c.subj.length; i++) {
        const id = c.subj[i]!;
        if (id < 0) continue;
        out.writeDoubleLE(base + i, p);
        out.writeDoubleLE(c.ts[i]!, p + 8);
        out.writeUInt32LE(c.blk![i]!, p + 16);
        out.writeUInt32LE(c.off![i]!, p + 20);
        out.writeUInt32LE(c.size[i]!, p + 24);
        out.writeUInt32LE(id, p + 28);
        p += INDEX_ENTRY;
        written++;
      }
    }
    if (written !== this.msgs) throw new Error(`filestore index: ${written} entries for ${this.msgs} messages`);
    out.writeUInt32LE(crc32(out, 0, p), p);
    const tmp = join(this.dir, 'index.bin.tmp');
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, out, 0, out.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, 'index.bin'));
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  async flush(): Promise<void> {
    this.syncDirty();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopTimers();
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.syncDirty();
    for (const b of this.blocks) this.closeBlock(b);
    try {
      this.writeIndex();
    } catch (err) {
      this.log.warn({ err }, 'filestore: could not write the index (the next start rebuilds it)');
    }
  }

  async destroy(): Promise<void> {
    this.stopTimers();
    this.wq.length = 0;
    this.wqBlock = null;
    this.wqBytes = 0;
    pendingStores.delete(this);
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.syncTimer = null;
    for (const b of this.blocks) {
      if (b.fd >= 0) closeSync(b.fd);
      b.fd = -1;
    }
    this.openFds = 0;
    this.blocks = [];
    this.blockById.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
