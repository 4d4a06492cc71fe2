// Consumers with the official v3 client (@nats-io/jetstream): pull fetch/consume/next, ordered
// consumers, deliver and ack policies, NAK/WPI/TERM, redelivery after ack_wait and backoff,
// max_deliver, max_ack_pending, pull statuses (404/408/409) and the consumer API.
// Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { startJetStream, openJs, type JetStreamEnv, type JsClient, errCode } from '../helpers/jetstream.js';
import { delay, waitFor } from '../helpers/wait.js';

/** Fetches until `count` messages arrived (or `ms` passed); acks them unless told not to. */
async function fetchAll(js: JetStreamClient, stream: string, consumer: string, count: number, opts: { ack?: boolean; ms?: number } = {}): Promise<JsMsg[]> {
  const c = await js.consumers.get(stream, consumer);
  const out: JsMsg[] = [];
  const deadline = Date.now() + (opts.ms ?? 5000);
  while (out.length < count && Date.now() < deadline) {
    const it = await c.fetch({ max_messages: count - out.length, expires: 1000 });
    for await (const m of it) {
      out.push(m);
      if (opts.ack !== false) m.ack();
    }
  }
  return out;
}

/** Collects status and data messages sent to an inbox for a raw MSG.NEXT request. */
async function rawPull(nc: NatsConnection, stream: string, consumer: string, body: object, waitMs: number): Promise<Msg[]> {
  const inbox = createInbox();
  const got: Msg[] = [];
  const sub = nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
  await nc.flush();
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(body), { reply: inbox });
  await delay(waitMs);
  sub.unsubscribe();
  return got;
}

