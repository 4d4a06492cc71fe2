// Single-producer single-consumer ring of length-prefixed frames on a SharedArrayBuffer, between two
// threads (two shards, or a shard and the JetStream worker). thread-stream's habit: Int32 control
// words, Atomics.waitAsync so the consumer never blocks its event loop, and the layout written here.
//
// Layout (byte offsets into the SharedArrayBuffer):
//
//   0   HEAD      i32  producer writes: byte offset in the data area where the next frame goes
//   4   PUBLISHED i32  producer writes: frames published so far (wraps at 2^32; compare with `| 0`)
//   8   (2 × i32)      used only under TSNATS_HOPTRACE (src/monitor/hoptrace.ts): publish stamp, doorbell flag
//   64  TAIL      i32  consumer writes: byte offset of the next frame to read
//   68  CONSUMED  i32  consumer writes: frames consumed so far
//   72  SLEEPING  i32  consumer writes: 1 while it waits for the doorbell, else 0
//   128 data      capacity bytes (a multiple of 8)
//
// HEAD/PUBLISHED and TAIL/CONSUMED sit on separate 64-byte cache lines, so the two threads never
// write the same line. Each frame is `u32 length | body`, padded to 8 bytes. A frame never wraps: when
// it does not fit before the end, the producer writes the length PAD there and puts the frame at 0.
// HEAD == TAIL means empty; the producer always leaves 8 bytes free, so full never looks empty.
//
// Publishing: the producer writes frames (reserve + commit) and makes them visible once per batch
// (publish). Doorbell: publish notifies only when the consumer said it was sleeping, i.e. only on an
// empty -> non-empty transition; an idle consumer costs nothing, a busy one is never notified.
//
// The consumer thread's bell (optional, src/ring/waiter.ts): a thread that drains several rings
// sleeps on one Int32 word of its own instead of one per ring. It arms each ring (SLEEPING = 1),
// checks every HEAD, and waits on the bell; a producer that finds SLEEPING = 1 takes it back to 0
// (so it notifies at most once per sleep), sets the bell to 1 and notifies the bell. HEAD is
// stored before SLEEPING is read and SLEEPING before HEAD is read (sequentially consistent
// Atomics), so one side always sees the other: no lost wake-up. Without a bell, publish notifies
// the ring's own HEAD word (RingConsumer.wait).

export const RING_HEADER_BYTES = 128;
const HEAD = 0; // i32 index
const PUBLISHED = 1;
const TAIL = 16;
const CONSUMED = 17;
const SLEEPING = 18;
const PAD = 0xffffffff;

const align8 = (n: number): number => (n + 7) & ~7;

export function createRingBuffer(capacity: number): SharedArrayBuffer {
  const cap = align8(Math.max(1024, capacity));
  return new SharedArrayBuffer(RING_HEADER_BYTES + cap);
}

/** Largest body a ring of this size accepts (a frame must fit in half the ring to always progress). */
export function maxFrameBody(sab: SharedArrayBuffer): number {
  return Math.floor((sab.byteLength - RING_HEADER_BYTES) / 2) - 8;
}

export class RingProducer {
  readonly ctl: Int32Array;
  /** The data area; frame bodies are written here at offsets from reserve(). */
  readonly data: Buffer;
  readonly capacity: number;
  readonly maxBody: number;
  /** Next write offset (not yet visible to the consumer until publish). */
  private head: number;
  /** Frames committed locally (visible after publish). */
  committed: number;
  private publishedHead: number;
  private reservedAt = -1;
  /** The consumer thread's bell (word 0), or null: it waits on this ring's HEAD. */
  private readonly bell: Int32Array | null;

  constructor(sab: SharedArrayBuffer, bell: SharedArrayBuffer | null = null) {
    this.ctl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.bell = bell === null ? null : new Int32Array(bell, 0, 1);
    this.capacity = sab.byteLength - RING_HEADER_BYTES;
    this.data = Buffer.from(sab, RING_HEADER_BYTES, this.capacity);
    this.maxBody = maxFrameBody(sab);
    this.head = Atomics.load(this.ctl, HEAD);
    this.publishedHead = this.head;
    this.committed = Atomics.load(this.ctl, PUBLISHED);
  }

  /**
   * Reserves room for a body of `len` bytes; returns the body's offset in `data`, or -1 when the
   * ring is full (try again after the consumer drains). Call commit() after writing the body.
   */
  reserve(len: number): number {
    if (len > this.maxBody) throw new RangeError(`ring frame of ${len} bytes exceeds ${this.maxBody}`);
    const total = align8(4 + len);
    const tail = Atomics.load(this.ctl, TAIL);
    let at = this.head;
    if (at >= tail) {
      // Free: [head, capacity) and [0, tail); keep 8 bytes between head and tail.
      if (this.capacity - at >= total + (tail === 0 ? 8 : 0)) {
        // fits before the end
      } else if (tail >= total + 8) {
        // Wrap: mark the rest of the area as padding (it is a non-zero multiple of 8, so the
        // 4-byte PAD always fits) and write the frame at 0.
        this.data.writeUInt32LE(PAD, at);
        at = 0;
      } else return -1;
    } else if (tail - at < total + 8) {
      return -1;
    }
    this.reservedAt = at;
    this.data.writeUInt32LE(len, at);
    return at + 4;
  }

