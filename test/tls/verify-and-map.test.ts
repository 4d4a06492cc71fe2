// TLS verify_and_map: the client certificate names the user (nats-server auth.go
// checkClientTLSCertSubject), users without passwords, with the official client. Every expectation
// was checked against nats-server 2.9.10 (TSNATS_TEST_SERVER=nats-server passes).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { startServer, type RunningServer } from '../helpers/server.js';
import { TestPki } from '../helpers/certs.js';

const pki = new TestPki();

describe('verify_and_map', () => {
  let srv: RunningServer;
  before(async () => {
    pki.server();
    pki.client('alice', '/C=US/O=Acme/OU=Eng/CN=alice');
    pki.client('frank', '/C=US/O=Acme/CN=frank');
    pki.client('bob', '/CN=bob', 'email:bob@example.com');
    pki.client('carol', '/CN=carol', 'DNS:carol.example.com');
    // An attribute internal/ldap does not know (emailAddress): matched by Go's string of the subject.
    pki.client('dave', '/C=US/ST=CA/O=Acme/CN=dave/emailAddress=dave@acme.test');
    // Domain components, and an attribute ldap does not know: the subject string with the DCs appended.
    pki.client('erin', '/DC=org/DC=example/CN=erin/UID=erin');
    pki.client('gina', '/CN=gina');
    pki.client('mallory', '/CN=mallory');
    const conf = pki.f('map.conf');
    writeFileSync(
      conf,
      `
tls {
  cert_file: "${pki.f('server.pem')}"
  key_file: "${pki.f('server.key')}"
  ca_file: "${pki.f('ca.pem')}"
  verify_and_map: true
  timeout: 2
}
authorization {
  users = [
    { user: "CN=alice,OU=Eng,O=Acme,C=US", permissions: { publish: "alice.>", subscribe: ["alice.>", "_INBOX.>"] } }
    { user: "C=US, O=Acme, CN=frank" }
    { user: "bob@example.com" }
    { user: "carol.example.com" }
    { user: "CN=dave,O=Acme,ST=CA,C=US" }
    { user: "CN=erin,DC=org,DC=example" }
    { user: "CN=gina", password: "gpw" }
  ]
}
`,
    );
    srv = await startServer({ args: ['-c', conf] });
  });
  after(async () => {
    await srv.stop();
  });

  const tlsOf = (name: string): Record<string, string> => ({ caFile: pki.f('ca.pem'), certFile: pki.f(`${name}.pem`), keyFile: pki.f(`${name}.key`) });

  async function outcome(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    let nc: NatsConnection | null = null;
    try {
      nc = await connect({ servers: srv.url, reconnect: false, tls: tlsOf(name), ...extra });
      await nc.flush();
      return 'connected';
    } catch (e) {
      return String((e as { code?: string }).code ?? (e as Error).message);
    } finally {
      await nc?.close();
    }
  }

  test('a passwordless user named by the certificate subject connects with its certificate, and has its permissions', async () => {
    const nc = await connect({ servers: srv.url, tls: tlsOf('alice') });
    const got: string[] = [];
    nc.subscribe('alice.in', { callback: (_e, m) => got.push(m.string()) });
    nc.publish('alice.in', 'hello');
    await nc.flush();
    const errs = (async () => {
      for await (const s of nc.status()) if (s.type === 'error') return String(s.data);
      return '';
    })();
    nc.publish('elsewhere', 'no');
    assert.equal(await errs, 'PERMISSIONS_VIOLATION');
    await nc.flush();
    assert.deepEqual(got, ['hello']);
    await nc.close();
  });

  test('subject DN in another order and with blanks (RDNs matched as a set)', async () => {
    assert.equal(await outcome('frank'), 'connected');
  });

  test('SAN e-mail address and SAN DNS name name users', async () => {
    assert.equal(await outcome('bob'), 'connected');
    assert.equal(await outcome('carol'), 'connected');
  });

  test("subjects ldap cannot read: Go's RDN string, with domain components appended", async () => {
    assert.equal(await outcome('dave'), 'connected');
    assert.equal(await outcome('erin'), 'connected');
  });

  test('a mapped user with a password needs it too; an unknown certificate and no certificate are refused', async () => {
    assert.equal(await outcome('gina', { user: 'ignored', pass: 'gpw' }), 'connected');
    assert.equal(await outcome('gina', { user: 'ignored', pass: 'wrong' }), 'AUTHORIZATION_VIOLATION');
    assert.equal(await outcome('mallory'), 'AUTHORIZATION_VIOLATION');
    let err = '';
    try {
      const nc = await connect({ servers: srv.url, reconnect: false, tls: { caFile: pki.f('ca.pem') } });
      await nc.close();
    } catch (e) {
      err = String(e);
    }
    assert.notEqual(err, '', 'a client without a certificate must not get in');
  });
});

test('users without passwords load: no_auth_user in an account, nkey users, certificate users', async () => {
  const conf = pki.f('nopass.conf');
  writeFileSync(
    conf,
    `
accounts {
  A: { users: [ { user: a }, { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4, permissions: { publish: "x" } } ] }
  B: { users: [ { user: "CN=client", permissions: { subscribe: "y" } }, { user: "app@example.com" } ] }
}
no_auth_user: a
`,
  );
  const srv = await startServer({ args: ['-c', conf] });
  try {
    // The no_auth_user has no password: a client without credentials is that user, in account A.
    const a1 = await connect({ servers: srv.url });
    const a2 = await connect({ servers: srv.url, user: 'a' });
    const got: string[] = [];
    a1.subscribe('in.a', { callback: (_e, m) => got.push(m.string()) });
    await a1.flush();
    a2.publish('in.a', 'same account');
    await a2.flush();
    await a1.flush();
    assert.deepEqual(got, ['same account']);
    await a1.close();
    await a2.close();
  } finally {
    await srv.stop();
  }
});
