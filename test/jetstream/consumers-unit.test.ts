// Pure parts of the consumer plugin: ack subjects and bodies, config defaults and validation, the
// pending/redelivery bookkeeping, pull request parsing and the waiting queue.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AckKind, ackPrefix, nakDelayNs, parseAckBody, parseAckSubject, parseGoDuration } from '../../src/jetstream/consumer/ack.js';
import { checkConfigUpdate, checkConsumerConfig, checkWorkQueue, decodeConsumerConfig, setConsumerConfigDefaults, type ConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { AckState } from '../../src/jetstream/consumer/pending.js';
import { WaitQueue, parseNextRequest, type WaitingRequest } from '../../src/jetstream/consumer/pull.js';
import type { StreamConfig } from '../../src/jetstream/types.js';

const streamCfg = (over: Partial<StreamConfig> = {}): StreamConfig => ({
  name: 'S', subjects: ['foo.>'], retention: 'limits', max_consumers: -1, max_msgs: -1, max_bytes: -1, max_age: 0,
  max_msgs_per_subject: -1, max_msg_size: -1, discard: 'old', storage: 'file', num_replicas: 1, duplicate_window: 0,
  allow_rollup_hdrs: false, deny_delete: false, deny_purge: false, allow_direct: false, mirror_direct: false, sealed: false, ...over,
});

function cfg(raw: Record<string, unknown>): ConsumerConfig {
  const d = decodeConsumerConfig(raw);
  assert.ok(d.ok, JSON.stringify(d));
  setConsumerConfigDefaults(d.config);
  return d.config;
}

describe('ack subjects and bodies', () => {
  test('9-token reply round trip; 12-token v2 form; malformed ones rejected', () => {
    // A delivery's reply (written as digits by src/jetstream/link.ts deliverAck): ts and pending are informational.
    const r = `${ackPrefix('ORDERS', 'c1')}.2.17.40.1700000000123456789.3`;
    assert.equal(r.split('.').length, 9);
    assert.deepEqual(parseAckSubject(r), { stream: 'ORDERS', consumer: 'c1', dc: 2, sseq: 17, dseq: 40 });
    assert.deepEqual(parseAckSubject('$JS.ACK.dom.HASH.ORDERS.c1.1.5.6.123.0.xyz'), { stream: 'ORDERS', consumer: 'c1', dc: 1, sseq: 5, dseq: 6 });
    assert.equal(parseAckSubject('$JS.ACK.ORDERS.c1.1.5.6.123'), null);
    assert.equal(parseAckSubject('$JS.ACK.ORDERS.c1.x.5.6.123.0'), null);
    assert.equal(parseAckSubject('$JS.NAK.ORDERS.c1.1.5.6.123.0'), null);
    // Token counts other than 9 and 12, empty tokens, and numbers that are not digits.
    assert.equal(parseAckSubject('$JS.ACK.ORDERS.c1.1.5.6.123.0.x'), null, '10 tokens');
    assert.equal(parseAckSubject('$JS.ACK.d.H.ORDERS.c1.1.5.6.123.0.x.y'), null, '13 tokens');
    assert.equal(parseAckSubject('$JS.ACK..c1.1.5.6.123.0'), null, 'empty stream');
    assert.equal(parseAckSubject('$JS.ACK.ORDERS.c1.1..6.123.0'), null, 'empty sequence');
    assert.equal(parseAckSubject('$JS.ACK.ORDERS.c1.1.-5.6.123.0'), null);
    assert.equal(parseAckSubject('$JS.ACKS.ORDERS.c1.1.5.6.123.0'), null);
    assert.deepEqual(parseAckSubject('$JS.ACK.S.C.12345678901234.1.2.3.4'), { stream: 'S', consumer: 'C', dc: 12345678901234, sseq: 1, dseq: 2 });
  });

  test('bodies: empty/+ACK/+OK ack, -NAK with delay, +WPI, +NXT with request, +TERM with reason', () => {
    assert.equal(parseAckBody(Buffer.alloc(0))?.kind, AckKind.ACK);
    assert.equal(parseAckBody(Buffer.from('+ACK'))?.kind, AckKind.ACK);
    assert.equal(parseAckBody(Buffer.from('+OK'))?.kind, AckKind.ACK);
    assert.equal(parseAckBody(Buffer.from('+WPI'))?.kind, AckKind.PROGRESS);
    const nak = parseAckBody(Buffer.from('-NAK {"delay":2000000000}'))!;
    assert.equal(nak.kind, AckKind.NAK);
    assert.equal(nakDelayNs(nak.arg), 2e9);
    assert.equal(nakDelayNs(parseAckBody(Buffer.from('-NAK'))!.arg), -1);
    assert.equal(nakDelayNs('1.5s'), 1.5e9);
    assert.equal(nakDelayNs('bogus'), -1);
    const nxt = parseAckBody(Buffer.from('+NXT {"batch":3}'))!;
    assert.deepEqual(nxt, { kind: AckKind.NEXT, arg: '{"batch":3}' });
    assert.deepEqual(parseAckBody(Buffer.from('+TERM no good')), { kind: AckKind.TERM, arg: 'no good' });
    assert.equal(parseAckBody(Buffer.from('hello')), null);
    assert.equal(parseGoDuration('1h2m3s'), 3723e9);
    assert.equal(parseGoDuration('250ms'), 250e6);
    assert.equal(parseGoDuration('5'), null);
  });
});

describe('consumer config', () => {
  test('defaults as setConsumerConfigDefaults: max_deliver -1, ack_wait 30s, max_ack_pending 1000, max_waiting 512 (pull)', () => {
    const c = cfg({ durable_name: 'd', ack_policy: 'explicit' });
    assert.equal(c.max_deliver, -1);
    assert.equal(c.ack_wait, 30e9);
    assert.equal(c.max_ack_pending, 1000);
    assert.equal(c.max_waiting, 512);
    assert.equal(c.deliver_policy, 'all');
    assert.equal(c.replay_policy, 'instant');
    const push = cfg({ deliver_subject: 'out', ack_policy: 'none' });
    assert.equal(push.max_waiting, undefined);
    assert.equal(push.ack_wait, undefined);
    assert.equal(push.max_ack_pending, undefined);
    const bo = cfg({ ack_policy: 'explicit', backoff: [1e9, 2e9], max_deliver: 5 });
    assert.equal(bo.ack_wait, 1e9, 'the first backoff step is the ack wait');
  });

  test('decoding: wrong types are invalid JSON, bad enums their own errors', () => {
    const a = decodeConsumerConfig({ ack_wait: 'soon' });
    assert.ok(!a.ok && a.error.err_code === 10025);
    const b = decodeConsumerConfig({ ack_policy: 'sometimes' });
    assert.ok(!b.ok && b.error.err_code === 10181);
    const c = decodeConsumerConfig({ deliver_policy: 'whenever' });
    assert.ok(!c.ok && c.error.err_code === 10025);
    const d = decodeConsumerConfig(undefined);
    assert.ok(!d.ok && d.error.err_code === 10078);
  });

  test('validation mirrors checkConsumerCfg', () => {
    const s = streamCfg();
    const code = (raw: Record<string, unknown>, sc = s): number | null => checkConsumerConfig(cfg(raw), sc)?.err_code ?? null;
    assert.equal(code({ ack_policy: 'explicit' }), null);
    assert.equal(code({ deliver_subject: 'out.*' }), 10079);
    assert.equal(code({ deliver_subject: 'foo.bar' }), 10081);
    assert.equal(code({ deliver_subject: 'out', idle_heartbeat: 50e6 }), 10083);
    assert.equal(code({ deliver_subject: 'out', flow_control: true }), 10108);
    assert.equal(code({ idle_heartbeat: 1e9 }), 10088);
    assert.equal(code({ flow_control: true }), 10089);
    assert.equal(code({ filter_subject: 'bar.>' }), 10093);
    assert.equal(code({ filter_subjects: ['foo.a', 'foo.*'] }), 10138);
    assert.equal(code({ filter_subject: 'foo.a', filter_subjects: ['foo.b'] }), 10136);
    assert.equal(code({ deliver_policy: 'by_start_sequence' }), 10094);
    assert.equal(code({ deliver_policy: 'all', opt_start_seq: 3 }), 10094);
    assert.equal(code({ deliver_policy: 'last_per_subject' }), 10094);
    assert.equal(code({ deliver_policy: 'by_start_time' }), 10094);
    assert.equal(code({ ack_policy: 'explicit', backoff: [1e9, 2e9, 3e9], max_deliver: 2 }), 10116);
    assert.equal(code({ name: 'a.b' }), 10052);
    assert.equal(code({ durable_name: 'x', name: 'y' }), 10132);
    assert.equal(code({ ack_policy: 'none' }, streamCfg({ retention: 'workqueue' })), 10084);
    const msg = checkConsumerConfig(cfg({ deliver_policy: 'by_start_sequence' }), s)!.description;
    assert.equal(msg, 'consumer delivery policy is deliver by start sequence, but optional start sequence is not set');
  });

  test('workqueue: one unfiltered consumer, filters must not overlap, explicit ack, deliver all', () => {
    const other = [{ name: 'a', filters: ['foo.a'] }];
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'explicit' }), 'b', other)?.err_code, 10099);
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'explicit', filter_subject: 'foo.*' }), 'b', other)?.err_code, 10100);
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'explicit', filter_subject: 'foo.b' }), 'b', other), null);
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'explicit', filter_subject: 'foo.a' }), 'a', other), null, 'itself does not count');
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'all' }), 'b', [])?.err_code, 10098);
    assert.equal(checkWorkQueue(cfg({ ack_policy: 'explicit', deliver_policy: 'new' }), 'b', [])?.err_code, 10101);
  });

  test('updates may not change the deliver or ack policy, nor push/pull', () => {
    const cur = cfg({ durable_name: 'd', ack_policy: 'explicit' });
    assert.equal(checkConfigUpdate(cur, cfg({ durable_name: 'd', ack_policy: 'explicit', max_deliver: 3 })), null);
    assert.equal(checkConfigUpdate(cur, cfg({ durable_name: 'd', ack_policy: 'all' })), 'ack policy can not be updated');
    assert.equal(checkConfigUpdate(cur, cfg({ durable_name: 'd', ack_policy: 'explicit', deliver_policy: 'new' })), 'deliver policy can not be updated');
    assert.equal(checkConfigUpdate(cur, cfg({ durable_name: 'd', ack_policy: 'explicit', deliver_subject: 'x' })), 'can not update pull consumer to push based');
  });
});

