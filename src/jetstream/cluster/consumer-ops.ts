// The entries of a consumer's RAFT group (consumer.go updateDelivered / updateAcks / updateSkipped /
// addClusterPendingRequest; jetstream_cluster.go applyConsumerEntries, decodeDeliveredUpdate,
// decodeAckUpdate) and the consumer state encoding its snapshots carry (store.go encodeConsumerState,
// filestore.go decodeConsumerState), with the replicated state machine a follower keeps
// (consumerFileStore.UpdateDelivered / UpdateAcks).
//
//   updateDeliveredOp  7 | uvarint dseq | uvarint sseq | uvarint delivery count | varint ts (ns)
//   updateAcksOp       8 | uvarint dseq | uvarint sseq
//   updateSkipOp      10 | u64 LE stream sequence
//   add/removePendingRequest 12/13 | reply subject
//
// Consumer state (magic 22, version 2): uvarints ack floor (consumer, stream), delivered (consumer,
// stream), pending count; if pending: varint base time (s), then per pending message uvarint
// (sseq - ack floor stream), uvarint (dseq - ack floor consumer), varint (base - ts in s); then uvarint
// redelivered count and pairs uvarint (sseq - ack floor stream), uvarint count. Version 1 differs as
// filestore.go decodeConsumerState says (delivered stored as "next", no dseq, ts offsets added).

import { putUvarint, putVarint, putVarintBig, readUvarint, readVarint, readVarintBig } from '../raft/codec.js';
import { addPendingRequest, removePendingRequest, updateAcksOp, updateDeliveredOp, updateSkipOp } from './assignments.js';

export class ConsumerOpError extends Error {}

/** `ts` in Unix nanoseconds (bigint: exact). */
export function encodeDeliveredUpdate(dseq: number, sseq: number, dc: number, ts: bigint): Buffer {
  const out = [updateDeliveredOp];
  putUvarint(out, dseq);
  putUvarint(out, sseq);
  putUvarint(out, dc);
  putVarintBig(out, ts);
  return Buffer.from(out);
}

/** decodeDeliveredUpdate (body after the op byte). */
export function decodeDeliveredUpdate(buf: Buffer): { dseq: number; sseq: number; dc: number; ts: bigint } {
  let bi = 0;
  const u = (): number => {
    const [v, n] = readUvarint(buf, bi);
    if (n <= 0) throw new ConsumerOpError('jetstream cluster bad replicated delivered update');
    bi += n;
    return v;
  };
  const dseq = u();
  const sseq = u();
  const dc = u();
  const [ts, n] = readVarintBig(buf, bi);
  if (n <= 0) throw new ConsumerOpError('jetstream cluster bad replicated delivered update');
  return { dseq, sseq, dc, ts };
}

export function encodeAckUpdate(dseq: number, sseq: number): Buffer {
  const out = [updateAcksOp];
  putUvarint(out, dseq);
  putUvarint(out, sseq);
  return Buffer.from(out);
}

export function decodeAckUpdate(buf: Buffer): { dseq: number; sseq: number } {
  const [dseq, n1] = readUvarint(buf, 0);
  if (n1 <= 0) throw new ConsumerOpError('jetstream cluster bad replicated ack update');
  const [sseq, n2] = readUvarint(buf, n1);
  if (n2 <= 0) throw new ConsumerOpError('jetstream cluster bad replicated ack update');
  return { dseq, sseq };
}

export function encodeSkipUpdate(sseq: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = updateSkipOp;
  b.writeBigUInt64LE(BigInt(sseq), 1);
  return b;
}

export function decodeSkipUpdate(buf: Buffer): number {
  if (buf.length < 8) throw new ConsumerOpError('jetstream cluster bad skip update');
  return Number(buf.readBigUInt64LE(0));
}

export function encodePendingRequest(add: boolean, reply: string): Buffer {
  return Buffer.concat([Buffer.from([add ? addPendingRequest : removePendingRequest]), Buffer.from(reply, 'latin1')]);
}

