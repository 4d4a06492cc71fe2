// A KV mirror reads like its origin (@nats-io/kv): bucket TEST in account A, a mirror bucket in
// account B created by the KV client with an external API prefix (the read-replica setup KV users
// build across accounts or domains). Gets (direct gets on the mirror), keys, history and watch on the
// mirror show the origin's entries, deletes included, and follow new writes. Same-account: direct
// gets of the origin bucket are also answered by its mirror (mirror_direct).
// TSNATS_TEST_SERVER=nats-server checks the expectations.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { startJetStream, openNc } from '../helpers/jetstream.js';
import { crossAccountDir, removeDir, startCrossAccount, EXTERNAL_B } from '../helpers/cross-account.js';
import { delay, waitFor } from '../helpers/wait.js';
import { usingNatsServer } from '../helpers/server.js';

/** A config file giving the server the JetStream domain HUB. */
function domainConf(dir: string): string {
  const conf = join(dir, 'domain.conf');
  writeFileSync(conf, 'jetstream { domain: HUB }\n');
  return conf;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

async function keys(kv: KV): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await kv.keys()) out.push(k);
  return out.sort();
}

async function history(kv: KV, key: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of await kv.history({ key })) out.push(`${e.operation}:${e.string()}:${e.revision}`);
  return out;
}