describe('ack bookkeeping (AckState)', () => {
  test('explicit acks move the floors only over contiguous acknowledged deliveries', () => {
    const a = new AckState('explicit');
    for (let i = 1; i <= 5; i++) a.track(i, i, 0);
    // next delivery sequence 6, next stream sequence 6
    assert.deepEqual(a.ack(2, 2, 6, 6), [2]);
    assert.equal(a.adflr, 0);
    assert.deepEqual(a.ack(1, 1, 6, 6), [1]);
    assert.equal(a.adflr, 2);
    assert.equal(a.asflr, 2);
    assert.deepEqual(a.ack(1, 1, 6, 6), [], 'a second ack changes nothing');
    a.ack(4, 4, 6, 6);
    a.ack(3, 3, 6, 6);
    assert.equal(a.asflr, 4);
    a.ack(5, 5, 6, 6);
    assert.equal(a.pending.size, 0);
    assert.equal(a.asflr, 5);
  });

  test('in-order acks of a batch move the floors one by one without walking every pending entry', () => {
    const a = new AckState('explicit');
    const n = 256;
    for (let i = 1; i <= n; i++) a.track(i, i, 0);
    // Count walks over the pending entries (the floor search's fallback branch).
    let walks = 0;
    const keys = a.pending.keys.bind(a.pending);
    a.pending.keys = () => {
      walks++;
      return keys();
    };
    for (let i = 1; i <= n; i++) {
      assert.deepEqual(a.ack(i, i, n + 1, n + 1), [i]);
      assert.equal(a.asflr, i);
      assert.equal(a.adflr, i);
    }
    assert.equal(a.pending.size, 0);
    assert.equal(walks, 0, 'each in-order ack finds the next pending sequence at once');
    // Out of order with a gap wider than the pending set still finds the lowest entry.
    const b = new AckState('explicit');
    b.track(1, 1, 0);
    b.track(100, 2, 0);
    b.track(1000, 3, 0);
    b.ack(1, 1, 4, 1001);
    assert.equal(b.asflr, 99);
    assert.equal(b.adflr, 1);
  });

  test('ack all acknowledges everything up to the sequence', () => {
    const a = new AckState('all');
    for (let i = 1; i <= 5; i++) a.track(i * 2, i, 0);
    assert.deepEqual(a.ack(6, 3, 6, 11), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...a.pending.keys()], [8, 10]);
    assert.equal(a.adflr, 3);
    assert.deepEqual(a.ack(4, 2, 6, 11), [], 'below the floor');
  });

  test('ack wait expiry queues redeliveries in order; max deliver stops them; backoff steps', () => {
    const a = new AckState('explicit');
    a.track(1, 1, 0);
    a.track(2, 2, 500);
    let r = a.expire(999, 1000, [], 0, 1, 3, 3);
    assert.equal(r.queued, 0);
    assert.equal(r.next, 1);
    r = a.expire(1600, 1000, [], 0, 1, 3, 3);
    assert.equal(r.queued, 2);
    assert.equal(a.shiftRdq(), 1);
    assert.equal(a.incDeliveries(1), 2);
    a.track(1, 3, 1600);
    assert.equal(a.shiftRdq(), 2);
    assert.equal(a.shiftRdq(), -1);
    assert.equal(a.pending.get(1)!.dseq, 1, 'redeliveries keep the first delivery sequence');
    // max deliver 2: seq 1 was delivered twice, it is not queued again; it leaves pending and is
    // reported once for the max-deliveries advisory (2.10's hasMaxDeliveries)
    r = a.expire(5000, 1000, [], 2, 1, 4, 3);
    assert.equal(r.queued, 1, 'only seq 2 (delivered once) may go again');
    assert.deepEqual(r.exceeded, [[1, 2]]);
    assert.equal(a.pending.has(1), false);
    assert.equal(a.shiftRdq(), 2);
    assert.deepEqual(a.expire(9000, 1000, [], 2, 1, 4, 3).exceeded, [], 'reported once');
    // backoff: second delivery waits for the second step
    const b = new AckState('explicit');
    b.track(7, 1, 0);
    b.incDeliveries(7);
    assert.equal(b.expire(1500, 1000, [1000, 2000], 0, 1, 2, 8).queued, 0);
    assert.equal(b.expire(2000, 1000, [1000, 2000], 0, 1, 2, 8).queued, 1);
  });

  test('nak: at once or after a delay; progress restarts the deadline; forget drops removed messages', () => {
    const a = new AckState('explicit');
    a.track(1, 1, 0);
    a.track(2, 2, 0);
    assert.equal(a.nak(1, 1, 3, -1, 1000, 10), true);
    assert.equal(a.shiftRdq(), 1);
    a.track(1, 3, 4500); // redelivered
    assert.equal(a.nak(2, 2, 3, 5e9, 1000, 10), false);
    assert.equal(a.expire(4000, 1000, [], 0, 1, 3, 3).queued, 0, 'delayed 5s');
    assert.equal(a.expire(5100, 1000, [], 0, 1, 3, 3).queued, 1);
    a.progress(1, 6000);
    assert.equal(a.pending.get(1)!.ts, 6000);
    assert.equal(a.forget(1, 3, 3), true);
    assert.equal(a.forget(9, 3, 3), false);
    const snap = a.snapshot();
    const b = new AckState('explicit');
    b.restore(snap.pending, snap.redelivered);
    assert.deepEqual([...b.pending.keys()], [2]);
  });
});

