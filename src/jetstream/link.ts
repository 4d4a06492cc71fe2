// The JetStream worker's side of the rings (DESIGN.md: "JetStream worker is one more peer on the same
// rings, behaving like an internal client"). It speaks the frames of src/shard/peer.ts:
//   - INTEREST frames from shards build, per account, a sublist of which shard wants which subject,
//     so replies, acks and deliveries go only to shards with interest (queue groups: one member
//     server-wide, peers weighted by their member counts, as a shard chooses);
//   - MSG frames from shards are the messages JetStream subscribed to (API requests, stream
//     subjects, acks); they are handed to the engine as views of ring memory;
//   - the engine's own subscriptions go to every shard as INTEREST frames, reference-counted here.
// Like a shard, it never stops draining its inbound rings; frames that do not fit an outbound ring
// wait in order in the peer's overflow list and are moved in as the shard drains.

import { Sublist, headEquals, type SublistResult } from '../sublist/sublist.js';
import { FrameKind, MSG_HEADER, MsgFlags, Peer, applyInterestFrame, interestFrame, responseFrame, type PeerRings, type RemoteInterest } from '../shard/peer.js';
import type { Logger } from '../log.js';
import type { AckReplyPrefix, JsHost, JsInbound } from './types.js';
import type { CrossAccount } from './cross-account.js';
import type { RingConsumer } from '../ring/ring.js';
import { RingWaiter, pollOptions, type RingHost } from '../ring/waiter.js';
import { copyBytes, uintLen, writeLatin1, writeUint, writeUintAny } from '../protocol/wire.js';

/** Most bytes of one inbound ring handled per event-loop turn. */
const DRAIN_SLICE = 256 * 1024;
/** Publish the rings at least every this many messages within one turn. */
const PUBLISH_EVERY = 64;
/** Most account boundaries one message crosses (import chains). */
const MAX_CROSSINGS = 4;

/**
 * Longest time (µs) the worker keeps turning its event loop after the last ring frame before it
 * sleeps (src/ring/waiter.ts; the window adapts): a synchronous publisher's next message then
 * finds it awake.
 */
const JS_POLL_US = 200;

/** A subscription of the engine as the shards know it (reference-counted). */
interface OwnEntry {
  readonly acc: number;
  readonly subject: string;
  readonly queue: string | null;
  readonly flags: number;
  n: number;
}

/** One of the engine's own subscriptions, in the per-account sublist that drives the loopback. */
interface OwnSub {
  readonly subject: string;
  readonly queue: null;
}

/**
 * The engine's own interest per account: what it publishes that it also listens to (an API request
 * of a mirror's, an answer to its inbox, a republish onto a stream's subject) comes back to it, as
 * an internal client's message does in nats-server. A first-character filter keeps the common case
 * (inbox replies, deliveries to clients) at one array read.
 */
class OwnInterest {
  readonly sublist = new Sublist<OwnSub>();
  readonly first = new Uint32Array(256);
  wild = 0;

  add(sub: OwnSub): void {
    this.sublist.insert(sub);
    const c = sub.subject.charCodeAt(0);
    if ((c === 42 || c === 62) && (sub.subject.length === 1 || sub.subject.charCodeAt(1) === 46)) this.wild++;
    else this.first[c & 255]!++;
  }

  remove(sub: OwnSub): void {
    this.sublist.remove(sub);
    const c = sub.subject.charCodeAt(0);
    if ((c === 42 || c === 62) && (sub.subject.length === 1 || sub.subject.charCodeAt(1) === 46)) this.wild--;
    else this.first[c & 255]!--;
  }

  matches(subject: string): boolean {
    if (this.wild === 0 && this.first[subject.charCodeAt(0) & 255] === 0) return false;
    return this.sublist.match(subject).psubs.length > 0;
  }
}

