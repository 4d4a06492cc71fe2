// What the memory and file stores share: the per-sequence index, the per-subject index, subject
// filters, limits (discard old/new, per subject, max age) and purge semantics, after nats-server's
// memstore.go (storeRawMsg, enforce*Limit, PurgeEx, Compact, expireMsgs, filteredStateLocked).
// A subclass only keeps the message bodies: it writes a body when a message is stored, reads it back,
// and forgets it when the message leaves.
//
// Per-sequence index: sequences are dense (removals leave holes), so they live in fixed-size chunks of
// typed arrays indexed by `seq - chunkBase`: subject id (-1 = no message), timestamp, size; the file
// store adds block id and offset, the memory store the body and header length. Chunks wholly below the
// first sequence are dropped, empty ones in the middle are freed. About 20 bytes per message and no
// object per message in the file store.
//
// Per-subject index: subject -> SubjInfo {msgs, first, last} with a small integer id stored per
// sequence. As in nats-server, first/last of a subject are recomputed lazily (by a scan) after the
// subject's first or last message was removed.

import { StoreError, StoreRefusal, nowNs } from '../types.js';
import type { PurgeRequest, StoreLimits, StoredMsg, StreamState, StreamStore } from '../types.js';
import { hasWildcard, subjectMatches } from '../../sublist/subject.js';

export const CHUNK_BITS = 12;
export const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/** Store kinds: which extra per-sequence columns a chunk carries. */
export const KIND_MEMORY = 0;
export const KIND_FILE = 1;

/** A run of CHUNK consecutive sequences. */
export class SeqChunk {
  /** Subject id per slot; -1 = no message (never stored, removed). */
  readonly subj: Int32Array;
  readonly ts: Float64Array;
  /** Accounted size (nats-server's memStoreMsgSize / fileStoreMsgSize); the record length on disk. */
  readonly size: Uint32Array;
  /** File store: block id and offset of the record. */
  readonly blk: Uint32Array | null;
  readonly off: Uint32Array | null;
  /** Memory store: header+payload in one buffer, and the header length (-1 = no header). */
  readonly body: (Buffer | undefined)[] | null;
  readonly hlen: Int32Array | null;
  live = 0;
  constructor(kind: number) {
    this.subj = new Int32Array(CHUNK).fill(-1);
    this.ts = new Float64Array(CHUNK);
    this.size = new Uint32Array(CHUNK);
    this.blk = kind === KIND_FILE ? new Uint32Array(CHUNK) : null;
    this.off = kind === KIND_FILE ? new Uint32Array(CHUNK) : null;
    this.body = kind === KIND_MEMORY ? new Array<Buffer | undefined>(CHUNK) : null;
    this.hlen = kind === KIND_MEMORY ? new Int32Array(CHUNK) : null;
  }
}

/** Per-subject state (nats-server's SimpleState with its lazy first/last flags). */
export class SubjInfo {
  readonly subject: string;
  readonly id: number;
  msgs = 0;
  first = 0;
  last = 0;
  firstStale = false;
  lastStale = false;
  constructor(subject: string, id: number) {
    this.subject = subject;
    this.id = id;
  }
}

/** A wildcard filter with a lazily filled verdict per subject id: 0 unknown, 1 no, 2 yes. */
class WildFilter {
  readonly filter: string;
  mask: Uint8Array;
  constructor(filter: string, n: number) {
    this.filter = filter;
    this.mask = new Uint8Array(Math.max(64, n));
  }
}

// How a scan selects messages: every message, one subject id, or a wildcard filter.
const SEL_ALL = 0;
const SEL_ID = 1;
const SEL_WILD = 2;
const MAX_FILTERS = 32;

/** Limits with the nats-server conventions normalised: <= 0 means unlimited. */
function normLimits(l: StoreLimits): StoreLimits {
  return { ...l };
}

export abstract class StoreCore implements StreamStore {
  onRemove: ((seq: number) => void) | null = null;
  protected limits: StoreLimits;
  protected readonly kind: number;

  // Stream state. When empty, first === last + 1.
  protected first: number;
  protected last: number;
  protected lastTs = 0;
  protected msgs = 0;
  protected bytes = 0;

  // Per-sequence index.
  protected chunks: (SeqChunk | null)[] = [];
  protected chunkBase: number;