  /** Makes the reserved frame part of the next publish. */
  commit(len: number): void {
    this.head = this.reservedAt + align8(4 + len);
    if (this.head === this.capacity) this.head = 0;
    this.reservedAt = -1;
    this.committed = (this.committed + 1) | 0;
  }

  /** True when frames were committed since the last publish. */
  get pending(): boolean {
    return this.head !== this.publishedHead;
  }

  /** Makes committed frames visible and rings the doorbell if the consumer sleeps. */
  publish(): void {
    if (this.head === this.publishedHead) return;
    this.publishedHead = this.head;
    Atomics.store(this.ctl, PUBLISHED, this.committed);
    Atomics.store(this.ctl, HEAD, this.head);
    if (Atomics.load(this.ctl, SLEEPING) === 1) this.ring();
  }

  /** The doorbell: the consumer said it sleeps. */
  private ring(): void {
    const bell = this.bell;
    if (bell === null) {
      Atomics.notify(this.ctl, HEAD);
      return;
    }
    // Once per sleep: another publish before the consumer wakes finds SLEEPING at 0.
    if (Atomics.compareExchange(this.ctl, SLEEPING, 1, 0) !== 1) return;
    Atomics.store(bell, 0, 1);
    Atomics.notify(bell, 0);
  }

  /** True while the consumer sleeps (a publish would ring its doorbell). */
  consumerAsleep(): boolean {
    return Atomics.load(this.ctl, SLEEPING) === 1;
  }

  /** Frames the consumer has processed (compare with `(consumed - target) | 0 >= 0`). */
  consumed(): number {
    return Atomics.load(this.ctl, CONSUMED);
  }

  /** Bytes in use (published or not), for back-pressure metrics. */
  used(): number {
    const tail = Atomics.load(this.ctl, TAIL);
    return this.head >= tail ? this.head - tail : this.capacity - tail + this.head;
  }
}

/** Handles one frame: `buf[start, start + len)` is the body, valid only during the call. */
export type FrameHandler = (buf: Buffer, start: number, len: number) => void;

export class RingConsumer {
  readonly ctl: Int32Array;
  readonly data: Buffer;
  readonly capacity: number;
  private tail: number;
  private consumedCount: number;
  private closed = false;

  constructor(sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.capacity = sab.byteLength - RING_HEADER_BYTES;
    this.data = Buffer.from(sab, RING_HEADER_BYTES, this.capacity);
    this.tail = Atomics.load(this.ctl, TAIL);
    this.consumedCount = Atomics.load(this.ctl, CONSUMED);
  }

  /**
   * Processes published frames, at most `maxBytes` of them (so a busy ring cannot starve the
   * consumer's other work); returns the number of frames handled.
   */
  drain(handler: FrameHandler, maxBytes = Infinity): number {
    const head = Atomics.load(this.ctl, HEAD);
    let tail = this.tail;
    let n = 0;
    let bytes = 0;
    const data = this.data;
    while (tail !== head && bytes < maxBytes) {
      const len = data.readUInt32LE(tail);
      if (len === PAD) {
        tail = 0;
        continue;
      }
      handler(data, tail + 4, len);
      const total = align8(4 + len);
      tail += total;
      if (tail === this.capacity) tail = 0;
      bytes += total;
      n++;
    }
    if (n > 0 || tail !== this.tail) {
      this.tail = tail;
      this.consumedCount = (this.consumedCount + n) | 0;
      Atomics.store(this.ctl, CONSUMED, this.consumedCount);
      Atomics.store(this.ctl, TAIL, tail);
    }
    return n;
  }

  /** True when published frames are waiting. */
  hasData(): boolean {
    return Atomics.load(this.ctl, HEAD) !== this.tail;
  }

  /**
   * Resolves when frames may be available: at once if some are, else when the producer rings.
   * Never blocks the event loop (Atomics.waitAsync).
   */
  wait(): Promise<void> | null {
    if (this.closed) return null;
    Atomics.store(this.ctl, SLEEPING, 1);
    const head = Atomics.load(this.ctl, HEAD);
    if (head !== this.tail) {
      Atomics.store(this.ctl, SLEEPING, 0);
      return null;
    }
    const r = Atomics.waitAsync(this.ctl, HEAD, head);
    if (!r.async) {
      Atomics.store(this.ctl, SLEEPING, 0);
      return null;
    }
    return r.value.then(() => {
      Atomics.store(this.ctl, SLEEPING, 0);
    });
  }

  /**
   * Says this consumer is about to sleep on its thread's bell (src/ring/waiter.ts); true when
   * frames are already waiting (then do not sleep: call disarm() and drain).
   */
  arm(): boolean {
    Atomics.store(this.ctl, SLEEPING, 1);
    return Atomics.load(this.ctl, HEAD) !== this.tail;
  }

  /** Awake again: producers need not ring. */
  disarm(): void {
    Atomics.store(this.ctl, SLEEPING, 0);
  }

  /** Wakes a pending wait() so a closing consumer can stop. */
  close(): void {
    this.closed = true;
    Atomics.notify(this.ctl, HEAD);
  }
}
