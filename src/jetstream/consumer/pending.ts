// A consumer's acknowledgement bookkeeping, apart from delivery so it can be tested alone: the
// pending map (delivered, not yet acknowledged), delivery counts, the redelivery queue and the ack
// floors. Mirrors consumer.go: trackPending, processAckMsg, processNak, progressUpdate,
// checkPending, incDeliveryCount, addToRedeliverQueue.
//
// Sequences: `sseq` is the stream sequence, `dseq` the consumer (delivery) sequence. The floors
// (adflr/asflr) are the highest delivery/stream sequences below which everything is acknowledged.
// Times are epoch milliseconds.

import type { AckPolicy } from './config.js';

export interface Pending {
  /** Consumer sequence of the first delivery (kept across redeliveries, as nats-server does). */
  dseq: number;
  /** When it was (re)delivered, or when a NAK delay / progress moved its deadline. */
  ts: number;
}

export class AckState {
  readonly policy: AckPolicy;
  readonly pending = new Map<number, Pending>();
  /** Delivery counts above 1 (nats-server's rdc holds redeliveries; this holds deliveries). */
  readonly rdc = new Map<number, number>();
  /** Redelivery queue, in order, and its membership. */
  private rdq: number[] = [];
  private rdqHead = 0;
  private readonly rdqSet = new Set<number>();
  adflr = 0;
  asflr = 0;

  constructor(policy: AckPolicy) {
    this.policy = policy;
  }

  /** Deliveries of sseq so far (1 when delivered once, 0 never counts here). */
  deliveries(sseq: number): number {
    return this.rdc.get(sseq) ?? 1;
  }

  /** A redelivery is about to happen: its new delivery count. */
  incDeliveries(sseq: number): number {
    const n = (this.rdc.get(sseq) ?? 1) + 1;
    this.rdc.set(sseq, n);
    return n;
  }

  decDeliveries(sseq: number): void {
    const n = this.rdc.get(sseq);
    if (n === undefined) return;
    if (n <= 2) this.rdc.delete(sseq);
    else this.rdc.set(sseq, n - 1);
  }

  /** trackPending: a delivery of sseq as consumer sequence dseq happened at `now`. */
  track(sseq: number, dseq: number, now: number): void {
    const p = this.pending.get(sseq);
    if (p !== undefined) p.ts = now;
    else this.pending.set(sseq, { dseq, ts: now });
  }

  /** Ack none: every delivery is acknowledged at once (deliverMsg moves the floors). */
  deliveredNoAck(sseq: number, dseq: number): void {
    this.adflr = dseq;
    this.asflr = sseq;
  }

  // ---- redelivery queue ------------------------------------------------------------------------

  get rdqLength(): number {
    return this.rdq.length - this.rdqHead;
  }

  onRdq(sseq: number): boolean {
    return this.rdqSet.has(sseq);
  }

  addToRdq(sseq: number): void {
    if (this.rdqSet.has(sseq)) return;
    this.rdqSet.add(sseq);
    this.rdq.push(sseq);
  }

  /** Puts a sequence back at the head (a delivery that found no taker). */
  unshiftRdq(sseq: number): void {
    if (this.rdqSet.has(sseq)) return;
    this.rdqSet.add(sseq);
    if (this.rdqHead > 0) this.rdq[--this.rdqHead] = sseq;
    else this.rdq.unshift(sseq);
  }

  /** Next sequence to redeliver, or -1. */
  shiftRdq(): number {
    while (this.rdqHead < this.rdq.length) {
      const s = this.rdq[this.rdqHead++]!;
      if (this.rdqHead > 1024 && this.rdqHead * 2 > this.rdq.length) {
        this.rdq = this.rdq.slice(this.rdqHead);
        this.rdqHead = 0;
      }
      if (this.rdqSet.delete(s)) return s;
    }
    this.rdq = [];
    this.rdqHead = 0;
    return -1;
  }

  removeFromRdq(sseq: number): void {
    this.rdqSet.delete(sseq); // the array entry is skipped when shifted
  }

  // ---- acks -------------------------------------------------------------------------------------

  /**
   * processAckMsg. `nextD`/`nextS` are the consumer's next delivery and stream sequences (the floors
   * jump to just below them when nothing is left pending). Returns the stream sequences this ack
   * acknowledged (for interest and workqueue retention); empty when it changed nothing.
   */
  ack(sseq: number, dseq: number, nextD: number, nextS: number): number[] {
    if (this.policy === 'explicit') {
      const p = this.pending.get(sseq);
      this.rdc.delete(sseq);
      this.removeFromRdq(sseq);
      if (p === undefined) return [];
      this.pending.delete(sseq);
      if (this.pending.size === 0) {
        this.adflr = nextD - 1;
        this.asflr = nextS - 1;
      } else if (p.dseq === this.adflr + 1) {
        this.adflr = p.dseq;
        this.asflr = sseq;
        this.floorToLowestPending(sseq, nextS);
      }
      return [sseq];
    }
    if (this.policy === 'all') {
      if (dseq <= this.adflr || sseq <= this.asflr) return [];
      const from = this.asflr + 1;
      this.adflr = dseq;
      this.asflr = sseq;
      for (const s of this.pending.keys()) {
        if (s <= sseq) {
          this.pending.delete(s);
          this.rdc.delete(s);
          this.removeFromRdq(s);
        }
      }
      if (this.pending.size === 0) {
        this.adflr = Math.max(this.adflr, nextD - 1);
        this.asflr = Math.max(this.asflr, nextS - 1);
      }
      const acked: number[] = [];
      for (let s = from; s <= sseq; s++) acked.push(s);
      return acked;
    }
    return [];
  }