/** store.go ConsumerState. Timestamps in ns. */
export interface ConsumerState {
  delivered: { consumer: number; stream: number };
  ackFloor: { consumer: number; stream: number };
  /** stream sequence -> { consumer sequence, delivery time } */
  pending: Map<number, { sequence: number; timestamp: number }>;
  /** stream sequence -> times redelivered */
  redelivered: Map<number, number>;
}

export function emptyConsumerState(): ConsumerState {
  return { delivered: { consumer: 0, stream: 0 }, ackFloor: { consumer: 0, stream: 0 }, pending: new Map(), redelivered: new Map() };
}

/** filestore.go magic / consumer state version. */
const CONSUMER_MAGIC = 22;

/** store.go encodeConsumerState (version 2). `nowSec` is the base time (now, rounded to seconds). */
export function encodeConsumerState(st: ConsumerState, nowSec = Math.round(Date.now() / 1000)): Buffer {
  const out: number[] = [CONSUMER_MAGIC, 2];
  putUvarint(out, st.ackFloor.consumer);
  putUvarint(out, st.ackFloor.stream);
  putUvarint(out, st.delivered.consumer);
  putUvarint(out, st.delivered.stream);
  putUvarint(out, st.pending.size);
  const asflr = st.ackFloor.stream;
  const adflr = st.ackFloor.consumer;
  if (st.pending.size > 0) {
    putVarint(out, nowSec);
    for (const [sseq, p] of st.pending) {
      putUvarint(out, sseq - asflr);
      putUvarint(out, p.sequence - adflr);
      putVarint(out, nowSec - Math.trunc(p.timestamp / 1e9));
    }
  }
  putUvarint(out, st.redelivered.size);
  for (const [sseq, n] of st.redelivered) {
    putUvarint(out, sseq - asflr);
    putUvarint(out, n);
  }
  return Buffer.from(out);
}

/** filestore.go decodeConsumerState (versions 1 and 2). */
export function decodeConsumerState(buf: Buffer): ConsumerState {
  if (buf.length < 2 || buf[0] !== CONSUMER_MAGIC) throw new ConsumerOpError('consumer state corrupt');
  const version = buf[1];
  if (version !== 1 && version !== 2) throw new ConsumerOpError(`unsupported version: ${version}`);
  let bi = 2;
  const seq = (): number => {
    const [v, n] = readUvarint(buf, bi);
    if (n <= 0) throw new ConsumerOpError('consumer state corrupt');
    bi += n;
    return v;
  };
  const tsv = (): number => {
    const [v, n] = readVarint(buf, bi);
    if (n <= 0) throw new ConsumerOpError('consumer state corrupt');
    bi += n;
    return v;
  };
  const st = emptyConsumerState();
  st.ackFloor.consumer = seq();
  st.ackFloor.stream = seq();
  st.delivered.consumer = seq();
  st.delivered.stream = seq();
  if (version === 1) {
    if (st.ackFloor.consumer > 1) st.delivered.consumer += st.ackFloor.consumer - 1;
    if (st.ackFloor.stream > 1) st.delivered.stream += st.ackFloor.stream - 1;
  }
  const numPending = seq();
  if (numPending > 0) {
    const mints = tsv();
    for (let i = 0; i < numPending; i++) {
      let sseq = seq();
      let dseq = 0;
      if (version === 2) dseq = seq();
      let ts = tsv();
      sseq += st.ackFloor.stream;
      if (sseq === 0) throw new ConsumerOpError('consumer state corrupt');
      if (version === 2) dseq += st.ackFloor.consumer;
      ts = version === 1 ? (ts + mints) * 1e9 : (mints - ts) * 1e9;
      st.pending.set(sseq, { sequence: dseq, timestamp: ts });
    }
  }
  if (bi < buf.length) {
    const numRedelivered = seq();
    for (let i = 0; i < numRedelivered; i++) {
      const s = seq() + st.ackFloor.stream;
      const n = seq();
      if (s > 0 && n > 0) st.redelivered.set(s, n);
    }
  }
  return st;
}

export type AckPolicy = 'none' | 'all' | 'explicit';

/**
 * A follower's copy of a consumer's state, updated by the replicated ops exactly as nats-server's
 * consumerFileStore.UpdateDelivered / UpdateAcks update it, so leader and followers agree.
 */
