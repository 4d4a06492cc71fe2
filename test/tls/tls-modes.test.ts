// TLS on the client port as nats-server: allow_non_tls (tls_available; TLS and plaintext clients
// side by side), the server's own certificate chain (never the CA from ca_file), handshake_first
// (TLS before INFO, nats-server 2.10.4+), and the -ERR a plaintext client gets on a TLS-only port.
// The allow_non_tls and chain tests pass on nats-server 2.9.10 too; the others are skipped there
// (handshake_first is newer than 2.9.10, and 2.9.10 closes a plaintext client without the -ERR).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect } from 'nats';
import { startServer, usingNatsServer, type RunningServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';
import { TestPki } from '../helpers/certs.js';

const pki = new TestPki();
const tsnatsOnly = usingNatsServer ? 'tsnats only' : false;

before(() => {
  pki.server();
  pki.intermediate();
  pki.server('server2', 'inter');
  pki.chain('server2-chain.pem', pki.f('server2.pem'), pki.f('inter.pem'));
});

function conf(name: string, text: string): string {
  writeFileSync(pki.f(name), text);
  return pki.f(name);
}

const tlsBlock = (extra = '', cert = 'server.pem', key = 'server.key'): string =>
  `tls {\n  cert_file: "${pki.f(cert)}"\n  key_file: "${pki.f(key)}"\n  timeout: 1\n  ${extra}\n}\n`;

async function info(port: number): Promise<Record<string, unknown>> {
  const c = await connectRaw(port);
  const m = await c.expect(/^INFO (\{.*\}) ?\r\n/);
  c.close();
  return JSON.parse(m[1]!) as Record<string, unknown>;
}

describe('allow_non_tls', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ args: ['-c', conf('nontls.conf', `allow_non_tls: true\n${tlsBlock()}`)] });
  });
  after(async () => {
    await srv.stop();
  });

  test('INFO says tls_available, not tls_required', async () => {
    const i = await info(srv.port);
    assert.equal(i['tls_available'], true);
    assert.equal(i['tls_required'], undefined);
  });

  test('a plaintext raw client is served in plaintext', async () => {
    const c = await connectRaw(srv.port);
    await c.expect(/^INFO .*\r\n/);
    c.send('CONNECT {"verbose":false,"pedantic":false}\r\nSUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n');
    await c.expectExact('MSG x 1 2\r\nhi\r\nPONG\r\n');
    c.close();
  });

  test('TLS and plaintext clients of the official client talk to each other', async () => {
    const secure = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem') } });
    const plain = await connect({ servers: srv.url, tls: null });
    const got: string[] = [];
    secure.subscribe('mixed', { callback: (_e, m) => got.push(m.string()) });
    await secure.flush();
    plain.publish('mixed', 'from plaintext');
    await plain.flush();
    await secure.flush();
    assert.deepEqual(got, ['from plaintext']);
    await secure.close();
    await plain.close();
  });
});

describe("the server's certificate chain", () => {
  /** The certificates the server sends, by subject CN, in order. */
  async function chainOf(port: number, client?: string): Promise<string[]> {
    const raw = net.connect(port, '127.0.0.1');
    await new Promise((r) => raw.once('data', r)); // INFO
    const id = client !== undefined ? { cert: readFileSync(pki.f(`${client}.pem`)), key: readFileSync(pki.f(`${client}.key`)) } : {};
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, ...id });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    const out: string[] = [];
    const seen = new Set<string>();
    let c = t.getPeerCertificate(true);
    while (c !== undefined && c.raw !== undefined && !seen.has(c.fingerprint256)) {
      seen.add(c.fingerprint256);
      out.push(new X509Certificate(c.raw).subject.replace(/^CN=/, ''));
      c = c.issuerCertificate;
    }
    t.destroy();
    return out;
  }

  test('a leaf-only cert_file with a ca_file: only the leaf is sent, not the CA', async () => {
    const srv = await startServer({ args: ['-c', conf('leaf.conf', tlsBlock(`ca_file: "${pki.f('ca.pem')}"`))] });
    try {
      assert.deepEqual(await chainOf(srv.port), ['localhost']);
    } finally {
      await srv.stop();
    }
  });

  for (const verify of [false, true]) {
    test(`cert_file with leaf and intermediate${verify ? ', verify on' : ''}: exactly those two are sent`, async () => {
      const extra = `ca_file: "${pki.f('ca.pem')}"${verify ? '\n  verify: true' : ''}`;
      const srv = await startServer({ args: ['-c', conf(`chain-${verify}.conf`, tlsBlock(extra, 'server2-chain.pem', 'server2.key'))] });
      try {
        if (verify) pki.client('chainclient', '/CN=chainclient');
        assert.deepEqual(await chainOf(srv.port, verify ? 'chainclient' : undefined), ['localhost', 'tsnats test intermediate']);
      } finally {
        await srv.stop();
      }
    });
  }
});