  // Per-subject index.
  protected readonly subjects = new Map<string, SubjInfo>();
  protected byId: (SubjInfo | null)[] = [];
  private freeIds: number[] = [];
  private filters = new Map<string, WildFilter>();

  private ageTimer: NodeJS.Timeout | null = null;
  protected stopped = false;

  constructor(kind: number, limits: StoreLimits, firstSeq: number) {
    this.kind = kind;
    this.limits = normLimits(limits);
    const f = firstSeq > 0 ? firstSeq : 1;
    this.first = f;
    this.last = f - 1;
    this.chunkBase = f;
  }

  // ---- what a subclass provides -----------------------------------------------------------------

  /** Accounted size of a message (memory and file formulas differ). */
  protected abstract msgSize(subjBytes: number, hdr: Buffer | null, data: Buffer): number;
  /** Persists/keeps the body of a new message at chunk slot c[i] (index columns already set). */
  protected abstract putBody(seq: number, subject: string, subjBytes: number, hdr: Buffer | null, data: Buffer, ts: number, size: number, c: SeqChunk, i: number): void;
  /** Reads the body of the live message at c[i]; null when it cannot be read (logged by the store). */
  protected abstract getBody(seq: number, subject: string, c: SeqChunk, i: number): StoredMsg | null;
  /** The message at c[i] is leaving (its index columns are still intact). */
  protected abstract dropBody(seq: number, c: SeqChunk, i: number): void;
  /** Every message is gone; the next sequence will be `nextSeq` (make that durable). */
  protected abstract dropAll(nextSeq: number): void;
  /** Brackets removal of many messages at once (the file store defers its writes). */
  protected bulkBegin(): void {}
  protected bulkEnd(): void {}

  // ---- index helpers ------------------------------------------------------------------------------

  protected chunkOf(seq: number): SeqChunk | null {
    const d = seq - this.chunkBase;
    if (d < 0) return null;
    return this.chunks[Math.floor(d / CHUNK)] ?? null;
  }

  protected slotOf(seq: number): number {
    return (seq - this.chunkBase) & CHUNK_MASK;
  }

  /** Adds a live message to both indexes (used by store and by recovery); returns its chunk. */
  protected indexAdd(seq: number, subject: string, ts: number, size: number): SeqChunk {
    if (this.msgs === 0 && (this.chunks.length > 0 || this.chunkBase !== seq)) {
      // Empty: start the index afresh at this sequence (no chunk holds anything live).
      this.chunks.length = 0;
      this.chunkBase = seq;
    }
    const k = Math.floor((seq - this.chunkBase) / CHUNK);
    while (this.chunks.length <= k) this.chunks.push(null);
    let c = this.chunks[k]!;
    if (c === null) {
      c = new SeqChunk(this.kind);
      this.chunks[k] = c;
    }
    const i = (seq - this.chunkBase) & CHUNK_MASK;
    let info = this.subjects.get(subject);
    if (info === undefined) {
      info = this.newSubject(subject);
      info.first = seq;
    }
    info.msgs++;
    info.last = seq;
    info.lastStale = false;
    c.subj[i] = info.id;
    c.ts[i] = ts;
    c.size[i] = size;
    c.live++;
    if (this.msgs === 0) this.first = seq;
    this.msgs++;
    this.bytes += size;
    if (seq > this.last) {
      this.last = seq;
      this.lastTs = ts;
    }
    return c;
  }

  private newSubject(subject: string): SubjInfo {
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.byId.length;
    const info = new SubjInfo(subject, id);
    if (id === this.byId.length) this.byId.push(info);
    else this.byId[id] = info;
    this.subjects.set(subject, info);
    for (const f of this.filters.values()) if (id < f.mask.length) f.mask[id] = 0;
    return info;
  }

  private recalcSubject(info: SubjInfo): void {
    if (info.firstStale) {
      const s = this.scanNext(Math.max(info.first + 1, this.first), info.last, SEL_ID, info.id, null);
      if (s > 0) info.first = s;
      info.firstStale = false;
    }
    if (info.lastStale) {
      const s = this.scanPrev(Math.min(info.last - 1, this.last), info.first, SEL_ID, info.id, null);
      if (s > 0) info.last = s;
      info.lastStale = false;
    }
  }

