// Messages the JetStream engine publishes that cross accounts (accounts.go, as the shards' routeAcross
// does for client messages): to the importers of a matching stream export (deliveries, heartbeats
// and flow control of a consumer whose deliver subject another account imports), to the exporter of
// a service the account imports (a mirror's or source's consumer-create request through an external
// API prefix, its flow-control answers), and answers on a service import's reply token (`_R_.xxx`,
// created by a shard or here) back to the requester's account.
//
// The shards apply imports only to messages entering from their own clients, so what the engine
// publishes is routed across here, where it enters the server. Interest follows nats-server's
// shadow subscriptions: a subject of account A is wanted when an account importing it from A wants
// the imported subject.

import { randomBytes } from 'node:crypto';
import { subjectMatches } from '../sublist/subject.js';
import { buildAccounts, type Account, type ServiceImport } from '../shard/account.js';
import type { ServerOptions } from '../server/options.js';
import { SubjectTransform } from './transform.js';

/** How long a reply token lives (the shards' RESPONSE_TTL_MS: nats-server's 2 minutes). */
const RESPONSE_TTL_MS = 120_000;
const SWEEP_AT = 1024;

interface Response {
  into: number;
  reply: string;
  expires: number;
}

/** Where a message goes next: account, routing subject and reply. */
export type Emit = (acc: number, subject: string, reply: string | null) => void;

export class AccountRoutes {
  private readonly accounts: Account[];
  /** Accounts that export a service someone imports (their answers may go out on reply tokens). */
  private readonly servesImports: boolean[];
  /** Per account: reply token → where the answer goes. */
  private readonly responses: Map<string, Response>[];
  private readonly transforms = new Map<ServiceImport, SubjectTransform | null>();
  /** Tells the shards about a reply token made here (a RESPONSE frame), before the request. */
  announce: (exporter: number, importer: number, token: string, reply: string) => void = () => {};

  constructor(opts: ServerOptions) {
    this.accounts = buildAccounts(opts);
    this.servesImports = this.accounts.map(() => false);
    this.responses = this.accounts.map(() => new Map());
    for (const a of this.accounts) for (const im of a.serviceImports ?? []) this.servesImports[im.from.idx] = true;
  }

  /** True when what the engine publishes in acc may have to cross to another account. */
  crosses(acc: number): boolean {
    const a = this.accounts[acc];
    if (a === undefined) return false;
    return a.streamImports !== null || a.serviceImports !== null || this.servesImports[acc] === true;
  }

  /**
   * Routes a message published in acc on `subject` (its routing subject) across accounts: emit() is
   * called once per destination. Imported messages are not routed further (one hop, as the shards).
   */
  route(acc: number, subject: string, reply: string | null, emit: Emit): void {
    const a = this.accounts[acc];
    if (a === undefined) return;
    if (a.streamImports !== null) {
      for (const si of a.streamImports) if (subjectMatches(si.subject, subject)) emit(si.into.idx, si.prefix + subject, reply);
    }
    if (a.serviceImports !== null) {
      for (const im of a.serviceImports) {
        if (!subjectMatches(im.local, subject)) continue;
        const remote = this.remoteSubject(im, subject);
        if (remote === null) continue;
        let token: string | null = null;
        if (reply !== null) {
          token = `_R_.${randomToken()}`;
          this.remember(im.from.idx, token, { into: acc, reply, expires: Date.now() + RESPONSE_TTL_MS });
          this.announce(im.from.idx, acc, token, reply);
        }
        emit(im.from.idx, remote, token);
      }
    }
    if (subject.startsWith('_R_.')) {
      const map = this.responses[acc]!;
      const r = map.get(subject);
      if (r !== undefined) {
        map.delete(subject); // a singleton response, nats-server's default response type
        if (r.expires >= Date.now()) emit(r.into, r.reply, null);
      }
    }
  }

  /** A shard made a reply token for a request it routed into `acc` (a RESPONSE frame). */
  applyResponse(acc: number, into: number, token: string, reply: string): void {
    if (this.responses[acc] === undefined) return;
    this.remember(acc, token, { into, reply, expires: Date.now() + RESPONSE_TTL_MS });
  }

  /** Shadow interest: does an account importing this subject from acc want it? */
  importerWants(acc: number, subject: string, wants: (acc: number, subject: string) => boolean): boolean {
    const a = this.accounts[acc];
    if (a === undefined || a.streamImports === null) return false;
    for (const si of a.streamImports) if (subjectMatches(si.subject, subject) && wants(si.into.idx, si.prefix + subject)) return true;
    return false;
  }

  private remember(acc: number, token: string, r: Response): void {
    const map = this.responses[acc]!;
    if (map.size >= SWEEP_AT) {
      const now = Date.now();
      for (const [k, v] of map) if (v.expires < now) map.delete(k);
    }
    map.set(token, r);
  }

  /** The exporter's subject for a request on `subject` (a `to:` mapping, wildcards kept in order). */
  private remoteSubject(im: ServiceImport, subject: string): string | null {
    if (im.local === im.remote) return subject;
    let tr = this.transforms.get(im);
    if (tr === undefined) {
      try {
        tr = SubjectTransform.create(im.local, tokenize(im.remote));
      } catch {
        tr = null;
      }
      this.transforms.set(im, tr);
    }
    if (tr === null) return im.remote.includes('*') || im.remote.includes('>') ? null : im.remote;
    return tr.transformSubject(subject);
  }
}

/** transformTokenize: `a.*.*` → `a.$1.$2`, so a pattern can be a transform destination. */
function tokenize(subject: string): string {
  let i = 0;
  return subject
    .split('.')
    .map((t) => (t === '*' ? `$${++i}` : t))
    .join('.');
}

const TOKEN_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomToken(): string {
  const b = randomBytes(16);
  let s = '';
  for (let i = 0; i < 16; i++) s += TOKEN_DIGITS[b[i]! % 62];
  return s;
}
