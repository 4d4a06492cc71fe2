// Test certificates, made by openssl at test time in a temporary folder: a CA, an intermediate CA,
// server certificates, and client certificates with the subjects and SANs a test asks for.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** EC P-256 keys: made in milliseconds, where RSA keys take a noticeable while on a busy machine. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsnats-pki-'));

  constructor() {
    this.openssl('req', '-x509', ...KEY, '-nodes', '-days', '2', '-subj', '/CN=tsnats test CA', '-keyout', this.f('ca.key'), '-out', this.f('ca.pem'));
  }

  f(name: string): string {
    return join(this.dir, name);
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe' });
  }

  /** Issues `name`.pem / `name`.key signed by `issuer` (a name issued before, or 'ca'); returns the pem path. */
  issue(name: string, subject: string, ext: string, issuer = 'ca'): string {
    writeFileSync(this.f(`${name}.ext`), ext);
    this.openssl('req', ...KEY, '-nodes', '-subj', subject, '-keyout', this.f(`${name}.key`), '-out', this.f(`${name}.csr`));
    this.openssl('x509', '-req', '-in', this.f(`${name}.csr`), '-CA', this.f(`${issuer}.pem`), '-CAkey', this.f(`${issuer}.key`), '-CAcreateserial', '-days', '2', '-extfile', this.f(`${name}.ext`), '-out', this.f(`${name}.pem`));
    return this.f(`${name}.pem`);
  }

  server(name = 'server', issuer = 'ca'): string {
    return this.issue(name, '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', issuer);
  }

  intermediate(name = 'inter'): string {
    return this.issue(name, '/CN=tsnats test intermediate', 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n');
  }

  /** A client certificate; `san` like "email:bob@example.com" or "DNS:carol.example.com". */
  client(name: string, subject: string, san?: string): string {
    return this.issue(name, subject, `extendedKeyUsage=clientAuth\n${san !== undefined ? `subjectAltName=${san}\n` : ''}`);
  }

  /** Concatenates pem files into `name` (a certificate chain file). */
  chain(name: string, ...pems: string[]): string {
    writeFileSync(this.f(name), pems.map((p) => readFileSync(p, 'utf8')).join(''));
    return this.f(name);
  }
}
