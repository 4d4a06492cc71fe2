// Subscribe permissions with queue groups ("subject queue" entries), as nats-server's client.go
// canSubscribe applies them, and the exact -ERR texts on raw sockets. Every expectation was checked
// against nats-server 2.9.10 (TSNATS_TEST_SERVER=nats-server passes).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { assertOpen } from '../wire/wire-util.js';

const dir = mkdtempSync(join(tmpdir(), 'tsnats-qperm-'));
const users = `
  { user: a, password: a, permissions: { subscribe: ["q A"] } }
  { user: b, password: b, permissions: { subscribe: { allow: ["q A"] } } }
  { user: c, password: c, permissions: { subscribe: { deny: ["q A"] } } }
  { user: d, password: d, permissions: { subscribe: ["foo", "foo v1", "bar v.*"] } }
  { user: e, password: e, permissions: { subscribe: { deny: ["foo", "foo v1"] } } }
  { user: f, password: f, permissions: { publish: { deny: "x" }, subscribe: "ok" } }
  { user: r, password: r, permissions: { subscribe: ["q A", "plain"] } }
`;
const conf = join(dir, 'q.conf');
writeFileSync(conf, `authorization { users = [${users}] }\n`);

const violation = (subject: string, queue?: string): string =>
  `-ERR 'Permissions Violation for Subscription to "${subject}"${queue !== undefined ? ` using queue "${queue}"` : ''}'\r\n`;

describe('queue permissions', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ args: ['-c', conf] });
  });
  after(async () => {
    await srv.stop();
  });

  async function login(user: string, verbose = false): Promise<WireClient> {
    const c = await connectRaw(srv.port);
    await c.expect(/^INFO .*\r\n/);
    c.send(`CONNECT ${JSON.stringify({ verbose, pedantic: false, user, pass: user })}\r\nPING\r\n`);
    await c.expectExact(verbose ? '+OK\r\nPONG\r\n' : 'PONG\r\n');
    return c;
  }

  for (const user of ['a', 'b']) {
    test(`subscribe ${user === 'a' ? '["q A"]' : '{ allow: ["q A"] }'}: only queue group A on q; plain and other groups refused`, async () => {
      const c = await login(user);
      c.send('SUB q 1\r\nSUB q B 2\r\nSUB q A 3\r\nSUB q _sys_ 4\r\n');
      await assertOpen(c, violation('q') + violation('q', 'B') + violation('q', '_sys_'));
      // Only the group A member exists: it gets the message.
      c.send('PUB q 2\r\nhi\r\n');
      await assertOpen(c, 'MSG q 3 2\r\nhi\r\n');
      c.close();
    });
  }

  test('deny ["q A"]: plain q and other groups allowed, group A refused', async () => {
    const c = await login('c');
    c.send('SUB q 1\r\nSUB q B 2\r\nSUB q A 3\r\nSUB * A 4\r\n');
    await assertOpen(c, violation('q', 'A'));
    c.close();
  });

  test('allow ["foo", "foo v1", "bar v.*"]: plain foo, group v1 only; a wildcard group entry matches groups it covers', async () => {
    const c = await login('d');
    c.send('SUB foo 1\r\nSUB foo v2 2\r\nSUB foo v1 3\r\nSUB bar v.x 4\r\nSUB bar v.x.y 5\r\nSUB bar 6\r\nSUB bar v.* 7\r\n');
    await assertOpen(c, violation('foo', 'v2') + violation('bar', 'v.x.y') + violation('bar'));
    c.close();
  });

  test('deny ["foo", "foo v1"]: nats-server lets a queue entry decide for queue subscriptions (foo v2 is allowed)', async () => {
    const c = await login('e');
    c.send('SUB foo 1\r\nSUB foo v2 2\r\nSUB foo v1 3\r\n');
    await assertOpen(c, violation('foo') + violation('foo', 'v1'));
    c.close();
  });

  test('control bytes in a refused subject are quoted as Go %q does', async () => {
    const c = await login('f');
    c.send('SUB a\x01b 1\r\nSUB "q" x\x7f 2\r\n');
    await assertOpen(c, `-ERR 'Permissions Violation for Subscription to "a\\x01b"'\r\n-ERR 'Permissions Violation for Subscription to "\\"q\\"" using queue "x\\x7f"'\r\n`);
    c.close();
  });

  test('verbose: a denied PUB gets the -ERR only, no +OK before it; an allowed one +OK', async () => {
    const c = await login('f', true);
    c.send('PUB x 1\r\na\r\n');
    await c.expectExact(`-ERR 'Permissions Violation for Publish to "x"'\r\n`);
    c.send('PUB y 1\r\na\r\n');
    await c.expectExact('+OK\r\n');
    c.send('SUB nope 1\r\n');
    await c.expectExact(violation('nope'));
    await assertOpen(c);
    c.close();
  });
});

test('reload: subscriptions no longer allowed plainly or in their group are removed, with the sid in the text', { timeout: 30_000 }, async () => {
  const f = join(dir, 'reload.conf');
  writeFileSync(f, `authorization { users = [${users}] }\n`);
  const srv = await startServer({ args: ['-c', f] });
  try {
    const c = await connectRaw(srv.port);
    await c.expect(/^INFO .*\r\n/);
    c.send('CONNECT {"verbose":false,"pedantic":false,"user":"r","pass":"r"}\r\nSUB plain 1\r\nSUB q A 2\r\nSUB q A 3\r\nPING\r\n');
    await c.expectExact('PONG\r\n');
    writeFileSync(f, `authorization { users = [ { user: r, password: r, permissions: { subscribe: ["q A"] } } ] }\n`);
    srv.proc.kill('SIGHUP');
    await c.expect(/-ERR 'Permissions Violation for Subscription to "plain" \(sid "1"\)'\r\n/, 5000);
    c.send('PUB plain 1\r\nx\r\n');
    await assertOpen(c);
    c.close();
  } finally {
    await srv.stop();
  }
});
