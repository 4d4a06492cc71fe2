// The details the clients' suites rely on (issue 17 point 5), each checked against nats-server with
// TSNATS_TEST_SERVER=nats-server (tests marked 2.10 need a nats-server newer than 2.9.10):
// API stats counted as nats-server counts them, R>1 refused on a stand-alone server (10074),
// consumer_limits, the ephemeral inactive threshold, pull max_bytes, a pull request surviving its
// client's reconnect, push durables and KV watchers after a server restart, push durables bound
// elsewhere (10013), stream names filtered by subject.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { createInbox, nanos, type NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { errCode, jsStoreDir, startJetStream, startJetStreamServer, openJs, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';
import { waitFor, delay } from '../helpers/wait.js';
import { rmSync } from 'node:fs';

describe('JetStream details', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<JsClient> | undefined;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let n = 0;
  const name = (): string => `D${++n}`;

  before(async () => {
    env = await startJetStream(openJs, { prefix: 'tsnats-js-details-' });
    ({ nc, jsm } = env);
  });
  after(() => env?.close());

  test('api.total / errors: a request is not counted in its own reply; errors count in both', async () => {
    const info = async (): Promise<{ total: number; errors: number }> => (await nc.request('$JS.API.INFO', '')).json<{ api: { total: number; errors: number } }>().api;
    const a = await info();
    const b = await info();
    assert.equal(b.total, a.total + 1, 'the first INFO is counted once answered');
    assert.equal(b.errors, a.errors);
    await nc.request('$JS.API.STREAM.INFO.NOPE', '');
    const c = await info();
    assert.equal(c.total, b.total + 2);
    assert.equal(c.errors, b.errors + 1);
  });

  test('num_replicas > 1 on a stand-alone server: 10074 for streams and consumers', async () => {
    const s = name();
    const e = (await nc.request(`$JS.API.STREAM.CREATE.${s}`, JSON.stringify({ name: s, subjects: [`${s}.>`], num_replicas: 3 }))).json<{ error: unknown }>();
    assert.deepEqual(e.error, { code: 500, err_code: 10074, description: 'replicas > 1 not supported in non-clustered mode' });
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    assert.equal(await errCode(jsm.consumers.add(s, { durable_name: 'r3', ack_policy: AckPolicy.Explicit, num_replicas: 3 })), 10074);
  });

  test('ephemeral consumers get inactive_threshold 5s; durables and named consumers keep theirs', async () => {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    const eph = await jsm.consumers.add(s, { ack_policy: AckPolicy.Explicit });
    assert.equal(eph.config.inactive_threshold, nanos(5000));
    const named = await jsm.consumers.add(s, { name: 'named', ack_policy: AckPolicy.Explicit, inactive_threshold: nanos(60_000) });
    assert.equal(named.config.inactive_threshold, nanos(60_000));
    const dur = await jsm.consumers.add(s, { durable_name: 'dur', ack_policy: AckPolicy.Explicit });
    assert.equal(dur.config.inactive_threshold, undefined);
  });

  test("a stream's consumer_limits are kept and applied (2.10)", { skip: usingNatsServer }, async () => {
    const s = name();
    const si = await jsm.streams.add({ name: s, subjects: [`${s}.>`], consumer_limits: { inactive_threshold: nanos(10_000), max_ack_pending: 20 } });
    assert.deepEqual(si.config.consumer_limits, { inactive_threshold: nanos(10_000), max_ack_pending: 20 });
    assert.deepEqual((await jsm.streams.info(s)).config.consumer_limits, { inactive_threshold: nanos(10_000), max_ack_pending: 20 });
    const c = await jsm.consumers.add(s, { ack_policy: AckPolicy.Explicit });
    assert.equal(c.config.max_ack_pending, 20, 'the stream limit is the default');
    assert.equal(c.config.inactive_threshold, nanos(10_000));
    const low = await jsm.consumers.add(s, { durable_name: 'low', ack_policy: AckPolicy.Explicit, max_ack_pending: 5 });
    assert.equal(low.config.max_ack_pending, 5);
    const over = await nc.request(
      `$JS.API.CONSUMER.CREATE.${s}.over`,
      JSON.stringify({ stream_name: s, config: { durable_name: 'over', ack_policy: 'explicit', max_ack_pending: 50 } }),
    );
    assert.deepEqual(over.json<{ error: unknown }>().error, { code: 400, err_code: 10121, description: 'consumer max ack pending exceeds system limit of 20' });
    const idle = await nc.request(
      `$JS.API.CONSUMER.CREATE.${s}.idle`,
      JSON.stringify({ stream_name: s, config: { name: 'idle', ack_policy: 'explicit', inactive_threshold: nanos(60_000) } }),
    );
    assert.deepEqual(idle.json<{ error: unknown }>().error, { code: 400, err_code: 10153, description: 'consumer inactive threshold exceeds system limit of 10s' });
  });

  test('pull max_bytes: a message larger than the request ends it with 409 at once', async () => {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    await jetstream(nc).publish(`${s}.a`, new Uint8Array(32));
    await jsm.consumers.add(s, { durable_name: 'a', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const inbox = createInbox();
    const got: string[] = [];
    const sub = nc.subscribe(inbox, { callback: (_e, m) => void got.push(`${m.headers?.code ?? ''} ${m.headers?.description ?? ''}`) });
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${s}.a`, JSON.stringify({ batch: 1, max_bytes: 8, expires: nanos(30_000) }), { reply: inbox });
    await waitFor(() => got.length > 0, 'a status', 2000);
    sub.unsubscribe();
    assert.deepEqual(got, ['409 Message Size Exceeds MaxBytes']);
    // And the official client's fetch ends quickly (nats.js "next - max_bytes returns fast").
    const c = await jetstream(nc).consumers.get(s, 'a');
    const start = Date.now();
    await assert.rejects(async () => {
      for await (const _ of await c.fetch({ expires: 30_000, max_bytes: 8 })) {
        // nothing fits
      }
    });
    assert.ok(Date.now() - start < 5000);
  });

  test('stream names filtered by subject', async () => {
    const s1 = name();
    const s2 = name();
    await jsm.streams.add({ name: s1, subjects: [`${s1}.a`, `${s1}.b.>`] });
    await jsm.streams.add({ name: s2, subjects: [`${s2}.*`] });
    const names = async (subject: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const s of jsm.streams.names(subject)) out.push(s);
      return out.filter((x) => x === s1 || x === s2).sort();
    };
    assert.deepEqual(await names(`${s1}.a`), [s1]);
    assert.deepEqual(await names(`${s1}.b.c.d`), [s1]);
    assert.deepEqual(await names(`${s2}.x`), [s2]);
    assert.deepEqual(await names('>'), [s1, s2]);
    assert.deepEqual(await names('nothing.here'), []);
    assert.equal(await jsm.streams.find(`${s2}.y`), s2);
    await assert.rejects(jsm.streams.find('nothing.here'));
  });

  test('re-creating a push durable on another deliver subject while the old one is subscribed: 10013', async () => {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`] });
    const first = createInbox();
    const sub = nc.subscribe(first);
    await jsm.consumers.add(s, { durable_name: 'p', ack_policy: AckPolicy.Explicit, deliver_subject: first });
    await nc.flush();
    const r = (await nc.request(
      `$JS.API.CONSUMER.CREATE.${s}.p`,
      JSON.stringify({ stream_name: s, config: { durable_name: 'p', ack_policy: 'explicit', deliver_subject: createInbox() } }),
    )).json<{ error?: unknown }>();
    assert.deepEqual(r.error, { code: 400, err_code: 10013, description: 'consumer name already in use' });
    sub.unsubscribe();
    await nc.flush();
    // Nobody listens any more: the durable moves to the new deliver subject.
    const next = createInbox();
    const moved = (await nc.request(
      `$JS.API.CONSUMER.CREATE.${s}.p`,
      JSON.stringify({ stream_name: s, config: { durable_name: 'p', ack_policy: 'explicit', deliver_subject: next } }),
    )).json<{ error?: unknown; config: { deliver_subject: string } }>();
    assert.equal(moved.error, undefined);
    assert.equal(moved.config.deliver_subject, next);
  });
});

