// Pull requests (consumer.go: nextReqFromMsg, waitQueue, processNextMsgRequest's checks). A pull
// consumer keeps a bounded queue of waiting requests; messages go to them round-robin, one at a
// time (waitQueue.pop moves a request that still wants more to the tail).

/** One MSG.NEXT request waiting for messages. */
export interface WaitingRequest {
  reply: string;
  /** Messages still wanted. */
  n: number;
  /** Messages delivered to it so far. */
  d: number;
  /** Bytes still allowed (max_bytes), 0 when unlimited. */
  b: number;
  maxBytes: number;
  noWait: boolean;
  /** Epoch ms, 0 = never. */
  expires: number;
  /** Idle heartbeat interval (ms), 0 = none; hbNext is when the next one is due. */
  hb: number;
  hbNext: number;
  received: number;
}

export type NextRequest =
  | { ok: true; batch: number; expiresMs: number; noWait: boolean; maxBytes: number; hbMs: number }
  | { ok: false; error: string };

/**
 * nextReqFromMsg: an empty body is one message; a number is a batch size; JSON is
 * `{batch, expires(ns), no_wait, max_bytes, idle_heartbeat(ns)}`.
 */
export function parseNextRequest(body: Buffer | string): NextRequest {
  const s = (typeof body === 'string' ? body : body.toString('utf8')).trim();
  if (s.length === 0) return { ok: true, batch: 1, expiresMs: 0, noWait: false, maxBytes: 0, hbMs: 0 };
  if (s[0] === '{') {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(s) as Record<string, unknown>;
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    if (v === null || typeof v !== 'object') return { ok: false, error: 'invalid request' };
    const n = (k: string): number | null => {
      const x = v[k];
      if (x === undefined || x === null) return 0;
      return typeof x === 'number' && Number.isFinite(x) ? x : null;
    };
    const batch = n('batch');
    const expires = n('expires');
    const maxBytes = n('max_bytes');
    const hb = n('idle_heartbeat');
    if (batch === null || expires === null || maxBytes === null || hb === null) return { ok: false, error: 'json: cannot unmarshal request' };
    if (v.no_wait !== undefined && typeof v.no_wait !== 'boolean') return { ok: false, error: 'json: cannot unmarshal request' };
    if (hb > 0 && hb * 2 > expires) return { ok: false, error: 'heartbeat value too large' };
    return {
      ok: true,
      batch: Math.max(1, Math.floor(batch)),
      expiresMs: expires > 0 ? expires / 1e6 : 0,
      noWait: v.no_wait === true,
      maxBytes: Math.max(0, Math.floor(maxBytes)),
      hbMs: hb > 0 ? hb / 1e6 : 0,
    };
  }
  const num = Number(s);
  if (Number.isInteger(num) && num > 0) return { ok: true, batch: num, expiresMs: 0, noWait: false, maxBytes: 0, hbMs: 0 };
  return { ok: true, batch: 1, expiresMs: 0, noWait: false, maxBytes: 0, hbMs: 0 };
}

/** waitQueue: a FIFO of requests with a fixed capacity (max_waiting). */
export class WaitQueue {
  readonly max: number;
  private reqs: WaitingRequest[] = [];

  constructor(max: number) {
    this.max = max;
  }

  get length(): number {
    return this.reqs.length;
  }

  isFull(): boolean {
    return this.reqs.length >= this.max;
  }

  add(wr: WaitingRequest): boolean {
    if (this.isFull()) return false;
    this.reqs.push(wr);
    return true;
  }

  peek(): WaitingRequest | undefined {
    return this.reqs[0];
  }

  /** Removes the head (expired, no interest, or its max_bytes was too small). */
  removeHead(): void {
    this.reqs.shift();
  }

  /** waitQueue.pop: one message goes to the head; it moves to the tail while it wants more. */
  pop(): WaitingRequest | undefined {
    const wr = this.reqs.shift();
    if (wr === undefined) return undefined;
    wr.d++;
    wr.n--;
    if (wr.n > 0) this.reqs.push(wr);
    return wr;
  }

  /** Removes every request for which drop returns true (processWaiting). */
  sweep(drop: (wr: WaitingRequest) => boolean): void {
    let j = 0;
    for (let i = 0; i < this.reqs.length; i++) {
      const wr = this.reqs[i]!;
      if (!drop(wr)) this.reqs[j++] = wr;
    }
    this.reqs.length = j;
  }

  /** Sum of the messages still wanted (processWaiting's batch-pending count). */
  pendingBatch(): number {
    let n = 0;
    for (const wr of this.reqs) n += wr.n;
    return n;
  }

  all(): readonly WaitingRequest[] {
    return this.reqs;
  }

  clear(): WaitingRequest[] {
    const r = this.reqs;
    this.reqs = [];
    return r;
  }
}
