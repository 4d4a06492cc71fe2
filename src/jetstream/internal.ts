// The engine's internal subscriptions (nats-server's subscribeInternal on a stream's internal client):
// literal subjects the engine itself listens on — the reply inbox of a consumer-create request a
// mirror or source sends (`$JSC.R.<id>`), the deliver subject its consumer pushes to (`$JS.M.<id>`,
// `$JS.S.<id>` or an external deliver prefix), a snapshot's ack subject, a restore's chunk subject.
//
// They are real subscriptions: the shards learn the interest, so a message for one of them reaches
// the engine however it was published (by a client, by the engine itself through the link's
// loopback, later from another server); nothing here reaches into another stream directly.

import { randomBytes } from 'node:crypto';
import type { JsHost, JsInbound } from './types.js';

/** Called with a message for an internal subscription; buffers are only valid during the call. */
export type InternalHandler = (m: JsInbound) => void;

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** nats-server's syncSubject: `<prefix>.` and 8 random base-62 characters. */
export function syncSubject(prefix: string): string {
  const b = randomBytes(8);
  let s = `${prefix}.`;
  for (let i = 0; i < 8; i++) s += DIGITS[b[i]! % 62];
  return s;
}

export class InternalSubs {
  private readonly host: JsHost;
  private readonly byAcc = new Map<number, Map<string, InternalHandler>>();
  /** `<prefix>.>` subscriptions (a snapshot's ack subjects carry the chunk size and index). */
  private readonly prefixes: { acc: number; prefix: string; handler: InternalHandler }[] = [];
  /** Number of internal subscriptions (0: onMessage skips the lookup). */
  size = 0;
  /**
   * Clustered JetStream: the routes hear of these subscriptions (InterestFlags.ANNOUNCE), as they hear
   * of nats-server's internal subscriptions, so a mirror's or source's consumer led by another server
   * delivers here. Set once, before any subscription, by cluster/setup.ts.
   */
  flags = 0;

  constructor(host: JsHost) {
    this.host = host;
  }

  subscribe(acc: number, subject: string, handler: InternalHandler): void {
    let m = this.byAcc.get(acc);
    if (m === undefined) {
      m = new Map();
      this.byAcc.set(acc, m);
    }
    if (!m.has(subject)) {
      this.size++;
      this.host.subscribe(acc, subject, this.flags);
    }
    m.set(subject, handler);
  }

  unsubscribe(acc: number, subject: string): void {
    const m = this.byAcc.get(acc);
    if (m === undefined || !m.delete(subject)) return;
    this.size--;
    this.host.unsubscribe(acc, subject, this.flags);
  }

  /** Everything below `prefix` (subscribed as `<prefix>.>`). */
  subscribePrefix(acc: number, prefix: string, handler: InternalHandler): void {
    this.prefixes.push({ acc, prefix: `${prefix}.`, handler });
    this.size++;
    this.host.subscribe(acc, `${prefix}.>`, this.flags);
  }

  unsubscribePrefix(acc: number, prefix: string): void {
    const i = this.prefixes.findIndex((p) => p.acc === acc && p.prefix === `${prefix}.`);
    if (i < 0) return;
    this.prefixes.splice(i, 1);
    this.size--;
    this.host.unsubscribe(acc, `${prefix}.>`, this.flags);
  }

  has(acc: number, subject: string): boolean {
    return this.size > 0 && this.byAcc.get(acc)?.has(subject) === true;
  }

  /** Hands m to the internal subscription on `subject`; false when there is none. */
  dispatch(acc: number, subject: string, m: JsInbound): boolean {
    const h = this.byAcc.get(acc)?.get(subject);
    if (h !== undefined) {
      h(m);
      return true;
    }
    for (const p of this.prefixes) {
      if (p.acc === acc && subject.startsWith(p.prefix)) {
        p.handler(m);
        return true;
      }
    }
    return false;
  }
}