describe('JetStream across client reconnects and server restarts', { timeout: 120_000 }, () => {
  /** A server on a fixed port and store directory, so clients reconnect to its restarted self. */
  async function serverAt(dir: string, port?: number) {
    return startJetStreamServer({ dir, args: (d) => ['-js', '-sd', d, ...(port !== undefined ? ['-p', String(port)] : [])] });
  }

  test('a waiting pull request survives its client reconnecting', async () => {
    const dir = jsStoreDir('tsnats-js-reconnect-');
    const srv = await serverAt(dir);
    const nc = await connect({ servers: srv.server.hostport, reconnectTimeWait: 50, maxReconnectAttempts: -1, timeout: 2000 });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'W', subjects: ['w.>'] });
      await jsm.consumers.add('W', { durable_name: 'd', ack_policy: AckPolicy.Explicit });
      // A pull request (the clients' fetch ends itself on a disconnect; the request on the server
      // does not): its inbox is subscribed again after the reconnect and the message arrives.
      const inbox = createInbox();
      const got: string[] = [];
      nc.subscribe(inbox, { callback: (_e, m) => void got.push(m.string()) });
      nc.publish('$JS.API.CONSUMER.MSG.NEXT.W.d', JSON.stringify({ batch: 1, expires: nanos(10_000) }), { reply: inbox });
      await nc.flush();
      await delay(300);
      const reconnected = (async () => {
        for await (const st of nc.status()) if (st.type === 'reconnect') return;
      })();
      await nc.reconnect().catch(() => {});
      await reconnected;
      await nc.flush();
      await delay(100);
      const other = await connect({ servers: srv.server.hostport });
      await jetstream(other).publish('w.1', 'after reconnect');
      await other.close();
      await waitFor(() => got.length > 0, 'the message', 5000);
      assert.deepEqual(got, ['after reconnect']);
    } finally {
      await nc.close();
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a durable push consumer and a KV watcher resume after a server restart', async () => {
    const dir = jsStoreDir('tsnats-js-resume-');
    let srv = await serverAt(dir);
    const port = srv.server.port;
    // timeout: a reconnect attempt that lands while the restarted server is still starting is retried soon.
    const nc = await connect({ servers: srv.server.hostport, reconnectTimeWait: 100, maxReconnectAttempts: -1, timeout: 2000 });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      await jsm.streams.add({ name: 'P', subjects: ['p.>'] });
      for (const v of ['a', 'b', 'c']) await js.publish('p.x', v);
      await jsm.consumers.add('P', { durable_name: 'me', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, deliver_subject: createInbox() });
      const pc = await js.consumers.getPushConsumer('P', 'me');
      const seen: number[] = [];
      const iter = await pc.consume({
        callback: (m) => {
          m.ack();
          seen.push(m.seq);
          if (m.seq === 6) void iter.close();
        },
      });
      const kv = await new Kvm(js).create('RESUME');
      const watch = await kv.watch();
      const keys: string[] = [];
      const watching = (async () => {
        for await (const e of watch) {
          keys.push(e.key);
          if (e.key === 'after') break;
        }
      })();
      await waitFor(() => seen.length === 3, () => `3 before the restart, got ${seen.length}`, 5000);
      await nc.flush();

      await srv.stop(); // keeps the store: `dir` was given
      srv = await serverAt(dir, port);
      for (let i = 0; i < 20; i++) {
        try {
          await nc.flush();
          break;
        } catch {
          await delay(500);
        }
      }
      await delay(300);
      for (const v of ['d', 'e', 'f']) await js.publish('p.x', v);
      for (let i = 0; i < 20; i++) {
        try {
          await kv.put('after', 'restart');
          break;
        } catch {
          await delay(500);
        }
      }
      await Promise.race([iter.closed(), delay(15_000)]);
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      const ci = await pc.info();
      assert.equal(ci.delivered.stream_seq, 6);
      assert.equal(ci.num_pending, 0);
      await Promise.race([watching, delay(15_000)]);
      assert.ok(keys.includes('after'), `the watcher saw ${keys.join(',')}`);
      watch.stop();
    } finally {
      await nc.close();
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
