#!/usr/bin/env node
// Captures real nats-server JetStream-cluster traffic as test fixtures for the RAFT and meta-layer codecs
// (test/jetstream/raft/, test/jetstream/cluster/). Runs three nats-server processes (the installed binary,
// 2.9.10 in CI) as a cluster on loopback, subscribes as a system-account user to `$NRG.>` and `$JSC.>`,
// drives a scripted workload through an application account, and writes every captured message to
// `<out>/traffic.ndjson` ({t, subject, reply, data: base64}). It also copies each server's RAFT state
// files (tav.idx, peers.idx, snapshots/) and writes `<out>/servers.json` (names, peer ids, group names).
//
// Usage: node scripts/capture-nrg.mjs [outDir]   (default test/fixtures/nrg/<version>)
// Every process it starts is stopped by pid, also on failure.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, readFileSync, statSync, rmSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, StringCodec, headers, AckPolicy, StorageType } from 'nats';

const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
const version = execFileSync(bin, ['--version']).toString().trim().replace(/^nats-server: v/, '');
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(repo, 'test', 'fixtures', 'nrg', version);
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'nrg-capture-'));
const sc = StringCodec();
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const names = ['n1', 'n2', 'n3'];
const ports = [];
for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), cluster: await freePort(), http: await freePort() });

function conf(i) {
  const routes = ports.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p.cluster}`);
  return `server_name: ${names[i]}
listen: 127.0.0.1:${ports[i].client}
http: 127.0.0.1:${ports[i].http}
server_tags: ["az:${i + 1}", "kind:nats"]
jetstream { store_dir: "${join(work, names[i])}", max_file_store: 1GB, max_mem_store: 256MB }
accounts {
  SYS: { users: [{ user: sys, password: sys }] }
  APP: { jetstream: enabled, users: [{ user: app, password: app }] }
}
system_account: SYS
cluster {
  name: C1
  listen: 127.0.0.1:${ports[i].cluster}
  routes: [${routes.join(', ')}]
}
`;
}

const procs = [null, null, null];
function start(i) {
  const cf = join(work, `${names[i]}.conf`);
  writeFileSync(cf, conf(i));
  const p = spawn(bin, ['-c', cf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stdout.on('data', (d) => (log += d));
  p.stderr.on('data', (d) => (log += d));
  p.log = () => log;
  procs[i] = p;
  return p;
}
async function stop(i, signal = 'SIGTERM') {
  const p = procs[i];
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  process.kill(p.pid, signal);
  const t = setTimeout(() => p.exitCode === null && process.kill(p.pid, 'SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}
async function stopAll() {
  for (let i = 0; i < 3; i++) await stop(i).catch(() => {});
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(1)));

async function jsz(i) {
  const r = await fetch(`http://127.0.0.1:${ports[i].http}/jsz?acc=APP&streams=true&consumers=true`);
  return r.json();
}

async function waitFor(cond, what, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

async function retry(fn, what, tries = 10) {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      console.error(`${what}: ${err.message} (try ${i})`);
      if (i >= tries) throw err;
      await delay(1000);
    }
  }
}