describe('consumers with the v3 client', { timeout: 120_000 }, () => {
  let env: JetStreamEnv<JsClient> | undefined;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let n = 0;
  const name = (): string => `C${++n}`;

  /** A stream `<s>` on `<s>.>` with `count` messages on `<s>.<i % subjects>`. */
  async function stream(count: number, extra: Record<string, unknown> = {}, subjects = 1): Promise<string> {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`], ...extra });
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) ps.push(js.publish(`${s}.${i % subjects}`, `m${i + 1}`));
    await Promise.all(ps);
    return s;
  }

  before(async () => {
    env = await startJetStream(openJs, { prefix: 'tsnats-cons-' });
    ({ nc, jsm, js } = env);
  });

  after(() => env?.close());

  test('the seed flow: 500 async publishes, durable pull "wq" fetched 10 at a time and acked, end state', async () => {
    await jsm.streams.add({ name: 'FOO', subjects: ['foo.>'] });
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) ps.push(js.publish(`foo.${i % 7}`, `payload ${i}`));
    await Promise.all(ps);
    const ci = await jsm.consumers.add('FOO', { durable_name: 'wq', ack_policy: AckPolicy.Explicit });
    assert.equal(ci.name, 'wq');
    assert.equal(ci.num_pending, 500);
    assert.equal(ci.config.ack_wait, nanos(30_000));
    assert.equal(ci.config.max_ack_pending, 1000);
    const c = await js.consumers.get('FOO', 'wq');
    const seqs: number[] = [];
    while (seqs.length < 500) {
      const it = await c.fetch({ max_messages: 10, expires: 2000 });
      let got = 0;
      for await (const m of it) {
        got++;
        seqs.push(m.seq);
        assert.equal(m.subject, `foo.${(m.seq - 1) % 7}`, 'the original subject, not the inbox');
        assert.equal(m.string(), `payload ${m.seq - 1}`);
        assert.equal(m.info.pending, 500 - seqs.length);
        await m.ackAck();
      }
      assert.ok(got > 0, 'a fetch returned nothing');
    }
    assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
    const info = await c.info();
    assert.deepEqual([info.delivered.consumer_seq, info.delivered.stream_seq], [500, 500]);
    assert.deepEqual([info.ack_floor.consumer_seq, info.ack_floor.stream_seq], [500, 500]);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
    assert.equal(info.num_redelivered, 0);
    const si = await jsm.streams.info('FOO');
    assert.equal(si.state.messages, 500, 'limits retention keeps acknowledged messages');
    assert.equal(si.state.consumer_count, 1);
  });

  test('consume() with a callback gets everything in order, then new messages as they come', async () => {
    const s = await stream(20);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get(s, 'd');
    const seqs: number[] = [];
    const it = await c.consume({ max_messages: 7, callback: (m) => { seqs.push(m.seq); m.ack(); } });
    await waitFor(() => seqs.length === 20, () => `20 messages, got ${seqs.length}`);
    await js.publish(`${s}.x`, 'late');
    await waitFor(() => seqs.length === 21, 'the message published after consume started');
    await it.close();
    assert.deepEqual(seqs, Array.from({ length: 21 }, (_, i) => i + 1));
  });

  test('next() returns one message, then null when nothing arrives before expires', async () => {
    const s = await stream(2);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get(s, 'd');
    const a = await c.next({ expires: 1000 });
    assert.equal(a?.seq, 1);
    a!.ack();
    const b = await c.next({ expires: 1000 });
    assert.equal(b?.seq, 2);
    b!.ack();
    const t0 = Date.now();
    const none = await c.next({ expires: 1000 });
    assert.equal(none, null);
    assert.ok(Date.now() - t0 >= 800, 'waited for expires');
  });

  test('ordered consumer (v3): every message once, in order, with subjects', async () => {
    const s = await stream(50, {}, 5);
    const oc = await js.consumers.get(s);
    const msgs: JsMsg[] = [];
    const it = await oc.consume({ callback: (m) => { msgs.push(m); } });
    await waitFor(() => msgs.length === 50, () => `50 messages, got ${msgs.length}`);
    await it.close();
    assert.deepEqual(msgs.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.deepEqual(msgs.slice(0, 6).map((m) => m.subject), [0, 1, 2, 3, 4, 0].map((i) => `${s}.${i}`));
    // fetch on a fresh ordered consumer starting at a sequence
    const oc2 = await js.consumers.get(s, { opt_start_seq: 48, deliver_policy: DeliverPolicy.StartSequence });
    const got: number[] = [];
    for await (const m of await oc2.fetch({ max_messages: 10, expires: 1000 })) got.push(m.seq);
    assert.deepEqual(got, [48, 49, 50]);
  });

  test('deliver policies: all, last, new, by_start_sequence, by_start_time, last_per_subject', async () => {
    const s = await stream(9, {}, 3); // s.0: 1,4,7  s.1: 2,5,8  s.2: 3,6,9
    const first = async (cfg: Record<string, unknown>): Promise<{ pending: number; seqs: number[] }> => {
      const d = name();
      const ci = await jsm.consumers.add(s, { durable_name: d, ack_policy: AckPolicy.Explicit, ...cfg });
      const msgs = await fetchAll(js, s, d, ci.num_pending, { ms: 3000 });
      return { pending: ci.num_pending, seqs: msgs.map((m) => m.seq) };
    };
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.All }), { pending: 9, seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.Last }), { pending: 1, seqs: [9] });
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.Last, filter_subject: `${s}.1` }), { pending: 1, seqs: [8] });
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 7 }), { pending: 3, seqs: [7, 8, 9] });
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: `${s}.>` }), { pending: 3, seqs: [7, 8, 9] });
    assert.deepEqual(await first({ deliver_policy: DeliverPolicy.All, filter_subject: `${s}.2` }), { pending: 3, seqs: [3, 6, 9] });
    // new: only what comes after creation
    const dn = name();
    const ci = await jsm.consumers.add(s, { durable_name: dn, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
    assert.equal(ci.num_pending, 0);
    await js.publish(`${s}.0`, 'ten');
    assert.deepEqual((await fetchAll(js, s, dn, 1)).map((m) => m.seq), [10]);
    // by start time: messages stored after a point in time
    await delay(50);
    const t = new Date().toISOString();
    await delay(20);
    await js.publish(`${s}.1`, 'eleven');
    await js.publish(`${s}.2`, 'twelve');
    assert.deepEqual((await first({ deliver_policy: DeliverPolicy.StartTime, opt_start_time: t })).seqs, [11, 12]);
  });

  test('ack policies: none (nothing pending), all (one ack covers the ones before), explicit', async () => {
    const s = await stream(10);
    await jsm.consumers.add(s, { durable_name: 'none', ack_policy: AckPolicy.None });
    const nm = await fetchAll(js, s, 'none', 10, { ack: false });
    assert.equal(nm.length, 10);
    let ci = await jsm.consumers.info(s, 'none');
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.stream_seq, 10);
    assert.ok((nm[0] as unknown as { msg: Msg }).msg.reply!.startsWith(`$JS.ACK.${s}.none.1.1.1.`), 'ack none still carries the ack reply with sequences');

    await jsm.consumers.add(s, { durable_name: 'all', ack_policy: AckPolicy.All });
    const am = await fetchAll(js, s, 'all', 10, { ack: false });
    ci = await jsm.consumers.info(s, 'all');
    assert.equal(ci.num_ack_pending, 10);
    await am[6]!.ackAck();
    ci = await jsm.consumers.info(s, 'all');
    assert.equal(ci.num_ack_pending, 3);
    assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [7, 7]);

    await jsm.consumers.add(s, { durable_name: 'exp', ack_policy: AckPolicy.Explicit });
    const em = await fetchAll(js, s, 'exp', 10, { ack: false });
    await em[6]!.ackAck();
    ci = await jsm.consumers.info(s, 'exp');
    assert.equal(ci.num_ack_pending, 9, 'explicit: only the acked one');
    assert.equal(ci.ack_floor.stream_seq, 0);
    for (const m of em.slice(0, 6)) await m.ackAck();
    ci = await jsm.consumers.info(s, 'exp');
    assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [7, 7]);
  });

  test('plain acks (no reply) reach their consumer: two consumers interleaved, one deleted and recreated under its name, raw bodies', async () => {
    const s = await stream(8);
    /** Polls consumer info (bounded) until it shows `pending` unacked and the given ack floor. */
    async function floor(c: string, pending: number, streamSeq: number): Promise<void> {
      let last = '';
      for (let i = 0; i < 50; i++) {
        const ci = await jsm.consumers.info(s, c);
        last = `${ci.num_ack_pending} pending, floor ${ci.ack_floor.stream_seq}`;
        if (ci.num_ack_pending === pending && ci.ack_floor.stream_seq === streamSeq) return;
        await delay(100);
      }
      assert.fail(`${s} > ${c}: wanted ${pending} pending and floor ${streamSeq}, have ${last}`);
    }
    await jsm.consumers.add(s, { durable_name: 'p', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add(s, { durable_name: 'q', ack_policy: AckPolicy.Explicit });
    const pm = await fetchAll(js, s, 'p', 4, { ack: false });
    const qm = await fetchAll(js, s, 'q', 4, { ack: false });
    assert.equal(pm.length + qm.length, 8);
    for (let i = 0; i < 3; i++) {
      pm[i]!.ack();
      qm[i]!.ack();
    }
    await floor('p', 1, 3);
    await floor('q', 1, 3);
    // Raw acks to the reply subject: an empty body is an ack too; a malformed one changes nothing.
    const reply = (m: JsMsg): string => (m as unknown as { msg: Msg }).msg.reply!;
    nc.publish(reply(pm[3]!).replace(/\.(\d+)\.(\d+)\.(\d+)\./, '.x.$2.$3.'), '+ACK');
    nc.publish(reply(qm[3]!), '');
    await floor('q', 0, 4);
    assert.equal((await jsm.consumers.info(s, 'p')).num_ack_pending, 1, 'the malformed ack was ignored');
    nc.publish(reply(pm[3]!), '+ACK');
    await floor('p', 0, 4);

    // Recreated under the same name: acks go to the new consumer, not the deleted one.
    await jsm.consumers.delete(s, 'p');
    await jsm.consumers.add(s, { durable_name: 'p', ack_policy: AckPolicy.Explicit });
    const again = await fetchAll(js, s, 'p', 2);
    assert.deepEqual(again.map((m) => m.seq), [1, 2]);
    await floor('p', 0, 2);
  });

  test('NAK redelivers at once; NAK with a delay waits for it', async () => {
    const s = await stream(2);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get(s, 'd');
    const m1 = await c.next({ expires: 1000 });
    m1!.nak();
    const again = await c.next({ expires: 1000 });
    assert.equal(again?.seq, 1);
    assert.equal(again!.info.deliveryCount, 2);
    assert.equal(again!.redelivered, true);
    again!.ack();
    const m2 = await c.next({ expires: 1000 });
    assert.equal(m2?.seq, 2);
    const t0 = Date.now();
    m2!.nak(800);
    const later = await c.next({ expires: 3000 });
    const waited = Date.now() - t0;
    assert.equal(later?.seq, 2);
    assert.ok(waited >= 700, `redelivered after ${waited}ms, wanted ~800ms`);
    later!.ack();
  });

  test('WPI extends ack_wait; TERM stops redelivery', async () => {
    const s = await stream(2);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit, ack_wait: nanos(600) });
    const c = await js.consumers.get(s, 'd');
    const m = await c.next({ expires: 1000 });
    assert.equal(m?.seq, 1);
    for (let i = 0; i < 4; i++) {
      await delay(300);
      m!.working();
    }
    const second = await c.next({ expires: 1000 });
    assert.equal(second?.seq, 2, 'seq 1 was not redelivered while in progress');
    m!.ack();
    second!.term();
    const none = await c.next({ expires: 1500 });
    assert.equal(none, null, 'terminated message not redelivered');
    const ci = await c.info();
    assert.equal(ci.num_ack_pending, 0);
  });

  test('an unacked message comes back after ack_wait, until max_deliver', async () => {
    const s = await stream(1);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit, ack_wait: nanos(300), max_deliver: 3 });
    const c = await js.consumers.get(s, 'd');
    const counts: number[] = [];
    const it = await c.consume({ callback: (m) => { counts.push(m.info.deliveryCount); } });
    await waitFor(() => counts.length === 3, () => `3 deliveries, got ${counts.length}`, 5000);
    await delay(1000);
    await it.close();
    assert.deepEqual(counts, [1, 2, 3]);
    const ci = await c.info();
    assert.equal(ci.num_redelivered, 1);
    assert.equal(ci.delivered.consumer_seq, 3);
  });

  test('backoff intervals are honoured between redeliveries', async () => {
    const s = await stream(1);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit, backoff: [nanos(250), nanos(900)], max_deliver: 3 });
    const c = await js.consumers.get(s, 'd');
    const at: number[] = [];
    const it = await c.consume({ callback: () => { at.push(Date.now()); } });
    await waitFor(() => at.length === 3, () => `3 deliveries, got ${at.length}`, 5000);
    await it.close();
    const g1 = at[1]! - at[0]!;
    const g2 = at[2]! - at[1]!;
    assert.ok(g1 >= 200 && g1 < 700, `first gap ${g1}ms, wanted ~250ms`);
    assert.ok(g2 >= 800 && g2 < 1500, `second gap ${g2}ms, wanted ~900ms`);
  });

  test('max_ack_pending stops delivery until acks arrive', async () => {
    const s = await stream(10);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit, max_ack_pending: 3 });
    const c = await js.consumers.get(s, 'd');
    const first: JsMsg[] = [];
    for await (const m of await c.fetch({ max_messages: 10, expires: 1000 })) first.push(m);
    assert.deepEqual(first.map((m) => m.seq), [1, 2, 3]);
    for (const m of first.slice(0, 2)) await m.ackAck();
    const second: JsMsg[] = [];
    for await (const m of await c.fetch({ max_messages: 10, expires: 1000 })) second.push(m);
    assert.deepEqual(second.map((m) => m.seq), [4, 5]);
  });

  test('pull statuses: 404 no_wait on nothing, 408 on expiry with pending headers, 409 max waiting', async () => {
    const s = await stream(0);
    await jsm.consumers.add(s, { durable_name: 'd', ack_policy: AckPolicy.Explicit, max_waiting: 1 });
    const nw = await rawPull(nc, s, 'd', { batch: 1, no_wait: true }, 300);
    assert.equal(nw.length, 1);
    assert.equal(nw[0]!.headers?.code, 404);
    assert.equal(nw[0]!.headers?.description, 'No Messages');
    const [exp, full] = await Promise.all([
      rawPull(nc, s, 'd', { batch: 5, expires: nanos(400) }, 900),
      delay(100).then(() => rawPull(nc, s, 'd', { batch: 1, expires: nanos(400) }, 300)),
    ]);
    assert.equal(full.length, 1);
    assert.equal(full[0]!.headers?.code, 409);
    assert.equal(full[0]!.headers?.description, 'Exceeded MaxWaiting');
    assert.equal(exp.length, 1);
    assert.equal(exp[0]!.headers?.code, 408);
    assert.equal(exp[0]!.headers?.description, 'Request Timeout');
    assert.equal(exp[0]!.headers?.get('Nats-Pending-Messages'), '5');
    assert.equal(exp[0]!.headers?.get('Nats-Pending-Bytes'), '0');
  });

  test('workqueue retention removes exactly the acknowledged messages; one consumer per subject', async () => {
    const s = await stream(10, { retention: 'workqueue' });
    await jsm.consumers.add(s, { durable_name: 'w', ack_policy: AckPolicy.Explicit });
    assert.equal(await errCode(jsm.consumers.add(s, { durable_name: 'w2', ack_policy: AckPolicy.Explicit })), 10099);
    const c = await js.consumers.get(s, 'w');
    const got: JsMsg[] = [];
    for await (const m of await c.fetch({ max_messages: 5, expires: 1000 })) got.push(m);
    for (const i of [0, 2, 4]) await got[i]!.ackAck();
    const si = await jsm.streams.info(s);
    assert.equal(si.state.messages, 7);
    for (const seq of [1, 3, 5]) assert.equal(await jsm.streams.getMessage(s, { seq }).catch(() => null), null, `seq ${seq} removed`);
    for (const seq of [2, 4, 6]) assert.ok(await jsm.streams.getMessage(s, { seq }), `seq ${seq} kept`);
    // filtered consumers must not overlap
    const s2 = await stream(4, { retention: 'workqueue' }, 2);
    await jsm.consumers.add(s2, { durable_name: 'a', ack_policy: AckPolicy.Explicit, filter_subject: `${s2}.0` });
    assert.equal(await errCode(jsm.consumers.add(s2, { durable_name: 'b', ack_policy: AckPolicy.Explicit, filter_subject: `${s2}.*` })), 10100);
    await jsm.consumers.add(s2, { durable_name: 'b', ack_policy: AckPolicy.Explicit, filter_subject: `${s2}.1` });
  });

  test('interest retention removes a message once every interested consumer acknowledged it', async () => {
    const s = name();
    await jsm.streams.add({ name: s, subjects: [`${s}.>`], retention: 'interest' as never });
    await jsm.consumers.add(s, { durable_name: 'a', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add(s, { durable_name: 'b', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add(s, { durable_name: 'onlyx', ack_policy: AckPolicy.Explicit, filter_subject: `${s}.x` });
    for (let i = 0; i < 4; i++) await js.publish(`${s}.y`, `y${i}`);
    await js.publish(`${s}.x`, 'x');
    const a = await fetchAll(js, s, 'a', 5, { ack: false });
    for (const m of a) await m.ackAck();
    assert.equal((await jsm.streams.info(s)).state.messages, 5, 'b has not acked yet');
    const b = await fetchAll(js, s, 'b', 5, { ack: false });
    await b[0]!.ackAck();
    await b[1]!.ackAck();
    await b[4]!.ackAck();
    let si = await jsm.streams.info(s);
    assert.equal(si.state.messages, 3, 'seq 1 and 2 gone; seq 5 still wanted by onlyx');
    const x = await fetchAll(js, s, 'onlyx', 1, { ack: false });
    await x[0]!.ackAck();
    si = await jsm.streams.info(s);
    assert.equal(si.state.messages, 2);
    assert.equal(si.state.first_seq, 3);
  });

  test('consumer API: info/names/list shapes, not found, create actions, delete ends waiting pulls', async () => {
    const s = await stream(3);
    for (const d of ['c3', 'c1', 'c2']) await jsm.consumers.add(s, { durable_name: d, ack_policy: AckPolicy.Explicit });
    const r = await nc.request(`$JS.API.CONSUMER.NAMES.${s}`, '{}');
    const names = r.json<Record<string, unknown>>();
    assert.equal(names.type, 'io.nats.jetstream.api.v1.consumer_names_response');
    assert.deepEqual([names.total, names.offset, names.limit], [3, 0, 1024]);
    assert.deepEqual(names.consumers, ['c1', 'c2', 'c3']);
    const l = (await nc.request(`$JS.API.CONSUMER.LIST.${s}`, JSON.stringify({ offset: 1 }))).json<Record<string, any>>();
    assert.equal(l.type, 'io.nats.jetstream.api.v1.consumer_list_response');
    assert.deepEqual([l.total, l.offset, l.limit], [3, 1, 256]);
    assert.deepEqual(l.consumers.map((c: { name: string }) => c.name), ['c2', 'c3']);
    const info = (await nc.request(`$JS.API.CONSUMER.INFO.${s}.c1`, '')).json<Record<string, any>>();
    assert.equal(info.type, 'io.nats.jetstream.api.v1.consumer_info_response');
    for (const k of ['stream_name', 'name', 'created', 'config', 'delivered', 'ack_floor', 'num_ack_pending', 'num_redelivered', 'num_waiting', 'num_pending']) {
      assert.ok(k in info, `info has ${k}`);
    }
    assert.equal(await errCode(jsm.consumers.info(s, 'nope')), 10014);
    assert.equal(await errCode(jsm.consumers.delete(s, 'nope')), 10014);
    assert.equal(await errCode(jsm.consumers.info('NOSTREAM', 'c1')), 10059);
    // action create on an existing name with another config: 10148; same config: fine; update of a missing one: 10149
    // (actions came with nats-server 2.10)
    if (!nc.info!.version.startsWith('2.9.')) {
      assert.equal(await errCode(jsm.consumers.add(s, { durable_name: 'c1', ack_policy: AckPolicy.Explicit, max_deliver: 4 })), 10148);
      await jsm.consumers.add(s, { durable_name: 'c1', ack_policy: AckPolicy.Explicit });
      const upd = await jsm.consumers.update(s, 'c1', { max_deliver: 4 });
      assert.equal(upd.config.max_deliver, 4);
      const missing = await nc.request(`$JS.API.CONSUMER.CREATE.${s}.ghost`, JSON.stringify({ stream_name: s, action: 'update', config: { name: 'ghost', ack_policy: 'explicit' } }));
      assert.equal(missing.json<{ error: { err_code: number } }>().error.err_code, 10149);
    }
    // delete while a pull waits: 409 Consumer Deleted on its inbox
    const inbox = createInbox();
    const got: Msg[] = [];
    nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
    await jsm.consumers.add(s, { durable_name: 'gone', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${s}.gone`, JSON.stringify({ batch: 1, expires: nanos(5000) }), { reply: inbox });
    await nc.flush();
    await delay(100);
    assert.equal(await jsm.consumers.delete(s, 'gone'), true);
    await waitFor(() => got.length > 0, 'the 409');
    assert.equal(got[0]!.headers?.code, 409);
    assert.equal(got[0]!.headers?.description, 'Consumer Deleted');
    assert.equal((await jsm.streams.info(s)).state.consumer_count, 3);
  });

  test('legacy create forms: CREATE.<stream> makes an ephemeral with a generated name, DURABLE.CREATE a durable', async () => {
    const s = await stream(1);
    const eph = (await nc.request(`$JS.API.CONSUMER.CREATE.${s}`, JSON.stringify({ stream_name: s, config: { ack_policy: 'explicit' } }))).json<Record<string, any>>();
    assert.equal(eph.type, 'io.nats.jetstream.api.v1.consumer_create_response');
    assert.equal(typeof eph.name, 'string');
    assert.ok(eph.name.length > 0);
    const dur = (await nc.request(`$JS.API.CONSUMER.DURABLE.CREATE.${s}.dd`, JSON.stringify({ stream_name: s, config: { durable_name: 'dd', ack_policy: 'explicit' } }))).json<Record<string, any>>();
    assert.equal(dur.name, 'dd');
    const mism = (await nc.request(`$JS.API.CONSUMER.DURABLE.CREATE.${s}.dd`, JSON.stringify({ stream_name: s, config: { durable_name: 'other', ack_policy: 'explicit' } }))).json<Record<string, any>>();
    assert.equal(mism.error.err_code, 10017);
    const filt = (await nc.request(`$JS.API.CONSUMER.CREATE.${s}.f.${s}.a`, JSON.stringify({ stream_name: s, config: { name: 'f', filter_subject: `${s}.b` } }))).json<Record<string, any>>();
    assert.equal(filt.error.err_code, 10131);
  });
});