  private wildFilter(filter: string): WildFilter {
    let f = this.filters.get(filter);
    if (f === undefined) {
      if (this.filters.size >= MAX_FILTERS) this.filters.delete(this.filters.keys().next().value!);
      f = new WildFilter(filter, this.byId.length);
      this.filters.set(filter, f);
    }
    return f;
  }

  private wildMatch(f: WildFilter, id: number): boolean {
    let m = f.mask;
    if (id >= m.length) {
      const n = new Uint8Array(Math.max(m.length * 2, id + 1));
      n.set(m);
      f.mask = m = n;
    }
    let v = m[id]!;
    if (v === 0) {
      v = subjectMatches(f.filter, this.byId[id]!.subject) ? 2 : 1;
      m[id] = v;
    }
    return v === 2;
  }

  /** First live sequence in [from, to] selected, or 0. */
  private scanNext(from: number, to: number, sel: number, want: number, f: WildFilter | null): number {
    if (from < this.first) from = this.first;
    if (to > this.last) to = this.last;
    let seq = from;
    while (seq <= to) {
      const c = this.chunkOf(seq);
      let i = this.slotOf(seq);
      const chunkEnd = seq - i + CHUNK - 1;
      const end = chunkEnd < to ? chunkEnd : to;
      if (c !== null && c.live > 0) {
        const subj = c.subj;
        for (; seq <= end; seq++, i++) {
          const id = subj[i]!;
          if (id >= 0 && (sel === SEL_ALL || (sel === SEL_ID ? id === want : this.wildMatch(f!, id)))) return seq;
        }
      }
      seq = end + 1;
    }
    return 0;
  }

  /** Last live sequence in [downTo, from] selected (scanning down), or 0. */
  private scanPrev(from: number, downTo: number, sel: number, want: number, f: WildFilter | null): number {
    if (from > this.last) from = this.last;
    if (downTo < this.first) downTo = this.first;
    let seq = from;
    while (seq >= downTo) {
      const c = this.chunkOf(seq);
      let i = this.slotOf(seq);
      const chunkStart = seq - i;
      const end = chunkStart > downTo ? chunkStart : downTo;
      if (c !== null && c.live > 0) {
        const subj = c.subj;
        for (; seq >= end; seq--, i--) {
          const id = subj[i]!;
          if (id >= 0 && (sel === SEL_ALL || (sel === SEL_ID ? id === want : this.wildMatch(f!, id)))) return seq;
        }
      }
      seq = end - 1;
    }
    return 0;
  }

  /** Number of live messages in [from, to] selected. */
  private countRange(from: number, to: number, sel: number, want: number, f: WildFilter | null): number {
    if (from < this.first) from = this.first;
    if (to > this.last) to = this.last;
    let n = 0;
    let seq = from;
    while (seq <= to) {
      const c = this.chunkOf(seq);
      let i = this.slotOf(seq);
      const chunkEnd = seq - i + CHUNK - 1;
      const end = chunkEnd < to ? chunkEnd : to;
      if (c !== null && c.live > 0) {
        if (sel === SEL_ALL && i === 0 && end === chunkEnd) {
          n += c.live;
        } else {
          const subj = c.subj;
          if (sel === SEL_ID) {
            for (let s = seq; s <= end; s++, i++) if (subj[i] === want) n++;
          } else if (sel === SEL_ALL) {
            for (let s = seq; s <= end; s++, i++) if (subj[i]! >= 0) n++;
          } else {
            for (let s = seq; s <= end; s++, i++) {
              const id = subj[i]!;
              if (id < 0) continue;
              const m = f!.mask;
              const v = id < m.length ? m[id]! : 0;
              if (v === 2 || (v === 0 && this.wildMatch(f!, id))) n++;
            }
          }
        }
      }
      seq = end + 1;
    }
    return n;
  }

