// Service imports as nats-server maps them (accounts.go): a wildcard `to` maps the importer's
// subject onto the export's (`to: "froma.>"` for `$JS.API.>`-style exports), an export's
// `response_type: stream` lets a request get any number of replies (singleton: the first only),
// and the exact export of a subject wins over a wider one. Runs on 1 and 2 shards (requester and
// responder on different shards), and with TSNATS_TEST_SERVER=nats-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { startServer, usingNatsServer } from '../helpers/server.js';

const CONF = `accounts {
  A: {
    users: [{ user: a, password: a }]
    exports: [
      { service: "svc.>" }
      { service: "svc.many.>", response_type: stream }
    ]
  }
  B: {
    users: [{ user: b, password: b }]
    imports: [
      { service: { account: A, subject: "svc.>" }, to: "froma.>" }
      { service: { account: A, subject: "svc.many.>" }, to: "many.>" }
    ]
  }
}
`;

/** Every reply that reaches `inbox` within `ms` after the request. */
async function replies(nc: NatsConnection, subject: string, ms: number): Promise<string[]> {
  const inbox = `_INBOX.t.${Math.random().toString(36).slice(2)}`;
  const got: string[] = [];
  const sub = nc.subscribe(inbox, { callback: (_e: Error | null, m: Msg) => void got.push(m.string()) });
  await nc.flush();
  nc.publish(subject, 'q', { reply: inbox });
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return got;
}

for (const shards of usingNatsServer ? [1] : [1, 2]) {
  test(`service imports: wildcard "to" mapping, stream and singleton responses (${shards} shard${shards > 1 ? 's' : ''})`, { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-imports-'));
    const conf = join(dir, 'nats.conf');
    writeFileSync(conf, CONF);
    const server = await startServer({ args: ['-c', conf], shards });
    const conns: NatsConnection[] = [];
    try {
      // With 2 shards, several connections land on both; every B connection must reach A's responder.
      for (let i = 0; i < 2; i++) conns.push(await connect({ servers: server.hostport, user: 'a', pass: 'a', reconnect: false }));
      for (let i = 0; i < 2; i++) conns.push(await connect({ servers: server.hostport, user: 'b', pass: 'b', reconnect: false }));
      const [a] = conns;
      const seen: string[] = [];
      a!.subscribe('svc.>', {
        callback: (_e, m) => {
          seen.push(m.subject);
          const n = m.subject.startsWith('svc.many.') ? 3 : 2;
          for (let i = 1; i <= n; i++) m.respond(`r${i}`);
        },
      });
      await a!.flush();
      for (const b of conns.slice(2)) {
        // froma.x.y → svc.x.y: the `>` of the local subject fills the export's `>`.
        const r = await b.request('froma.x.y', 'q', { timeout: 2000 });
        assert.equal(r.string(), 'r1');
        // A singleton export: only the first of the two replies crosses back.
        assert.deepEqual(await replies(b, 'froma.one', 300), ['r1']);
        // response_type stream: all three.
        assert.deepEqual(await replies(b, 'many.k', 300), ['r1', 'r2', 'r3']);
      }
      assert.ok(seen.includes('svc.x.y') && seen.includes('svc.one') && seen.includes('svc.many.k'), `responder saw ${seen.join(',')}`);
    } finally {
      await Promise.allSettled(conns.map((c) => c.close()));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
