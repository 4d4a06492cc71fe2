// A shard's link to one peer (another shard, later the JetStream worker): the outbound ring it
// produces into, the inbound ring it drains, and the codec of the two frame kinds they carry.
//
// Frames (body layout, little-endian):
//   MSG       u8 kind=1 | u8 flags (1: deliver to plain subscribers; 2: DELIVER, see below; 4: FROM_ROUTE,
//             the message came in from a cluster route: deliver to local subscribers only, never to a
//             route again) | u16 ngroups |
//             u16 subjectLen | u16 replyLen | i32 hdrLen (-1: none) | u32 size | u16 account |
//             u16 routeLen (0 unless DELIVER) | subject | reply | [route subject] |
//             ngroups x (u16 len | queue name) | payload (headers included)
//             DELIVER (JetStream deliveries): matched against the route subject (an inbox or deliver
//             subject) while the MSG line shows `subject`, the stream message's own.
//   INTEREST  u8 kind=2 | u8 flags (1: ROUTE, interest of a cluster route hosted by the sender, not of
//             its own subscribers; 2: ANNOUNCE, the JetStream worker's interest that the cluster must
//             hear, as a clustered JetStream's) | u16 account | i32 delta | u16 subjectLen | u16 queueLen |
//             subject | queue
//   RESPONSE  u8 kind=3 | u8 flags (1: stream response; 2: answered, forget the token) | u16 account | u16 into account | u16 tokenLen | u16 replyLen | u16 0 |
//             token | reply      (a service import's reply mapping, before the request it serves)
//
// Interest travels in the same ring as messages, so a peer never sees a message that depends on an
// interest change (a request whose reply inbox was just subscribed) before the change itself.
// When the ring is full, frames queue in `overflow` (in order) and the shard stops reading its
// sockets until they are in; the inbound side is always drained, so two full rings cannot deadlock.

import { RingConsumer, RingProducer } from '../ring/ring.js';
import type { MsgArgs } from './msg.js';
import { copyBytes } from '../protocol/wire.js';
import type { RouteConnection } from '../cluster/route-conn.js';

export const FrameKind = { MSG: 1, INTEREST: 2, RESPONSE: 3 } as const;
export const MsgFlags = { PLAIN: 1, DELIVER: 2, FROM_ROUTE: 4 } as const;
/**
 * ROUTE: a route's interest, hosted by the sender. ANNOUNCE: the JetStream worker's interest that routes
 * are told of (clustered JetStream: $NRG, $JSC, the system account's $JS.API.>, stream leaders' subjects);
 * its other interest (the API, ack and flow-control wildcards of each account) serves local clients only.
 */
export const InterestFlags = { ROUTE: 1, ANNOUNCE: 2 } as const;

/**
 * Where a message goes besides local subscribers: another peer (a ring) or a cluster route hosted by
 * this shard (a socket). Holds the per-message routing scratch (reset after each message), so
 * routing allocates nothing: whether plain subscribers there want it, and the queue groups it was
 * chosen for (nats-server's routeTarget).
 */
export class ForwardTarget {
  touched = false;
  plain = false;
  ngroups = 0;
  readonly groups: Buffer[] = [];
  readonly peer: Peer | null;
  readonly route: RouteConnection | null;

  constructor(peer: Peer | null, route: RouteConnection | null) {
    this.peer = peer;
    this.route = route;
  }
}
export const MSG_HEADER = 20;
export const INTEREST_HEADER = 12;
export const RESPONSE_HEADER = 12;

/** Interest of a peer in a subject (and queue group): lives in the shard's sublist beside local subs. */
export class RemoteInterest {
  /** Always null: tells remote entries from local Subscriptions in a match result. */
  readonly conn: null = null;
  readonly subject: string;
  readonly queue: string | null;
  readonly queueBytes: Buffer | null;
  /** The peer's id; -1 for a route's interest. */
  readonly peer: number;
  /** Index of the account whose sublist holds this entry. */
  readonly acc: number;
  /** Number of the peer's subscriptions behind this entry (queue members weight the choice). */
  weight = 0;
  /**
   * The part of `weight` that is the peer's own subscribers (not routes it hosts): what a message
   * that came in from a route may go to, and what this server tells the cluster it has.
   */
  localWeight = 0;
  /** Where matching messages are sent. */
  readonly target: ForwardTarget;

  constructor(subject: string, queue: string | null, peer: number, acc: number, target: ForwardTarget) {
    this.subject = subject;
    this.queue = queue;
    this.queueBytes = queue === null ? null : Buffer.from(queue, 'latin1');
    this.peer = peer;
    this.acc = acc;
    this.target = target;
  }
}

