// The route protocol on the wire: a fake peer (a raw socket speaking nats-server's route protocol)
// against a tsnats node with two shards, byte for byte: RS+/RS- with queue weights, RMSG/HMSG both
// ways, queue names in RMSG, a JetStream-style `reply@subject` delivery, PING/PONG, and that a
// message from one route is never sent to another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, stopAll, type ClusterNode } from '../helpers/cluster.js';
import { connectRaw, type WireClient } from '../helpers/wire.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fake cluster peer: reads the node's route INFO, sends CONNECT and its own INFO; `registered` is
 * what the node sent once it registered the route (its interest), up to the PONG of our first PING.
 */
async function fakeRoute(node: ClusterNode, id: string): Promise<WireClient & { registered: string }> {
  const r = await connectRaw(node.clusterPort);
  const m = await r.expect(/^INFO (\{.*\})\r\n/);
  const info = JSON.parse(m[1]!) as Record<string, unknown>;
  assert.equal(info['cluster'], 'wire');
  assert.equal(info['headers'], true);
  r.send(`CONNECT ${JSON.stringify({ echo: true, verbose: false, pedantic: false, tls_required: false, headers: true, name: id, cluster: 'wire', lnoc: true })}\r\n`);
  r.send(`INFO ${JSON.stringify({ server_id: id, server_name: id, version: '2.9.10', proto: 2, host: '127.0.0.1', port: 1, headers: true, max_payload: 1048576, cluster: 'wire', lnoc: true })}\r\n`);
  // Registered once the node answers a PING on it.
  r.send('PING\r\n');
  const registered = (await r.expect(/^([\s\S]*?)PONG\r\n/))[1]!;
  return Object.assign(r, { registered });
}

/** A raw client on the given shard (the node runs with TSNATS_DEBUG_INFO=1: INFO names the shard). */
async function clientOn(node: ClusterNode, shard: number, spares: WireClient[]): Promise<WireClient> {
  for (let i = 0; i < 8; i++) {
    const c = await connectRaw(node.port);
    const info = JSON.parse((await c.expect(/^INFO (\{.*\}) \r\n/))[1]!) as { tsnats_shard?: number };
    if (info.tsnats_shard === shard) {
      c.send('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nPING\r\n');
      await c.expect(/^PONG\r\n/);
      return c;
    }
    spares.push(c);
  }
  throw new Error(`no connection landed on shard ${shard}`);
}

