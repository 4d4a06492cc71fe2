// What the JetStream worker publishes crosses accounts the way a client's publish does in a shard
// (accounts.go; shard.ts routeAcross): a shard applies imports only to messages entering from its
// own clients, so the worker — the publisher of API replies, pub acks and deliveries — applies them
// to its own messages:
//   - a reply to a service-import reply token (`_R_.xxx` in the exporting account, learned from the
//     RESPONSE frames the requester's shard sends before the request) goes to the requester's reply
//     subject in its account: once (singleton), or until the token expires (response_type stream,
//     e.g. a pull request's messages);
//   - a message on a subject another account imports as a stream (a push consumer's deliver subject,
//     `{ stream: "forb.>" }`) also goes to that account, prefixed as the import says;
//   - a message on a subject its account imports as a service (a mirror's or source's consumer-create
//     request through an external API prefix, its flow-control answers) goes to the exporter, with a
//     reply token of its own (announced to the shards) that brings the answer back.
// A JetStream delivery keeps showing its stream subject; only the subject it is routed by changes.

import { randomBytes } from 'node:crypto';
import { buildAccounts } from '../shard/account.js';
import { RESPONSE_HEADER } from '../shard/peer.js';
import { subjectMatches } from '../sublist/subject.js';
import type { ServerOptions } from '../server/options.js';

interface ServiceImportRoute {
  from: number;
  local: string;
  remote: string;
  transform: ((subject: string) => string) | null;
  stream: boolean;
}

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

/** Where one message goes in another account: `subject` shown, routed by `to` when not null, with `reply`. */
export type CrossEmit = (into: number, subject: string, to: string | null, reply: string | null) => void;

export class CrossAccount {
  /** By exporting account index: the stream imports of its subjects. */
  private readonly streamImports: (StreamImportRoute[] | undefined)[] = [];
  /** By exporting account index: reply tokens of service-import requests it serves. */
  private readonly responses: (Map<string, ResponseRoute> | undefined)[] = [];
  /** By importing account index: the services it imports (what the worker itself sends there). */
  private readonly serviceImports: (ServiceImportRoute[] | undefined)[] = [];
  /** Tells the shards about a reply token made here (a RESPONSE frame), before the request. */
  announce: (exporter: number, importer: number, token: string, reply: string, stream: boolean) => void = () => {};

  /** Accounts with JetStream: only their reply tokens can be answered by this worker. */
  private readonly jsAccounts: Set<number>;

  constructor(opts: ServerOptions, jsAccounts: readonly number[]) {
    this.jsAccounts = new Set(jsAccounts);
    for (const a of buildAccounts(opts)) {
      if (a.serviceImports !== null) {
        this.serviceImports[a.idx] = a.serviceImports.map((im) => ({ from: im.from.idx, local: im.local, remote: im.remote, transform: im.transform, stream: im.streamResponse }));
      }
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
    this.remember(acc, token, { into, reply, expires: Date.now() + RESPONSE_TTL_MS, stream: buf[s + 1] === 1 });
  }

  private remember(acc: number, token: string, r: ResponseRoute): void {
    let m = this.responses[acc];
    if (m === undefined) m = this.responses[acc] = new Map();
    const now = Date.now();
    if (m.size >= SWEEP_AT) for (const [k, x] of m) if (x.expires < now) m.delete(k);
    m.set(token, r);
  }

  /**
   * Sends copies of a message published in `acc` to the accounts it crosses into. Returns the
   * singleton reply token this message answered (the shards may forget it), or null.
   */
  forward(acc: number, subject: string, to: string | null, reply: string | null, emit: CrossEmit): { token: string; into: number; reply: string } | null {
    const route = to ?? subject;
    const svc = this.serviceImports[acc];
    if (svc !== undefined && to === null) {
      for (const im of svc) {
        if (!subjectMatches(im.local, subject)) continue;
        const remote = im.transform !== null ? im.transform(subject) : im.local === im.remote ? subject : im.remote;
        let token: string | null = null;
        if (reply !== null) {
          token = `_R_.${randomToken()}`;
          if (this.jsAccounts.has(im.from)) this.remember(im.from, token, { into: acc, reply, expires: Date.now() + RESPONSE_TTL_MS, stream: im.stream });
          this.announce(im.from, acc, token, reply, im.stream);
        }
        emit(im.from, remote, null, token);
      }
    }
    const m = this.responses[acc];
    let answered: { token: string; into: number; reply: string } | null = null;
    if (m !== undefined && m.size > 0 && route.startsWith('_R_.')) {
      const r = m.get(route);
      if (r !== undefined) {
        if (!r.stream || r.expires < Date.now()) m.delete(route);
        if (r.expires >= Date.now()) {
          emit(r.into, to === null ? r.reply : subject, to === null ? null : r.reply, reply);
          if (!r.stream) answered = { token: route, into: r.into, reply: r.reply };
        }
      }
    }
    const sis = this.streamImports[acc];
    if (sis === undefined) return answered;
    for (const si of sis) {
      if (!subjectMatches(si.subject, route)) continue;
      if (to === null) emit(si.into, si.prefix + subject, null, reply);
      else emit(si.into, subject, si.prefix + to, reply);
    }
    return answered;
  }

  /**
   * False when forward() would do nothing for any message in `acc` (no service or stream imports
   * out of it, no reply tokens awaiting an answer in it): the link then skips building its callback.
   */
  touches(acc: number): boolean {
    if (this.serviceImports[acc] !== undefined || this.streamImports[acc] !== undefined) return true;
    const m = this.responses[acc];
    return m !== undefined && m.size > 0;
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

const TOKEN_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomToken(): string {
  const b = randomBytes(16);
  let t = '';
  for (let i = 0; i < 16; i++) t += TOKEN_DIGITS[b[i]! % 62];
  return t;
}
