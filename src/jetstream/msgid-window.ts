// A stream's de-duplication window (nats-server's ddmap / ddarr in stream.go): the Nats-Msg-Id of
// every message stored within `duplicate_window`, with its sequence and time.
//
// Why not a Map of small objects: at a few hundred thousand Msg-Id publishes a second a two-minute
// window holds tens of millions of ids; an entry object with a heap-number timestamp per id made the
// collector the largest cost of Msg-Id publishing. Sequence and time sit in typed arrays of a ring
// kept in arrival order, which is also the expiry order (ddarr), so expiring is a walk from the
// ring's head.
//
// Why not a Map from id to ring slot either: with ~10^6 ids a lookup of a fresh id string in V8's
// ordered hash map (hash the string, bucket, chain entry, key string) missed the cache three or four
// times and was 22% of the JetStream worker in the Msg-Id benchmark. The index is an open-addressing
// table (linear probing, at most half full) of [ring slot + 1, id hash] pairs in one Int32Array:
// a lookup of a new id usually touches one cache line and never the id strings; the strings are
// compared only when the full 32-bit hashes match.

const INITIAL_SLOTS = 1024; // a power of two, as every capacity here

/** FNV-1a over the id's char codes (ids are short: nuids, UUIDs, application keys). */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h | 0;
}

export class MsgIdWindow {
  private ids: (string | undefined)[] = new Array<string | undefined>(INITIAL_SLOTS);
  private seqs = new Float64Array(INITIAL_SLOTS);
  private times = new Float64Array(INITIAL_SLOTS);
  /** Each slot's id hash: expiry and growth find a slot's pair without hashing its string again. */
  private hashes = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  /** Serial of the oldest store still in the ring, and of the next one (a store's slot is serial & mask). */
  private first = 0;
  private next = 0;
  /** The index: pairs [slot + 1 (0: empty), hash], 2 × ring capacity pairs. */
  private table = new Int32Array(4 * INITIAL_SLOTS);
  private tmask = 2 * INITIAL_SLOTS - 1;
  /** 32 - log2(pairs): a pair's home is the hash's mixed high bits (FNV's low bits barely differ for `id-1`, `id-2`, …). */
  private shift = 32 - Math.log2(2 * INITIAL_SLOTS);
  private count = 0;

  /** Ids held (expired ones included until a sweep). */
  get size(): number {
    return this.count;
  }

  private home(h: number): number {
    return Math.imul(h, 0x9e3779b1) >>> this.shift;
  }

  /** The pair index holding `id`, or -1. */
  private lookup(id: string, h: number): number {
    const t = this.table;
    const tmask = this.tmask;
    for (let i = this.home(h); ; i = (i + 1) & tmask) {
      const e = t[2 * i]!;
      if (e === 0) return -1;
      if (t[2 * i + 1] === h && this.ids[e - 1] === id) return i;
    }
  }

  /** The sequence stored under `id` if it was stored at or after `cutoff` (ns), else -1. */
  find(id: string, cutoff: number): number {
    const i = this.lookup(id, idHash(id));
    if (i < 0) return -1;
    const slot = this.table[2 * i]! - 1;
    if (this.times[slot]! < cutoff) return -1;
    return this.seqs[slot]!;
  }

  /** Records `id` (a later store of the same id replaces the earlier one). Times must not decrease. */
  store(id: string, seq: number, ts: number): void {
    if (this.next - this.first > this.mask) this.resize((this.mask + 1) * 2);
    const slot = this.next & this.mask;
    const h = idHash(id);
    const t = this.table;
    const tmask = this.tmask;
    let i = this.home(h);
    for (; ; i = (i + 1) & tmask) {
      const e = t[2 * i]!;
      if (e === 0) {
        this.count++;
        break;
      }
      if (t[2 * i + 1] === h && this.ids[e - 1] === id) {
        this.ids[e - 1] = undefined; // superseded: its expiry leaves the index alone
        break;
      }
    }
    t[2 * i] = slot + 1;
    t[2 * i + 1] = h;
    this.ids[slot] = id;
    this.hashes[slot] = h;
    this.seqs[slot] = seq;
    this.times[slot] = ts;
    this.next++;
  }

  /** Forgets every id stored before `cutoff` (ns). */
  expire(cutoff: number): void {
    while (this.first < this.next) {
      const slot = this.first & this.mask;
      if (this.times[slot]! >= cutoff) break;
      if (this.ids[slot] !== undefined) {
        const i = this.pairOf(slot);
        if (i >= 0) this.removeAt(i);
        this.ids[slot] = undefined;
      }
      this.first++;
    }
    // Give memory back after a burst: a ring mostly empty shrinks to a quarter.
    const cap = this.mask + 1;
    if (cap > INITIAL_SLOTS && this.next - this.first < cap / 8) this.resize(cap / 4);
  }

  /** The pair pointing at ring slot `slot` (by its stored hash; no string compare), or -1. */
  private pairOf(slot: number): number {
    const t = this.table;
    const tmask = this.tmask;
    for (let i = this.home(this.hashes[slot]!); ; i = (i + 1) & tmask) {
      const e = t[2 * i]!;
      if (e === 0) return -1;
      if (e === slot + 1) return i;
    }
  }

  /** Linear probing's deletion: later pairs of the same run move back so no lookup stops early. */
  private removeAt(i: number): void {
    const t = this.table;
    const tmask = this.tmask;
    this.count--;
    let hole = i;
    for (let j = (i + 1) & tmask; ; j = (j + 1) & tmask) {
      const e = t[2 * j]!;
      if (e === 0) break;
      const home = this.home(t[2 * j + 1]!);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      t[2 * hole] = e;
      t[2 * hole + 1] = t[2 * j + 1]!;
      hole = j;
    }
    t[2 * hole] = 0;
    t[2 * hole + 1] = 0;
  }

  clear(): void {
    this.ids = new Array<string | undefined>(INITIAL_SLOTS);
    this.seqs = new Float64Array(INITIAL_SLOTS);
    this.times = new Float64Array(INITIAL_SLOTS);
    this.hashes = new Int32Array(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.first = this.next = 0;
    this.newTable(INITIAL_SLOTS);
  }

  private newTable(ringCap: number): void {
    this.table = new Int32Array(4 * ringCap);
    this.tmask = 2 * ringCap - 1;
    this.shift = 32 - Math.log2(2 * ringCap);
    this.count = 0;
  }

  /** Moves the ring to arrays of `cap` slots (a power of two, at least what is held) and re-indexes it. */
  private resize(cap: number): void {
    const ids = new Array<string | undefined>(cap);
    const seqs = new Float64Array(cap);
    const times = new Float64Array(cap);
    const hashes = new Int32Array(cap);
    const oldMask = this.mask;
    const mask = cap - 1;
    for (let s = this.first; s < this.next; s++) {
      const from = s & oldMask;
      const to = s & mask;
      ids[to] = this.ids[from];
      seqs[to] = this.seqs[from]!;
      times[to] = this.times[from]!;
      hashes[to] = this.hashes[from]!;
    }
    this.ids = ids;
    this.seqs = seqs;
    this.times = times;
    this.hashes = hashes;
    this.mask = mask;
    this.newTable(cap);
    const t = this.table;
    const tmask = this.tmask;
    for (let s = this.first; s < this.next; s++) {
      const slot = s & mask;
      if (ids[slot] === undefined) continue; // expired or superseded
      const h = hashes[slot]!;
      let i = this.home(h);
      while (t[2 * i] !== 0) i = (i + 1) & tmask;
      t[2 * i] = slot + 1;
      t[2 * i + 1] = h;
      this.count++;
    }
  }
}