export class JsLink implements JsHost, RingHost {
  readonly log: Logger;
  /** Where received messages go (set by the worker once the engine exists). */
  onMessage: (m: JsInbound) => void = () => {};
  /**
   * A message to `$JS.ACK.…` without a reply, straight from the frame's bytes (subject at
   * buf[subj, subj + subjLen), body at buf[data, end)): true when handled, false to take the general
   * path (onMessage). Acks are half of a pull consumer's traffic; this skips their strings.
   */
  onAck: ((acc: number, buf: Buffer, subj: number, subjLen: number, data: number, end: number) => boolean) | null = null;
  private readonly peers: (Peer | undefined)[] = [];
  private readonly peerList: Peer[] = [];
  /** Per account index: the shards' interest. */
  private readonly sublists: Sublist<RemoteInterest>[] = [];
  /** This engine's subscriptions: `acc\0subject\0queue\0flags` → the entry and its reference count. */
  private readonly subs = new Map<string, OwnEntry>();
  private readonly inbound: JsInbound = { acc: 0, subject: '', reply: null, hdr: null, data: Buffer.alloc(0), to: null, fromRoute: false, queued: false };
  private currentPeer: Peer | null = null;
  private publishPending = false;
  /** Messages written since the rings were last published. */
  private unpublished = 0;
  private overflowTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly onFrameBound = (buf: Buffer, s: number, len: number): void => this.onFrame(buf, s, len);
  private readonly picks: Peer[] = [];
  private readonly sublistOfBound = (acc: number): Sublist<RemoteInterest> | undefined => this.sublists[acc];
  private readonly localInterestBound = (acc: number, subject: string): boolean => this.localInterest(acc, subject);
  /** Cross-account routing of what this worker publishes (set by the worker when accounts import). */
  cross: CrossAccount | null = null;
  /** Per account index: the engine's own subscriptions (loopback). */
  private readonly own: OwnInterest[] = [];
  private readonly ownSubs = new Map<string, OwnSub>();
  private loopQueue: JsInbound[] = [];
  private loopScheduled = false;
  private readonly drainLoopBound = (): void => this.drainLoop();
  private ringIns: RingConsumer[] = [];
  private waiter: RingWaiter | null = null;

  constructor(peers: PeerRings[], accounts: number, log: Logger) {
    this.log = log;
    for (let i = 0; i < accounts; i++) {
      this.sublists.push(new Sublist<RemoteInterest>());
      this.own.push(new OwnInterest());
    }
    for (const rings of peers) {
      const peer = new Peer(rings);
      this.peers[rings.id] = peer;
      this.peerList.push(peer);
    }
    this.ringIns = this.peerList.map((p) => p.in);
    if (peers.length > 0) {
      const bell = peers[0]!.ownBell;
      if (bell === undefined) throw new Error('jetstream: peer rings without a bell');
      this.waiter = new RingWaiter(this, bell, pollOptions(JS_POLL_US, 0, 'JS'));
    }
  }

  /** A reply token made here for a request into another account's service: the shards learn it. */
  announceResponse(exporter: number, importer: number, token: string, reply: string, stream: boolean): void {
    this.broadcast(responseFrame(exporter, importer, token, reply, stream));
  }

  /** Starts draining every inbound ring. */
  start(): void {
    this.waiter?.kick();
  }

  close(): void {
    this.closing = true;
    for (const peer of this.peerList) peer.in.close();
    this.waiter?.close();
    if (this.overflowTimer !== null) clearTimeout(this.overflowTimer);
  }

  // ---- JsHost ------------------------------------------------------------------------------------

  /**
   * `flags`: InterestFlags.ANNOUNCE for interest the cluster must hear (clustered JetStream);
   * `queue`: a queue group (direct gets answered by one stream member, nats-server's `_sys_`).
   */
  subscribe(acc: number, subject: string, flags = 0, queue: string | null = null): void {
    const key = `${acc}\0${subject}\0${queue ?? ''}\0${flags}`;
    const e = this.subs.get(key);
    if (e !== undefined) {
      e.n++;
      return;
    }
    this.subs.set(key, { acc, subject, queue, flags, n: 1 });
    const own = this.own[acc];
    if (own !== undefined) {
      const sub: OwnSub = { subject, queue: null };
      this.ownSubs.set(key, sub);
      own.add(sub);
    }
    this.broadcast(interestFrame(acc, subject, queue, 1, flags));
  }

  unsubscribe(acc: number, subject: string, flags = 0, queue: string | null = null): void {
    const key = `${acc}\0${subject}\0${queue ?? ''}\0${flags}`;
    const e = this.subs.get(key);
    if (e === undefined) return;
    if (e.n > 1) {
      e.n--;
      return;
    }
    this.subs.delete(key);
    const sub = this.ownSubs.get(key);
    if (sub !== undefined) {
      this.ownSubs.delete(key);
      this.own[acc]?.remove(sub);
    }
    this.broadcast(interestFrame(acc, subject, queue, -1, flags));
  }