export class ReplicatedConsumerState {
  state: ConsumerState = emptyConsumerState();
  /** Highest stream sequence skipped by a filtered consumer (updateSkipOp). */
  skipSeq = 0;
  /** Pull requests the leader is holding (reply subjects). */
  readonly pendingRequests = new Set<string>();
  readonly ackPolicy: AckPolicy;

  constructor(ackPolicy: AckPolicy) {
    this.ackPolicy = ackPolicy;
  }

  /** Applies one normal entry; returns false for an op this layer does not know. */
  apply(entry: Buffer): boolean {
    const body = entry.subarray(1);
    switch (entry[0]) {
      case updateDeliveredOp: {
        const d = decodeDeliveredUpdate(body);
        this.updateDelivered(d.dseq, d.sseq, d.dc, Number(d.ts));
        return true;
      }
      case updateAcksOp: {
        const a = decodeAckUpdate(body);
        this.updateAcks(a.dseq, a.sseq);
        return true;
      }
      case updateSkipOp: {
        const s = decodeSkipUpdate(body);
        if (s > this.skipSeq) this.skipSeq = s;
        return true;
      }
      case addPendingRequest:
        this.pendingRequests.add(body.toString('latin1'));
        return true;
      case removePendingRequest:
        this.pendingRequests.delete(body.toString('latin1'));
        return true;
      default:
        return false;
    }
  }

  /** A snapshot entry replaces the state. */
  applySnapshot(buf: Buffer): void {
    this.state = decodeConsumerState(buf);
  }

  updateDelivered(dseq: number, sseq: number, dc: number, ts: number): void {
    const st = this.state;
    if (dc !== 1 && this.ackPolicy === 'none') return;
    if (dseq <= st.ackFloor.consumer) return;
    if (this.ackPolicy !== 'none') {
      if (sseq <= st.delivered.stream) {
        const p = st.pending.get(sseq);
        if (p) {
          p.sequence = dseq;
          p.timestamp = ts;
        }
      } else st.pending.set(sseq, { sequence: dseq, timestamp: ts });
      if (dseq > st.delivered.consumer) st.delivered.consumer = dseq;
      if (sseq > st.delivered.stream) st.delivered.stream = sseq;
      if (dc > 1) st.redelivered.set(sseq, dc - 1);
    } else {
      st.delivered.consumer = dseq;
      st.delivered.stream = sseq;
      st.ackFloor.consumer = dseq;
      st.ackFloor.stream = sseq;
    }
  }

  updateAcks(dseq: number, sseq: number): void {
    const st = this.state;
    if (this.ackPolicy === 'none') return;
    if (st.pending.size === 0 || !st.pending.has(sseq)) return;
    if (dseq <= st.ackFloor.consumer) return;
    if (this.ackPolicy === 'all') {
      const sgap = sseq - st.ackFloor.stream;
      st.ackFloor.consumer = dseq;
      st.ackFloor.stream = sseq;
      for (let s = sseq; s > sseq - sgap; s--) {
        st.pending.delete(s);
        st.redelivered.delete(s);
      }
      return;
    }
    const p = st.pending.get(sseq);
    if (p) {
      st.pending.delete(sseq);
      dseq = p.sequence;
    }
    st.redelivered.delete(sseq);
    if (st.pending.size === 0) {
      st.ackFloor.consumer = st.delivered.consumer;
      st.ackFloor.stream = st.delivered.stream;
    } else if (dseq === st.ackFloor.consumer + 1) {
      const first = st.ackFloor.consumer === 0;
      st.ackFloor.consumer = dseq;
      st.ackFloor.stream = sseq;
      if (!first && st.delivered.consumer > dseq) {
        for (let ss = sseq + 1; ss < st.delivered.stream; ss++) {
          const q = st.pending.get(ss);
          if (q) {
            if (q.sequence > 0) {
              st.ackFloor.consumer = q.sequence - 1;
              st.ackFloor.stream = ss - 1;
            }
            break;
          }
        }
      }
    }
  }
}