  /** Removes the live message at seq; notify: call onRemove (limits, age, purge). */
  protected removeSeq(seq: number, notify: boolean): boolean {
    const c = this.chunkOf(seq);
    if (c === null) return false;
    const i = this.slotOf(seq);
    const id = c.subj[i]!;
    if (id < 0) return false;
    this.dropBody(seq, c, i);
    const info = this.byId[id]!;
    if (this.unindex(c, i, id, info)) {
      if (seq === info.first) info.firstStale = true;
      if (seq === info.last) info.lastStale = true;
      // One message left whose position is known (KV with history 1): no scan needed later.
      if (info.msgs === 1) {
        if (info.firstStale && !info.lastStale) {
          info.first = info.last;
          info.firstStale = false;
        } else if (info.lastStale && !info.firstStale) {
          info.last = info.first;
          info.lastStale = false;
        }
      }
    }
    if (c.live === 0 && c !== this.chunkOf(this.last)) {
      this.chunks[Math.floor((seq - this.chunkBase) / CHUNK)] = null;
    }
    if (seq === this.first) this.advanceFirst();
    if (notify && this.onRemove !== null) this.onRemove(seq);
    return true;
  }

  private advanceFirst(): void {
    if (this.msgs === 0) {
      this.first = this.last + 1;
    } else {
      const s = this.scanNext(this.first + 1, this.last, SEL_ALL, 0, null);
      this.first = s > 0 ? s : this.last + 1;
    }
    // Drop the chunks wholly below first (all of their messages are gone).
    const k0 = Math.floor((this.first - this.chunkBase) / CHUNK);
    if (k0 >= 16 || (k0 > 0 && k0 >= this.chunks.length)) {
      this.chunks.splice(0, k0);
      this.chunkBase += k0 * CHUNK;
    }
  }

  /** Every message goes; the next sequence is nextSeq (>= last + 1). Returns how many went. */
  private clearAll(nextSeq: number): number {
    const n = this.msgs;
    let gone: number[] | null = null;
    if (this.onRemove !== null && n > 0) {
      gone = [];
      for (let s = this.scanNext(this.first, this.last, SEL_ALL, 0, null); s > 0; s = this.scanNext(s + 1, this.last, SEL_ALL, 0, null)) gone.push(s);
    }
    this.dropAll(nextSeq);
    this.chunks = [];
    this.chunkBase = nextSeq;
    this.subjects.clear();
    this.byId = [];
    this.freeIds = [];
    this.filters.clear();
    this.msgs = 0;
    this.bytes = 0;
    if (nextSeq - 1 > this.last) this.last = nextSeq - 1;
    this.first = this.last + 1;
    if (gone !== null) for (const s of gone) this.onRemove!(s);
    return n;
  }

  // ---- limits -----------------------------------------------------------------------------------

  private enforcePerSubject(info: SubjInfo): void {
    const maxp = this.limits.max_msgs_per_subject;
    while (info.msgs > maxp) {
      if (info.firstStale || info.lastStale) this.recalcSubject(info);
      if (!this.removeSeq(info.first, true)) break;
    }
  }

  private enforceMsgsAndBytes(): void {
    const L = this.limits;
    if (L.discard !== 'old') return;
    if (L.max_msgs > 0) while (this.msgs > L.max_msgs) this.removeSeq(this.first, true);
    if (L.max_bytes > 0) while (this.bytes > L.max_bytes && this.msgs > 0) this.removeSeq(this.first, true);
  }

  private armAge(): void {
    if (this.ageTimer !== null) {
      clearTimeout(this.ageTimer);
      this.ageTimer = null;
    }
    const maxAge = this.limits.max_age;
    if (maxAge <= 0 || this.msgs === 0 || this.stopped) return;
    const c = this.chunkOf(this.first)!;
    const due = c.ts[this.slotOf(this.first)]! + maxAge;
    const ms = Math.max(10, Math.ceil((due - nowNs()) / 1e6));
    this.ageTimer = setTimeout(this.expire, ms);
    this.ageTimer.unref();
  }

  /** Removes messages older than max_age from the front, then re-arms for the next one due. */
  private readonly expire = (): void => {
    this.ageTimer = null;
    const maxAge = this.limits.max_age;
    if (maxAge <= 0 || this.stopped) return;
    const minTs = nowNs() - maxAge;
    this.bulkBegin();
    try {
      while (this.msgs > 0) {
        const c = this.chunkOf(this.first)!;
        if (c.ts[this.slotOf(this.first)]! > minTs) break;
        this.removeSeq(this.first, true);
      }
    } finally {
      this.bulkEnd();
    }
    this.armAge();
  };

  protected stopTimers(): void {
    this.stopped = true;
    if (this.ageTimer !== null) clearTimeout(this.ageTimer);
    this.ageTimer = null;
  }