  hasInterest(acc: number, subject: string): boolean {
    if (this.localInterest(acc, subject)) return true;
    // Shadow interest: an account importing this subject (or awaiting an answer on it) wants it.
    return this.cross !== null && this.cross.hasInterest(acc, subject, this.localInterestBound);
  }

  /** Some shard's client, or the engine itself, wants subject in acc. */
  private localInterest(acc: number, subject: string): boolean {
    const sl = this.sublists[acc];
    if (sl === undefined) return false;
    const r = sl.match(subject);
    if (r.psubs.length > 0 || r.qsubs.length > 0) return true;
    return this.own[acc]!.matches(subject);
  }

  publish(acc: number, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void {
    this.send(acc, subject, null, reply, hdr, data);
  }

  /**
   * To the shards (their clients and routes) only: never back to this worker's own subscriptions, and
   * no import crossing. RAFT traffic goes so (raft.go's send queue client has noIcb set).
   */
  publishOut(acc: number, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void {
    this.sendLocal(acc, subject, null, reply, hdr, data);
  }

  /** Routes by `to` (a deliver subject or inbox) while the MSG line shows `subject`. */
  deliver(acc: number, to: string, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void {
    if (to === subject) this.send(acc, subject, null, reply, hdr, data);
    else this.send(acc, subject, to, reply, hdr, data);
  }

  /**
   * deliver() with a consumer's ack reply given as its parts: written into the ring frame as digits.
   * Only when no engine subscription and no other account can want the message (else the reply is
   * needed as a string: the general path).
   */
  deliverAck(acc: number, to: string, subject: string, prefix: AckReplyPrefix, dc: number, sseq: number, dseq: number, tsNs: number, pending: number, hdr: Buffer | null, data: Buffer | null): void {
    const route = to === subject ? null : to;
    const own = this.own[acc];
    if ((own !== undefined && own.matches(to)) || (this.cross !== null && this.cross.touches(acc))) {
      const b = Buffer.allocUnsafe(prefix.bytes.length + 4 * 20);
      const end = writeAckReply(b, 0, prefix.bytes, dc, sseq, dseq, tsNs, pending);
      this.send(acc, subject, route, b.toString('latin1', 0, end), hdr, data);
      return;
    }
    const n = this.ackNums;
    n[0] = dc;
    n[1] = sseq;
    n[2] = dseq;
    n[3] = tsNs;
    n[4] = pending;
    this.ackPrefix = prefix;
    try {
      this.sendLocal(acc, subject, route, null, hdr, data);
    } finally {
      this.ackPrefix = null;
    }
  }

  /** deliverAck's reply for the sendLocal in progress (null: sendLocal's reply argument is the reply). */
  private ackPrefix: AckReplyPrefix | null = null;
  private readonly ackNums = new Float64Array(5);

  private send(acc: number, subject: string, to: string | null, reply: string | null, hdr: Buffer | null, data: Buffer | null, depth = 0): void {
    this.sendLocal(acc, subject, to, reply, hdr, data);
    const own = this.own[acc];
    if (own !== undefined && own.matches(to ?? subject)) this.loopback(acc, subject, to, reply, hdr, data);
    // Imports and reply tokens: copies into other accounts (a bounded chain, never a loop). Checked
    // first: the callback below is an allocation per message.
    if (this.cross !== null && depth < MAX_CROSSINGS && this.cross.touches(acc)) {
      const answered = this.cross.forward(acc, subject, to, reply, (into, s, t, r) => this.send(into, s, t === s ? null : t, r, hdr, data, depth + 1));
      // The shards keep every reply token until it is answered or expires: tell them this one was.
      if (answered !== null) this.broadcast(responseFrame(acc, answered.into, answered.token, answered.reply, false, true));
    }
  }

  /** The engine's own message for one of its own subscriptions: handed back on a later turn. */
  private loopback(acc: number, subject: string, to: string | null, reply: string | null, hdr: Buffer | null, data: Buffer | null): void {
    // Same shape as ring messages (one hidden class through onMessage).
    this.loopQueue.push({ acc, subject, reply, hdr: hdr === null ? null : Buffer.from(hdr), data: data === null ? Buffer.alloc(0) : Buffer.from(data), to, fromRoute: false, queued: false });
    if (!this.loopScheduled) {
      this.loopScheduled = true;
      setImmediate(this.drainLoopBound);
    }
  }

  private drainLoop(): void {
    this.loopScheduled = false;
    const q = this.loopQueue;
    this.loopQueue = [];
    for (const m of q) {
      if (this.closing) return;
      try {
        this.onMessage(m);
      } catch (err) {
        this.log.error({ err: err instanceof Error ? err.stack : String(err), subject: m.subject }, 'JetStream failed to handle an internal message');
      }
    }
  }

  /** Routes to the shards whose clients want it (by `to` when given, showing `subject`). */
  private sendLocal(acc: number, subject: string, to: string | null, reply: string | null, hdr: Buffer | null, data: Buffer | null): void {
    const sl = this.sublists[acc];
    if (sl === undefined) return;
    const r = sl.match(to ?? subject);
    if (r.psubs.length === 0 && r.qsubs.length === 0) return;
    const picks = this.choosePeers(r);
    if (picks === 0) return;
    // latin1: one byte per char code.
    const subjLen = subject.length;
    const ap = this.ackPrefix;
    const an = this.ackNums;
    const replyLen = ap !== null ? ackReplyLen(ap.bytes, an[0]!, an[1]!, an[2]!, an[3]!, an[4]!) : reply === null ? 0 : reply.length;
    const toLen = to === null ? 0 : to.length;
    const hdrLen = hdr === null ? 0 : hdr.length;
    const dataLen = data === null ? 0 : data.length;
    for (let i = 0; i < picks; i++) {
      const peer = this.picks[i]!;
      let len = MSG_HEADER + subjLen + replyLen + toLen + hdrLen + dataLen;
      for (let g = 0; g < peer.ngroups; g++) len += 2 + peer.groups[g]!.length;
      let at = peer.reserve(len);
      let o: Buffer;
      let frame: Buffer | null = null;
      if (at >= 0) o = peer.out.data;
      else {
        frame = Buffer.allocUnsafe(len);
        o = frame;
        at = 0;
      }
      o[at] = FrameKind.MSG;
      o[at + 1] = (peer.plain ? MsgFlags.PLAIN : 0) | (to === null ? 0 : MsgFlags.DELIVER);
      o.writeUInt16LE(peer.ngroups, at + 2);
      o.writeUInt16LE(subjLen, at + 4);
      o.writeUInt16LE(replyLen, at + 6);
      o.writeInt32LE(hdr === null ? -1 : hdrLen, at + 8);
      o.writeUInt32LE(hdrLen + dataLen, at + 12);
      o.writeUInt16LE(acc, at + 16);
      o.writeUInt16LE(toLen, at + 18);
      let pos = at + MSG_HEADER;
      pos = writeLatin1(o, pos, subject);
      if (ap !== null) pos = writeAckReply(o, pos, ap.bytes, an[0]!, an[1]!, an[2]!, an[3]!, an[4]!);
      else if (reply !== null) pos = writeLatin1(o, pos, reply);
      if (to !== null) pos = writeLatin1(o, pos, to);
      for (let g = 0; g < peer.ngroups; g++) {
        const q = peer.groups[g]!;
        o.writeUInt16LE(q.length, pos);
        pos += 2 + q.copy(o, pos + 2);
      }
      if (hdr !== null) pos += hdr.copy(o, pos);
      if (data !== null) data.copy(o, pos);
      if (frame === null) peer.out.commit(len);
      else this.overflow(peer, frame);
      peer.enqueued = (peer.enqueued + 1) | 0;
      peer.touched = false;
      peer.plain = false;
      peer.ngroups = 0;
    }
    this.schedulePublish();
  }

  /** True while some shard's ring is full (frames waiting in overflow): deliveries should wait. */
  congested(): boolean {
    for (const p of this.peerList) if (p.overflow.length > 0) return true;
    return false;
  }

  // ---- peers -------------------------------------------------------------------------------------

  /** A shard was replaced: forget its interest, take the new rings, tell it this engine's interest. */
  resetPeer(rings: PeerRings): void {
    const peer = this.peers[rings.id];
    if (peer === undefined) return;
    for (const ri of peer.interest.values()) this.sublists[ri.acc]?.remove(ri);
    peer.interest.clear();
    peer.reset(rings);
    this.ringIns = this.peerList.map((p) => p.in);
    // Weight 1 per entry, as subscribe() told the shards (only the first and the last count change it).
    for (const e of this.subs.values()) this.enqueue(peer, interestFrame(e.acc, e.subject, e.queue, 1, e.flags));
    this.schedulePublish();
    this.waiter?.kick();
  }

  /** Picks the shards a message goes to (plain interest, and one member per queue group). */
  private choosePeers(r: SublistResult<RemoteInterest>): number {
    let n = 0;
    const psubs = r.psubs;
    for (let i = 0; i < psubs.length; i++) {
      const peer = this.peers[psubs[i]!.peer];
      if (peer === undefined) continue;
      peer.plain = true;
      if (!peer.touched) {
        peer.touched = true;
        this.picks[n++] = peer;
      }
    }
    const qsubs = r.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const members = qsubs[g]!;
      let total = 0;
      for (let k = 0; k < members.length; k++) total += members[k]!.weight;
      let pick = Math.random() * total;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        pick -= q.weight;
        if (pick >= 0 && k < members.length - 1) continue;
        const peer = this.peers[q.peer];
        if (peer === undefined) break;
        peer.groups[peer.ngroups++] = q.queueBytes!;
        if (!peer.touched) {
          peer.touched = true;
          this.picks[n++] = peer;
        }
        break;
      }
    }
    return n;
  }

  private broadcast(f: Buffer): void {
    for (const peer of this.peerList) this.enqueue(peer, f);
    this.schedulePublish();
  }

  private enqueue(peer: Peer, f: Buffer): void {
    const at = peer.reserve(f.length);
    if (at >= 0) {
      f.copy(peer.out.data, at);
      peer.out.commit(f.length);
    } else this.overflow(peer, f);
    peer.enqueued = (peer.enqueued + 1) | 0;
  }

  /**
   * Runs before any frame becomes visible to the shards: the file stores write their queued records
   * there (src/jetstream/store/filestore.ts), so a pub ack never leaves before its record is written.
   */
  beforePublish: () => void = () => {};

  private publishAll(): void {
    this.beforePublish();
    for (const peer of this.peerList) peer.out.publish();
  }

  /** Frames become visible once per event-loop turn (one doorbell per batch, as in a shard). */
  private schedulePublish(): void {
    // A long batch (a pull request for hundreds of messages) becomes visible in slices, so the
    // shard starts writing to the client while the rest is still being read from the store.
    // Sleeping shards are woken too: a doorbell costs this thread 13-30 µs, but holding a whole
    // window of pub acks until the end of the turn kept the client, the shard and this worker in
    // lockstep (each idle while another worked: async 256 went from 199k to 288k msgs/s, 128 B).
    if (++this.unpublished >= PUBLISH_EVERY) {
      this.unpublished = 0;
      this.publishAll();
    }
    if (this.publishPending) return;
    this.publishPending = true;
    queueMicrotask(() => {
      this.publishPending = false;
      this.unpublished = 0;
      this.publishAll();
    });
  }

  private overflow(peer: Peer, f: Buffer): void {
    peer.overflow.push(f);
    if (this.overflowTimer === null) this.overflowTimer = setTimeout(() => this.relieve(), 1);
  }

  private relieve(): void {
    this.overflowTimer = null;
    let done = true;
    this.beforePublish();
    for (const peer of this.peerList) if (peer.overflow.length > 0 && !peer.drainOverflow()) done = false;
    if (!done && !this.closing) this.overflowTimer = setTimeout(() => this.relieve(), 1);
  }

  // ---- inbound -----------------------------------------------------------------------------------

  /** RingHost: one slice of every inbound ring. */
  drainRings(): number {
    if (this.closing) return -1;
    let n = 0;
    const peers = this.peerList;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!;
      this.currentPeer = peer;
      try {
        n += peer.in.drain(this.onFrameBound, DRAIN_SLICE);
      } finally {
        this.currentPeer = null;
      }
    }
    return n;
  }

