// Republish (`republish { src, dest, headers_only }`) and the input subject transform
// (`subject_transform`) with the official @nats-io/jetstream and @nats-io/kv clients: nats-server's
// subjects and headers (Nats-Stream, Nats-Subject, Nats-Sequence, Nats-Last-Sequence, Nats-Msg-Size).
// TSNATS_TEST_SERVER=nats-server checks the expectations (republish is in 2.9; the input transform
// and Nats-Time-Stamp on republished messages are 2.10, checked on tsnats only).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { headers, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { startJetStream, openJs, apiError, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** Collects what arrives on subject. */
function collect(nc: NatsConnection, subject: string): Msg[] {
  const got: Msg[] = [];
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) got.push(m);
  })();
  return got;
}

const hdrs = (m: Msg): Record<string, string> => {
  const out: Record<string, string> = {};
  if (m.headers) for (const [k, v] of m.headers) out[k] = v[0]!;
  return out;
};

describe('republish and input subject transforms', { timeout: 60_000 }, () => {
  let env: JetStreamEnv<JsClient> | undefined;
  let c: JsClient;

  before(async () => {
    env = await startJetStream(openJs, { prefix: 'tsnats-republish-' });
    c = env;
  });

  after(() => env?.close());

  test('republish delivers the message with nats-server headers, original headers first', async () => {
    const { nc, jsm, js } = c;
    await jsm.streams.add({ name: 'RP', subjects: ['rp.>'], republish: { src: 'rp.>', dest: 'out.>' } });
    const got = collect(nc, 'out.>');
    await nc.flush();
    await js.publish('rp.a', 'one');
    const h = headers();
    h.set('X-Test', 'kept');
    await js.publish('rp.a', 'two', { headers: h });
    await js.publish('rp.b', 'three');
    await waitFor(() => got.length === 3, () => `3 republished messages, got ${got.length}`);
    assert.deepEqual(got.map((m) => m.subject), ['out.a', 'out.a', 'out.b']);
    assert.deepEqual(got.map((m) => m.string()), ['one', 'two', 'three']);
    const [h1, h2, h3] = got.map(hdrs) as [Record<string, string>, Record<string, string>, Record<string, string>];
    assert.equal(h1['Nats-Stream'], 'RP');
    assert.equal(h1['Nats-Subject'], 'rp.a');
    assert.equal(h1['Nats-Sequence'], '1');
    assert.equal(h1['Nats-Last-Sequence'], '0');
    assert.equal(h2['Nats-Sequence'], '2');
    assert.equal(h2['Nats-Last-Sequence'], '1', 'the previous message on the same subject');
    assert.equal(h2['X-Test'], 'kept');
    assert.equal(Object.keys(h2)[0], 'X-Test', 'the original headers come first');
    assert.equal(h3['Nats-Subject'], 'rp.b');
    assert.equal(h3['Nats-Sequence'], '3');
    assert.equal(h3['Nats-Last-Sequence'], '0');
    assert.equal(h1['Nats-Msg-Size'], undefined);
    if (!usingNatsServer) {
      // 2.10 adds the stored time.
      assert.match(h1['Nats-Time-Stamp'] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const m = await jsm.streams.getMessage('RP', { seq: 1 });
      assert.equal(new Date(h1['Nats-Time-Stamp']!).getTime(), m!.time.getTime());
    }
  });

  test('headers_only republishes no payload but its size; src defaults to every subject', async () => {
    const { nc, jsm, js } = c;
    const si = await jsm.streams.add({ name: 'RH', subjects: ['rh.*'], republish: { dest: 'rhout.>', headers_only: true } as never });
    assert.equal(si.config.republish?.src, '>', 'an empty source is every subject');
    const got = collect(nc, 'rhout.>');
    await nc.flush();
    await js.publish('rh.x', 'twelve bytes');
    await waitFor(() => got.length === 1, 'the republished message');
    const m = got[0]!;
    assert.equal(m.subject, 'rhout.rh.x');
    assert.equal(m.data.length, 0);
    const h = hdrs(m);
    assert.equal(h['Nats-Msg-Size'], '12');
    assert.equal(h['Nats-Subject'], 'rh.x');
    assert.equal(h['Nats-Sequence'], '1');
  });

  test('a republish source that matches only some subjects republishes only those', async () => {
    const { nc, jsm, js } = c;
    await jsm.streams.add({ name: 'RS', subjects: ['rs.>'], republish: { src: 'rs.yes.*', dest: 'rsout.$1' } });
    const got = collect(nc, 'rsout.>');
    await nc.flush();
    await js.publish('rs.no.a', 'x');
    await js.publish('rs.yes.b', 'y');
    await waitFor(() => got.length === 1, 'one republished message');
    await nc.flush();
    assert.equal(got.length, 1);
    assert.equal(got[0]!.subject, 'rsout.b');
    assert.equal(hdrs(got[0]!)['Nats-Sequence'], '2');
  });

  test('a republished message is stored by a stream capturing its subject', async () => {
    const { jsm, js } = c;
    await jsm.streams.add({ name: 'FROM', subjects: ['from.>'], republish: { src: 'from.>', dest: 'copy.>' } });
    await jsm.streams.add({ name: 'COPY', subjects: ['copy.>'] });
    await js.publish('from.x', 'payload');
    let n = 0;
    for (let i = 0; i < 100 && n === 0; i++) {
      n = (await jsm.streams.info('COPY')).state.messages;
      if (n === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(n, 1);
    const m = await jsm.streams.getMessage('COPY', { seq: 1 });
    assert.equal(m?.subject, 'copy.x');
    assert.equal(m?.string(), 'payload');
    assert.equal(m?.header.get('Nats-Stream'), 'FROM');
  });

  test('republish config errors: a cycle and an invalid transform (10052)', async () => {
    const { jsm } = c;
    const cycle = await apiError(jsm.streams.add({ name: 'RC', subjects: ['rc.>'], republish: { src: 'rc.>', dest: 'rc.out.>' } }));
    assert.equal(cycle.code, 10052);
    assert.match(cycle.message, /republish destination forms a cycle/);
    const badTr = await apiError(jsm.streams.add({ name: 'RB', subjects: ['rb.>'], republish: { src: 'rb.*', dest: 'rbout.$3' } }));
    assert.equal(badTr.code, 10052);
    // 2.10's text names the transform; 2.9 says "stream configuration for republish not valid".
    assert.match(badTr.message, usingNatsServer ? /republish .*not valid/ : /republish with transform from 'rb.\*' to 'rbout.\$3' not valid/);
  });

  test('KV republish: every change republished with the key subject', async () => {
    const { nc } = c;
    const got = collect(nc, 'kvchanges.>');
    await nc.flush();
    const kv = await new Kvm(nc).create('RK', { republish: { src: '$KV.RK.>', dest: 'kvchanges.>' } });
    await kv.put('k1', 'v1');
    await kv.put('k1', 'v2');
    await kv.delete('k1');
    await waitFor(() => got.length === 3, () => `3 republished changes, got ${got.length}`);
    assert.deepEqual(got.map((m) => m.subject), ['kvchanges.k1', 'kvchanges.k1', 'kvchanges.k1']);
    assert.deepEqual(got.map((m) => m.string()), ['v1', 'v2', '']);
    const h = got.map(hdrs);
    assert.equal(h[0]!['Nats-Subject'], '$KV.RK.k1');
    assert.equal(h[1]!['Nats-Last-Sequence'], h[0]!['Nats-Sequence']);
    assert.equal(h[2]!['KV-Operation'], 'DEL');
    assert.equal(h[2]!['Nats-Stream'], 'KV_RK');
  });

  test('input subject transform stores the transformed subject (2.10)', { skip: usingNatsServer && 'subject_transform is nats-server 2.10' }, async () => {
    const { jsm, js } = c;
    const si = await jsm.streams.add({ name: 'IT', subjects: ['in.>', 'plain'], subject_transform: { src: 'in.*.>', dest: 'stored.$1.>' } });
    assert.deepEqual(si.config.subject_transform, { src: 'in.*.>', dest: 'stored.$1.>' });
    const ack = await js.publish('in.a.b.c', 'x');
    assert.equal(ack.seq, 1);
    await js.publish('plain', 'not matching the transform source');
    const m1 = await jsm.streams.getMessage('IT', { seq: 1 });
    assert.equal(m1!.subject, 'stored.a.b.c');
    const m2 = await jsm.streams.getMessage('IT', { seq: 2 });
    assert.equal(m2!.subject, 'plain');
    // Consumers see the stored subject.
    const ci = await jsm.consumers.add('IT', { filter_subject: 'stored.>' });
    assert.equal(ci.num_pending, 1);
    const bad = await apiError(jsm.streams.add({ name: 'IB', subjects: ['ib.>'], subject_transform: { src: 'ib.*', dest: 'x.$2' } }));
    assert.equal(bad.code, 10049);
    assert.match(bad.message, /stream subject transform from 'ib.\*' to 'x.\$2'/);
  });
});
