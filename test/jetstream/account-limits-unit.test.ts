// The account-limit rules alone (account-limits.ts), the way a clustered meta layer will call them
// with stream assignments: tier selection, reservations per tier, the checks' err_codes, usage tiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkMaxBytes,
  checkNewStream,
  checkStreamUpdate,
  selectLimits,
  tierName,
  tieredReservation,
  unlimited,
  usageTiers,
  wouldExceed,
  type LimitedStream,
  type TieredLimits,
} from '../../src/jetstream/account-limits.js';
import { goDuration } from '../../src/jetstream/consumer/go-duration.js';
import { importTransform } from '../../src/shard/import-transform.js';

const st = (name: string, max_bytes: number, num_replicas = 1, storage: 'file' | 'memory' = 'file'): LimitedStream & { max_consumers: number } => ({ name, storage, max_bytes, num_replicas, max_consumers: -1 });

test('tiers: flat limits win, else the tier of the replica count', () => {
  assert.equal(tierName(0), 'R1');
  assert.equal(tierName(3), 'R3');
  const flat: TieredLimits = { '': { ...unlimited(), max_streams: 2 } };
  assert.equal(selectLimits(flat, 3)?.tier, '');
  const tiered: TieredLimits = { R1: { ...unlimited(), max_streams: 1 }, R3: unlimited() };
  assert.equal(selectLimits(tiered, 1)?.tier, 'R1');
  assert.equal(selectLimits(tiered, 3)?.tier, 'R3');
  assert.equal(selectLimits(tiered, 5), null);
  assert.equal(checkNewStream(tiered, [], st('X', -1, 5), null)?.err_code, 10120);
});

test('reservations: max_bytes x replicas of the same storage and tier, this stream left out', () => {
  const streams = [st('A', 100), st('B', 50, 3), st('C', -1), st('M', 70, 1, 'memory')];
  assert.equal(tieredReservation(streams, '', st('new', 1)), 100 + 150);
  assert.equal(tieredReservation(streams, 'R1', st('new', 1)), 100);
  assert.equal(tieredReservation(streams, '', st('A', 1)), 150);
  assert.equal(tieredReservation(streams, '', st('m', 1, 1, 'memory')), 70);
});

test('stream checks: max_streams, bytes against max_storage / max_memory, updates reserve the growth', () => {
  const l: TieredLimits = { '': { ...unlimited(), max_streams: 2, max_storage: 1000, max_memory: 100 } };
  const streams = [st('A', 600)];
  assert.equal(checkNewStream(l, streams, st('B', 500), null)?.err_code, 10047);
  assert.equal(checkNewStream(l, streams, st('B', 400), null), null);
  assert.equal(checkNewStream(l, streams, st('M', 200, 1, 'memory'), null)?.err_code, 10028);
  assert.equal(checkNewStream(l, [...streams, st('B', 1)], st('C', 1), null)?.err_code, 10027);
  assert.equal(checkNewStream(l, [...streams, st('B', 1)], st('A', 600), null), null, 'the same stream again is not one more');
  assert.equal(checkStreamUpdate(l, streams, st('A', 600), st('A', 1000)), null);
  assert.equal(checkStreamUpdate(l, streams, st('A', 600), st('A', 1001))?.err_code, 10047);
  assert.equal(checkNewStream(l, [], st('S', 1), () => ({ code: 503, err_code: 1, description: 'server' }))?.err_code, 1, 'then the server half');
});

test('max_bytes rules: required, and the per-stream cap', () => {
  const l: TieredLimits = { '': { ...unlimited(), max_bytes_required: true, storage_max_stream_bytes: 500 } };
  assert.equal(checkMaxBytes(l, st('A', -1))?.err_code, 10113);
  assert.equal(checkMaxBytes(l, st('A', 501))?.err_code, 10122);
  assert.equal(checkMaxBytes(l, st('A', 500)), null);
});

test('publishes: the tier total plus the message against the limits; tiers scale by replicas', () => {
  const flat: TieredLimits = { '': { ...unlimited(), max_storage: 1000 } };
  const use = [{ ...st('A', -1), bytes: 900, consumers: 0 }];
  assert.equal(wouldExceed(flat, use, 'file', 1, 100), false);
  assert.equal(wouldExceed(flat, use, 'file', 1, 101), true);
  assert.equal(wouldExceed(flat, use, 'memory', 1, 10_000), false);
  const tiered: TieredLimits = { R3: { ...unlimited(), max_storage: 1000 } };
  assert.equal(wouldExceed(tiered, [{ ...st('B', -1, 3), bytes: 2700, consumers: 0 }], 'file', 3, 100), false, '2700 + 300 <= 3 x 1000');
  assert.equal(wouldExceed(tiered, [{ ...st('B', -1, 3), bytes: 2800, consumers: 0 }], 'file', 3, 100), true);
  assert.equal(wouldExceed(tiered, [], 'file', 1, 1), true, 'no limits for R1');
});

test('usage tiers list every tier with limits and every tier in use', () => {
  const tiers: TieredLimits = { R1: { ...unlimited(), max_storage: 1000 } };
  const u = usageTiers(tiers, [{ ...st('A', 300), bytes: 10, consumers: 2 }, { ...st('B', -1, 3), bytes: 5, consumers: 1 }]);
  assert.deepEqual(Object.keys(u), ['R1', 'R3']);
  assert.deepEqual({ ...u['R1'], limits: undefined }, { memory: 0, storage: 10, reserved_memory: 0, reserved_storage: 300, streams: 1, consumers: 2, limits: undefined });
  assert.equal(u['R1']!.limits.max_storage, 1000);
  assert.equal(u['R3']!.limits.max_storage, 0);
});

test("Go durations as nats-server prints them", () => {
  assert.equal(goDuration(5e9), '5s');
  assert.equal(goDuration(90e9), '1m30s');
  assert.equal(goDuration(3600e9), '1h0m0s');
  assert.equal(goDuration(1.5e9), '1.5s');
  assert.equal(goDuration(250e6), '250ms');
  assert.equal(goDuration(0), '0s');
});

test('service import subject transforms', () => {
  assert.equal(importTransform('froma.>', '$JS.API.>')!('froma.STREAM.INFO.KV_a'), '$JS.API.STREAM.INFO.KV_a');
  assert.equal(importTransform('froma.$KV.>', '$KV.>')!('froma.$KV.a.C'), '$KV.a.C');
  assert.equal(importTransform('a.*.b.>', 'x.*.>')!('a.1.b.c.d'), 'x.1.c.d');
  assert.equal(importTransform('svc.>', 'svc.>'), null, 'same subject: nothing to map');
  assert.equal(importTransform('local', 'remote.literal'), null, 'a literal export: requests go to it');
});
