// The shard's internal client of one account for MQTT (mqtt.go's `jsa.c`, an internal client of the
// account): it has no socket, publishes through the shard's ordinary routing (so JetStream API
// requests reach the JetStream worker, or a route later, like any message) and receives replies,
// retained-message deliveries and cluster notices on its own subscriptions, handled in place.

import { ClientConnection } from '../shard/client.js';
import type { Shard } from '../shard/shard.js';
import type { Account } from '../shard/account.js';
import { Subscription } from '../shard/subscription.js';
import { RingMsg, type MsgArgs } from '../shard/msg.js';
import type { ClientTransport } from '../shard/transport.js';

/** Receives one message: its view and the payload (headers included) at buf[start, end). */
export type InternalHandler = (m: MsgArgs, buf: Buffer, start: number, end: number) => void;

class InternalSub extends Subscription {
  readonly handler: InternalHandler;
  constructor(conn: ClientConnection, subject: string, sid: string, handler: InternalHandler) {
    super(conn, subject, null, sid);
    this.handler = handler;
  }
}

const NO_SOCKET: ClientTransport = {
  write: () => true,
  cork: () => {},
  uncork: () => {},
  end: () => {},
  destroy: () => {},
  pause: () => {},
  resume: () => {},
  destroyed: false,
  writableLength: 0,
  remoteAddress: '',
  remotePort: 0,
  once: () => undefined,
};

export class InternalClient extends ClientConnection {
  private sidSeq = 0;
  private readonly view = new RingMsg();

  constructor(shard: Shard, acc: Account) {
    super(shard, NO_SOCKET, 0, true);
    this.connectReceived = true;
    this.acc = acc;
    this.nextPingAt = Infinity;
    this.verbose = false;
    this.headers = true;
  }

  subscribe(subject: string, handler: InternalHandler): Subscription {
    const sub = new InternalSub(this, subject, String(++this.sidSeq), handler);
    this.subs.set(sub.sid, sub);
    this.shard.addSubscription(sub);
    return sub;
  }

  unsubscribeAll(): void {
    for (const sub of [...this.subs.values()]) this.removeSubscription(sub);
  }

  override writeMsg(sub: Subscription, m: MsgArgs, buf: Buffer, start: number, end: number): boolean {
    if (this.closed) return false;
    (sub as InternalSub).handler(m, buf, start, end);
    return true;
  }

  /** Publishes `hdr` + `body` on `subject` (with `reply`) through the shard; returns the deliveries. */
  publish(subject: string, reply: string | null, hdr: Buffer | null, body: Buffer | string | null): number {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    const hl = hdr === null ? 0 : hdr.length;
    const bl = b === null ? 0 : b.length;
    const payload = hdr === null ? (b ?? EMPTY) : b === null ? hdr : Buffer.concat([hdr, b], hl + bl);
    const names = Buffer.from(reply === null ? subject : subject + reply, 'latin1');
    const v = this.view;
    v.paBuf = names;
    v.paSubjectStart = 0;
    v.paSubjectEnd = subject.length;
    v.paReplyStart = reply === null ? -1 : subject.length;
    v.paReplyEnd = reply === null ? -1 : names.length;
    v.paHdr = hdr === null ? -1 : hl;
    v.paSize = payload.length;
    return this.shard.route(this, v, payload, 0, payload.length);
  }

  /**
   * Publishes with the subject `prefix` + src[ss, se) and `reply`, payload buf[ps, pe) (header of
   * `hdr` bytes, -1 none): the QoS 1/2 store of a publish, built without intermediate strings.
   */
  publishPrefixed(prefix: Buffer, src: Buffer, ss: number, se: number, reply: string, buf: Buffer, ps: number, pe: number, hdr: number): number {
    const sl = prefix.length + (se - ss);
    const names = Buffer.allocUnsafe(sl + reply.length);
    prefix.copy(names, 0);
    src.copy(names, prefix.length, ss, se);
    names.write(reply, sl, 'latin1');
    const v = this.view;
    v.paBuf = names;
    v.paSubjectStart = 0;
    v.paSubjectEnd = sl;
    v.paReplyStart = sl;
    v.paReplyEnd = names.length;
    v.paHdr = hdr;
    v.paSize = pe - ps;
    return this.shard.route(this, v, buf, ps, pe);
  }
}

const EMPTY = Buffer.alloc(0);