test('the route protocol on the wire', { timeout: 60_000 }, async (t) => {
  const nodes: ClusterNode[] = [];
  const socks: WireClient[] = [];
  try {
    const node = await startNode({ clusterName: 'wire', shards: 2, env: { TSNATS_DEBUG_INFO: '1' } });
    nodes.push(node);
    const route = await fakeRoute(node, 'NFAKEONE');
    socks.push(route);
    const c0 = await clientOn(node, 0, socks);
    const c1 = await clientOn(node, 1, socks);
    socks.push(c0, c1);

    await t.test('SUB and UNSUB become RS+ and RS-; queue members become weights', async () => {
      const op = async (c: WireClient, line: string): Promise<void> => {
        c.send(`${line}\r\nPING\r\n`);
        await c.expect(/PONG\r\n/);
      };
      await op(c0, 'SUB foo.> 1');
      await route.expect(/RS\+ \$G foo\.>\r\n/);
      await op(c0, 'SUB q g 2');
      await route.expect(/RS\+ \$G q g 1\r\n/);
      await op(c1, 'SUB q g 3');
      await route.expect(/RS\+ \$G q g 2\r\n/);
      await op(c1, 'UNSUB 3');
      await route.expect(/RS\+ \$G q g 1\r\n/);
      await op(c0, 'UNSUB 1');
      await route.expect(/RS- \$G foo\.>\r\n/);
    });

    await t.test('a peer RS+ draws RMSG/HMSG for what clients publish, with the reply', async () => {
      route.send('RS+ $G bar\r\nPING\r\n');
      await route.expect(/PONG\r\n/);
      c1.send('PING\r\n');
      await c1.expect(/PONG\r\n/);
      c0.send('PUB bar 2\r\nhi\r\nPUB bar reply.1 3\r\nabc\r\nHPUB bar 12 14\r\nNATS/1.0\r\n\r\nok\r\n');
      await route.expect(/RMSG \$G bar 2\r\nhi\r\n/);
      await route.expect(/RMSG \$G bar reply\.1 3\r\nabc\r\n/);
      await route.expect(/HMSG \$G bar 12 14\r\nNATS\/1\.0\r\n\r\nok\r\n/);
      // From the other shard too (through the ring to the route's shard).
      c1.send('PUB bar 1\r\nz\r\n');
      await route.expect(/RMSG \$G bar 1\r\nz\r\n/);
      route.send('RS- $G bar\r\nPING\r\n');
      await route.expect(/PONG\r\n/);
    });

    await t.test('RMSG from the peer reaches subscribers on both shards; queue names pick one member', async () => {
      c0.send('SUB in.x 10\r\nPING\r\n');
      c1.send('SUB in.x 11\r\nPING\r\n');
      await c0.expect(/PONG\r\n/);
      await c1.expect(/PONG\r\n/);
      route.send('RMSG $G in.x reply.2 5\r\nhello\r\n');
      await c0.expect(/MSG in\.x 10 reply\.2 5\r\nhello\r\n/);
      await c1.expect(/MSG in\.x 11 reply\.2 5\r\nhello\r\n/);
      route.send('HMSG $G in.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n');
      await c0.expect(/HMSG in\.x 10 12 14\r\nNATS\/1\.0\r\n\r\nhi\r\n/);
      // Queue group: one member of this node per RMSG naming the group; none when it is not named.
      c0.send('SUB work g2 20\r\nPING\r\n');
      c1.send('SUB work g2 21\r\nPING\r\n');
      await c0.expect(/PONG\r\n/);
      await c1.expect(/PONG\r\n/);
      await route.expect(/RS\+ \$G work g2 2\r\n/);
      for (let i = 0; i < 20; i++) route.send(`RMSG $G work | g2 2\r\n${String(i).padStart(2, '0')}\r\n`);
      route.send('RMSG $G work 2\r\nno\r\nPING\r\n');
      await route.expect(/PONG\r\n/);
      await new Promise((r) => setTimeout(r, 300));
      c0.send('PING\r\n');
      c1.send('PING\r\n');
      const all = (await c0.expect(/^([\s\S]*?)PONG\r\n/))[1]! + (await c1.expect(/^([\s\S]*?)PONG\r\n/))[1]!;
      const got = [...all.matchAll(/MSG work 2\d 2\r\n(\d\d)\r\n/g)].map((x) => x[1]).sort();
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => String(i).padStart(2, '0')));
      assert.ok(!/\r\nno\r\n/.test(all), 'a message without queue names is not given to the group');
    });

    await t.test('a JetStream delivery `<reply>@<subject>` is shown with its subject, on both shards', async () => {
      c0.send('SUB deliver.x 30\r\nPING\r\n');
      c1.send('SUB deliver.x 31\r\nPING\r\n');
      await c0.expect(/PONG\r\n/);
      await c1.expect(/PONG\r\n/);
      route.send('RMSG $G deliver.x $JS.ACK.S.c.1.7.7.1700000000000000000.0@orders.1 5\r\nhello\r\n');
      await c0.expect(/MSG orders\.1 30 \$JS\.ACK\.S\.c\.1\.7\.7\.1700000000000000000\.0 5\r\nhello\r\n/);
      await c1.expect(/MSG orders\.1 31 \$JS\.ACK\.S\.c\.1\.7\.7\.1700000000000000000\.0 5\r\nhello\r\n/);
    });

    await t.test('PING is answered; a message from one route never goes to another', async () => {
      const other = await fakeRoute(node, 'NFAKETWO');
      socks.push(other);
      // The second peer got this node's interest at registration (route.go sendSubsToRoute).
      assert.match(other.registered, /RS\+ \$G in\.x\r\n/);
      assert.match(other.registered, /RS\+ \$G q g 1\r\n/);
      other.send('RS+ $G loop\r\nPING\r\n');
      await other.expect(/PONG\r\n/);
      c0.send('SUB loop 40\r\nPING\r\n');
      await c0.expect(/PONG\r\n/);
      route.send('RMSG $G loop 4\r\nonce\r\nPING\r\n');
      await route.expect(/PONG\r\n/);
      await c0.expect(/MSG loop 40 4\r\nonce\r\n/);
      // A client's message does go to the peer that wants it.
      c1.send('PUB loop 5\r\ntwice\r\n');
      await other.expect(/RMSG \$G loop 5\r\ntwice\r\n/);
      assert.ok(!/once/.test(other.buffered()), `the route-to-route message leaked: ${other.buffered()}`);
    });
  } finally {
    for (const s of socks) s.close();
    await stopAll(nodes);
  }
});

test("a JetStream push delivery to a route's interest goes out as `<ack reply>@<stream subject>`", { timeout: 60_000 }, async () => {
  const nodes: ClusterNode[] = [];
  const socks: WireClient[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-route-js-'));
  try {
    const node = await startNode({ clusterName: 'wire', shards: 2, args: ['-js', '-sd', dir] });
    nodes.push(node);
    const route = await fakeRoute(node, 'NFAKEJS');
    socks.push(route);
    route.send('RS+ $G push.deliver\r\nPING\r\n');
    await route.expect(/PONG\r\n/);
    const c = await connectRaw(node.port);
    socks.push(c);
    await c.expect(/^INFO .*\r\n/);
    const api = async (subject: string, body: unknown): Promise<Record<string, unknown>> => {
      const json = JSON.stringify(body);
      c.send(`PUB ${subject} _INBOX.api ${Buffer.byteLength(json)}\r\n${json}\r\n`);
      const m = await c.expect(/MSG _INBOX\.api 1 (\d+)\r\n/);
      const n = Number(m[1]);
      await new Promise<void>((r) => {
        const check = (): void => (c.buffered().length >= n + 2 ? r() : void setTimeout(check, 5));
        check();
      });
      const reply = c.buffered().slice(0, n);
      await c.expect(/\r\n/);
      return JSON.parse(reply) as Record<string, unknown>;
    };
    c.send('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nSUB _INBOX.api 1\r\nPING\r\n');
    await c.expect(/PONG\r\n/);
    assert.equal((await api('$JS.API.STREAM.CREATE.S', { name: 'S', subjects: ['orders.>'], storage: 'memory' }))['error'], undefined);
    assert.equal((await api('$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { deliver_subject: 'push.deliver', ack_policy: 'explicit' } }))['error'], undefined);
    c.send('PUB orders.1 5\r\nhello\r\n');
    await route.expect(/RMSG \$G push\.deliver \$JS\.ACK\.S\.[^@ ]+@orders\.1 5\r\nhello\r\n/, 10_000);
  } finally {
    for (const s of socks) s.close();
    await stopAll(nodes);
  }
});
