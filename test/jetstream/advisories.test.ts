// JetStream advisories and metrics (nats-server's jetstream_events.go): a subscriber on
// `$JS.EVENT.ADVISORY.>` / `$JS.EVENT.METRIC.>` sees stream and consumer create/update/delete,
// max deliveries, naks, terms, sampled acks and API audits, with nats-server's subjects, `type`
// strings and fields. Run with TSNATS_TEST_SERVER=nats-server to check the expectations themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nanos, type Msg } from '@nats-io/nats-core';
import { AckPolicy } from '@nats-io/jetstream';
import { startJetStream, openJs } from '../helpers/jetstream.js';
import { waitFor } from '../helpers/wait.js';
import { usingNatsServer } from '../helpers/server.js';

interface Event {
  subject: string;
  body: Record<string, unknown>;
}

const T = 'io.nats.jetstream.advisory.v1.';

test('advisories for streams, consumers, deliveries and the API reach a subscriber', { timeout: 60_000 }, async () => {
  const env = await startJetStream(openJs, { prefix: 'tsnats-js-adv-' });
  const { nc, jsm, js } = env;
  try {
    const events: Event[] = [];
    nc.subscribe('$JS.EVENT.>', { callback: (_e: Error | null, m: Msg) => void events.push({ subject: m.subject, body: m.json<Record<string, unknown>>() }) });
    await nc.flush();
    const find = (subject: string): Event | undefined => events.find((e) => e.subject === subject);
    const wait = async (subject: string): Promise<Record<string, unknown>> => {
      await waitFor(() => find(subject) !== undefined, () => `an event on ${subject}; got ${events.map((e) => e.subject).join(', ')}`, 5000);
      return find(subject)!.body;
    };

    await jsm.streams.add({ name: 'ADV', subjects: ['adv.>'] });
    const created = await wait('$JS.EVENT.ADVISORY.STREAM.CREATED.ADV');
    assert.equal(created['type'], `${T}stream_action`);
    assert.equal(created['stream'], 'ADV');
    assert.equal(created['action'], 'create');
    assert.match(String(created['id']), /^[0-9A-Za-z]{22}$/);
    assert.ok(!Number.isNaN(Date.parse(String(created['timestamp']))));

    await jsm.streams.update('ADV', { subjects: ['adv.>'], max_msgs: 100 });
    assert.equal((await wait('$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV'))['action'], 'modify');

    const audit = await wait('$JS.EVENT.ADVISORY.API');
    assert.equal(audit['type'], `${T}api_audit`);
    assert.ok(typeof audit['subject'] === 'string' && String(audit['subject']).startsWith('$JS.API.'));
    assert.equal(typeof audit['response'], 'string');

    await jsm.consumers.add('ADV', { durable_name: 'md', ack_policy: AckPolicy.Explicit, ack_wait: nanos(300), max_deliver: 2, sample_freq: '100%' });
    const cc = await wait('$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.md');
    assert.deepEqual([cc['type'], cc['stream'], cc['consumer'], cc['action']], [`${T}consumer_action`, 'ADV', 'md', 'create']);

    // max deliveries: delivered twice, never acked.
    await js.publish('adv.1', 'one');
    const c = await js.consumers.get('ADV', 'md');
    let deliveries = 0;
    const it = await c.consume({ callback: () => void deliveries++ });
    const md = await wait('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.md');
    await it.close();
    assert.equal(deliveries, 2);
    assert.deepEqual([md['type'], md['stream'], md['consumer'], md['stream_seq'], md['deliveries']], [`${T}max_deliver`, 'ADV', 'md', 1, 2]);

    // nak, term (with a reason) and a sampled ack.
    await jsm.consumers.add('ADV', { durable_name: 'nt', ack_policy: AckPolicy.Explicit, sample_freq: '100%' });
    for (const v of ['two', 'three']) await js.publish('adv.2', v);
    const nt = await js.consumers.get('ADV', 'nt');
    const first = await nt.next({ expires: 2000 });
    assert.ok(first !== null);
    first.nak();
    const nak = await wait('$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ADV.nt');
    assert.deepEqual([nak['type'], nak['stream_seq'], nak['consumer_seq'], nak['deliveries']], [`${T}nak`, 1, 1, 1]);
    const again = await nt.next({ expires: 2000 });
    assert.ok(again !== null);
    // A reason after +TERM is 2.10's (2.9 takes only a bare +TERM).
    if (usingNatsServer) again.term();
    else again.term('not wanted');
    const term = await wait('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.nt');
    assert.deepEqual([term['type'], term['stream_seq'], term['deliveries']], [`${T}terminated`, 1, 2]);
    if (!usingNatsServer) assert.equal(term['reason'], 'not wanted');
    const third = await nt.next({ expires: 2000 });
    assert.ok(third !== null);
    assert.equal(await third.ackAck(), true);
    const ack = await wait('$JS.EVENT.METRIC.CONSUMER.ACK.ADV.nt');
    assert.equal(ack['type'], 'io.nats.jetstream.metric.v1.consumer_ack');
    assert.equal(ack['stream_seq'], third.seq);
    assert.equal(typeof ack['ack_time'], 'number');

    await jsm.consumers.delete('ADV', 'nt');
    assert.equal((await wait('$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.nt'))['action'], 'delete');
    await jsm.streams.delete('ADV');
    assert.equal((await wait('$JS.EVENT.ADVISORY.STREAM.DELETED.ADV'))['action'], 'delete');
    assert.ok(find('$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.md'), "the stream's other consumer is advised deleted too");
  } finally {
    await env.close();
  }
});
