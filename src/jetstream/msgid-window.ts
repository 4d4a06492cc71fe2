// A stream's de-duplication window (nats-server's ddmap / ddarr in stream.go): the Nats-Msg-Id of
// every message stored within `duplicate_window`, with its sequence and time.
//
// Why not a Map of small objects: at a few hundred thousand Msg-Id publishes a second a two-minute
// window holds tens of millions of ids; an entry object with a heap-number timestamp per id made the
// collector the largest cost of Msg-Id publishing. Here the Map only holds id → slot (a small
// integer), and sequence and time sit in typed arrays of a ring kept in arrival order, which is
// also the expiry order (ddarr), so expiring is a walk from the ring's head.

const INITIAL_SLOTS = 1024; // a power of two, as every capacity here

export class MsgIdWindow {
  /**
   * id → the serial number of its store (serials count up; a store's slot is serial & mask, so
   * growing the ring moves entries without touching the Map).
   */
  private readonly index = new Map<string, number>();
  private ids: (string | undefined)[] = new Array<string | undefined>(INITIAL_SLOTS);
  private seqs = new Float64Array(INITIAL_SLOTS);
  private times = new Float64Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  /** Serial of the oldest store still in the ring, and of the next one. */
  private first = 0;
  private next = 0;

  /** Ids held (expired ones included until a sweep). */
  get size(): number {
    return this.index.size;
  }

  /** The sequence stored under `id` if it was stored at or after `cutoff` (ns), else -1. */
  find(id: string, cutoff: number): number {
    const serial = this.index.get(id);
    if (serial === undefined) return -1;
    const slot = serial & this.mask;
    if (this.times[slot]! < cutoff) return -1;
    return this.seqs[slot]!;
  }

  /** Records `id` (a later store of the same id replaces the earlier one). Times must not decrease. */
  store(id: string, seq: number, ts: number): void {
    if (this.next - this.first > this.mask) this.resize((this.mask + 1) * 2);
    const prev = this.index.get(id);
    if (prev !== undefined) this.ids[prev & this.mask] = undefined; // superseded: its expiry leaves the Map alone
    const slot = this.next & this.mask;
    this.ids[slot] = id;
    this.seqs[slot] = seq;
    this.times[slot] = ts;
    this.index.set(id, this.next);
    this.next++;
  }

  /** Forgets every id stored before `cutoff` (ns). */
  expire(cutoff: number): void {
    while (this.first < this.next) {
      const slot = this.first & this.mask;
      if (this.times[slot]! >= cutoff) break;
      const id = this.ids[slot];
      if (id !== undefined) {
        this.index.delete(id);
        this.ids[slot] = undefined;
      }
      this.first++;
    }
    // Give memory back after a burst: a ring mostly empty shrinks to a quarter.
    const cap = this.mask + 1;
    if (cap > INITIAL_SLOTS && this.next - this.first < cap / 8) this.resize(cap / 4);
  }

  clear(): void {
    this.index.clear();
    this.ids = new Array<string | undefined>(INITIAL_SLOTS);
    this.seqs = new Float64Array(INITIAL_SLOTS);
    this.times = new Float64Array(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.first = this.next = 0;
  }

  /** Moves the ring to arrays of `cap` slots (a power of two, at least what is held). */
  private resize(cap: number): void {
    const ids = new Array<string | undefined>(cap);
    const seqs = new Float64Array(cap);
    const times = new Float64Array(cap);
    const oldMask = this.mask;
    const mask = cap - 1;
    for (let s = this.first; s < this.next; s++) {
      const from = s & oldMask;
      const to = s & mask;
      ids[to] = this.ids[from];
      seqs[to] = this.seqs[from]!;
      times[to] = this.times[from]!;
    }
    this.ids = ids;
    this.seqs = seqs;
    this.times = times;
    this.mask = mask;
  }
}