describe('pull requests', () => {
  test('request bodies: empty, number, JSON with expires and heartbeat', () => {
    assert.deepEqual(parseNextRequest(''), { ok: true, batch: 1, expiresMs: 0, noWait: false, maxBytes: 0, hbMs: 0 });
    assert.equal((parseNextRequest('5') as { batch: number }).batch, 5);
    const r = parseNextRequest('{"batch":10,"expires":2000000000,"idle_heartbeat":1000000000,"max_bytes":100}');
    assert.deepEqual(r, { ok: true, batch: 10, expiresMs: 2000, noWait: false, maxBytes: 100, hbMs: 1000 });
    assert.deepEqual(parseNextRequest('{"batch":1,"expires":1000000000,"idle_heartbeat":1000000000}'), { ok: false, error: 'heartbeat value too large' });
    assert.equal(parseNextRequest('{bad').ok, false);
  });

  test('wait queue: bounded, round-robin one message at a time', () => {
    const q = new WaitQueue(2);
    const wr = (reply: string, n: number): WaitingRequest => ({ reply, n, d: 0, b: 0, maxBytes: 0, noWait: false, expires: 0, hb: 0, hbNext: 0, received: 0 });
    assert.ok(q.add(wr('a', 2)));
    assert.ok(q.add(wr('b', 1)));
    assert.ok(!q.add(wr('c', 1)));
    assert.equal(q.pop()!.reply, 'a');
    assert.equal(q.pop()!.reply, 'b');
    assert.equal(q.pop()!.reply, 'a');
    assert.equal(q.length, 0);
  });
});