describe('KV mirrors', { timeout: 120_000 }, () => {
  test('a KV mirror in another account reads like its origin', async () => {
    const dir = crossAccountDir();
    dirs.push(dir);
    const x = await startCrossAccount(dir);
    try {
      const origin = await new Kvm(x.a).create('TEST', { history: 5 });
      await origin.put('name', 'derek');
      await origin.put('age', '22');
      await origin.put('v', 'v');
      await origin.delete('v');

      const created = await new Kvm(x.b).create('MIRROR', { history: 5, mirror: { name: 'TEST', external: EXTERNAL_B } });
      assert.ok(created);
      const jsmB = await jetstreamManager(x.b);
      const si = await jsmB.streams.info('KV_MIRROR');
      assert.equal(si.config.mirror?.name, 'KV_TEST');
      assert.equal(si.config.mirror_direct, true);
      for (let i = 0; i < 100; i++) {
        if ((await jsmB.streams.info('KV_MIRROR')).state.messages === 4) break;
        await delay(100);
      }
      assert.equal((await jsmB.streams.info('KV_MIRROR')).state.messages, 4);

      // As the KV clients' own mirror tests do: create() of an existing bucket reads its stream info
      // (open() binds without it and would not see the mirror's prefixes).
      const mirror = await new Kvm(x.b).create('MIRROR');
      const same = async (key: string): Promise<void> => {
        const o = await origin.get(key);
        const m = await mirror.get(key);
        assert.equal(m?.operation, o?.operation, key);
        assert.equal(m?.string(), o?.string(), key);
        assert.equal(m?.revision, o?.revision, key);
        assert.equal(m?.key, key);
      };
      await same('name');
      await same('age');
      await same('v');
      assert.equal((await mirror.get('v'))?.operation, 'DEL');
      assert.equal(await mirror.get('nope'), null);
      assert.deepEqual(await keys(mirror), await keys(origin));
      assert.deepEqual(await keys(mirror), ['age', 'name']);
      assert.deepEqual(await history(mirror, 'v'), await history(origin, 'v'));

      // A watch on the mirror sees what is written to the origin.
      const seen: KvEntry[] = [];
      const w = await mirror.watch({ key: 'name' });
      void (async () => {
        for await (const e of w) seen.push(e);
      })();
      await waitFor(() => seen.length === 1, 'the current value');
      assert.equal(seen[0]!.string(), 'derek');
      await origin.put('name', 'rip');
      await waitFor(() => seen.length === 2, 'the new value through the mirror', 15_000);
      assert.equal(seen[1]!.string(), 'rip');
      w.stop();
      await same('name');
      assert.deepEqual(await history(mirror, 'name'), await history(origin, 'name'));
      const st = await jsmB.streams.info('KV_MIRROR');
      assert.equal(st.mirror?.name, 'KV_TEST');
      assert.deepEqual((st.mirror as unknown as Record<string, unknown>)['external'], { api: EXTERNAL_B.api, deliver: EXTERNAL_B.deliver });
    } finally {
      await x.stop();
    }
  });

  // The KV clients' cross-domain mirror (nats.js "kv - mirror cross domain") with both ends on one
  // server: nats-server 2.9 does not route its own mirror's requests through its domain mapping (that
  // test needs a leafnode there); here they take the same path as a client's.
  test('a KV mirror through a JetStream domain (the clients\' cross-domain form) reads and writes like its origin', { skip: usingNatsServer && 'nats-server 2.9 needs a leafnode for this' }, async () => {
    const env = await startJetStream(openNc, { prefix: 'tsnats-kvd-', args: (dir) => ['-js', '-sd', dir, '--server_name', 'HUB', '-c', domainConf(dir)] });
    try {
      const kvm = new Kvm(env.nc);
      const origin = await kvm.create('TEST', { history: 3 });
      await origin.put('name', 'derek');
      await origin.put('age', '22');
      await kvm.create('MIRROR', { history: 3, mirror: { name: 'TEST', domain: 'HUB' } as never });
      const jsm = await jetstreamManager(env.nc);
      const si = await jsm.streams.info('KV_MIRROR');
      assert.deepEqual((si.config.mirror as unknown as Record<string, unknown>)['external'], { api: '$JS.HUB.API', deliver: '' });
      for (let i = 0; i < 100 && (await jsm.streams.info('KV_MIRROR')).state.messages < 2; i++) await delay(100);
      const mirror = await kvm.create('MIRROR');
      assert.equal((await mirror.get('name'))?.string(), 'derek');
      assert.deepEqual(await keys(mirror), ['age', 'name']);
      // A write through the mirror's handle goes to the origin (through the domain) and comes back.
      await mirror.put('name', 'rip');
      // A direct get of the origin may be answered by the mirror (mirror_direct, as nats-server), which
      // can be a moment behind: read until the new value shows, bounded.
      for (let i = 0; i < 100 && (await origin.get('name'))?.string() !== 'rip'; i++) await delay(100);
      assert.equal((await origin.get('name'))?.string(), 'rip');
      for (let i = 0; i < 100 && (await mirror.get('name'))?.string() !== 'rip'; i++) await delay(100);
      assert.equal((await mirror.get('name'))?.string(), 'rip');
      assert.deepEqual(await history(mirror, 'name'), await history(origin, 'name'));
    } finally {
      await env.close();
    }
  });

  test('a KV bucket sourcing two buckets holds their keys under its own name (2.10)', { skip: usingNatsServer && 'KV sources use subject transforms (nats-server 2.10)' }, async () => {
    const env = await startJetStream(openNc, { prefix: 'tsnats-kvs-' });
    try {
      const kvm = new Kvm(env.nc);
      const s1 = await kvm.create('S1');
      const s2 = await kvm.create('S2');
      await s1.put('a', '1');
      await s2.put('b', '2');
      const agg = await kvm.create('AGG', { sources: [{ name: 'S1' }, { name: 'S2' }] });
      const deadline = Date.now() + 15_000;
      while ((await keys(agg)).length < 2 && Date.now() < deadline) await delay(100);
      assert.deepEqual(await keys(agg), ['a', 'b']);
      assert.equal((await agg.get('a'))?.string(), '1');
      await s2.put('b', '3');
      await s1.delete('a');
      for (let i = 0; i < 150 && (await agg.get('b'))?.string() !== '3'; i++) await delay(100);
      assert.equal((await agg.get('b'))?.string(), '3');
      for (let i = 0; i < 150 && (await agg.get('a'))?.operation !== 'DEL'; i++) await delay(100);
      assert.equal((await agg.get('a'))?.operation, 'DEL');
      assert.deepEqual(await keys(agg), ['b']);
    } finally {
      await env.close();
    }
  });

  test('direct gets of a KV bucket are answered by its mirror too (mirror_direct)', async () => {
    const env = await startJetStream(openNc, { prefix: 'tsnats-kvm-' });
    try {
      const kvm = new Kvm(env.nc);
      const kv = await kvm.create('ORIG');
      await kv.put('k', 'v1');
      await kvm.create('REPLICA', { mirror: { name: 'ORIG' } });
      const jsm = await jetstreamManager(env.nc);
      for (let i = 0; i < 100; i++) {
        if ((await jsm.streams.info('KV_REPLICA')).state.messages === 1) break;
        await delay(100);
      }
      await kv.put('k', 'v2');
      for (let i = 0; i < 100; i++) {
        if ((await jsm.streams.info('KV_REPLICA')).state.last_seq === 2) break;
        await delay(100);
      }
      const by = new Set<string>();
      for (let i = 0; i < 40 && by.size < 2; i++) {
        const m = await jsm.direct.getMessage('KV_ORIG', { last_by_subj: '$KV.ORIG.k' });
        assert.equal(m?.string(), 'v2');
        by.add(m!.header.get('Nats-Stream'));
      }
      assert.deepEqual([...by].sort(), ['KV_ORIG', 'KV_REPLICA']);
      // And the bucket's own reads give the same, whoever answers.
      assert.equal((await kv.get('k'))?.string(), 'v2');
    } finally {
      await env.close();
    }
  });
});
