// Client authentication at CONNECT (nats-server auth.go processClientOrLeafAuthentication): a token,
// or a user (plain or bcrypt password), or an nkey signature over the INFO nonce, or with TLS
// verify_and_map the user the client certificate names; no_auth_user for clients that bring no
// credentials. bcrypt comparisons run on the main thread's piscina pool via `bcrypt`, never on a
// shard's event loop.

import { timingSafeEqual } from 'node:crypto';
import type { AuthOptions, Permissions } from '../server/options.js';
import { verifyNonce } from './nkey.js';
import { dnEqual, dnRdnsMatch, parseDn, type CertIdentity, type Dn } from './cert-identity.js';

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
  /** TLS verify_and_map: users are named by the client certificate. */
  readonly tlsMap: boolean;
  /** User names that parse as distinguished names, for certificate subjects (in config order). */
  private readonly userDns: { dn: Dn; user: AuthOptions['users'][number] }[] = [];

  constructor(opts: AuthOptions, systemAccount = '$SYS', tlsMap = false) {
    this.opts = opts;
    this.tlsMap = tlsMap;
    if (tlsMap) {
      for (const u of opts.users) {
        const dn = parseDn(u.user);
        if (dn !== null) this.userDns.push({ dn, user: u });
      }
    }
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

  /**
   * Resolves to who the client is, or null (Authorization Violation). `cert`: what the client's TLS
   * certificate names, when it presented one.
   */
  async check(c: ConnectCreds, nonce: string | null, bcrypt: BcryptCompare, cert: CertIdentity | null = null): Promise<AuthOk | null> {
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    const nkey = str(c.nkey);
    if (nkey !== null && this.nkeys.size > 0) {
      const n = this.nkeys.get(nkey);
      const sig = str(c.sig);
      if (n === undefined || nonce === null || sig === null || !verifyNonce(nkey, nonce, sig)) return null;
      return { user: nkey, account: n.account, permissions: n.permissions };
    }
    if (this.tlsMap && this.users.size > 0) {
      // verify_and_map: the certificate names the user; a password, if the user has one, must match.
      const u = cert === null ? null : this.mapCert(cert);
      if (u === null) return null;
      const pass = typeof c.pass === 'string' ? c.pass : '';
      const ok = BCRYPT.test(u.password) ? await bcrypt(pass, u.password) : plainEqual(pass, u.password);
      return ok ? { user: u.user, account: u.account, permissions: u.permissions } : null;
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

  /**
   * auth.go checkClientTLSCertSubject with the users as candidates: SAN e-mails, DNS names and URIs
   * by name; then the subject as a DN (equal, then the same RDNs reordered); then Go's string of the
   * subject, with its domain components appended and then without.
   */
  private mapCert(cert: CertIdentity): AuthOptions['users'][number] | null {
    if (cert.emails.length === 0 && !cert.hasSubject && cert.uris.length === 0) return null;
    for (const name of [...cert.emails, ...cert.dnsNames, ...cert.uris]) {
      const u = this.users.get(name);
      if (u !== undefined) return u;
    }
    if (cert.dn !== null) {
      const dn = cert.dn;
      const exact = this.userDns.find((x) => dnEqual(x.dn, dn));
      if (exact !== undefined) return exact.user;
      const reordered = this.userDns.find((x) => dnRdnsMatch(x.dn, dn));
      if (reordered !== undefined) return reordered.user;
    }
    if (cert.dcs !== '') {
      const u = this.users.get(`${cert.rdnString},${cert.dcs}`);
      if (u !== undefined) return u;
    }
    return this.users.get(cert.rdnString) ?? null;
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
