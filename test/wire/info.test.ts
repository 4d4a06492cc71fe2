// INFO: the first line a client sees. Checked against nats-server 2.9.10, which sends
// `INFO {"server_id":...,"client_ip":"127.0.0.1"} \r\n` (note the space before CRLF; both forms accepted).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';
import { INFO_RE, readInfo, type Info } from './wire-util.js';

describe('INFO', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
  });

  test('INFO is the first line, sent unprompted, one CRLF-terminated line of valid JSON', async () => {
    // Send nothing: the server must speak first, and its first line must be INFO.
    const c2 = await connectRaw(srv.port);
    try {
      const m = await c2.expect(INFO_RE);
      assert.equal(m.index, 0);
      assert.ok(m[0].startsWith('INFO {'));
      assert.equal(m[0].indexOf('\n'), m[0].length - 1, 'INFO must be a single line');
      const info: unknown = JSON.parse(m[1]!);
      assert.equal(typeof info, 'object');
      // Nothing else arrives before the client says something.
      assert.equal(c2.buffered(), '');
    } finally {
      c2.close();
    }
  });

  test('INFO fields: server_id, server_name, version, proto, go, host, port, headers, max_payload, client_id', async () => {
    const c = await connectRaw(srv.port);
    let info: Info;
    try {
      info = await readInfo(c);
    } finally {
      c.close();
    }
    assert.equal(typeof info.server_id, 'string');
    assert.ok((info.server_id as string).length > 0, 'server_id non-empty');
    assert.equal(typeof info.server_name, 'string');
    assert.ok((info.server_name as string).length > 0, 'server_name non-empty');
    assert.equal(typeof info.version, 'string');
    if (srv.isNatsServer) assert.match(info.version as string, /^\d+\.\d+\.\d+/);
    else assert.equal(info.version, '2.10.0');
    assert.equal(info.proto, 1);
    assert.equal(info.headers, true);
    assert.equal(info.max_payload, 1048576);
    assert.equal(info.host, '127.0.0.1');
    assert.equal(info.port, srv.port);
    assert.equal(typeof info.client_id, 'number');
    assert.ok(Number.isInteger(info.client_id), 'client_id is an integer');
    assert.equal(typeof info.go, 'string');
    assert.ok((info.go as string).length > 0, 'go non-empty');
    // Never advertised without auth/TLS configured (clients would try to authenticate / upgrade).
    assert.notEqual(info.auth_required, true);
    assert.notEqual(info.tls_required, true);
  });

  test('client_id is distinct per connection; server_id is the same', async () => {
    const conns = await Promise.all([connectRaw(srv.port), connectRaw(srv.port), connectRaw(srv.port)]);
    try {
      const infos = await Promise.all(conns.map((c) => readInfo(c)));
      const ids = infos.map((i) => i.client_id);
      for (const id of ids) assert.equal(typeof id, 'number');
      assert.equal(new Set(ids).size, ids.length, `client_ids not distinct: ${JSON.stringify(ids)}`);
      assert.equal(new Set(infos.map((i) => i.server_id)).size, 1);
    } finally {
      for (const c of conns) c.close();
    }
  });

  test('max_payload reflects the configured limit', async () => {
    const s2 = await startServer({ maxPayload: 1024 });
    try {
      const c = await connectRaw(s2.port);
      try {
        const info = await readInfo(c);
        assert.equal(info.max_payload, 1024);
        assert.equal(info.port, s2.port);
      } finally {
        c.close();
      }
    } finally {
      await s2.stop();
    }
  });
});
