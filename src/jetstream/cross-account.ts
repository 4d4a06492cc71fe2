// What the JetStream worker publishes crosses accounts the way a client's publish does in a shard
// (accounts.go; shard.ts routeAcross): a shard applies imports only to messages entering from its
// own clients, so the worker — the publisher of API replies, pub acks and deliveries — applies them
// to its own messages:
//   - a reply to a service-import reply token (`_R_.xxx` in the exporting account, learned from the
//     RESPONSE frames the requester's shard sends before the request) goes to the requester's reply
//     subject in its account: once (singleton), or until the token expires (response_type stream,
//     e.g. a pull request's messages);
//   - a message on a subject another account imports as a stream (a push consumer's deliver subject,
//     `{ stream: "forb.>" }`) also goes to that account, prefixed as the import says.
// A JetStream delivery keeps showing its stream subject; only the subject it is routed by changes.

import { buildAccounts } from '../shard/account.js';
import { RESPONSE_HEADER } from '../shard/peer.js';
import { subjectMatches } from '../sublist/subject.js';
import type { ServerOptions } from '../server/options.js';

interface StreamImportRoute {
  into: number;
  subject: string;
  prefix: string;
}

interface ResponseRoute {
  into: number;
  reply: string;
  expires: number;
  stream: boolean;
}

/** A reply token lives as long as in the shards (shard.ts RESPONSE_TTL_MS). */
const RESPONSE_TTL_MS = 120_000;
/** Tokens kept per account before expired ones are swept. */
const SWEEP_AT = 1024;

/** Where one message goes in another account: `subject` shown, routed by `to` when not null. */
export type CrossEmit = (into: number, subject: string, to: string | null) => void;

export class CrossAccount {
  /** By exporting account index: the stream imports of its subjects. */
  private readonly streamImports: (StreamImportRoute[] | undefined)[] = [];
  /** By exporting account index: reply tokens of service-import requests it serves. */
  private readonly responses: (Map<string, ResponseRoute> | undefined)[] = [];

  /** Accounts with JetStream: only their reply tokens can be answered by this worker. */
  private readonly jsAccounts: Set<number>;

  constructor(opts: ServerOptions, jsAccounts: readonly number[]) {
    this.jsAccounts = new Set(jsAccounts);
    for (const a of buildAccounts(opts)) {
      if (a.streamImports === null) continue;
      this.streamImports[a.idx] = a.streamImports.map((si) => ({ into: si.into.idx, subject: si.subject, prefix: si.prefix }));
    }
  }

  /** A RESPONSE frame from a shard: a service-import reply token and where its replies go. */
  onResponseFrame(buf: Buffer, s: number): void {
    const acc = buf.readUInt16LE(s + 2);
    if (!this.jsAccounts.has(acc) || (buf[s + 1]! & 2) !== 0) return;
    const into = buf.readUInt16LE(s + 4);
    const tl = buf.readUInt16LE(s + 6);
    const rl = buf.readUInt16LE(s + 8);
    const token = buf.toString('latin1', s + RESPONSE_HEADER, s + RESPONSE_HEADER + tl);
    const reply = buf.toString('latin1', s + RESPONSE_HEADER + tl, s + RESPONSE_HEADER + tl + rl);
    let m = this.responses[acc];
    if (m === undefined) m = this.responses[acc] = new Map();
    const now = Date.now();
    if (m.size >= SWEEP_AT) for (const [k, r] of m) if (r.expires < now) m.delete(k);
    m.set(token, { into, reply, expires: now + RESPONSE_TTL_MS, stream: buf[s + 1] === 1 });
  }

  /**
   * Sends copies of a message published in `acc` to the accounts it crosses into. Returns the
   * singleton reply token this message answered (the shards may forget it), or null.
   */
  forward(acc: number, subject: string, to: string | null, emit: CrossEmit): { token: string; into: number; reply: string } | null {
    const route = to ?? subject;
    const m = this.responses[acc];
    let answered: { token: string; into: number; reply: string } | null = null;
    if (m !== undefined && m.size > 0 && route.startsWith('_R_.')) {
      const r = m.get(route);
      if (r !== undefined) {
        if (!r.stream || r.expires < Date.now()) m.delete(route);
        if (r.expires >= Date.now()) {
          emit(r.into, to === null ? r.reply : subject, to === null ? null : r.reply);
          if (!r.stream) answered = { token: route, into: r.into, reply: r.reply };
        }
      }
    }
    const sis = this.streamImports[acc];
    if (sis === undefined) return answered;
    for (const si of sis) {
      if (!subjectMatches(si.subject, route)) continue;
      if (to === null) emit(si.into, si.prefix + subject, null);
      else emit(si.into, subject, si.prefix + to);
    }
    return answered;
  }

  /** Whether someone in another account receives what is published on `subject` in `acc`. */
  hasInterest(acc: number, subject: string, local: (acc: number, subject: string) => boolean): boolean {
    const m = this.responses[acc];
    if (m !== undefined && m.size > 0 && subject.startsWith('_R_.')) {
      const r = m.get(subject);
      if (r !== undefined && r.expires >= Date.now() && local(r.into, r.reply)) return true;
    }
    const sis = this.streamImports[acc];
    if (sis === undefined) return false;
    for (const si of sis) if (subjectMatches(si.subject, subject) && local(si.into, si.prefix + subject)) return true;
    return false;
  }
}
