// Core NATS compatibility with the official `nats` v2 client (nats.js 2.x).
// Run against the real nats-server with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect,
  headers,
  StringCodec,
  ErrorCode,
  NatsError,
  Empty,
  nuid,
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
} from 'nats';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectRaw } from '../helpers/wire.js';
import { delay, waitFor } from '../helpers/wait.js';

const sc = StringCodec();

/** Flush every connection in order (publishers first), then give stray deliveries a moment to show up. */
async function settle(...conns: NatsConnection[]): Promise<void> {
  for (const nc of conns) await nc.flush();
  await delay(50);
}

function uniq(prefix: string): string {
  return `${prefix}.${nuid.next()}`;
}

type Open = (opts?: Partial<ConnectionOptions>) => Promise<NatsConnection>;

describe('core compatibility (nats v2 client)', { timeout: 120_000 }, () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  /** Runs fn with a connection factory; every connection it opened is closed afterwards. */
  async function withConns(fn: (open: Open) => Promise<void>): Promise<void> {
    const conns: NatsConnection[] = [];
    const open: Open = async (opts = {}) => {
      const nc = await connect({ servers: server.hostport, reconnect: false, ...opts });
      conns.push(nc);
      return nc;
    };
    try {
      await fn(open);
    } finally {
      await Promise.all(conns.map((nc) => (nc.isClosed() ? undefined : nc.close())));
    }
  }

  test('1. pub/sub round trip: payload bytes arrive unchanged (same and other connection)', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const sub = await open();
      const pub = await open();
      const subj = uniq('rt');
      const payload = new Uint8Array(512);
      for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff; // includes \r, \n, 0x00, 0xff
      const got: Msg[] = [];
      sub.subscribe(subj, { callback: (err, m) => { if (!err) got.push(m); } });
      await sub.flush();
      pub.publish(subj, payload);
      sub.publish(subj, payload); // own publish, echo is on by default
      pub.publish(subj, Empty);
      await pub.flush();
      await waitFor(() => got.length >= 3, () => `3 messages (got ${got.length})`);
      await settle(pub, sub);
      assert.equal(got.length, 3);
      const sizes = got.map((m) => m.data.length).sort((a, b) => a - b);
      assert.deepEqual(sizes, [0, 512, 512]);
      for (const m of got) {
        assert.equal(m.subject, subj);
        assert.equal(m.reply, '');
        assert.equal(m.headers, undefined);
        if (m.data.length > 0) assert.deepEqual(Buffer.from(m.data), Buffer.from(payload));
      }
    });
  });

  test('2. wildcards: * matches exactly one token, > one or more trailing tokens', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const p = uniq('wc');
      const patterns = {
        star: `${p}.foo.*`,
        full: `${p}.foo.>`,
        leadStar: `${p}.*.bar`,
        twoStars: `${p}.*.*.baz`,
        all: `${p}.>`,
        literal: `${p}.foo.bar`,
      };
      const got: Record<keyof typeof patterns, string[]> = {
        star: [], full: [], leadStar: [], twoStars: [], all: [], literal: [],
      };
      for (const k of Object.keys(patterns) as (keyof typeof patterns)[]) {
        nc.subscribe(patterns[k], { callback: (err, m) => { if (!err) got[k].push(m.subject); } });
      }
      await nc.flush();
      const subjects = ['foo', 'foo.bar', 'foo.baz', 'foo.bar.baz', 'foox.bar', 'x.bar', 'foo.bar.baz.qux', 'bar']
        .map((s) => `${p}.${s}`);
      for (const s of subjects) nc.publish(s, sc.encode(s));
      await settle(nc);
      const rel = (list: string[]): string[] => list.map((s) => s.slice(p.length + 1)).sort();
      assert.deepEqual(rel(got.star), ['foo.bar', 'foo.baz'], 'foo.* (not foo, not foo.bar.baz, not foox.bar)');
      assert.deepEqual(rel(got.full), ['foo.bar', 'foo.bar.baz', 'foo.bar.baz.qux', 'foo.baz'], 'foo.> (not foo itself)');
      assert.deepEqual(rel(got.leadStar), ['foo.bar', 'foox.bar', 'x.bar'], '*.bar (not bar, not foo.bar.baz)');
      assert.deepEqual(rel(got.twoStars), ['foo.bar.baz'], '*.*.baz');
      assert.deepEqual(rel(got.all), subjects.map((s) => s.slice(p.length + 1)).sort(), '> gets everything below the prefix');
      assert.deepEqual(rel(got.literal), ['foo.bar'], 'literal subject');
    });
  });

  test('3. queue group of 5 gets each of 10,000 messages exactly once; a plain subscriber gets all', { timeout: 30_000 }, async () => {
    await withConns(async (open) => {
      const a = await open();
      const b = await open();
      const pub = await open();
      const subj = uniq('qg');
      const N = 10_000;
      const seen = new Set<number>();
      const dups: number[] = [];
      const perMember = [0, 0, 0, 0, 0];
      const plain = new Set<number>();
      let plainCount = 0;
      for (let i = 0; i < 5; i++) {
        const nc = i < 3 ? a : b; // 3 members on one connection, 2 on another
        nc.subscribe(subj, {
          queue: 'workers',
          callback: (err, m) => {
            if (err) return;
            const id = Number(sc.decode(m.data));
            if (seen.has(id)) dups.push(id);
            seen.add(id);
            perMember[i]!++;
          },
        });
      }
      b.subscribe(subj, {
        callback: (err, m) => {
          if (err) return;
          plainCount++;
          plain.add(Number(sc.decode(m.data)));
        },
      });
      await a.flush();
      await b.flush();
      for (let i = 0; i < N; i++) pub.publish(subj, sc.encode(String(i)));
      await pub.flush();
      await waitFor(
        () => seen.size + dups.length >= N && plainCount >= N,
        () => `10,000 queue + 10,000 plain deliveries (queue ${seen.size} + ${dups.length} dups, plain ${plainCount})`,
        20_000,
      );
      await settle(pub, a, b);
      assert.deepEqual(dups, [], 'no message delivered twice to the queue group');
      assert.equal(seen.size, N);
      assert.equal(perMember.reduce((x, y) => x + y, 0), N, 'queue group total deliveries');
      for (let i = 0; i < 5; i++) assert.ok(perMember[i]! > 0, `queue member ${i} got some messages: ${perMember.join(',')}`);
      assert.equal(plainCount, N, 'plain subscriber deliveries');
      assert.equal(plain.size, N);
    });
  });

  test('4. request/reply: concurrent requests each get their own answer', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const responder = await open();
      const requester = await open();
      const subj = uniq('svc');
      const replySubjects = new Set<string>();
      responder.subscribe(subj, {
        callback: (err, m) => {
          if (err) return;
          if (m.reply) replySubjects.add(m.reply);
          m.respond(sc.encode(`re:${sc.decode(m.data)}`));
        },
      });
      await responder.flush();
      const muxed = Array.from({ length: 50 }, (_, i) =>
        requester.request(subj, sc.encode(`q${i}`), { timeout: 5000 }).then((m) => sc.decode(m.data)));
      const unmuxed = Array.from({ length: 10 }, (_, i) =>
        requester.request(subj, sc.encode(`n${i}`), { timeout: 5000, noMux: true }).then((m) => sc.decode(m.data)));
      const answers = await Promise.all([...muxed, ...unmuxed]);
      assert.deepEqual(answers, [
        ...Array.from({ length: 50 }, (_, i) => `re:q${i}`),
        ...Array.from({ length: 10 }, (_, i) => `re:n${i}`),
      ]);
      assert.equal(replySubjects.size, 60, 'each request had a distinct reply subject');
      // a request from the responder's own connection works too
      const self = await responder.request(subj, sc.encode('self'), { timeout: 5000 });
      assert.equal(sc.decode(self.data), 're:self');
    });
  });

  test('5. headers round trip: multi-value header, empty payload, and no headers', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const sub = await open();
      const pub = await open();
      const subj = uniq('hdr');
      const got: Msg[] = [];
      sub.subscribe(subj, { callback: (err, m) => { if (!err) got.push(m); } });
      await sub.flush();
      const h1 = headers();
      h1.append('X-Multi', 'one');
      h1.append('X-Multi', 'two');
      h1.append('X-Multi', 'three');
      h1.set('X-Single', 'a value: with colon');
      pub.publish(subj, sc.encode('with-headers'), { headers: h1 });
      const h2 = headers();
      h2.set('X-Empty', 'payload is empty');
      pub.publish(subj, Empty, { headers: h2 });
      pub.publish(subj, sc.encode('plain'));
      await pub.flush();
      await waitFor(() => got.length >= 3, () => `3 messages (got ${got.length})`);
      await settle(pub, sub);
      assert.equal(got.length, 3);
      const [m1, m2, m3] = got as [Msg, Msg, Msg];
      assert.equal(sc.decode(m1.data), 'with-headers');
      assert.ok(m1.headers, 'first message has headers');
      assert.deepEqual(m1.headers.values('X-Multi'), ['one', 'two', 'three']);
      assert.equal(m1.headers.get('X-Single'), 'a value: with colon');
      assert.equal(m1.headers.hasError, false);
      assert.equal(m2.data.length, 0);
      assert.ok(m2.headers, 'empty-payload message has headers');
      assert.equal(m2.headers.get('X-Empty'), 'payload is empty');
      assert.equal(m2.headers.hasError, false);
      assert.equal(m2.headers.code, 0, 'no status line');
      assert.equal(sc.decode(m3.data), 'plain');
      assert.equal(m3.headers, undefined, 'PUB without headers arrives as MSG');
      // headers on a request and on its reply
      const rsubj = uniq('hdr.req');
      sub.subscribe(rsubj, {
        callback: (err, m) => {
          if (err) return;
          const rh = headers();
          rh.set('X-Echo', m.headers?.values('X-Req').join('|') ?? 'none');
          m.respond(Empty, { headers: rh });
        },
      });
      await sub.flush();
      const rq = headers();
      rq.append('X-Req', 'a');
      rq.append('X-Req', 'b');
      const r = await pub.request(rsubj, Empty, { timeout: 5000, headers: rq });
      assert.equal(r.data.length, 0);
      assert.equal(r.headers?.get('X-Echo'), 'a|b');
    });
  });

  test('6. no responders: request rejects with ErrorCode.NoResponders (503) quickly', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const timeout = 5000;
      for (const noMux of [false, true]) {
        const subj = uniq('nobody');
        const t0 = Date.now();
        await assert.rejects(nc.request(subj, sc.encode('anyone?'), { timeout, noMux }), (err: unknown) => {
          assert.ok(err instanceof NatsError, `expected NatsError, got ${String(err)}`);
          assert.equal(err.code, ErrorCode.NoResponders, `noMux=${noMux}: code ${err.code} (${err.message})`);
          return true;
        });
        const elapsed = Date.now() - t0;
        assert.ok(elapsed < 1000, `noMux=${noMux}: no-responders took ${elapsed}ms (request timeout ${timeout}ms)`);
      }
      assert.equal(nc.isClosed(), false, 'connection survives no-responders');
      // once someone serves the subject, the same request succeeds
      const subj = uniq('somebody');
      nc.subscribe(subj, { callback: (err, m) => { if (!err) m.respond(sc.encode('here')); } });
      await nc.flush();
      const r = await nc.request(subj, Empty, { timeout });
      assert.equal(sc.decode(r.data), 'here');
    });
  });

  test('7a. subscription drain: messages already sent are all processed, then the subscription closes', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const subj = uniq('sdrain');
      const sub = nc.subscribe(subj);
      const got: string[] = [];
      const done = (async () => {
        for await (const m of sub) {
          got.push(sc.decode(m.data));
          if (got.length % 25 === 0) await delay(2); // a slow-ish consumer: messages queue up in the client
        }
      })();
      await nc.flush();
      const N = 300;
      for (let i = 0; i < N; i++) nc.publish(subj, sc.encode(String(i)));
      // PUBs precede the UNSUB on this connection, so all N were routed to the subscription before it went away.
      await sub.drain();
      await done;
      await sub.closed;
      assert.equal(sub.isClosed(), true);
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => String(i)));
      // nothing more is delivered after the drain
      nc.publish(subj, sc.encode('late'));
      await settle(nc);
      assert.equal(got.length, N);
      assert.equal(nc.stats().inMsgs, N, 'the server stopped delivering after the drain');
    });
  });

  test('7b. connection drain: messages already sent are all processed, then the connection closes', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const pub = await open();
      const subj = uniq('cdrain');
      const sub = nc.subscribe(subj);
      const got: string[] = [];
      const done = (async () => {
        for await (const m of sub) {
          got.push(sc.decode(m.data));
          if (got.length % 25 === 0) await delay(2);
        }
      })();
      let cbCount = 0;
      nc.subscribe(`${subj}.cb`, { callback: (err) => { if (!err) cbCount++; } });
      await nc.flush();
      const N = 500;
      for (let i = 0; i < N; i++) {
        pub.publish(subj, sc.encode(String(i)));
        pub.publish(`${subj}.cb`, Empty);
      }
      await pub.flush(); // the server has routed all of them to nc before nc's drain starts
      const closed = nc.closed();
      await nc.drain();
      await done;
      assert.equal(await closed, undefined, 'closed() resolves without an error');
      assert.equal(nc.isClosed(), true);
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => String(i)));
      assert.equal(cbCount, N);
      // the server forgot the drained connection's interest: a request finds no responders
      await assert.rejects(pub.request(subj, Empty, { timeout: 3000 }), (err: unknown) => {
        assert.ok(err instanceof NatsError);
        assert.equal(err.code, ErrorCode.NoResponders);
        return true;
      });
    });
  });

  test('8. auto-unsubscribe: {max: N} and unsubscribe(N) after some messages', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const pub = await open();
      // subscribe with max: the server stops after N (UNSUB sid N); the client would also drop extras,
      // so the server side is checked with the connection's raw inMsgs counter.
      const subj = uniq('max');
      const N = 10;
      const got: string[] = [];
      const sub = nc.subscribe(subj, { max: N, callback: (err, m) => { if (!err) got.push(sc.decode(m.data)); } });
      await nc.flush();
      for (let i = 0; i < N + 5; i++) pub.publish(subj, sc.encode(String(i)));
      await pub.flush();
      await waitFor(() => got.length >= N, () => `${N} messages (got ${got.length})`);
      await settle(pub, nc);
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => String(i)));
      assert.equal(sub.isClosed(), true);
      assert.equal(nc.stats().inMsgs, N, 'server delivered exactly N messages to the connection');

      // unsubscribe(max) after some were received: max counts all deliveries, including earlier ones
      const subj2 = uniq('max2');
      const got2: string[] = [];
      const sub2 = nc.subscribe(subj2, { callback: (err, m) => { if (!err) got2.push(sc.decode(m.data)); } });
      await nc.flush();
      for (let i = 0; i < 5; i++) pub.publish(subj2, sc.encode(String(i)));
      await pub.flush();
      await waitFor(() => got2.length >= 5, () => `first 5 messages (got ${got2.length})`);
      const inBefore = nc.stats().inMsgs;
      sub2.unsubscribe(8);
      await nc.flush(); // the server has processed UNSUB sid 8
      for (let i = 5; i < 15; i++) pub.publish(subj2, sc.encode(String(i)));
      await pub.flush();
      await waitFor(() => got2.length >= 8, () => `8 messages (got ${got2.length})`);
      await settle(pub, nc);
      assert.deepEqual(got2, Array.from({ length: 8 }, (_, i) => String(i)));
      assert.equal(sub2.isClosed(), true);
      assert.equal(nc.stats().inMsgs - inBefore, 3, 'server delivered exactly 3 more after UNSUB sid 8');
    });
  });

  test('9. echo:false (noEcho): own publishes are not delivered to own subscriptions', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const quiet = await open({ noEcho: true });
      const other = await open();
      const subj = uniq('echo');
      const quietGot: string[] = [];
      const otherGot: string[] = [];
      quiet.subscribe(subj, { callback: (err, m) => { if (!err) quietGot.push(sc.decode(m.data)); } });
      quiet.subscribe(`${subj}.>`, { callback: (err, m) => { if (!err) quietGot.push(sc.decode(m.data)); } });
      other.subscribe(subj, { callback: (err, m) => { if (!err) otherGot.push(sc.decode(m.data)); } });
      await quiet.flush();
      await other.flush();
      quiet.publish(subj, sc.encode('from-quiet'));
      quiet.publish(`${subj}.x`, sc.encode('from-quiet-x'));
      other.publish(subj, sc.encode('from-other'));
      await quiet.flush();
      await other.flush();
      await waitFor(
        () => quietGot.length >= 1 && otherGot.length >= 2,
        () => `deliveries (noEcho conn got ${JSON.stringify(quietGot)}, other got ${JSON.stringify(otherGot)})`,
      );
      await settle(quiet, other, quiet);
      assert.deepEqual(quietGot, ['from-other'], 'the noEcho connection only sees the other connection\'s message');
      assert.deepEqual([...otherGot].sort(), ['from-other', 'from-quiet'], 'echo is on for the other connection');
      assert.equal(quiet.stats().inMsgs, 1);
    });
  });

  test('10. max_payload 1024: 1024 bytes delivered, 1025 rejected (client and raw wire)', { timeout: 20_000 }, async () => {
    const small = await startServer({ maxPayload: 1024 });
    try {
      await withConns(async (open) => {
        const nc = await open({ servers: small.hostport });
        assert.equal(nc.info?.max_payload, 1024);
        const subj = uniq('mp');
        const got: Uint8Array[] = [];
        nc.subscribe(subj, { callback: (err, m) => { if (!err) got.push(m.data); } });
        await nc.flush();
        const exact = Uint8Array.from({ length: 1024 }, (_, i) => i % 251);
        nc.publish(subj, exact);
        await nc.flush();
        await waitFor(() => got.length >= 1, () => `the 1024-byte message (got ${got.length})`);
        assert.deepEqual(Buffer.from(got[0]!), Buffer.from(exact));
        assert.throws(() => nc.publish(subj, new Uint8Array(1025)), (err: unknown) => {
          assert.ok(err instanceof NatsError, `expected NatsError, got ${String(err)}`);
          assert.equal(err.code, ErrorCode.MaxPayloadExceeded);
          return true;
        });
        nc.publish(subj, sc.encode('still alive'));
        await nc.flush();
        await waitFor(() => got.length >= 2, () => `message after the rejected publish (got ${got.length})`);
        assert.equal(sc.decode(got[1]!), 'still alive');
        assert.equal(nc.isClosed(), false);
      });

      // The client never sends an oversized PUB, so check the server's own enforcement on a raw socket.
      const raw = await connectRaw(small.port);
      try {
        const info = await raw.expect(/^INFO (\{.*\}) *\r\n/);
        assert.equal((JSON.parse(info[1]!) as { max_payload: number }).max_payload, 1024);
        raw.send('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
        await raw.expect(/^(?:PING\r\n)*PONG\r\n/);
        raw.send(`PUB raw.mp 1024\r\n${'a'.repeat(1024)}\r\nPING\r\n`);
        await raw.expect(/^(?:PING\r\n)*PONG\r\n/);
        raw.send(`PUB raw.mp 1025\r\n${'b'.repeat(1025)}\r\n`);
        await raw.expect(/^(?:PING\r\n)*-ERR 'Maximum Payload Violation'\r\n/);
        await Promise.race([raw.closed, delay(3000)]);
        assert.equal(raw.isClosed(), true, 'server closes the connection after Maximum Payload Violation');
      } finally {
        raw.close();
      }
      // HPUB: the limit applies to headers + payload
      const raw2 = await connectRaw(small.port);
      try {
        await raw2.expect(/^INFO (\{.*\}) *\r\n/);
        raw2.send('CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n');
        await raw2.expect(/^(?:PING\r\n)*PONG\r\n/);
        const hdr = 'NATS/1.0\r\n\r\n';
        raw2.send(`HPUB raw.mp ${hdr.length} 1025\r\n${hdr}${'c'.repeat(1025 - hdr.length)}\r\n`);
        await raw2.expect(/^(?:PING\r\n)*-ERR 'Maximum Payload Violation'\r\n/);
        await Promise.race([raw2.closed, delay(3000)]);
        assert.equal(raw2.isClosed(), true, 'server closes the connection after Maximum Payload Violation (HPUB)');
      } finally {
        raw2.close();
      }
    } finally {
      await small.stop();
    }
  });

  test('11. the client reads INFO: server_id, version, max_payload, headers, proto', { timeout: 15_000 }, async () => {
    await withConns(async (open) => {
      const nc = await open();
      const info = nc.info;
      assert.ok(info, 'nc.info is set');
      assert.equal(typeof info.server_id, 'string');
      assert.ok(info.server_id.length > 0, 'server_id is not empty');
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      assert.equal(info.max_payload, 1024 * 1024, 'default max_payload is 1 MB');
      assert.equal(info.headers, true);
      assert.equal(info.proto, 1);
      assert.equal(info.port, server.port);
      assert.equal(typeof info.client_id, 'number');
    });
  });
});