export interface PeerRings {
  id: number;
  /** Ring this side produces into. */
  out: SharedArrayBuffer;
  /** Ring this side consumes. */
  in: SharedArrayBuffer;
  /** The bell of peer `id`, the consumer of `out` (src/ring/waiter.ts); absent: ring-word doorbell. */
  bell?: SharedArrayBuffer;
  /** This side's own bell (the same in every entry of one thread). */
  ownBell?: SharedArrayBuffer;
}

export class Peer {
  readonly id: number;
  out: RingProducer;
  in: RingConsumer;
  /** Bumped when the peer is replaced (it died and restarted): pending barriers on it are void. */
  generation = 0;
  /** Frames enqueued towards this peer (ring or overflow), wrapping at 2^32. */
  enqueued = 0;
  readonly overflow: Buffer[] = [];
  /** Remote interest entries by `subject\0queue`. */
  readonly interest = new Map<string, RemoteInterest>();
  // Per-message routing scratch (reset after each message): no allocation per message.
  touched = false;
  plain = false;
  ngroups = 0;
  readonly groups: Buffer[] = [];
  /** The shard's routing scratch for this peer (the JetStream link uses the fields above). */
  readonly target: ForwardTarget = new ForwardTarget(this, null);

  constructor(rings: PeerRings) {
    this.id = rings.id;
    this.out = new RingProducer(rings.out, rings.bell ?? null);
    this.in = new RingConsumer(rings.in);
  }

  /** Replaces both rings (the peer restarted); the old inbound consumer is told to stop waiting. */
  reset(rings: PeerRings): void {
    this.in.close();
    this.out = new RingProducer(rings.out, rings.bell ?? null);
    this.in = new RingConsumer(rings.in);
    this.overflow.length = 0;
    this.enqueued = this.out.committed;
    this.generation++;
  }

  /** Reserves `len` bytes for a frame body: an offset into `out.data`, or -1 to use `overflowFrame`. */
  reserve(len: number): number {
    if (this.overflow.length > 0) return -1;
    return this.out.reserve(len);
  }

  /** Moves queued frames into the ring, in order; true when none are left. */
  drainOverflow(): boolean {
    const q = this.overflow;
    let i = 0;
    for (; i < q.length; i++) {
      const f = q[i]!;
      const at = this.out.reserve(f.length);
      if (at < 0) break;
      f.copy(this.out.data, at);
      this.out.commit(f.length);
    }
    if (i > 0) q.splice(0, i);
    this.out.publish();
    return q.length === 0;
  }
}

/** Routing scratch for one message: plain interest and the queue groups chosen. */
interface Scratch {
  plain: boolean;
  ngroups: number;
  readonly groups: Buffer[];
}

/**
 * Bytes of a MSG frame body for this message and the groups chosen for the peer; `re - rs` the
 * length of a DELIVER frame's route subject (0 for a plain MSG).
 */
export function msgFrameSize(m: MsgArgs, start: number, end: number, peer: Scratch, rs = 0, re = 0): number {
  let n = MSG_HEADER + (m.paSubjectEnd - m.paSubjectStart) + (m.paReplyStart >= 0 ? m.paReplyEnd - m.paReplyStart : 0) + (re - rs) + (end - start);
  for (let g = 0; g < peer.ngroups; g++) n += 2 + peer.groups[g]!.length;
  return n;
}

/**
 * `flags`: extra MsgFlags (FROM_ROUTE). With `rs < re`, a DELIVER frame: routed by m.paBuf[rs, re)
 * (a JetStream delivery that came in over a route), shown with m's subject.
 */