describe('TLS required: a plaintext client', { skip: tsnatsOnly }, () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ args: ['-c', conf('required.conf', tlsBlock())] });
  });
  after(async () => {
    await srv.stop();
  });

  test("that speaks plaintext gets INFO, then -ERR 'Secure Connection - TLS Required' and a close", async () => {
    const c = await connectRaw(srv.port);
    const m = await c.expect(/^INFO (\{.*\}) \r\n/);
    assert.equal((JSON.parse(m[1]!) as Record<string, unknown>)['tls_required'], true);
    c.send('CONNECT {"verbose":false}\r\nPING\r\n');
    await c.closed;
    assert.equal(c.buffered(), "-ERR 'Secure Connection - TLS Required'\r\n");
  });

  test('that stays silent gets the same after the TLS timeout (1 s)', async () => {
    const c = await connectRaw(srv.port);
    await c.expect(/^INFO .*\r\n/);
    const t0 = Date.now();
    await c.closed;
    assert.equal(c.buffered(), "-ERR 'Secure Connection - TLS Required'\r\n");
    assert.ok(Date.now() - t0 >= 800, `closed after ${Date.now() - t0} ms`);
  });

  test('while a TLS client is served', async () => {
    const nc = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem') } });
    await nc.flush();
    await nc.close();
  });
});

describe('handshake_first', { skip: tsnatsOnly }, () => {
  test('true: no plaintext INFO; the TLS-first client gets INFO over TLS; the official client with tls.handshakeFirst works', async () => {
    const srv = await startServer({ args: ['-c', conf('first.conf', tlsBlock('handshake_first: true'))] });
    try {
      const plain = await connectRaw(srv.port);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(plain.buffered(), '', 'nothing in plaintext before the handshake');
      plain.close();

      const t = tls.connect({ host: '127.0.0.1', port: srv.port, ca: readFileSync(pki.f('ca.pem')), servername: 'localhost' });
      const line = await new Promise<string>((resolve, reject) => {
        let b = '';
        t.on('data', (d: Buffer) => {
          b += d.toString();
          if (b.includes('\r\n')) resolve(b);
        });
        t.once('error', reject);
      });
      t.destroy();
      const m = /^INFO (\{.*\}) \r\n/.exec(line);
      assert.ok(m, line);
      assert.equal((JSON.parse(m[1]!) as Record<string, unknown>)['tls_required'], true);

      const a = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem'), handshakeFirst: true } });
      const b = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem'), handshakeFirst: true } });
      const got: string[] = [];
      a.subscribe('first', { callback: (_e, msg) => got.push(msg.string()) });
      await a.flush();
      b.publish('first', 'over tls');
      await b.flush();
      await a.flush();
      assert.deepEqual(got, ['over tls']);
      await a.close();
      await b.close();
    } finally {
      await srv.stop();
    }
  });

  test('"auto": a client that waits gets INFO in plaintext after the fallback delay; both kinds of client connect', async () => {
    const srv = await startServer({ args: ['-c', conf('auto.conf', tlsBlock('handshake_first: auto'))] });
    try {
      const i = await info(srv.port);
      assert.equal(i['tls_required'], true);
      const classic = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem') } });
      const first = await connect({ servers: srv.url, tls: { caFile: pki.f('ca.pem'), handshakeFirst: true } });
      await classic.flush();
      await first.flush();
      await classic.close();
      await first.close();
    } finally {
      await srv.stop();
    }
  });
});
