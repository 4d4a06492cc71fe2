// Authentication and authorization with the official client, configured as nats-server users
// write it (nats.conf): users with plain and bcrypt passwords, tokens, nkeys, permissions with
// nats-server's exact violation texts, allow_responses, accounts with imports, no_auth_user.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { createUser } from 'nkeys.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'tsnats-auth-'));
function conf(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** The text of the async error a connection reports (permissions violations arrive that way). */
function nextError(nc: NatsConnection): Promise<string> {
  return (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error') {
        // nats.js parses nats-server's exact text ('Permissions Violation for Publish to "x"') into
        // permissionContext; a different wording would leave it undefined.
        const pc = (s as unknown as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        return `${String(s.data)}: ${pc?.operation} ${pc?.subject}`;
      }
    }
    return '';
  })();
}

async function rejects(url: string, opts: Record<string, unknown>): Promise<string> {
  try {
    const nc = await connect({ servers: url, reconnect: false, ...opts });
    await nc.close();
    return 'connected';
  } catch (e) {
    return String((e as { code?: string }).code ?? (e as Error).message);
  }
}

const userKeys = createUser();
const bobHash = bcrypt.hashSync('bobpw', 4);
const tokenHash = bcrypt.hashSync('s3cret', 4);

describe('users, passwords, nkeys and permissions', () => {
  let server: RunningServer;
  before(async () => {
    const f = conf(
      'users.conf',
      `
authorization {
  users = [
    { user: alice, password: alicepw }
    { user: bob, password: "${bobHash}" }
    { user: pub, password: p, permissions: { publish: { allow: ["allowed.>", "_INBOX.>"], deny: ["allowed.secret"] }, subscribe: { allow: ["_INBOX.>", "mine.>"], deny: "mine.hidden" } } }
    { user: svc, password: s, permissions: { subscribe: "rpc.>", allow_responses: true } }
    { nkey: ${userKeys.getPublicKey()} }
  ]
}
`,
    );
    server = await startServer({ args: ['-c', f] });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test('INFO says auth_required and carries a nonce for nkey users', async () => {
    const c = await connectRaw(server.port);
    const m = await c.expect(/^INFO (\{.*\}) ?\r\n/);
    const info = JSON.parse(m[1]!) as { auth_required: boolean; nonce: string };
    assert.equal(info.auth_required, true);
    assert.match(info.nonce, /^[A-Za-z0-9_-]{10,}$/);
    c.close();
  });

  test('right and wrong user/password, plain and bcrypt', async () => {
    assert.equal(await rejects(server.url, { user: 'alice', pass: 'alicepw' }), 'connected');
    assert.equal(await rejects(server.url, { user: 'alice', pass: 'nope' }), 'AUTHORIZATION_VIOLATION');
    assert.equal(await rejects(server.url, { user: 'bob', pass: 'bobpw' }), 'connected');
    assert.equal(await rejects(server.url, { user: 'bob', pass: 'alicepw' }), 'AUTHORIZATION_VIOLATION');
    assert.equal(await rejects(server.url, { user: 'nobody', pass: 'x' }), 'AUTHORIZATION_VIOLATION');
    assert.equal(await rejects(server.url, {}), 'AUTHORIZATION_VIOLATION');
  });

  test('raw: no CONNECT first is an Authorization Violation; a bad login gets the exact -ERR and a close', async () => {
    const a = await connectRaw(server.port);
    await a.expect(/^INFO .*\r\n/);
    a.send('PING\r\n');
    await a.expect(/^-ERR 'Authorization Violation'\r\n/);
    await a.closed;
    const b = await connectRaw(server.port);
    await b.expect(/^INFO .*\r\n/);
    b.send('CONNECT {"verbose":false,"user":"alice","pass":"bad"}\r\nPING\r\n');
    await b.expect(/^-ERR 'Authorization Violation'\r\n/);
    await b.closed;
  });

  test('nkey: a signed nonce logs in, a wrong key does not', async () => {
    assert.equal(await rejects(server.url, { authenticator: nkeyAuthenticator(userKeys.getSeed()) }), 'connected');
    assert.equal(await rejects(server.url, { authenticator: nkeyAuthenticator(createUser().getSeed()) }), 'AUTHORIZATION_VIOLATION');
  });

  test('publish allow/deny: exact violation text, message dropped, connection kept', async () => {
    const watcher = await connect({ servers: server.url, user: 'alice', pass: 'alicepw' });
    const got: string[] = [];
    watcher.subscribe('>', { callback: (_e, m) => got.push(m.subject) });
    await watcher.flush();
    const nc = await connect({ servers: server.url, user: 'pub', pass: 'p' });
    const err = nextError(nc);
    nc.publish('allowed.ok');
    nc.publish('other.subject');
    await nc.flush();
    assert.equal(await err, 'PERMISSIONS_VIOLATION: publish other.subject');
    const err2 = nextError(nc);
    nc.publish('allowed.secret');
    await nc.flush();
    assert.equal(await err2, 'PERMISSIONS_VIOLATION: publish allowed.secret');
    await watcher.flush();
    assert.deepEqual(got, ['allowed.ok']);
    assert.equal(nc.isClosed(), false);
    // The exact bytes on the wire, and the connection stays open.
    const raw = await connectRaw(server.port);
    await raw.expect(/^INFO .*\r\n/);
    raw.send('CONNECT {"verbose":false,"pedantic":false,"user":"pub","pass":"p"}\r\nPUB nope.x 1\r\nx\r\nPING\r\n');
    await raw.expect(/^-ERR 'Permissions Violation for Publish to "nope\.x"'\r\nPONG\r\n/);
    raw.close();
    await nc.close();
    await watcher.close();
  });

  test('subscribe allow/deny: exact texts (queue form too) and delivery only where allowed', async () => {
    const c = await connectRaw(server.port);
    await c.expect(/^INFO .*\r\n/);
    c.send('CONNECT {"verbose":false,"pedantic":false,"user":"pub","pass":"p"}\r\nSUB forbidden 1\r\nSUB forbidden q 2\r\nSUB mine.hidden 3\r\nSUB mine.ok 4\r\nPING\r\n');
    await c.expect(/^-ERR 'Permissions Violation for Subscription to "forbidden"'\r\n/);
    await c.expect(/^-ERR 'Permissions Violation for Subscription to "forbidden" using queue "q"'\r\n/);
    await c.expect(/^-ERR 'Permissions Violation for Subscription to "mine.hidden"'\r\n/);
    await c.expect(/^PONG\r\n/);
    const alice = await connect({ servers: server.url, user: 'alice', pass: 'alicepw' });
    alice.publish('mine.ok', 'x');
    alice.publish('forbidden', 'y');
    await alice.flush();
    c.send('PING\r\n');
    await c.expect(/^MSG mine\.ok 4 1\r\nx\r\nPONG\r\n/);
    c.close();
    await alice.close();
  });

  test('allow_responses: a responder may answer requests it received, and nothing else', async () => {
    const svc = await connect({ servers: server.url, user: 'svc', pass: 's' });
    svc.subscribe('rpc.echo', { callback: (_e, m) => m.respond(m.data) });
    await svc.flush();
    const alice = await connect({ servers: server.url, user: 'alice', pass: 'alicepw' });
    const r = await alice.request('rpc.echo', 'hi', { timeout: 2000 });
    assert.equal(Buffer.from(r.data).toString(), 'hi');
    const err = nextError(svc);
    svc.publish('rpc.other', 'nope');
    await svc.flush();
    assert.equal(await err, 'PERMISSIONS_VIOLATION: publish rpc.other');
    await svc.close();
    await alice.close();
  });

  test('ten bcrypt logins (cost 11) do not hold up another client on the same server', { timeout: 60_000 }, async () => {
    const heavy = bcrypt.hashSync('slow', 11);
    const f = conf('heavy.conf', `authorization { users = [ { user: slow, password: "${heavy}" }, { user: fast, password: f } ] }\n`);
    const s = await startServer({ shards: 1, args: ['-c', f] });
    try {
      const fast = await connect({ servers: s.url, user: 'fast', pass: 'f' });
      let loginsDone = 0;
      const logins = Array.from({ length: 10 }, () =>
        connect({ servers: s.url, user: 'slow', pass: 'slow' }).then((nc) => {
          loginsDone++;
          return nc;
        }),
      );
      // Give the CONNECTs a moment to reach the server, then ping.
      await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 100; i++) await fast.flush();
      const loginsWhenPingsDone = loginsDone;
      const conns = await Promise.all(logins);
      assert.equal(conns.length, 10);
      assert.ok(loginsWhenPingsDone < 10, `all ${loginsWhenPingsDone} logins finished before 100 round trips`);
      await Promise.all([...conns, fast].map((c) => c.close()));
    } finally {
      await s.stop();
    }
  });
});

describe('tokens, no_auth_user and the authorization timeout', () => {
  test('plain and bcrypt tokens', async () => {
    for (const token of ['s3cret', tokenHash]) {
      const s = await startServer({ args: ['-c', conf(`tok-${token.length}.conf`, `authorization { token: "${token}" }\n`)] });
      try {
        assert.equal(await rejects(s.url, { token: 's3cret' }), 'connected');
        assert.equal(await rejects(s.url, { token: 'wrong' }), 'AUTHORIZATION_VIOLATION');
      } finally {
        await s.stop();
      }
    }
  });

  test('--user/--pass and --auth flags', async () => {
    const s = await startServer({ args: ['--user', 'u', '--pass', 'p'] });
    try {
      assert.equal(await rejects(s.url, { user: 'u', pass: 'p' }), 'connected');
      assert.equal(await rejects(s.url, { user: 'u', pass: 'x' }), 'AUTHORIZATION_VIOLATION');
    } finally {
      await s.stop();
    }
  });

  test('no_auth_user: a client without credentials is that user', async () => {
    const s = await startServer({
      args: ['-c', conf('noauth.conf', `no_auth_user: guest\nauthorization { users = [ { user: guest, password: g, permissions: { publish: "guest.>" } }, { user: admin, password: a } ] }\n`)],
    });
    try {
      const nc = await connect({ servers: s.url });
      const err = nextError(nc);
      nc.publish('admin.x');
      await nc.flush();
      assert.equal(await err, 'PERMISSIONS_VIOLATION: publish admin.x');
      await nc.close();
      assert.equal(await rejects(s.url, { user: 'admin', pass: 'a' }), 'connected');
    } finally {
      await s.stop();
    }
  });

  test('authorization timeout: no CONNECT in time gets Authentication Timeout and a close', async () => {
    const s = await startServer({ args: ['-c', conf('timeout.conf', `authorization { user: a, password: b, timeout: 0.3 }\n`)] });
    try {
      const c = await connectRaw(s.port);
      await c.expect(/^INFO .*\r\n/);
      await c.expect(/^-ERR 'Authentication Timeout'\r\n/, 3000);
      await c.closed;
    } finally {
      await s.stop();
    }
  });
});

describe('accounts', () => {
  let server: RunningServer;
  before(async () => {
    const f = conf(
      'accounts.conf',
      `
accounts {
  A: {
    users: [ { user: a, password: a } ]
    exports: [ { stream: "feed.>" }, { service: "svc.time" } ]
  }
  B: {
    users: [ { user: b, password: b } ]
    imports: [
      { stream: { account: A, subject: "feed.>" }, prefix: "fromA" }
      { service: { account: A, subject: "svc.time" }, to: "time" }
    ]
  }
  C: { users: [ { user: c, password: c } ] }
}
`,
    );
    server = await startServer({ args: ['-c', f] });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test('isolation: the same subject in another account is another subject', async () => {
    const a = await connect({ servers: server.url, user: 'a', pass: 'a' });
    const c = await connect({ servers: server.url, user: 'c', pass: 'c' });
    const got: string[] = [];
    c.subscribe('iso.x', { callback: (_e, m) => got.push(`c:${Buffer.from(m.data).toString()}`) });
    a.subscribe('iso.x', { callback: (_e, m) => got.push(`a:${Buffer.from(m.data).toString()}`) });
    await c.flush();
    await a.flush();
    a.publish('iso.x', 'from-a');
    c.publish('iso.x', 'from-c');
    await a.flush();
    await c.flush();
    await a.flush();
    assert.deepEqual(got.sort(), ['a:from-a', 'c:from-c']);
    await a.close();
    await c.close();
  });

  test('stream import: A publishes feed.x, B receives it as fromA.feed.x; C gets nothing', async () => {
    const a = await connect({ servers: server.url, user: 'a', pass: 'a' });
    const b = await connect({ servers: server.url, user: 'b', pass: 'b' });
    const c = await connect({ servers: server.url, user: 'c', pass: 'c' });
    const got: string[] = [];
    b.subscribe('fromA.>', { callback: (_e, m) => got.push(`b:${m.subject}`) });
    c.subscribe('>', { callback: (_e, m) => got.push(`c:${m.subject}`) });
    await b.flush();
    await c.flush();
    a.publish('feed.x', 'news');
    a.publish('private.x', 'not exported');
    await a.flush();
    await b.flush();
    await c.flush();
    assert.deepEqual(got, ['b:fromA.feed.x']);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('service import: B requests "time", A answers on svc.time, the reply comes back to B', async () => {
    const a = await connect({ servers: server.url, user: 'a', pass: 'a' });
    const b = await connect({ servers: server.url, user: 'b', pass: 'b' });
    a.subscribe('svc.time', { callback: (_e, m) => m.respond(Buffer.from(`now:${Buffer.from(m.data).toString()}`)) });
    await a.flush();
    for (let i = 0; i < 20; i++) {
      const r = await b.request('time', Buffer.from(String(i)), { timeout: 2000 });
      assert.equal(Buffer.from(r.data).toString(), `now:${i}`);
    }
    // Not imported: no responders.
    await assert.rejects(b.request('svc.time', 'x', { timeout: 1000 }), (e: { code?: string }) => e.code === '503');
    await a.close();
    await b.close();
  });
});