export function writeMsgFrame(o: Buffer, at: number, m: MsgArgs, buf: Buffer, start: number, end: number, peer: Scratch, acc: number, flags = 0, rs = 0, re = 0): void {
  const sb = m.paBuf;
  const subjLen = m.paSubjectEnd - m.paSubjectStart;
  const replyLen = m.paReplyStart >= 0 ? m.paReplyEnd - m.paReplyStart : 0;
  o[at] = FrameKind.MSG;
  o[at + 1] = (peer.plain ? MsgFlags.PLAIN : 0) | flags | (re > rs ? MsgFlags.DELIVER : 0);
  o.writeUInt16LE(peer.ngroups, at + 2);
  o.writeUInt16LE(subjLen, at + 4);
  o.writeUInt16LE(replyLen, at + 6);
  o.writeInt32LE(m.paHdr, at + 8);
  o.writeUInt32LE(end - start, at + 12);
  o.writeUInt16LE(acc, at + 16);
  o.writeUInt16LE(re - rs, at + 18);
  // copyBytes, not Buffer#copy: the flamegraph of 1:1 across shards showed Buffer#copy's per-call
  // view creation (_copyActual) as the hottest frame for these 10-20 byte runs.
  let pos = copyBytes(o, at + MSG_HEADER, sb, m.paSubjectStart, m.paSubjectEnd);
  if (replyLen > 0) pos = copyBytes(o, pos, sb, m.paReplyStart, m.paReplyEnd);
  if (re > rs) pos = copyBytes(o, pos, sb, rs, re);
  for (let g = 0; g < peer.ngroups; g++) {
    const q = peer.groups[g]!;
    o.writeUInt16LE(q.length, pos);
    pos = copyBytes(o, pos + 2, q, 0, q.length);
  }
  copyBytes(o, pos, buf, start, end);
}

/** Where a peer's interest entries live: the sublist of each account (by index). */
export interface InterestIndex {
  insert(ri: RemoteInterest): void;
  remove(ri: RemoteInterest): boolean;
}

/**
 * A peer's INTEREST frame at `buf[s]`: keeps the peer's weight per (account, subject, queue) in that
 * account's sublist (an entry appears at the first subscription and goes with the last).
 */
export function applyInterestFrame(peer: Peer, buf: Buffer, s: number, sublistOf: (acc: number) => InterestIndex | undefined): void {
  const acc = buf.readUInt16LE(s + 2);
  const sl = sublistOf(acc);
  if (sl === undefined) return;
  const delta = buf.readInt32LE(s + 4);
  const local = (buf[s + 1]! & InterestFlags.ROUTE) === 0;
  const subjLen = buf.readUInt16LE(s + 8);
  const ql = buf.readUInt16LE(s + 10);
  const subject = buf.toString('latin1', s + INTEREST_HEADER, s + INTEREST_HEADER + subjLen);
  const queue = ql > 0 ? buf.toString('latin1', s + INTEREST_HEADER + subjLen, s + INTEREST_HEADER + subjLen + ql) : null;
  const key = `${acc}\0${subject}\0${queue ?? ''}`;
  let ri = peer.interest.get(key);
  if (ri === undefined) {
    if (delta <= 0) return;
    ri = new RemoteInterest(subject, queue, peer.id, acc, peer.target);
    ri.weight = delta;
    if (local) ri.localWeight = delta;
    peer.interest.set(key, ri);
    sl.insert(ri);
    return;
  }
  ri.weight += delta;
  if (local) ri.localWeight += delta;
  if (ri.weight <= 0) {
    peer.interest.delete(key);
    sl.remove(ri);
  }
}

/** `flags`: InterestFlags (ROUTE for the interest of a route this shard hosts). */
export function interestFrame(acc: number, subject: string, queue: string | null, delta: number, flags = 0): Buffer {
  const s = Buffer.from(subject, 'latin1');
  const q = queue === null ? null : Buffer.from(queue, 'latin1');
  const f = Buffer.allocUnsafe(INTEREST_HEADER + s.length + (q?.length ?? 0));
  f[0] = FrameKind.INTEREST;
  f[1] = flags;
  f.writeUInt16LE(acc, 2);
  f.writeInt32LE(delta, 4);
  f.writeUInt16LE(s.length, 8);
  f.writeUInt16LE(q?.length ?? 0, 10);
  s.copy(f, INTEREST_HEADER);
  if (q !== null) q.copy(f, INTEREST_HEADER + s.length);
  return f;
}

export function responseFrame(acc: number, into: number, token: string, reply: string, stream = false, answered = false): Buffer {
  const t = Buffer.from(token, 'latin1');
  const r = Buffer.from(reply, 'latin1');
  const f = Buffer.allocUnsafe(RESPONSE_HEADER + t.length + r.length);
  f[0] = FrameKind.RESPONSE;
  f[1] = (stream ? 1 : 0) | (answered ? 2 : 0);
  f.writeUInt16LE(acc, 2);
  f.writeUInt16LE(into, 4);
  f.writeUInt16LE(t.length, 6);
  f.writeUInt16LE(r.length, 8);
  f.writeUInt16LE(0, 10);
  t.copy(f, RESPONSE_HEADER);
  r.copy(f, RESPONSE_HEADER + t.length);
  return f;
}