  /**
   * After the floor moved to `sseq`, the lowest remaining pending entry bounds it (consumer.go walks
   * the sequences above; with few pending entries it is cheaper to walk them).
   */
  private floorToLowestPending(sseq: number, nextS: number): void {
    let low = -1;
    // Walk the sequences above when there are not many more of them than pending entries: in-order
    // acks find the next one at once. (This compared the gap plus one with the size, so acks in order
    // always took the other branch and walked every pending entry: quadratic in a fetch batch.)
    if (nextS - sseq - 1 <= 4 * this.pending.size) {
      for (let s = sseq + 1; s < nextS; s++) {
        if (this.pending.has(s)) {
          low = s;
          break;
        }
      }
    } else {
      for (const s of this.pending.keys()) if (s > sseq && (low < 0 || s < low)) low = s;
    }
    if (low < 0) return;
    const p = this.pending.get(low)!;
    if (p.dseq > 0) {
      this.adflr = p.dseq - 1;
      this.asflr = low - 1;
    }
  }

  /** Recomputes the floors from the pending entries (after entries left without an ack). */
  refloor(nextD: number, nextS: number): void {
    if (this.pending.size === 0) {
      this.adflr = Math.max(this.adflr, nextD - 1);
      this.asflr = Math.max(this.asflr, nextS - 1);
      return;
    }
    let low = -1;
    for (const s of this.pending.keys()) if (low < 0 || s < low) low = s;
    const p = this.pending.get(low)!;
    if (low - 1 > this.asflr) {
      this.asflr = low - 1;
      this.adflr = Math.max(this.adflr, p.dseq - 1);
    }
  }

  /**
   * processNak. A delay (ns, -1 for none) postpones the redelivery: the entry's deadline becomes
   * now + delay. Returns true when the message was queued for redelivery now.
   */
  nak(sseq: number, dseq: number, nextD: number, delayNs: number, ackWaitMs: number, now: number): boolean {
    if (dseq <= this.adflr || dseq >= nextD) return false;
    const p = this.pending.get(sseq);
    if (p === undefined) return false;
    if (delayNs >= 0) {
      this.removeFromRdq(sseq);
      p.ts = now - ackWaitMs + delayNs / 1e6;
      return false;
    }
    this.addToRdq(sseq);
    return true;
  }

  /** progressUpdate (+WPI): the ack deadline starts again. */
  progress(sseq: number, now: number): boolean {
    const p = this.pending.get(sseq);
    if (p === undefined) return false;
    p.ts = now;
    return true;
  }

  /**
   * A message left the stream: forget it. Returns true when it was pending (floors recomputed).
   */
  forget(sseq: number, nextD: number, nextS: number): boolean {
    this.rdc.delete(sseq);
    this.removeFromRdq(sseq);
    if (!this.pending.delete(sseq)) return false;
    this.refloor(nextD, nextS);
    return true;
  }

  /**
   * checkPending: queues every pending message whose ack deadline passed (ack_wait, or the backoff
   * step for its delivery count) unless it reached max_deliver (maxdc, 0 = unlimited). Entries below
   * `firstSeq` (gone from the stream) are dropped. A message whose deadline passed after its last
   * allowed delivery leaves pending (2.10's hasMaxDeliveries; its delivery count stays) and is listed
   * in `exceeded` as `[sseq, deliveries]` for the max-deliveries advisory. Returns the milliseconds
   * until the next deadline (Infinity when nothing is pending) and how many were queued.
   */
  expire(now: number, ackWaitMs: number, backoffMs: readonly number[], maxdc: number, firstSeq: number, nextD: number, nextS: number): { next: number; queued: number; exceeded: [number, number][] } {
    let next = Infinity;
    const expired: number[] = [];
    const exceeded: [number, number][] = [];
    let dropped = false;
    for (const [seq, p] of this.pending) {
      if (seq < firstSeq || seq <= this.asflr) {
        this.pending.delete(seq);
        this.rdc.delete(seq);
        this.removeFromRdq(seq);
        dropped = true;
        continue;
      }
      let deadline = ackWaitMs;
      if (backoffMs.length > 0) {
        const i = Math.min(this.deliveries(seq) - 1, backoffMs.length - 1);
        deadline = backoffMs[Math.max(0, i)]!;
      }
      const elapsed = now - p.ts;
      if (elapsed >= deadline) {
        if (this.rdqSet.has(seq)) continue;
        const dc = this.deliveries(seq);
        if (maxdc > 0 && dc >= maxdc) {
          this.pending.delete(seq);
          exceeded.push([seq, dc]);
        } else expired.push(seq);
      } else if (deadline - elapsed < next) {
        next = deadline - elapsed;
      }
    }
    if (dropped) this.refloor(nextD, nextS);
    if (expired.length > 0) {
      expired.sort((a, b) => a - b);
      for (const s of expired) this.addToRdq(s);
    }
    return { next, queued: expired.length, exceeded };
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** Pending as `[sseq, dseq, ts]` triples and delivery counts as `[sseq, n]` pairs. */
  snapshot(): { pending: [number, number, number][]; redelivered: [number, number][] } {
    const pending: [number, number, number][] = [];
    for (const [s, p] of this.pending) pending.push([s, p.dseq, Math.round(p.ts)]);
    const redelivered: [number, number][] = [];
    for (const [s, n] of this.rdc) redelivered.push([s, n]);
    return { pending, redelivered };
  }

  restore(pending: readonly (readonly number[])[], redelivered: readonly (readonly number[])[]): void {
    for (const e of pending) if (e.length >= 3) this.pending.set(e[0]!, { dseq: e[1]!, ts: e[2]! });
    for (const e of redelivered) if (e.length >= 2 && e[1]! > 1) this.rdc.set(e[0]!, e[1]!);
  }
}
