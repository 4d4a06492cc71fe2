// Client authentication at CONNECT (nats-server auth.go processClientOrLeafAuthentication): a token,
// or a user (plain or bcrypt password), or an nkey signature over the INFO nonce; no_auth_user for
// clients that bring no credentials. bcrypt comparisons run on the main thread's piscina pool via
// `bcrypt`, never on a shard's event loop.

import { timingSafeEqual } from 'node:crypto';
import type { AuthOptions, Permissions } from '../server/options.js';
import { verifyNonce } from './nkey.js';

export interface AuthOk {
  user: string;
  account: string;
  permissions: Permissions | null;
}

export interface ConnectCreds {
  user?: unknown;
  pass?: unknown;
  auth_token?: unknown;
  nkey?: unknown;
  sig?: unknown;
}

export type BcryptCompare = (password: string, hash: string) => Promise<boolean>;

const BCRYPT = /^\$2[abxy]\$\d{2}\$/;

function plainEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Authenticator {
  readonly opts: AuthOptions;
  private readonly users: Map<string, AuthOptions['users'][number]>;
  private readonly nkeys: Map<string, AuthOptions['nkeys'][number]>;

  /** Only system-account users are configured: clients without credentials may use $G. */
  private readonly anonymousAllowed: boolean;

  constructor(opts: AuthOptions, systemAccount = '$SYS') {
    this.opts = opts;
    this.users = new Map(opts.users.map((u) => [u.user, u]));
    this.nkeys = new Map(opts.nkeys.map((n) => [n.nkey, n]));
    // Observed on nats-server 2.9.10: with users only in the system account (the seed's JetStream
    // cluster configs), INFO says auth_required yet a CONNECT without credentials is accepted.
    this.anonymousAllowed =
      opts.token === null && opts.noAuthUser === null && opts.users.length + opts.nkeys.length > 0 && [...opts.users, ...opts.nkeys].every((u) => u.account === systemAccount);
  }

  get needsNonce(): boolean {
    return this.nkeys.size > 0;
  }

  /** Resolves to who the client is, or null (Authorization Violation). */
  async check(c: ConnectCreds, nonce: string | null, bcrypt: BcryptCompare): Promise<AuthOk | null> {
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    const nkey = str(c.nkey);
    if (nkey !== null) {
      const n = this.nkeys.get(nkey);
      const sig = str(c.sig);
      if (n === undefined || nonce === null || sig === null || !verifyNonce(nkey, nonce, sig)) return null;
      return { user: nkey, account: n.account, permissions: n.permissions };
    }
    const token = str(c.auth_token);
    if (this.opts.token !== null) {
      if (token === null) return this.noAuthUser(c);
      const ok = BCRYPT.test(this.opts.token) ? await bcrypt(token, this.opts.token) : plainEqual(token, this.opts.token);
      return ok ? { user: '', account: '$G', permissions: null } : null;
    }
    const user = str(c.user);
    if (user === null) return this.noAuthUser(c);
    const u = this.users.get(user);
    if (u === undefined) return null;
    const pass = typeof c.pass === 'string' ? c.pass : '';
    const ok = BCRYPT.test(u.password) ? await bcrypt(pass, u.password) : plainEqual(pass, u.password);
    return ok ? { user: u.user, account: u.account, permissions: u.permissions } : null;
  }

  /** No credentials at all: the no_auth_user, if configured (auth.go). */
  private noAuthUser(c: ConnectCreds): AuthOk | null {
    if (c.pass !== undefined && c.pass !== '' && c.pass !== null) return null;
    if (this.anonymousAllowed) return { user: '', account: '$G', permissions: null };
    const name = this.opts.noAuthUser;
    if (name === null) return null;
    const u = this.users.get(name);
    return u === undefined ? null : { user: u.user, account: u.account, permissions: u.permissions };
  }
}
