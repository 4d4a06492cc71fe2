// Subject trie with a match cache, after nats-server's server/sublist.go.
//
// Levels hold literal tokens in a Map plus the two wildcard children (`pwc` for '*', `fwc` for '>').
// Match results are cached (up to 1024 entries, swept to 256 as nats-server does) and are never
// mutated once handed out: an insert or remove invalidates the cached entries it could affect, and
// bumps `genid` so holders of older results (per-connection caches) know to look again.
//
// Admission: a subject enters the cache on its second miss (a direct-mapped table of the hashes of
// recent misses remembers the first). Subjects seen once (each `$JS.ACK.` subject, a client's fresh
// reply inbox per request) then cost a trie walk and no insert, sweep or eviction of the entries
// that do repeat (issue 18: ~15% of a shard's time on pull fetch + ack went to such misses).
//
// `matchBytes` looks a subject up straight from the read buffer: an FNV-1a hash of the bytes finds the
// cache entry and a byte compare confirms it, so a cache hit allocates nothing (no string made).

import { hasWildcard } from './subject.js';

export interface SublistSub {
  readonly subject: string;
  readonly queue: string | null;
}

export interface SublistResult<T> {
  /** Plain subscribers. */
  readonly psubs: readonly T[];
  /** One array per queue group. */
  readonly qsubs: readonly (readonly T[])[];
}

class Node<T> {
  next: Level<T> | null = null;
  psubs: Set<T> = new Set();
  qsubs: Map<string, Set<T>> | null = null;
  isEmpty(): boolean {
    return this.psubs.size === 0 && (this.qsubs === null || this.qsubs.size === 0) && (this.next === null || this.next.isEmpty());
  }
}

class Level<T> {
  nodes: Map<string, Node<T>> = new Map();
  pwc: Node<T> | null = null;
  fwc: Node<T> | null = null;
  isEmpty(): boolean {
    return this.nodes.size === 0 && this.pwc === null && this.fwc === null;
  }
}

interface CacheEntry<T> {
  key: Buffer;
  subject: string;
  result: SublistResult<T>;
}

const CACHE_MAX = 1024;
const CACHE_SWEEP_TO = 256;
/** Size of the table of recent misses: 2^SEEN_BITS. */
const SEEN_BITS = 12;
const SEEN = 1 << SEEN_BITS;
const EMPTY: SublistResult<never> = Object.freeze({ psubs: Object.freeze([]), qsubs: Object.freeze([]) });

export class Sublist<T extends SublistSub> {
  private root: Level<T> = new Level();
  private cache: Map<number, CacheEntry<T>> = new Map();
  /** Hashes of subjects that missed once (admission on the second miss). */
  private readonly seen = new Int32Array(SEEN);
  /** Bumped on every insert and remove. */
  genid = 0;
  count = 0;
  inserts = 0;
  removes = 0;
  matches = 0;
  cacheHits = 0;