  /** After recovery: apply the limits to what was recovered and start the age timer. */
  protected applyLimitsNow(): void {
    const maxp = this.limits.max_msgs_per_subject;
    this.bulkBegin();
    try {
      if (maxp > 0) for (const info of [...this.subjects.values()]) if (info.msgs > maxp) this.enforcePerSubject(info);
      this.enforceMsgsAndBytes();
    } finally {
      this.bulkEnd();
    }
    if (this.limits.max_age > 0) this.expire();
  }

  // ---- StreamStore ------------------------------------------------------------------------------

  storeMsg(subject: string, hdr: Buffer | null, data: Buffer, ts?: number): { seq: number; ts: number } {
    const L = this.limits;
    if (hdr !== null && hdr.length === 0) hdr = null;
    const hlen = hdr === null ? 0 : hdr.length;
    if (L.max_msg_size > 0 && hlen + data.length > L.max_msg_size) throw new StoreError(StoreRefusal.MAX_MSG_SIZE);
    const subjBytes = Buffer.byteLength(subject);
    const size = this.msgSize(subjBytes, hdr, data);
    const maxp = L.max_msgs_per_subject;
    let info = this.subjects.get(subject);
    // nats-server's storeRawMsg: "at subject limit" means the new message replaces that subject's oldest.
    const asl = info !== undefined && maxp > 0 && info.msgs >= maxp;
    if (L.discard === 'new') {
      if (asl && L.discard_new_per_subject) throw new StoreError(StoreRefusal.MAX_MSGS_PER_SUBJECT);
      if (L.max_msgs > 0 && this.msgs >= L.max_msgs && !asl) throw new StoreError(StoreRefusal.MAX_MSGS);
      // `>=` as nats-server's storeRawMsg: under discard new the stream never quite fills max_bytes.
      if (L.max_bytes > 0 && this.bytes + size >= L.max_bytes) {
        if (!asl) throw new StoreError(StoreRefusal.MAX_BYTES);
        // At the subject limit: fine only if the subject's oldest (which goes) is at least as big.
        if (info!.firstStale || info!.lastStale) this.recalcSubject(info!);
        const c = this.chunkOf(info!.first);
        if (c === null || c.size[this.slotOf(info!.first)]! < size) {
          throw new StoreError(StoreRefusal.MAX_BYTES);
        }
      }
    }
    const seq = this.last + 1;
    if (ts === undefined) ts = nowNs();
    const c = this.indexAdd(seq, subject, ts, size);
    const i = this.slotOf(seq);
    try {
      this.putBody(seq, subject, subjBytes, hdr, data, ts, size, c, i);
    } catch (err) {
      // Could not persist: undo the index entry (the sequence is not used).
      this.undoAdd(seq, c, i);
      throw err;
    }
    if (info === undefined) info = this.byId[c.subj[i]!]!;
    if (maxp > 0 && info.msgs > maxp) this.enforcePerSubject(info);
    if (L.discard === 'old') this.enforceMsgsAndBytes();
    if (L.max_age > 0 && this.ageTimer === null) this.armAge();
    return { seq, ts };
  }

  private undoAdd(seq: number, c: SeqChunk, i: number): void {
    const id = c.subj[i]!;
    const info = this.byId[id]!;
    if (this.unindex(c, i, id, info)) info.lastStale = true;
    this.last = seq - 1;
    if (this.msgs === 0) this.first = this.last + 1;
  }

  /**
   * Clears slot i of chunk c (a message of subject id) and takes it off the counts; a subject left
   * without messages is dropped. Returns whether the subject still has messages.
   */
  private unindex(c: SeqChunk, i: number, id: number, info: SubjInfo): boolean {
    c.subj[i] = -1;
    c.live--;
    this.msgs--;
    this.bytes -= c.size[i]!;
    if (info.msgs === 1) {
      this.subjects.delete(info.subject);
      this.byId[id] = null;
      this.freeIds.push(id);
      return false;
    }
    info.msgs--;
    return true;
  }

  loadMsg(seq: number): StoredMsg | null {
    const c = this.chunkOf(seq);
    if (c === null) return null;
    const i = this.slotOf(seq);
    const id = c.subj[i]!;
    if (id < 0) return null;
    return this.getBody(seq, this.byId[id]!.subject, c, i);
  }

