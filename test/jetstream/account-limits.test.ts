// Account-level JetStream limits (`accounts { A: { jetstream { max_mem, max_file, max_streams,
// max_consumers, max_ack_pending, max_bytes_required, ... } } }`): account info reports them and
// streams, consumers and messages over them are refused with nats-server's err_codes. Tiered limits
// (nats-server takes them from account JWTs; tsnats also from `tiered_limits { R1 { ... } }`) are
// reported as `tiers`. Run with TSNATS_TEST_SERVER=nats-server to check the flat-limit expectations.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, StorageType, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { errCode, startConfServer, type JetStreamServer } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';

const conf = (dir: string): string => `jetstream { store_dir: "${join(dir, 'store')}" }
accounts {
  A: {
    jetstream: { max_streams: 3, max_file: 20000, max_mem: 2000, max_consumers: 2, max_ack_pending: 100 }
    users: [{ user: a, password: a }]
  }
  C: {
    jetstream: { max_bytes_required: true, disk_max_stream_bytes: 5000 }
    users: [{ user: c, password: c }]
  }
  ${
    usingNatsServer
      ? ''
      : `T: {
    jetstream: { tiered_limits: { R1: { max_file: 10000, max_streams: 1 } } }
    users: [{ user: t, password: t }]
  }`
  }
}
`;

describe('account JetStream limits', { timeout: 60_000 }, () => {
  let srv: JetStreamServer | undefined;
  const conns: NatsConnection[] = [];
  const open = async (user: string): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> => {
    const nc = await connect({ servers: srv!.server.hostport, user, pass: user, reconnect: false });
    conns.push(nc);
    return { nc, jsm: await jetstreamManager(nc) };
  };

  before(async () => {
    srv = await startConfServer(conf, { prefix: 'tsnats-js-acclim-' });
  });
  after(async () => {
    await Promise.allSettled(conns.map((c) => c.close()));
    await srv?.stop();
  });

  test('account info reports the limits', async () => {
    const { jsm } = await open('a');
    const ai = await jsm.getAccountInfo();
    assert.deepEqual(ai.limits, {
      max_memory: 2000,
      max_storage: 20000,
      max_streams: 3,
      max_consumers: 2,
      max_ack_pending: 100,
      memory_max_stream_bytes: -1,
      storage_max_stream_bytes: -1,
      max_bytes_required: false,
    });
    assert.equal(ai.tiers, undefined, 'flat limits: no tiers');
  });

  test('streams: reservations over max_file / max_mem, then max_streams', async () => {
    const { jsm } = await open('a');
    assert.equal(await errCode(jsm.streams.add({ name: 'BIG', subjects: ['big'], max_bytes: 30000 })), 10047);
    assert.equal(await errCode(jsm.streams.add({ name: 'MEMBIG', subjects: ['membig'], storage: StorageType.Memory, max_bytes: 3000 })), 10028);
    await jsm.streams.add({ name: 'S1', subjects: ['s1'], max_bytes: 15000 });
    // 15000 of 20000 reserved: another 10000 does not fit, 4000 does.
    assert.equal(await errCode(jsm.streams.add({ name: 'S2', subjects: ['s2'], max_bytes: 10000 })), 10047);
    await jsm.streams.add({ name: 'S2', subjects: ['s2'], max_bytes: 4000 });
    assert.equal(await errCode(jsm.streams.update('S2', { max_bytes: 6000 })), 10047, 'an update reserves its growth');
    await jsm.streams.add({ name: 'S3', subjects: ['s3'] });
    assert.equal(await errCode(jsm.streams.add({ name: 'S4', subjects: ['s4'] })), 10027);
    const ai = await jsm.getAccountInfo();
    assert.equal(ai.streams, 3);
    assert.equal(ai.reserved_storage ?? 19000, 19000);
  });

  test('consumers: max_consumers per stream, max_ack_pending as default and ceiling', async () => {
    const { jsm } = await open('a');
    const c1 = await jsm.consumers.add('S3', { durable_name: 'c1', ack_policy: AckPolicy.Explicit });
    assert.equal(c1.config.max_ack_pending, 100, "the account's max_ack_pending is the default");
    assert.equal(await errCode(jsm.consumers.add('S3', { durable_name: 'c2', ack_policy: AckPolicy.Explicit, max_ack_pending: 200 })), 10121);
    await jsm.consumers.add('S3', { durable_name: 'c2', ack_policy: AckPolicy.Explicit });
    assert.equal(await errCode(jsm.consumers.add('S3', { durable_name: 'c3', ack_policy: AckPolicy.Explicit })), 10026);
    // The limit is per stream (nats-server's addConsumerWithAssignment): another stream has room.
    await jsm.consumers.add('S2', { durable_name: 'c1', ack_policy: AckPolicy.Explicit });
  });

  test('messages past max_file are refused with 10002', async () => {
    const { nc } = await open('a');
    const js = jetstream(nc);
    let refused = 0;
    let stored = 0;
    // S3 has no max_bytes: it fills the account's 20000 bytes of file storage.
    for (let i = 0; i < 100 && refused === 0; i++) {
      try {
        await js.publish('s3', new Uint8Array(500));
        stored++;
      } catch (err) {
        assert.equal(await errCode(Promise.reject(err)), 10002);
        refused++;
      }
    }
    assert.equal(refused, 1, 'one refusal ends the loop');
    assert.ok(stored >= 20 && stored <= 40, `stored ${stored} messages of 500 bytes`);
  });

  test('max_bytes_required and the per-stream cap', async () => {
    const { jsm } = await open('c');
    assert.equal(await errCode(jsm.streams.add({ name: 'NB', subjects: ['nb'] })), 10113);
    assert.equal(await errCode(jsm.streams.add({ name: 'TOO', subjects: ['too'], max_bytes: 6000 })), 10122);
    const si = await jsm.streams.add({ name: 'OK', subjects: ['ok'], max_bytes: 5000 });
    assert.equal(si.config.max_bytes, 5000);
  });

  test('tiered limits are reported as tiers and apply to their replica count (tsnats config)', { skip: usingNatsServer }, async () => {
    const { jsm } = await open('t');
    await jsm.streams.add({ name: 'T1', subjects: ['t1'], max_bytes: 4000 });
    assert.equal(await errCode(jsm.streams.add({ name: 'T2', subjects: ['t2'] })), 10027);
    const ai = await jsm.getAccountInfo();
    assert.equal(ai.tiers?.R1?.limits.max_storage, 10000);
    assert.equal(ai.tiers?.R1?.limits.max_streams, 1);
    assert.equal(ai.tiers?.R1?.limits.max_consumers, -1);
    assert.equal(ai.tiers?.R1?.streams, 1);
    assert.equal(ai.tiers?.R1?.reserved_storage, 4000);
    assert.equal(ai.limits.max_storage, 0, 'with tiers, the top-level limits are empty');
  });
});