  insert(sub: T): void {
    const tokens = sub.subject.split('.');
    let level = this.root;
    let node: Node<T> | null = null;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === '*') {
        node = level.pwc ??= new Node();
      } else if (t === '>') {
        node = level.fwc ??= new Node();
      } else {
        node = level.nodes.get(t) ?? null;
        if (node === null) {
          node = new Node();
          level.nodes.set(t, node);
        }
      }
      if (i < tokens.length - 1) level = node.next ??= new Level();
    }
    if (node === null) return;
    if (sub.queue === null) node.psubs.add(sub);
    else {
      node.qsubs ??= new Map();
      let g = node.qsubs.get(sub.queue);
      if (g === undefined) {
        g = new Set();
        node.qsubs.set(sub.queue, g);
      }
      g.add(sub);
    }
    this.count++;
    this.inserts++;
    this.invalidate(sub.subject);
  }

  /** Returns false when the subscription was not in the list. */
  remove(sub: T): boolean {
    const tokens = sub.subject.split('.');
    const path: { level: Level<T>; node: Node<T>; token: string }[] = [];
    let level: Level<T> | null = this.root;
    let node: Node<T> | null = null;
    for (let i = 0; i < tokens.length; i++) {
      if (level === null) return false;
      const t = tokens[i]!;
      node = t === '*' ? level.pwc : t === '>' ? level.fwc : (level.nodes.get(t) ?? null);
      if (node === null) return false;
      path.push({ level, node, token: t });
      level = node.next;
    }
    if (node === null) return false;
    let removed: boolean;
    if (sub.queue === null) removed = node.psubs.delete(sub);
    else {
      const g = node.qsubs?.get(sub.queue);
      removed = g !== undefined && g.delete(sub);
      if (g !== undefined && g.size === 0) node.qsubs!.delete(sub.queue);
    }
    if (!removed) return false;
    // Prune empty nodes bottom-up.
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i]!;
      if (!p.node.isEmpty()) break;
      if (p.token === '*') p.level.pwc = null;
      else if (p.token === '>') p.level.fwc = null;
      else p.level.nodes.delete(p.token);
    }
    this.count--;
    this.removes++;
    this.invalidate(sub.subject);
    return true;
  }

  /** Matches a literal subject given as a string. */
  match(subject: string): SublistResult<T> {
    this.matches++;
    const h = hashLatin1(subject);
    const e = this.cache.get(h);
    if (e !== undefined && e.subject === subject) {
      this.cacheHits++;
      return e.result;
    }
    return this.matchAndCache(subject, null, h);
  }

  /** Matches a literal subject held in buf[start, end); allocation-free on a cache hit. */
  matchBytes(buf: Buffer, start: number, end: number): SublistResult<T> {
    this.matches++;
    const h = hashBytes(buf, start, end);
    const e = this.cache.get(h);
    if (e !== undefined && bytesEqual(e.key, buf, start, end)) {
      this.cacheHits++;
      return e.result;
    }
    const subject = buf.toString('latin1', start, end);
    // The key copy is made only when the entry is admitted.
    return this.matchAndCache(subject, null, h, buf, start, end);
  }

  private matchAndCache(subject: string, key: Buffer | null, h: number, buf?: Buffer, start = 0, end = 0): SublistResult<T> {
    const result = this.matchNoCache(subject);
    // Two candidate slots from the hash's high bits after two multiplicative mixes. FNV-1a's low bits
    // barely differ between subjects that differ in their last characters (bench.0 … bench.999 took
    // 280 slots of 1024), and two subjects sharing their only slot kept overwriting each other's
    // mark, so neither was ever admitted: 72% of a 1,000-subject cycle missed on every message.
    const hv = h | 0;
    const seen = this.seen;
    const s1 = Math.imul(hv, 0x9e3779b1) >>> (32 - SEEN_BITS);
    const s2 = Math.imul(hv, 0x85ebca6b) >>> (32 - SEEN_BITS);
    if (seen[s1] !== hv && seen[s2] !== hv) {
      // Mark a free slot if there is one, else displace one of the two (chosen by the hash).
      if (seen[s1] === 0) seen[s1] = hv;
      else if (seen[s2] === 0) seen[s2] = hv;
      else seen[(hv & 1) === 0 ? s1 : s2] = hv;
      return result;
    }
    if (this.cache.size >= CACHE_MAX) {
      // Sweep, as sublist.go reduceCacheCount: drop the oldest entries.
      let n = this.cache.size - CACHE_SWEEP_TO;
      for (const k of this.cache.keys()) {
        if (n-- <= 0) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(h, { key: key ?? (buf !== undefined ? Buffer.from(buf.subarray(start, end)) : Buffer.from(subject, 'latin1')), subject, result });
    return result;
  }

  /**
   * Trie walk; the result is a fresh object. Tokens are sliced from the subject as the walk reaches
   * them (no split array), and the queue-group map is one scratch Map: subjects that miss the cache
   * (reply inboxes, ack subjects) pay only for the levels they visit.
   */
  matchNoCache(subject: string): SublistResult<T> {
    const psubs: T[] = [];
    const groups = SCRATCH_GROUPS as Map<string, T[]>;
    groups.clear();
    matchFrom(this.root, subject, 0, psubs, groups);
    if (groups.size === 0) return psubs.length === 0 ? EMPTY : { psubs, qsubs: NO_QSUBS };
    const qsubs: T[][] = [];
    for (const g of groups.values()) qsubs.push(g);
    groups.clear();
    return { psubs, qsubs };
  }

  /** All subscriptions (for monitoring and interest snapshots). */
  all(): T[] {
    const out: T[] = [];
    collect(this.root, out);
    return out;
  }

  cacheSize(): number {
    return this.cache.size;
  }

  /** Fan-out of the cached results (subsz max_fanout / avg_fanout). */
  cacheFanout(): { max: number; total: number; count: number } {
    let max = 0;
    let total = 0;
    for (const e of this.cache.values()) {
      let n = e.result.psubs.length;
      for (const q of e.result.qsubs) n += q.length > 0 ? 1 : 0;
      max = Math.max(max, n);
      total += n;
    }
    return { max, total, count: this.cache.size };
  }

  private invalidate(subject: string): void {
    this.genid++;
    if (this.cache.size === 0) return;
    if (hasWildcard(subject)) {
      this.cache.clear();
      return;
    }
    this.cache.delete(hashLatin1(subject));
  }
}

/** Queue groups found by the walk in progress (matchNoCache is synchronous and never re-entered). */
const SCRATCH_GROUPS = new Map<string, unknown[]>();
const NO_QSUBS: readonly (readonly never[])[] = Object.freeze([]);

/** Matches subject[pos…] (one token per level, `.`-separated) against the trie from `level`. */
function matchFrom<T extends SublistSub>(level: Level<T>, subject: string, pos: number, psubs: T[], groups: Map<string, T[]>): void {
  let l: Level<T> | null = level;
  for (;;) {
    if (l === null) return;
    let end = subject.indexOf('.', pos);
    const last = end < 0;
    if (last) end = subject.length;
    if (l.fwc !== null) addNode(l.fwc, psubs, groups);
    if (l.pwc !== null) {
      if (last) addNode(l.pwc, psubs, groups);
      else if (l.pwc.next !== null) matchFrom(l.pwc.next, subject, end + 1, psubs, groups);
    }
    if (l.nodes.size === 0) return;
    const n = l.nodes.get(pos === 0 && last ? subject : subject.slice(pos, end));
    if (n === undefined) return;
    if (last) {
      addNode(n, psubs, groups);
      return;
    }
    l = n.next;
    pos = end + 1;
  }
}

function addNode<T extends SublistSub>(n: Node<T>, psubs: T[], groups: Map<string, T[]>): void {
  for (const s of n.psubs) psubs.push(s);
  if (n.qsubs === null) return;
  for (const [q, set] of n.qsubs) {
    let g = groups.get(q);
    if (g === undefined) {
      g = [];
      groups.set(q, g);
    }
    for (const s of set) g.push(s);
  }
}

function collect<T extends SublistSub>(l: Level<T>, out: T[]): void {
  const visit = (n: Node<T>): void => {
    for (const s of n.psubs) out.push(s);
    if (n.qsubs !== null) for (const g of n.qsubs.values()) for (const s of g) out.push(s);
    if (n.next !== null) collect(n.next, out);
  };
  for (const n of l.nodes.values()) visit(n);
  if (l.pwc !== null) visit(l.pwc);
  if (l.fwc !== null) visit(l.fwc);
}

/** 32-bit FNV-1a over buf[start, end). */
export function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** hashBytes of the subject's latin1 bytes, without making them. */
export function hashLatin1(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** True when key[0, n) holds the same bytes as buf[start, start + n) (key may be longer). */
export function headEquals(key: Buffer, buf: Buffer, start: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (key[i] !== buf[start + i]) return false;
  return true;
}

function bytesEqual(a: Buffer, b: Buffer, start: number, end: number): boolean {
  const n = end - start;
  return a.length === n && headEquals(a, b, start, n);
}

/**
 * One publisher's last subject and its match (nats-server keeps a per-client results cache,
 * client.go c.in.results): a publisher that repeats its subject skips the hash and the shared
 * cache's lookup. Valid while the sublist's genid is unchanged.
 */
export class LastMatch<T extends SublistSub> {
  private key: Buffer = Buffer.alloc(0);
  private len = -1;
  private genid = -1;
  private sublist: Sublist<T> | null = null;
  private result: SublistResult<T> | null = null;

  /** Misses in a row; a publisher that keeps changing subjects stops being remembered for a while. */
  private misses = 0;
  private skip = 0;

  match(sl: Sublist<T>, buf: Buffer, start: number, end: number): SublistResult<T> {
    if (this.skip > 0) {
      this.skip--;
      return sl.matchBytes(buf, start, end);
    }
    const n = end - start;
    if (n === this.len && sl === this.sublist && sl.genid === this.genid && headEquals(this.key, buf, start, n)) {
      this.misses = 0;
      return this.result!;
    }
    const r = sl.matchBytes(buf, start, end);
    if (++this.misses >= 16) {
      this.misses = 0;
      this.skip = 1024;
      this.len = -1;
      return r;
    }
    if (n <= 256) {
      if (this.key.length < n) this.key = Buffer.allocUnsafe(Math.max(32, n));
      buf.copy(this.key, 0, start, end);
      this.len = n;
      this.genid = sl.genid;
      this.sublist = sl;
      this.result = r;
    } else this.len = -1;
    return r;
  }
}