  /** Resolves a filter: [selector, subject id, wildcard filter]; null when nothing can match. */
  private select(filter: string): SubjInfo | WildFilter | true | null {
    if (filter === '' || filter === '>') return true;
    if (!hasWildcard(filter)) return this.subjects.get(filter) ?? null;
    return this.wildFilter(filter);
  }

  loadNextMsg(filter: string, start: number): StoredMsg | null {
    if (this.msgs === 0) return null;
    if (start < this.first) start = this.first;
    const s = this.select(filter);
    let seq = 0;
    if (s === null) return null;
    if (s === true) seq = this.scanNext(start, this.last, SEL_ALL, 0, null);
    else if (s instanceof SubjInfo) {
      if (s.firstStale || s.lastStale) this.recalcSubject(s);
      seq = start > s.last ? 0 : this.scanNext(Math.max(start, s.first), s.last, SEL_ID, s.id, null);
    } else seq = this.scanNext(start, this.last, SEL_WILD, 0, s);
    return seq > 0 ? this.loadMsg(seq) : null;
  }

  loadLastMsg(filter: string): StoredMsg | null {
    if (this.msgs === 0) return null;
    const s = this.select(filter);
    let seq = 0;
    if (s === null) return null;
    if (s === true) seq = this.scanPrev(this.last, this.first, SEL_ALL, 0, null);
    else if (s instanceof SubjInfo) {
      if (s.firstStale || s.lastStale) this.recalcSubject(s);
      seq = s.last;
    } else seq = this.scanPrev(this.last, this.first, SEL_WILD, 0, s);
    return seq > 0 ? this.loadMsg(seq) : null;
  }

  removeMsg(seq: number): boolean {
    return this.removeSeq(seq, false);
  }

  skipTo(lastSeq: number): void {
    if (lastSeq <= this.last) return;
    if (this.msgs === 0) {
      this.clearAll(lastSeq + 1);
      return;
    }
    this.last = lastSeq;
    this.persistSkip(lastSeq);
  }

  /** The sequences through seq were skipped while messages remain (the file store records it). */
  protected persistSkip(_seq: number): void {}

  purge(req: PurgeRequest): number {
    const filter = req.filter ?? '';
    const seq = req.seq ?? 0;
    const keep = req.keep ?? 0;
    if (filter === '' || filter === '>') {
      if (keep <= 0 && seq <= 0) return this.clearAll(this.last + 1);
      if (seq > 1) return this.compact(seq);
      if (keep > 0) {
        if (keep >= this.msgs) return 0;
        return this.compact(this.last - keep + 1);
      }
      return 0;
    }
    // Filtered (PurgeEx): walk the matching messages oldest first.
    const s = this.select(filter);
    if (s === null || s === true) return 0;
    let sel: number;
    let want = 0;
    let f: WildFilter | null = null;
    let total: number;
    let from: number;
    let to: number;
    if (s instanceof SubjInfo) {
      if (s.firstStale || s.lastStale) this.recalcSubject(s);
      sel = SEL_ID;
      want = s.id;
      total = s.msgs;
      from = s.first;
      to = s.last;
    } else {
      sel = SEL_WILD;
      f = s;
      total = this.countRange(this.first, this.last, SEL_WILD, 0, f);
      from = this.first;
      to = this.last;
    }
    if (total === 0) return 0;
    let max = total;
    if (keep > 0) {
      if (keep >= total) return 0;
      max = total - keep;
    }
    if (seq > 1) to = Math.min(to, seq - 1);
    let purged = 0;
    this.bulkBegin();
    try {
      for (let q = this.scanNext(from, to, sel, want, f); q > 0 && purged < max; q = this.scanNext(q + 1, to, sel, want, f)) {
        if (this.removeSeq(q, true)) purged++;
      }
    } finally {
      this.bulkEnd();
    }
    return purged;
  }

  /** Removes every message below seq (nats-server's Compact). */
  private compact(seq: number): number {
    if (seq > this.last) return this.clearAll(seq);
    let purged = 0;
    this.bulkBegin();
    try {
      while (this.msgs > 0 && this.first < seq) {
        this.removeSeq(this.first, true);
        purged++;
      }
    } finally {
      this.bulkEnd();
    }
    return purged;
  }

