// TLS as nats-server does it: INFO in plaintext (tls_required), then the handshake; a plaintext
// client gets nowhere; `verify` demands a client certificate from the configured CA. Certificates
// are made by openssl in a temporary folder for this test.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { startServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'tsnats-tls-'));
const f = (n: string): string => join(dir, n);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

before(() => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=tsnats test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem'));
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', f('client.key'), '-out', f('client.csr'));
  openssl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('client.ext'), '-out', f('client.pem'));
});

for (const shards of [1, 2]) {
  test(`TLS (${shards} shard(s)): INFO first in plaintext, TLS client works, plaintext client rejected`, { timeout: 30_000 }, async () => {
    const conf = f(`tls-${shards}.conf`);
    writeFileSync(conf, `tls {\n  cert_file: "${f('server.pem')}"\n  key_file: "${f('server.key')}"\n  timeout: 2\n}\n`);
    const server = await startServer({ shards, args: ['-c', conf] });
    try {
      const raw = await connectRaw(server.port);
      const m = await raw.expect(/^INFO (\{.*\}) \r\n/);
      assert.equal((JSON.parse(m[1]!) as { tls_required: boolean }).tls_required, true);
      raw.send('CONNECT {"verbose":false}\r\nPING\r\n');
      await raw.closed;
      assert.doesNotMatch(raw.buffered(), /PONG/);

      const nc = await connect({ servers: server.url, tls: { caFile: f('ca.pem') } });
      const got: string[] = [];
      nc.subscribe('tls.x', { callback: (_e, msg) => got.push(Buffer.from(msg.data).toString()) });
      const other = await connect({ servers: server.url, tls: { caFile: f('ca.pem') } });
      await nc.flush();
      other.publish('tls.x', 'secret');
      await other.flush();
      await nc.flush();
      assert.deepEqual(got, ['secret']);
      await nc.close();
      await other.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
}

test('TLS verify: a client certificate from the CA is required', { timeout: 30_000 }, async () => {
  const conf = f('verify.conf');
  writeFileSync(conf, `tls {\n  cert_file: "${f('server.pem')}"\n  key_file: "${f('server.key')}"\n  ca_file: "${f('ca.pem')}"\n  verify: true\n}\n`);
  const server = await startServer({ args: ['-c', conf] });
  try {
    const m = await (await connectRaw(server.port)).expect(/^INFO (\{.*\}) \r\n/);
    assert.equal((JSON.parse(m[1]!) as { tls_verify: boolean }).tls_verify, true);
    await assert.rejects(connect({ servers: server.url, reconnect: false, tls: { caFile: f('ca.pem') } }));
    const nc = await connect({ servers: server.url, tls: { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') } });
    await nc.flush();
    await nc.close();
    assert.ok(readFileSync(f('client.pem')).length > 0);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
