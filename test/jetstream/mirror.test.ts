// Mirrors with the official @nats-io/jetstream client: a mirror of a file stream catches up (keeping
// the origin's sequences and times across a deleted message), follows new messages, survives a
// restart of the server, reports `mirror` in stream info and serves direct gets for its origin
// (mirror_direct, inherited from the origin's allow_direct); filters and subject transforms; the
// config errors. TSNATS_TEST_SERVER=nats-server checks the expectations (2.10-only parts skipped).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { headers } from '@nats-io/nats-core';
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { startJetStream, openJs, openJsV2, apiError, jsStoreDir, type JetStreamEnv, type JsClient } from '../helpers/jetstream.js';
import { usingNatsServer } from '../helpers/server.js';
import { delay } from '../helpers/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Polls stream info until cond holds (bounded). */
async function waitInfo(jsm: JetStreamManager, stream: string, cond: (s: { messages: number; last_seq: number }) => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    const si = await jsm.streams.info(stream);
    if (cond(si.state)) return;
    last = JSON.stringify(si.state);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last} mirror=${JSON.stringify(si.mirror)}`);
    await delay(50);
  }
}

/** seq → subject|payload|X-Mark|time, for every message (by sequence, no consumer). */
async function contents(jsm: JetStreamManager, stream: string): Promise<Map<number, string>> {
  const si = await jsm.streams.info(stream);
  const out = new Map<number, string>();
  for (let seq = si.state.first_seq; seq <= si.state.last_seq && si.state.messages > 0; seq++) {
    let m: StoredMsg | null = null;
    try {
      m = await jsm.streams.getMessage(stream, { seq });
    } catch {
      m = null;
    }
    if (m !== null) out.set(seq, `${m.subject}|${m.string()}|${m.header?.get('X-Mark') ?? ''}|${m.time.toISOString()}`);
  }
  return out;
}

describe('mirrors', { timeout: 120_000 }, () => {
  test('a mirror of a file stream catches up, follows, survives a restart and serves direct gets', async () => {
    const dir = jsStoreDir('tsnats-mirror-');
    dirs.push(dir);
    let env: JetStreamEnv<JsClient> | undefined = await startJetStream(openJs, { dir });
    try {
      let { jsm, js } = env;
      await jsm.streams.add({ name: 'O', subjects: ['o.>'], allow_direct: true });
      for (let i = 1; i <= 20; i++) {
        const h = headers();
        h.set('X-Mark', `m${i}`);
        await js.publish(`o.${i % 3}`, `msg ${i}`, { headers: h });
      }
      await jsm.streams.deleteMessage('O', 5);

      const created = await jsm.streams.add({ name: 'M', mirror: { name: 'O' } });
      assert.equal(created.config.mirror_direct, true, 'a mirror inherits its origin allow_direct');
      assert.equal(created.config.subjects, undefined, 'a mirror has no subjects of its own');
      await waitInfo(jsm, 'M', (s) => s.last_seq === 20, 'the mirror to catch up');
      const mi = await jsm.streams.info('M');
      assert.equal(mi.state.messages, 19);
      assert.equal(mi.state.first_seq, 1);
      assert.equal(mi.mirror?.name, 'O');
      assert.equal(mi.mirror?.lag, 0);
      assert.ok(typeof mi.mirror?.active === 'number' && mi.mirror.active >= 0, `active: ${mi.mirror?.active}`);
      assert.deepEqual(await contents(jsm, 'M'), await contents(jsm, 'O'), 'same sequences, subjects, payloads, headers and times');

      // It follows new messages.
      for (let i = 21; i <= 30; i++) await js.publish(`o.${i % 3}`, `msg ${i}`);
      await waitInfo(jsm, 'M', (s) => s.last_seq === 30 && s.messages === 29, 'the mirror to follow');

      // The origin's internal consumer is not one of its consumers.
      const oi = await jsm.streams.info('O');
      assert.equal(oi.state.consumer_count, 0);
      const names: string[] = [];
      for await (const n of jsm.consumers.list('O')) names.push(n.name);
      assert.deepEqual(names, []);

      // Direct gets for the origin's name are answered by the origin or the mirror.
      const answeredBy = new Set<string>();
      for (let i = 0; i < 40 && answeredBy.size < 2; i++) {
        const m = await jsm.direct.getMessage('O', { seq: 7 });
        assert.equal(m?.string(), 'msg 7');
        answeredBy.add(m!.header.get('Nats-Stream'));
      }
      assert.deepEqual([...answeredBy].sort(), ['M', 'O']);

      // Restart: the mirror resumes from where it was, with no duplicates.
      await env.close();
      env = undefined;
      env = await startJetStream(openJs, { dir });
      ({ jsm, js } = env);
      await waitInfo(jsm, 'M', (s) => s.last_seq === 30, 'the mirror recovered');
      for (let i = 31; i <= 35; i++) await js.publish(`o.${i % 3}`, `msg ${i}`);
      await waitInfo(jsm, 'M', (s) => s.last_seq === 35, 'the mirror to follow after the restart');
      const after = await jsm.streams.info('M');
      assert.equal(after.state.messages, 34);
      assert.deepEqual(await contents(jsm, 'M'), await contents(jsm, 'O'));
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const m = await jsm.direct.getMessage('O', { last_by_subj: 'o.2' });
        assert.equal(m?.seq, 35);
        seen.add(m!.header.get('Nats-Stream'));
      }
      assert.ok(seen.has('M'), 'the mirror serves direct gets after the restart');
    } finally {
      await env?.close();
    }
  });

  test('mirror options: start sequence, own direct gets, memory storage', async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-mirror-opts-' });
    try {
      const { jsm, js } = env;
      await jsm.streams.add({ name: 'P', subjects: ['p.*'] });
      for (let i = 1; i <= 10; i++) await js.publish(`p.${i}`, `v${i}`);
      const ci = await jsm.streams.add({ name: 'PM', mirror: { name: 'P', opt_start_seq: 6 }, allow_direct: true, storage: 'memory' as never });
      assert.equal(ci.config.mirror_direct, false, 'the origin has no allow_direct');
      await waitInfo(jsm, 'PM', (s) => s.last_seq === 10, 'the mirror from seq 6');
      const si = await jsm.streams.info('PM');
      assert.equal(si.state.messages, 5);
      assert.equal(si.state.first_seq, 6, 'the mirror starts at the origin sequence asked for');
      const m = await jsm.direct.getMessage('PM', { last_by_subj: 'p.8' });
      assert.equal(m?.string(), 'v8');
      assert.equal(m?.seq, 8);
      // From a start time: the origin's messages from the eighth on.
      // The stored time in full (nanoseconds): two messages may share a millisecond.
      const t8 = (await jsm.streams.getMessage('P', { seq: 8 }))!.timestamp;
      await jsm.streams.add({ name: 'PT', mirror: { name: 'P', opt_start_time: t8 } as never });
      await waitInfo(jsm, 'PT', (s) => s.last_seq === 10, 'the mirror from a start time');
      const pt = await jsm.streams.info('PT');
      assert.equal(pt.state.first_seq, 8);
      assert.equal(pt.state.messages, 3);
    } finally {
      await env.close();
    }
  });

  test('filtered mirror with subject transforms keeps the origin sequences (2.10)', { skip: usingNatsServer && 'mirror subject_transforms are nats-server 2.10' }, async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-mirror-tr-' });
    try {
      const { jsm, js } = env;
      await jsm.streams.add({ name: 'Q', subjects: ['q.>'] });
      for (let i = 1; i <= 9; i++) await js.publish(i % 3 === 0 ? `q.keep.${i}` : `q.drop.${i}`, `v${i}`);
      await jsm.streams.add({ name: 'QM', mirror: { name: 'Q', subject_transforms: [{ src: 'q.keep.*', dest: 'kept.$1' }] } });
      await waitInfo(jsm, 'QM', (s) => s.messages === 3 && s.last_seq === 9, 'the filtered mirror');
      const m6 = await jsm.streams.getMessage('QM', { seq: 6 });
      assert.equal(m6?.subject, 'kept.6');
      assert.equal(m6?.string(), 'v6');
      const si = await jsm.streams.info('QM');
      assert.deepEqual(si.mirror?.subject_transforms, [{ src: 'q.keep.*', dest: 'kept.$1' }]);
      await js.publish('q.keep.10', 'v10');
      await js.publish('q.drop.11', 'v11');
      await js.publish('q.keep.12', 'v12');
      await waitInfo(jsm, 'QM', (s) => s.messages === 5 && s.last_seq === 12, 'the filtered mirror to follow');
      assert.equal((await jsm.streams.getMessage('QM', { seq: 12 }))?.subject, 'kept.12');
      // A mirror with a plain filter.
      await jsm.streams.add({ name: 'QF', mirror: { name: 'Q', filter_subject: 'q.drop.*' } });
      await waitInfo(jsm, 'QF', (s) => s.messages === 7 && s.last_seq === 11, 'the mirror with a filter');
      assert.equal(((await jsm.streams.info('QF')).mirror as unknown as Record<string, unknown>)['filter_subject'], 'q.drop.*');
    } finally {
      await env.close();
    }
  });

  test('a mirror rides out an origin outage and catches up when it is back (2.10 first_seq)', { skip: usingNatsServer && 'first_seq is nats-server 2.10' }, async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-mirror-outage-' });
    try {
      const { jsm, js } = env;
      await jsm.streams.add({ name: 'U', subjects: ['u.>'] });
      for (let i = 1; i <= 5; i++) await js.publish(`u.${i}`, `v${i}`);
      await jsm.streams.add({ name: 'UM', mirror: { name: 'U' } });
      await waitInfo(jsm, 'UM', (s) => s.last_seq === 5, 'the mirror');
      // The origin goes away: after the health check the mirror reports why it cannot follow.
      await jsm.streams.delete('U');
      const deadline = Date.now() + 40_000;
      let err: unknown;
      while (Date.now() < deadline) {
        err = ((await jsm.streams.info('UM')).mirror as unknown as Record<string, unknown>)['error'];
        if (err !== undefined) break;
        await delay(250);
      }
      assert.deepEqual(err, { code: 404, err_code: 10059, description: 'stream not found' });
      // It comes back (continuing its sequences) and gets new messages: the mirror catches up.
      await jsm.streams.add({ name: 'U', subjects: ['u.>'], first_seq: 6 });
      for (let i = 6; i <= 8; i++) await js.publish(`u.${i}`, `v${i}`);
      await waitInfo(jsm, 'UM', (s) => s.last_seq === 8 && s.messages === 8, 'the mirror after the outage', 60_000);
      assert.equal((await jsm.streams.getMessage('UM', { seq: 7 }))?.string(), 'v7');
      assert.equal(((await jsm.streams.info('UM')).mirror as unknown as Record<string, unknown>)['error'], undefined);
    } finally {
      await env.close();
    }
  });

  test('the nats v2 client: a mirror and a republishing stream through jsm/js, and its KV view of a mirror', async () => {
    const env = await startJetStream(openJsV2, { prefix: 'tsnats-mirror-v2-' });
    try {
      const { nc, jsm, js } = env;
      const got: string[] = [];
      const sub = nc.subscribe('v2out.>', { callback: (_e, m) => got.push(`${m.subject}|${m.headers?.get('Nats-Sequence')}`) });
      await jsm.streams.add({ name: 'V2', subjects: ['v2.>'], republish: { src: 'v2.>', dest: 'v2out.>' } });
      await js.publish('v2.a', 'one');
      await js.publish('v2.b', 'two');
      const si = await jsm.streams.add({ name: 'V2M', mirror: { name: 'V2' } });
      assert.equal(si.config.mirror?.name, 'V2');
      for (let i = 0; i < 150 && (await jsm.streams.info('V2M')).state.last_seq < 2; i++) await delay(100);
      const info = await jsm.streams.info('V2M');
      assert.equal(info.state.messages, 2);
      assert.equal(info.mirror?.name, 'V2');
      assert.equal((await jsm.streams.getMessage('V2M', { seq: 2 })).subject, 'v2.b');
      for (let i = 0; i < 100 && got.length < 2; i++) await delay(20);
      assert.deepEqual(got, ['v2out.a|1', 'v2out.b|2']);
      sub.unsubscribe();
      // The v2 KV view of an origin bucket reads the same through direct gets its mirror may answer.
      const kv = await js.views.kv('V2KV');
      await kv.put('k', 'v');
      await jsm.streams.add({ name: 'KV_V2KVM', mirror: { name: 'KV_V2KV' }, mirror_direct: true, allow_direct: true } as never);
      for (let i = 0; i < 150 && (await jsm.streams.info('KV_V2KVM')).state.messages < 1; i++) await delay(100);
      assert.equal((await jsm.streams.info('KV_V2KVM')).state.messages, 1);
      for (let i = 0; i < 10; i++) assert.equal(new TextDecoder().decode((await kv.get('k'))?.value), 'v');
    } finally {
      await env.close();
    }
  });

  test('mirror config errors as nats-server', async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-mirror-err-' });
    try {
      const { jsm } = env;
      await jsm.streams.add({ name: 'E', subjects: ['e.>'] });
      const withSubjects = await apiError(jsm.streams.add({ name: 'E1', subjects: ['x'], mirror: { name: 'E' } }));
      assert.equal(withSubjects.code, 10034);
      const withSources = await apiError(jsm.streams.add({ name: 'E2', mirror: { name: 'E' }, sources: [{ name: 'E' }] }));
      assert.equal(withSources.code, 10031);
      const noMirror = await apiError(jsm.streams.add({ name: 'E3', subjects: ['e3'], mirror_direct: true }));
      assert.equal(noMirror.code, 10052);
      await jsm.streams.add({ name: 'E4', mirror: { name: 'E' } });
      const upd = await apiError(jsm.streams.update('E4', { mirror: { name: 'E', opt_start_seq: 3 } } as never));
      assert.equal(upd.code, 10055);
      assert.equal(upd.message, 'stream mirror configuration can not be updated');
      const cycle = await apiError(jsm.streams.add({ name: 'E5', mirror: { name: 'E5' } }));
      assert.equal(cycle.code, 10052);
    } finally {
      await env.close();
    }
  });
});