  ringConsumers(): readonly RingConsumer[] {
    return this.ringIns;
  }

  /** The last subject read from a frame, as bytes and as the string handed on. */
  private lastSubjBytes = Buffer.alloc(256);
  private lastSubjLen = -1;
  private lastSubj = '';

  /**
   * The frame's subject as a string: the previous one when the bytes are the same (a publisher
   * repeats its subject; this saves a string per message on the worker's busiest path).
   */
  private subjectString(buf: Buffer, at: number, n: number): string {
    if (n === this.lastSubjLen && headEquals(this.lastSubjBytes, buf, at, n)) return this.lastSubj;
    const str = buf.toString('latin1', at, at + n);
    if (n <= this.lastSubjBytes.length) {
      buf.copy(this.lastSubjBytes, 0, at, at + n);
      this.lastSubjLen = n;
      this.lastSubj = str;
    } else this.lastSubjLen = -1;
    return str;
  }

  private onFrame(buf: Buffer, s: number, len: number): void {
    const kind = buf[s];
    if (kind === FrameKind.INTEREST) return applyInterestFrame(this.currentPeer!, buf, s, this.sublistOfBound);
    if (kind === FrameKind.RESPONSE) {
      // A service-import reply token: replies this worker sends to it cross into the requester's account.
      this.cross?.onResponseFrame(buf, s);
      return;
    }
    if (kind !== FrameKind.MSG) return;
    const acc = buf.readUInt16LE(s + 16);
    if (acc >= this.sublists.length) return;
    const flags = buf[s + 1]!;
    const ngroups = buf.readUInt16LE(s + 2);
    const subjLen = buf.readUInt16LE(s + 4);
    const replyLen = buf.readUInt16LE(s + 6);
    const hdrLen = buf.readInt32LE(s + 8);
    const subjStart = s + MSG_HEADER;
    let pos = subjStart + subjLen + replyLen;
    // DELIVER: a JetStream delivery that came in over a route (a mirror's or source's consumer led by
    // another server): addressed to the route subject after the reply (the deliver subject), shown
    // with the stream message's own subject. Without it, the engine took the delivery for a publish
    // to that subject.
    let to: string | null = null;
    if ((flags & MsgFlags.DELIVER) !== 0) {
      const routeLen = buf.readUInt16LE(s + 18);
      to = buf.toString('latin1', pos, pos + routeLen);
      pos += routeLen;
    }
    for (let g = 0; g < ngroups; g++) pos += 2 + buf.readUInt16LE(pos);
    const end = s + len;
    if (this.onAck !== null && to === null && replyLen === 0 && hdrLen < 0 && isAckSubject(buf, subjStart, subjLen)) {
      try {
        if (this.onAck(acc, buf, subjStart, subjLen, pos, end)) return;
      } catch (err) {
        this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'JetStream failed to handle an ack');
        return;
      }
    }
    const m = this.inbound;
    m.acc = acc;
    m.subject = this.subjectString(buf, subjStart, subjLen);
    m.reply = replyLen > 0 ? buf.toString('latin1', subjStart + subjLen, subjStart + subjLen + replyLen) : null;
    m.hdr = hdrLen >= 0 ? buf.subarray(pos, pos + hdrLen) : null;
    m.data = buf.subarray(pos + Math.max(0, hdrLen), end);
    m.to = to;
    m.fromRoute = (flags & MsgFlags.FROM_ROUTE) !== 0;
    m.queued = ngroups > 0;
    try {
      this.onMessage(m);
    } catch (err) {
      // A bug in one request must not take the worker (and every stream) down.
      this.log.error({ err: err instanceof Error ? err.stack : String(err), subject: m.subject }, 'JetStream failed to handle a message');
    }
  }
}

