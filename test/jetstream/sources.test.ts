// Sources with the official @nats-io/jetstream client: a stream in account B sourcing two streams —
// one of its own account through a subject transform (which is also its filter), one in account A
// through exports/imports (external API and deliver prefixes) — holds every message of both with the
// transformed subjects and a Nats-Stream-Source header, reports `sources` in stream info, moves more
// than a flow-control window across accounts, and after a restart of the server continues where each
// source left off (no duplicates, nothing missing).
// TSNATS_TEST_SERVER=nats-server checks the expectations (2.9 has no subject transforms: filters).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import { usingNatsServer } from '../helpers/server.js';
import { crossAccountDir, removeDir, startCrossAccount, EXTERNAL_B, type CrossAccount } from '../helpers/cross-account.js';
import { startJetStream, openJs, apiError } from '../helpers/jetstream.js';
import { delay } from '../helpers/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

async function waitMessages(jsm: JetStreamManager, stream: string, n: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const si = await jsm.streams.info(stream);
    if (si.state.messages === n) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} messages in ${stream}: ${JSON.stringify(si.state)} ${JSON.stringify(si.sources)}`);
    await delay(100);
  }
}

/** subject → count, and the Nats-Stream-Source headers, of every message of a stream. */
async function subjects(jsm: JetStreamManager, stream: string): Promise<{ bySubject: Map<string, number>; sources: string[] }> {
  const si = await jsm.streams.info(stream);
  const bySubject = new Map<string, number>();
  const sources: string[] = [];
  for (let seq = si.state.first_seq; seq <= si.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m === null) continue;
    bySubject.set(m.subject, (bySubject.get(m.subject) ?? 0) + 1);
    sources.push(m.header.get('Nats-Stream-Source'));
  }
  return { bySubject, sources };
}

describe('sources', { timeout: 180_000 }, () => {
  test('a stream sourcing a local stream (transformed) and a stream of another account holds every message of both', async () => {
    const dir = crossAccountDir();
    dirs.push(dir);
    let x: CrossAccount | undefined = await startCrossAccount(dir);
    try {
      let jsmA = await jetstreamManager(x.a);
      let jsmB = await jetstreamManager(x.b);
      let jsA = jetstream(x.a);
      let jsB = jetstream(x.b);
      await jsmA.streams.add({ name: 'R', subjects: ['r.>'] });
      await jsmB.streams.add({ name: 'L', subjects: ['l.>'] });
      for (let i = 1; i <= 5; i++) {
        await jsB.publish(`l.a.${i}`, `la${i}`);
        await jsB.publish(`l.b.${i}`, `lb${i}`);
        await jsA.publish(`r.${i}`, `r${i}`);
      }
      // The local source reads only l.a.> (2.10: a transform whose source is the filter).
      const local = usingNatsServer ? { name: 'L', filter_subject: 'l.a.>' } : { name: 'L', subject_transforms: [{ src: 'l.a.>', dest: 'agg.a.>' }] };
      const remote = usingNatsServer ? { name: 'R', external: EXTERNAL_B } : { name: 'R', external: EXTERNAL_B, subject_transforms: [{ src: 'r.>', dest: 'agg.r.>' }] };
      const created = await jsmB.streams.add({ name: 'AGG', sources: [local, remote] });
      assert.equal(created.config.subjects, undefined, 'a stream of sources alone has no subjects');
      await waitMessages(jsmB, 'AGG', 10);
      const la = usingNatsServer ? 'l.a' : 'agg.a';
      const rr = usingNatsServer ? 'r' : 'agg.r';
      const want = new Map<string, number>();
      for (let i = 1; i <= 5; i++) {
        want.set(`${la}.${i}`, 1);
        want.set(`${rr}.${i}`, 1);
      }
      let got = await subjects(jsmB, 'AGG');
      assert.deepEqual(new Map([...got.bySubject].sort()), new Map([...want].sort()));
      if (!usingNatsServer) {
        // 2.10's header: <index name part> <origin sequence> <filter> <destination>.
        assert.ok(got.sources.includes('L 1 l.a.> agg.a.>'), got.sources.join(', '));
        assert.ok(got.sources.some((h) => /^R:\w{8} 3 r\.> agg\.r\.>$/.test(h)), got.sources.join(', '));
      }
      const si = await jsmB.streams.info('AGG');
      assert.deepEqual(si.sources?.map((s) => s.name), ['L', 'R']);
      assert.deepEqual((si.sources?.[1] as unknown as Record<string, unknown>)['external'], { api: EXTERNAL_B.api, deliver: EXTERNAL_B.deliver });
      for (const s of si.sources ?? []) {
        assert.equal(s.lag, 0);
        assert.ok(s.active >= 0);
      }

      // More than a flow-control window from the other account (its flow control comes back
      // through the `$JS.FC.>` import), with headers kept.
      const big = 'x'.repeat(1024);
      const h = headers();
      h.set('X-Kept', 'yes');
      const pubs: Promise<unknown>[] = [];
      for (let i = 6; i <= 3005; i++) pubs.push(jsA.publish(`r.${i}`, big, { headers: h }));
      await Promise.all(pubs);
      await waitMessages(jsmB, 'AGG', 3010, 60_000);
      const m = await jsmB.streams.getMessage('AGG', { last_by_subj: `${rr}.3005` });
      assert.equal(m?.header.get('X-Kept'), 'yes');
      assert.equal(m?.data.length, 1024);

      // Restart: each source continues where it left off.
      await x.stop();
      x = undefined;
      x = await startCrossAccount(dir);
      jsmA = await jetstreamManager(x.a);
      jsmB = await jetstreamManager(x.b);
      jsA = jetstream(x.a);
      jsB = jetstream(x.b);
      await jsB.publish('l.a.6', 'la6');
      await jsB.publish('l.b.6', 'lb6');
      await jsA.publish('r.3006', 'r3006');
      await waitMessages(jsmB, 'AGG', 3012);
      await delay(1500); // anything sourced twice would show up by now
      got = await subjects(jsmB, 'AGG');
      assert.equal((await jsmB.streams.info('AGG')).state.messages, 3012);
      for (const [subject, n] of got.bySubject) assert.equal(n, 1, `${subject} stored once`);
      assert.equal(got.bySubject.get(`${la}.6`), 1);
      assert.equal(got.bySubject.get(`${rr}.3006`), 1);
      assert.equal(got.bySubject.has('l.b.6'), false);
    } finally {
      await x?.stop();
    }
  });

  test('source config errors and options', async () => {
    const env = await startJetStream(openJs, { prefix: 'tsnats-sources-' });
    try {
      const { jsm, js } = env;
      await jsm.streams.add({ name: 'S1', subjects: ['s1.>'] });
      for (let i = 1; i <= 6; i++) await js.publish(`s1.${i}`, `v${i}`);
      if (!usingNatsServer) {
        // 2.10's checks (2.9 accepts both).
        const dup = await apiError(jsm.streams.add({ name: 'D', sources: [{ name: 'S1' }, { name: 'S1' }] }));
        assert.equal(dup.code, 10140);
        const badName = await apiError(jsm.streams.add({ name: 'D', sources: [{ name: 'a.b' }] }));
        assert.equal(badName.code, 10141);
      }
      // A source starting at a sequence.
      await jsm.streams.add({ name: 'FROM4', sources: [{ name: 'S1', opt_start_seq: 4 }] });
      await waitMessages(jsm, 'FROM4', 3);
      assert.equal((await jsm.streams.getMessage('FROM4', { seq: 1 }))?.subject, 's1.4');
      // A stream with subjects of its own and sources; a source added by an update.
      await jsm.streams.add({ name: 'S2', subjects: ['s2'] });
      await js.publish('s2', 'own');
      await jsm.streams.update('S2', { sources: [{ name: 'S1', filter_subject: 's1.2' }] } as never);
      await waitMessages(jsm, 'S2', 2);
      assert.equal((await jsm.streams.getMessage('S2', { seq: 2 }))?.subject, 's1.2');
      await js.publish('s1.2', 'again');
      await waitMessages(jsm, 'S2', 3);
    } finally {
      await env.close();
    }
  });
});
