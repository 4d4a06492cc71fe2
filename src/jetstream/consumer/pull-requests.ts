// A pull consumer's request handling (consumer.go: processNextMsgRequest, nextWaiting's checks,
// processWaiting): the checks a MSG.NEXT request must pass, its queueing, and the status messages
// (400/404/408/409) that end requests. The Consumer owns the delivery loop and calls in here.

import type { JsHost } from '../types.js';
import type { ConsumerConfig } from './config.js';
import { WaitQueue, parseNextRequest, type NextRequest, type WaitingRequest } from './pull.js';
import { idleHeartbeat, requestTimeout, statusLine, Status } from './out.js';

export type AcceptedRequest = Extract<NextRequest, { ok: true }>;

export class PullRequests {
  readonly queue: WaitQueue;
  private readonly host: JsHost;
  private readonly acc: number;
  /** When requests were last checked for interest (consumer.go lwqic). */
  private lastSweep = 0;

  constructor(maxWaiting: number, host: JsHost, acc: number) {
    this.queue = new WaitQueue(maxWaiting);
    this.host = host;
    this.acc = acc;
  }

  /**
   * processNextMsgRequest's checks of a request on its own terms (its body, max_batch, max_expires,
   * max_bytes): the parsed request, or null when it was refused (the refusal is sent).
   */
  check(reply: string, body: Buffer | string, c: ConsumerConfig): AcceptedRequest | null {
    const req = parseNextRequest(body);
    if (!req.ok) return this.refuse(reply, statusLine(`400 Bad Request - ${req.error}`));
    if (c.max_batch !== undefined && c.max_batch > 0 && req.batch > c.max_batch) {
      return this.refuse(reply, statusLine(`409 Exceeded MaxRequestBatch of ${c.max_batch}`));
    }
    if (req.expiresMs > 0 && c.max_expires !== undefined && c.max_expires > 0 && req.expiresMs > c.max_expires / 1e6 + 1) {
      return this.refuse(reply, statusLine(`409 Exceeded MaxRequestExpires of ${goDuration(c.max_expires)}`));
    }
    if (req.maxBytes > 0 && c.max_bytes !== undefined && c.max_bytes > 0 && req.maxBytes > c.max_bytes) {
      return this.refuse(reply, statusLine(`409 Exceeded MaxRequestMaxBytes of ${c.max_bytes}`));
    }
    return req;
  }

  /**
   * The rest of processNextMsgRequest: a full queue is swept first; a no_wait request is answered at
   * once when nothing (404) or not enough for the requests ahead (408) is there, `available()` being
   * what could be delivered now; otherwise it is queued. True when it was queued. dseq/sseq: the
   * consumer's last delivered sequences (for the sweep's idle heartbeats).
   */
  enqueue(reply: string, req: AcceptedRequest, now: number, available: () => number, dseq: number, sseq: number): boolean {
    const q = this.queue;
    // processNextMsgRequest runs processWaiting when the queue is full or a second has passed.
    if (q.isFull() || now - this.lastSweep > 1000) this.expire(now, dseq, sseq, true);
    if (req.noWait) {
      const pending = available();
      if (pending === 0 && req.expiresMs === 0) {
        this.refuse(reply, Status.NO_MESSAGES);
        return false;
      }
      if (pending > 0 && pending < q.pendingBatch()) {
        this.refuse(reply, Status.REQUESTS_PENDING);
        return false;
      }
    }
    const wr: WaitingRequest = {
      reply,
      n: req.batch,
      d: 0,
      b: req.maxBytes,
      maxBytes: req.maxBytes,
      noWait: req.noWait,
      expires: req.expiresMs > 0 ? now + req.expiresMs : 0,
      hb: req.hbMs,
      hbNext: req.hbMs > 0 ? now + req.hbMs : 0,
      received: now,
    };
    if (!q.add(wr)) {
      this.refuse(reply, Status.EXCEEDED_MAX_WAITING);
      return false;
    }
    return true;
  }

  /** nextWaiting's validity checks on the head request: expired → 408, no interest → dropped. */
  head(now: number): WaitingRequest | undefined {
    const q = this.queue;
    for (;;) {
      const wr = q.peek();
      if (wr === undefined) return undefined;
      if (wr.expires > 0 && now >= wr.expires) {
        this.host.publish(this.acc, wr.reply, null, requestTimeout(wr.n, wr.b), null);
        q.removeHead();
        continue;
      }
      if (!this.host.hasInterest(this.acc, wr.reply)) {
        q.removeHead();
        continue;
      }
      return wr;
    }
  }

  /**
   * processWaiting(eos): the stream has nothing more now. One-shot (no_wait) requests end: 408 when
   * they got something, 404 when they got nothing; requests nobody listens for any more go.
   */
  endOfStream(): void {
    const acc = this.acc;
    const host = this.host;
    this.queue.sweep((wr) => {
      if (!wr.noWait) return !host.hasInterest(acc, wr.reply);
      host.publish(acc, wr.reply, null, wr.d > 0 ? requestTimeout(wr.n, wr.b) : Status.NO_MESSAGES, null);
      return true;
    });
  }

  /**
   * processWaiting(false) at the times nats-server runs it for an idle consumer (a request's expiry or
   * heartbeat): expiry (408), per-request idle heartbeats, and — only then — lost interest. So a
   * request whose client reconnects (and subscribes its inbox again) in between is still served, as
   * nats-server serves it. dseq/sseq: the consumer's last delivered sequences, which the heartbeats carry.
   */
  expire(now: number, dseq: number, sseq: number, checkInterest = false): void {
    const q = this.queue;
    if (checkInterest) this.lastSweep = now;
    if (q.length === 0) return;
    const acc = this.acc;
    const host = this.host;
    q.sweep((wr) => {
      if (wr.expires > 0 && now >= wr.expires) {
        host.publish(acc, wr.reply, null, requestTimeout(wr.n, wr.b), null);
        return true;
      }
      if (checkInterest && !host.hasInterest(acc, wr.reply)) return true;
      if (wr.hb > 0 && now >= wr.hbNext) {
        if (!host.hasInterest(acc, wr.reply)) return true;
        host.publish(acc, wr.reply, null, idleHeartbeat(dseq, sseq, null), null);
        wr.hbNext = now + wr.hb;
      }
      return false;
    });
  }

  /** Answers a request that is not queued (or no longer). */
  private refuse(reply: string, status: Buffer): null {
    this.host.publish(this.acc, reply, null, status, null);
    return null;
  }
}

/** A Go time.Duration's String() for the 409 MaxRequestExpires message. */
function goDuration(ns: number): string {
  if (ns % 3600e9 === 0) return `${ns / 3600e9}h0m0s`;
  if (ns % 60e9 === 0) return `${ns / 60e9}m0s`;
  if (ns >= 1e9) return `${ns / 1e9}s`;
  if (ns >= 1e6) return `${ns / 1e6}ms`;
  if (ns >= 1e3) return `${ns / 1e3}µs`;
  return `${ns}ns`;
}