/** Length of `<prefix><dc>.<sseq>.<dseq>.<ts>.<pending>` (consumer.go's ackReply form). */
function ackReplyLen(prefix: Buffer, dc: number, sseq: number, dseq: number, ts: number, pending: number): number {
  return prefix.length + uintLen(dc) + uintLen(sseq) + uintLen(dseq) + uintLen(ts) + uintLen(pending) + 4;
}

function writeAckReply(o: Buffer, pos: number, prefix: Buffer, dc: number, sseq: number, dseq: number, ts: number, pending: number): number {
  pos = copyBytes(o, pos, prefix, 0, prefix.length);
  pos = writeUint(o, pos, dc);
  o[pos++] = 46;
  pos = writeUint(o, pos, sseq);
  o[pos++] = 46;
  pos = writeUint(o, pos, dseq);
  o[pos++] = 46;
  pos = writeUintAny(o, pos, ts);
  o[pos++] = 46;
  return writeUint(o, pos, pending);
}

/** `$JS.ACK.` */
const ACK_PREFIX_BYTES = Buffer.from('$JS.ACK.', 'latin1');

function isAckSubject(buf: Buffer, at: number, n: number): boolean {
  return n > ACK_PREFIX_BYTES.length && buf[at] === 36 /* $ */ && headEquals(ACK_PREFIX_BYTES, buf, at, ACK_PREFIX_BYTES.length);
}
