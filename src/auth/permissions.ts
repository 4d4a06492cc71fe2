// A connection's publish/subscribe permissions (nats-server client.go pubAllowed, canSubscribe,
// allow_responses). Patterns live in small sublists; publish verdicts are cached per subject bytes
// so a permitted publisher pays a hash and a compare, not a string, per message.

import type { Permissions } from '../server/options.js';
import { Sublist, hashBytes } from '../sublist/sublist.js';
import { hasWildcard, subjectMatches } from '../sublist/subject.js';

interface Pattern {
  subject: string;
  queue: string | null;
}

function patterns(list: string[] | null): Sublist<Pattern> | null {
  if (list === null) return null;
  const sl = new Sublist<Pattern>();
  for (const s of list) {
    // "subject queue" entries restrict queue subscriptions; tsnats checks the subject part.
    const subject = s.split(/\s+/)[0]!;
    sl.insert({ subject, queue: null });
  }
  return sl;
}

const CACHE_MAX = 1024;

export class ConnPermissions {
  private readonly pubAllow: Sublist<Pattern> | null;
  private readonly pubDeny: Sublist<Pattern> | null;
  private readonly subAllow: Sublist<Pattern> | null;
  private readonly subDeny: Sublist<Pattern> | null;
  private readonly denyList: string[];
  private readonly pubCache = new Map<number, { key: Buffer; ok: boolean }>();
  /** allow_responses: reply subjects this connection may publish to, with uses left and expiry. */
  readonly responses: { max: number; expiresMs: number } | null;
  private readonly replies = new Map<string, { left: number; expires: number }>();
  /** Set when a wildcard subscription overlaps a subscribe deny: messages are filtered on delivery. */
  denyOnDelivery: Sublist<Pattern> | null = null;

  constructor(p: Permissions) {
    this.pubAllow = patterns(p.publish?.allow ?? null);
    this.pubDeny = patterns(p.publish?.deny ?? null);
    this.subAllow = patterns(p.subscribe?.allow ?? null);
    this.subDeny = patterns(p.subscribe?.deny ?? null);
    this.denyList = p.subscribe?.deny ?? [];
    this.responses = p.allowResponses;
  }

  /** pubAllowed: allow (if any) matches and deny (if any) does not; else a recorded reply subject. */
  canPublish(buf: Buffer, s: number, e: number, now: number): boolean {
    const h = hashBytes(buf, s, e);
    const c = this.pubCache.get(h);
    let ok: boolean;
    if (c !== undefined && c.key.length === e - s && buf.compare(c.key, 0, c.key.length, s, e) === 0) ok = c.ok;
    else {
      const subject = buf.toString('latin1', s, e);
      ok = (this.pubAllow === null || this.pubAllow.match(subject).psubs.length > 0) && (this.pubDeny === null || this.pubDeny.match(subject).psubs.length === 0);
      if (this.pubCache.size >= CACHE_MAX) this.pubCache.clear();
      this.pubCache.set(h, { key: Buffer.from(subject, 'latin1'), ok });
    }
    if (ok || this.responses === null) return ok;
    return this.useReply(buf.toString('latin1', s, e), now);
  }

  canSubscribe(subject: string): boolean {
    if (this.subAllow !== null && this.subAllow.match(subject).psubs.length === 0) return false;
    if (this.subDeny !== null && this.subDeny.match(subject).psubs.length > 0) return false;
    if (this.subDeny !== null && hasWildcard(subject)) {
      // A wildcard subscription that covers a denied subject: allowed, but those messages are
      // filtered out on delivery (client.go loadMsgDenyFilter).
      for (const d of this.denyList) {
        if (subjectMatches(subject, d) || subjectMatches(d, subject)) {
          this.denyOnDelivery = this.subDeny;
          break;
        }
      }
    }
    return true;
  }

  /** True when a message on buf[s, e) must not be delivered to this connection. */
  deniedOnDelivery(buf: Buffer, s: number, e: number): boolean {
    return this.denyOnDelivery !== null && this.denyOnDelivery.matchBytes(buf, s, e).psubs.length > 0;
  }

  /** Records a reply subject of a message delivered to this connection (allow_responses). */
  recordReply(reply: string, now: number): void {
    const r = this.responses!;
    if (this.replies.size > 10_000) this.sweep(now);
    this.replies.set(reply, { left: r.max > 0 ? r.max : 1, expires: r.expiresMs > 0 ? now + r.expiresMs : Infinity });
  }

  private useReply(subject: string, now: number): boolean {
    const r = this.replies.get(subject);
    if (r === undefined) return false;
    if (r.expires < now) {
      this.replies.delete(subject);
      return false;
    }
    if (--r.left <= 0) this.replies.delete(subject);
    return true;
  }

  private sweep(now: number): void {
    for (const [k, v] of this.replies) if (v.expires < now) this.replies.delete(k);
  }
}