const records = [];
const t0 = Date.now();
let sys;
try {
  for (let i = 0; i < 3; i++) start(i);
  await waitFor(async () => {
    const j = await jsz(0);
    return j.meta_cluster && j.meta_cluster.leader;
  }, 'a meta leader');
  sys = await connect({ servers: `127.0.0.1:${ports[0].client}`, user: 'sys', pass: 'sys', name: 'nrg-capture' });
  // Note the first elections happened before this subscription: the meta election is captured again
  // below with a stepdown.
  for (const subj of ['$NRG.>', '$JSC.>']) {
    const sub = sys.subscribe(subj);
    (async () => {
      for await (const m of sub) {
        records.push({ t: Date.now() - t0, subject: m.subject, reply: m.reply ?? '', data: Buffer.from(m.data).toString('base64') });
      }
    })();
  }
  await sys.flush();
  await delay(2500); // a couple of meta heartbeats

  const app = await connect({ servers: ports.map((p) => `127.0.0.1:${p.client}`), user: 'app', pass: 'app', name: 'nrg-app' });
  const jsm = await app.jetstreamManager();
  const js = app.jetstream();

  // Meta leader stepdown: vote requests/responses and leader transfer on _meta_.
  await sys.request('$JS.API.META.LEADER.STEPDOWN', new Uint8Array(0), { timeout: 5000 });
  await waitFor(async () => (await jsz(0)).meta_cluster?.leader, 'a new meta leader');

  // Streams: an R3 file stream, an R3 memory stream (assignStreamOp, groups S-R3F-/S-R3M-).
  await delay(2000);
  await retry(() => jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3, storage: StorageType.File }), 'ORDERS create');
  await retry(() => jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], num_replicas: 3, storage: StorageType.Memory, max_msgs: 100 }), 'MEM create');
  console.error('streams created');
  // Messages: plain, with headers, with a msg id, with a reply, one over 4 KiB (compressedStreamMsgOp).
  for (let i = 1; i <= 5; i++) await js.publish(`orders.new.${i}`, sc.encode(`order ${i}`));
  const h = headers();
  h.set('X-Test', 'yes');
  await js.publish('orders.hdr', sc.encode('with header'), { headers: h, msgID: 'id-1' });
  await js.publish('orders.big', new Uint8Array(6000).fill(0x61));
  await js.publish('orders.empty', new Uint8Array(0));
  await js.publish('mem.a', sc.encode('memory'));
  // A durable R3 pull consumer: assignConsumerOp (C-R3F-), delivered and ack updates.
  await jsm.consumers.add('ORDERS', { durable_name: 'DUR', ack_policy: AckPolicy.Explicit, filter_subject: 'orders.>' });
  const c = await js.consumers.get('ORDERS', 'DUR');
  const batch = await c.fetch({ max_messages: 4, expires: 2000 });
  let n = 0;
  for await (const m of batch) {
    if (n++ % 2 === 0) m.ack();
    else m.nak();
  }
  await app.flush();
  // An ephemeral (R1) consumer assignment and its removal.
  const eph = await jsm.consumers.add('ORDERS', { ack_policy: AckPolicy.None, inactive_threshold: 2_000_000_000 });
  await jsm.consumers.delete('ORDERS', eph.name);
  // Stream update (updateStreamOp), message delete (deleteMsgOp), purge with a filter (purgeStreamOp).
  await jsm.streams.update('ORDERS', { subjects: ['orders.>'], num_replicas: 3, max_msgs: 1000 });
  await jsm.streams.deleteMessage('ORDERS', 2);
  await jsm.streams.purge('ORDERS', { filter: 'orders.new.1' });
  // A KV bucket with 3 replicas.
  const kv = await js.views.kv('CFG', { replicas: 3, history: 3 });
  await kv.put('a', sc.encode('1'));
  await kv.put('a', sc.encode('2'));
  await kv.delete('a');
  // Stream leader stepdown (votes on an S- group).
  await app.request('$JS.API.STREAM.LEADER.STEPDOWN.ORDERS', new Uint8Array(0), { timeout: 5000 });
  await delay(3000);
  for (let i = 6; i <= 10; i++) await js.publish(`orders.new.${i}`, sc.encode(`order ${i}`));

  // Kill a non-leader-of-meta server while publishing, then restart it: catch-up traffic ($NRG.CR.*).
  const victim = 2;
  await stop(victim, 'SIGKILL');
  for (let i = 11; i <= 60; i++) await retry(() => js.publish(`orders.new.${i}`, sc.encode(`order ${i}`), { msgID: `o-${i}` }), `publish ${i}`);
  await retry(() => jsm.consumers.add('ORDERS', { durable_name: 'DUR2', ack_policy: AckPolicy.Explicit }), 'DUR2');
  console.error('published while a server was down');
  start(victim);
  await waitFor(async () => {
    const j = await jsz(victim);
    const st = j.account_details?.[0]?.stream_detail?.find((s) => s.name === 'ORDERS');
    return st && st.state.last_seq >= 60;
  }, 'the restarted server to catch up');
  await delay(2000);

  // Peer removal from a stream (EntryRemovePeer on the S- group, a new assignment on _meta_).
  const info = await jsm.streams.info('ORDERS');
  const follower = info.cluster.replicas?.[0]?.name;
  if (follower) {
    await app.request('$JS.API.STREAM.PEER.REMOVE.ORDERS', sc.encode(JSON.stringify({ peer: follower })), { timeout: 5000 });
    await delay(3000);
  }
  // Stream and consumer removal.
  await jsm.consumers.delete('ORDERS', 'DUR2');
  await jsm.streams.delete('MEM');
  await delay(1500);
  await app.drain();

  // Clean stop of every server: each snapshots its meta state (snapshots/ files copied below).
  await sys.drain();
  sys = null;
  await stopAll();
} catch (err) {
  console.error(err);
  for (let i = 0; i < 3; i++) if (procs[i]) console.error(`--- ${names[i]} ---\n${procs[i].log().slice(-3000)}`);
  if (sys) await sys.close().catch(() => {});
  await stopAll();
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
}

writeFileSync(join(out, 'traffic.ndjson'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
// RAFT state files of each server: tav.idx, peers.idx, snapshots/snap.<term>.<index> per group.
const servers = [];
for (let i = 0; i < 3; i++) {
  const base = join(work, names[i], 'jetstream', 'SYS', '_js_');
  const groups = [];
  for (const g of readdirSync(base)) {
    const gdir = join(base, g);
    if (!statSync(gdir).isDirectory()) continue;
    groups.push(g);
    const dst = join(out, 'state', names[i], g);
    mkdirSync(dst, { recursive: true });
    for (const f of ['tav.idx', 'peers.idx']) {
      try {
        copyFileSync(join(gdir, f), join(dst, f));
      } catch {
        /* absent */
      }
    }
    try {
      for (const s of readdirSync(join(gdir, 'snapshots'))) copyFileSync(join(gdir, 'snapshots', s), join(dst, s));
    } catch {
      /* none */
    }
  }
  servers.push({ name: names[i], groups });
}
writeFileSync(join(out, 'servers.json'), JSON.stringify({ version, cluster: 'C1', servers }, null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
console.log(`captured ${records.length} messages into ${out}`);
