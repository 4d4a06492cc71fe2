// MQTT over TLS (the mqtt block's `tls { }`): the handshake comes first (no greeting before it), a TLS
// client connects with `mqtts://`, a plaintext one gets nowhere. Certificates are made by openssl in a
// temporary folder. Also green on nats-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMqttServer, connectMqtt, endQuietly, cleanupDirs, RawMqtt, connectPacket } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsnats-mqtt-tls-'));
const f = (n: string): string => join(dir, n);

before(() => {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=tsnats mqtt test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  cleanupDirs();
});

test('MQTT over TLS: mqtts:// works, plaintext MQTT gets no CONNACK', async () => {
  const srv = await startMqttServer({ shards: 2, mqtt: `tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}" }` });
  try {
    assert.match(srv.server.output(), /Listening for MQTT clients on tls:\/\//);
    const url = `mqtts://127.0.0.1:${srv.mqttPort}`;
    const { client, got } = await connectMqtt(url, { clientId: 'tls-1', ca: readFileSync(f('ca.pem')), servername: 'localhost' });
    await client.subscribeAsync('tls/x', { qos: 1 });
    await client.publishAsync('tls/x', 'secret', { qos: 1 });
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got[0]?.payload, 'secret');
    await endQuietly(client);
    const raw = await RawMqtt.connect(srv.mqttPort);
    raw.send(connectPacket({ clientId: 'plain' }));
    const rest = await raw.waitClosed(8000);
    assert.notDeepEqual([...rest.subarray(0, 4)], [0x20, 2, 0, 0], 'no CONNACK in plaintext');
    raw.destroy();
  } finally {
    await srv.stop();
  }
});
