// A connection's publish/subscribe permissions (nats-server client.go pubAllowed, canSubscribe,
// allow_responses). Patterns live in small sublists; publish verdicts are cached per subject bytes
// so a permitted publisher pays a hash and a compare, not a string, per message. Subscribe entries
// may name a queue group ("subject queue", client.go splitSubjectQueue): such an entry allows (or
// denies) only queue subscriptions in a matching group, never a plain subscription.

import type { Permissions } from '../server/options.js';
import { Sublist, hashBytes } from '../sublist/sublist.js';
import { hasWildcard, subjectCovers, subjectMatches } from '../sublist/subject.js';

interface Pattern {
  subject: string;
  queue: string | null;
}

function patterns(list: string[] | null): Sublist<Pattern> | null {
  if (list === null) return null;
  const sl = new Sublist<Pattern>();
  for (const s of list) sl.insert({ subject: s, queue: null });
  return sl;
}

/**
 * Subscribe patterns: "subject" or "subject queue" (splitSubjectQueue: blanks separate, more than two
 * fields is an invalid entry, skipped). An empty list is no list (setPermissions: `len(Allow) > 0`).
 */
function subPatterns(list: string[] | null): Sublist<Pattern> | null {
  if (list === null || list.length === 0) return null;
  const sl = new Sublist<Pattern>();
  for (const s of list) {
    const f = s.trim().split(/\s+/);
    if (f.length > 2 || f[0] === '') continue;
    sl.insert({ subject: f[0]!, queue: f.length === 2 ? f[1]! : null });
  }
  return sl;
}

/** client.go queueMatches: the queue is one of the groups the matching entries name (wildcards allowed there). */
function queueMatches(queue: string, qsubs: readonly (readonly Pattern[])[]): boolean {
  if (qsubs.length === 0) return true;
  for (const group of qsubs) {
    const qname = group[0]!.queue!;
    if (queue === qname || (hasWildcard(qname) && subjectCovers(qname, queue))) return true;
  }
  return false;
}

/** nats-server's reserved queue group name for system subscriptions (const.go sysGroup). */
const SYS_GROUP = '_sys_';

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
    this.subAllow = subPatterns(p.subscribe?.allow ?? null);
    this.subDeny = subPatterns(p.subscribe?.deny ?? null);
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

  /**
   * client.go canSubscribe: the allow list (if any) must match, then the deny list (if any) must not.
   * With a queue, entries naming groups decide: in the allow list one must name this queue, in the
   * deny list none may (even where a plain entry matched: nats-server's order of checks).
   */
  canSubscribe(subject: string, queue: string | null = null): boolean {
    if (queue === SYS_GROUP) return false;
    let allowed = true;
    if (this.subAllow !== null) {
      const r = this.subAllow.match(subject);
      allowed = r.psubs.length > 0;
      if (queue !== null && r.qsubs.length > 0) allowed = queueMatches(queue, r.qsubs);
    }
    if (allowed && this.subDeny !== null) {
      const r = this.subDeny.match(subject);
      allowed = r.psubs.length === 0;
      if (queue !== null && r.qsubs.length > 0) allowed = !queueMatches(queue, r.qsubs);
      if (allowed && this.denyOnDelivery === null && hasWildcard(subject)) {
        // A wildcard subscription that covers a denied subject: allowed, but those messages are
        // filtered out on delivery (client.go loadMsgDenyFilter).
        for (const d of this.denyList) {
          if (subjectMatches(subject, d) || subjectMatches(d, subject)) {
            this.denyOnDelivery = this.subDeny;
            break;
          }
        }
      }
    }
    return allowed;
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
