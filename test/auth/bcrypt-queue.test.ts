// The bcrypt queue in front of the pool (src/auth/bcrypt-queue.ts), with a fake comparison whose
// completion the test controls: turns between (IP, user) groups, deadlines, cancellation, identical
// checks sharing one run, failures remembered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BcryptQueue, type BcryptJob } from '../../src/auth/bcrypt-queue.js';

/** A fake pool: records what ran, and finishes each run when the test says so. */
function fakePool(): { run: (p: string, h: string) => Promise<boolean>; ran: string[]; finish: (ok?: boolean) => Promise<void> } {
  const ran: string[] = [];
  const pending: ((ok: boolean) => void)[] = [];
  return {
    ran,
    run: (p) => {
      ran.push(p);
      return new Promise((r) => pending.push(r));
    },
    finish: async (ok = false) => {
      pending.shift()!(ok);
      await new Promise((r) => setImmediate(r));
    },
  };
}

const job = (password: string, key: string, deadline = Date.now() + 60_000): BcryptJob => ({ password, hash: '$2a$10$hash', key, deadline });

test('groups take turns: a long line of one (IP, user) does not hold up another group', async () => {
  const pool = fakePool();
  const q = new BcryptQueue(pool.run, 1);
  const attackers = Array.from({ length: 20 }, (_, i) => q.submit(job(`wrong${i}`, '10.0.0.1\0bob')));
  const alice = q.submit(job('right', '10.0.0.2\0alice'));
  assert.deepEqual(pool.ran, ['wrong0']);
  await pool.finish(false);
  assert.deepEqual(pool.ran, ['wrong0', 'right'], 'alice runs right after the attacker check that was already running');
  await pool.finish(true);
  assert.equal(await alice.verdict, true);
  assert.equal(await attackers[0]!.verdict, false);
  assert.equal(q.pending, 19);
  for (let i = 0; i < 19; i++) await pool.finish(false);
  assert.equal(q.pending, 0);
});

test('a check whose deadline passed while it waited is dropped unrun (null); a cancelled one too', async () => {
  const pool = fakePool();
  const q = new BcryptQueue(pool.run, 1);
  const first = q.submit(job('a', 'k1'));
  const late = q.submit(job('b', 'k2', Date.now() + 20));
  const gone = q.submit(job('c', 'k3'));
  const kept = q.submit(job('d', 'k4'));
  gone.cancel();
  assert.equal(await gone.verdict, null);
  await new Promise((r) => setTimeout(r, 40));
  await pool.finish(true);
  assert.equal(await first.verdict, true);
  assert.equal(await late.verdict, null);
  assert.deepEqual(pool.ran, ['a', 'd'], 'b (expired) and c (cancelled) never ran');
  await pool.finish(false);
  assert.equal(await kept.verdict, false);
  assert.equal(q.stats.dropped, 2);
});

test('identical checks share one run; a failed one is remembered, a success is not', async () => {
  const pool = fakePool();
  const q = new BcryptQueue(pool.run, 1);
  const blocker = q.submit(job('x', 'k0'));
  const same = Array.from({ length: 10 }, (_, i) => q.submit(job('fleet', `10.0.0.${i}\0svc`)));
  await pool.finish(true);
  await pool.finish(true);
  assert.equal(await blocker.verdict, true);
  for (const s of same) assert.equal(await s.verdict, true);
  assert.deepEqual(pool.ran, ['x', 'fleet']);
  // Success not remembered: the same password later runs again.
  const again = q.submit(job('fleet', 'k'));
  assert.deepEqual(pool.ran, ['x', 'fleet', 'fleet']);
  await pool.finish(true);
  assert.equal(await again.verdict, true);
  // Failure remembered: the same wrong password is answered at once, without a run.
  const bad = q.submit(job('nope', 'k'));
  await pool.finish(false);
  assert.equal(await bad.verdict, false);
  assert.equal(await q.submit(job('nope', 'other')).verdict, false);
  assert.deepEqual(pool.ran, ['x', 'fleet', 'fleet', 'nope']);
  assert.equal(q.pending, 0);
});

test('runs up to `concurrency` comparisons at once', async () => {
  const pool = fakePool();
  const q = new BcryptQueue(pool.run, 3);
  for (let i = 0; i < 5; i++) q.submit(job(`p${i}`, `k${i}`));
  assert.equal(pool.ran.length, 3);
  await pool.finish(false);
  assert.equal(pool.ran.length, 4);
});