  usedBytes(): number {
    return this.bytes;
  }

  state(): StreamState {
    let firstTs = 0;
    if (this.msgs > 0) {
      const c = this.chunkOf(this.first)!;
      firstTs = c.ts[this.slotOf(this.first)]!;
    }
    return {
      messages: this.msgs,
      bytes: this.bytes,
      first_seq: this.first,
      first_ts_ns: firstTs,
      last_seq: this.last,
      last_ts_ns: this.lastTs,
      num_subjects: this.subjects.size,
      num_deleted: this.msgs > 0 ? this.last - this.first + 1 - this.msgs : 0,
    };
  }

  subjectsState(filter: string): Map<string, { msgs: number; first: number; last: number }> {
    const out = new Map<string, { msgs: number; first: number; last: number }>();
    const s = this.select(filter);
    if (s === null) return out;
    if (s instanceof SubjInfo) {
      if (s.firstStale || s.lastStale) this.recalcSubject(s);
      out.set(s.subject, { msgs: s.msgs, first: s.first, last: s.last });
      return out;
    }
    for (const info of this.subjects.values()) {
      if (s !== true && !this.wildMatch(s, info.id)) continue;
      if (info.firstStale || info.lastStale) this.recalcSubject(info);
      out.set(info.subject, { msgs: info.msgs, first: info.first, last: info.last });
    }
    return out;
  }

  numPending(start: number, filter: string, lastPerSubject: boolean): number {
    if (this.msgs === 0) return 0;
    if (start < this.first) start = this.first;
    if (start > this.last) return 0;
    const s = this.select(filter);
    if (s === null) return 0;
    if (lastPerSubject) {
      // Subjects with a message at or after start (their last one is what would be delivered).
      if (s instanceof SubjInfo) {
        if (s.lastStale) this.recalcSubject(s);
        return s.last >= start ? 1 : 0;
      }
      let n = 0;
      for (const info of this.subjects.values()) {
        if (s !== true && !this.wildMatch(s, info.id)) continue;
        if (info.lastStale || info.firstStale) this.recalcSubject(info);
        if (info.last >= start) n++;
      }
      return n;
    }
    if (s === true) {
      if (start <= this.first) return this.msgs;
      const tail = this.last - start + 1;
      const head = start - this.first;
      return head < tail ? this.msgs - this.countRange(this.first, start - 1, SEL_ALL, 0, null) : this.countRange(start, this.last, SEL_ALL, 0, null);
    }
    if (s instanceof SubjInfo) {
      if (s.firstStale || s.lastStale) this.recalcSubject(s);
      if (start <= s.first) return s.msgs;
      if (start > s.last) return 0;
      return this.countRange(start, s.last, SEL_ID, s.id, null);
    }
    // Wildcard: whole subjects from the per-subject index; when one straddles start, scan whichever
    // side of start is shorter (nats-server's filteredStateLocked does the same).
    if (this.subjects.size < this.last - start + 1) {
      let n = 0;
      let total = 0;
      let partial = false;
      for (const info of this.subjects.values()) {
        if (!this.wildMatch(s, info.id)) continue;
        if (info.firstStale || info.lastStale) this.recalcSubject(info);
        total += info.msgs;
        if (start <= info.first) n += info.msgs;
        else if (start <= info.last) partial = true;
      }
      if (!partial) return n;
      if (start - this.first < this.last - start + 1) return total - this.countRange(this.first, start - 1, SEL_WILD, 0, s);
    }
    return this.countRange(start, this.last, SEL_WILD, 0, s);
  }

  updateLimits(limits: StoreLimits): void {
    const old = this.limits;
    this.limits = normLimits(limits);
    const maxp = this.limits.max_msgs_per_subject;
    this.bulkBegin();
    try {
      if (maxp > 0 && (old.max_msgs_per_subject <= 0 || maxp < old.max_msgs_per_subject)) {
        for (const info of [...this.subjects.values()]) if (info.msgs > maxp) this.enforcePerSubject(info);
      }
      this.enforceMsgsAndBytes();
    } finally {
      this.bulkEnd();
    }
    if (this.limits.max_age > 0) this.expire();
    else this.armAge(); // clears a running timer
  }

  abstract flush(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract destroy(): Promise<void>;
}
