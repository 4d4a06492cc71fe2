// JetStream as one more peer on the rings: clients on every shard publish to one stream and use the
// API; when a shard dies, the JetStream worker drops its interest and the replacement learns
// JetStream's interest again (streams keep taking publishes from clients on the new shard).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { startServer, usingNatsServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

test('JetStream across 4 shards, and after a shard is replaced', { skip: usingNatsServer ? 'tsnats shards' : false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-js-shards-'));
  const server = await startServer({ shards: 4, args: ['-js', '-sd', dir], env: { TSNATS_DEBUG_HOOKS: '1', TSNATS_DEBUG_INFO: '1' } });
  const conns: NatsConnection[] = [];
  try {
    for (let i = 0; i < 8; i++) conns.push(await connect({ servers: server.hostport }));
    const shardOf = (nc: NatsConnection): number => (nc.info as unknown as { tsnats_shard: number }).tsnats_shard;
    assert.equal(new Set(conns.map(shardOf)).size, 4, 'connections spread over the 4 shards');
    const jsm = await jetstreamManager(conns[0]!);
    await jsm.streams.add({ name: 'SPREAD', subjects: ['spread.>'] });
    const seqs = new Set<number>();
    await Promise.all(
      conns.map(async (nc, c) => {
        const js = jetstream(nc);
        for (let i = 0; i < 50; i++) seqs.add((await js.publish(`spread.${c}`, `m${c}-${i}`)).seq);
      }),
    );
    assert.equal(seqs.size, 400);
    assert.equal(Math.max(...seqs), 400);
    // Every shard's clients see the API.
    for (const nc of conns) assert.equal((await (await jetstreamManager(nc)).streams.info('SPREAD')).state.messages, 400);

    // Kill the shard of the last connection; its clients go with it.
    const victim = conns.pop()!;
    const dead = shardOf(victim);
    victim.publish('$TSNATS.DEBUG.SHARD_EXIT');
    await victim.flush().catch(() => undefined);
    await waitFor(() => /replacement shard ready/.test(server.output()), 'the replacement shard', 10_000);
    await victim.close().catch(() => undefined);

    // New connections land on the replacement (least loaded) and can publish to the stream.
    let onNew: NatsConnection | null = null;
    for (let i = 0; i < 6 && onNew === null; i++) {
      const nc = await connect({ servers: server.hostport });
      conns.push(nc);
      if (shardOf(nc) === dead) onNew = nc;
    }
    assert.ok(onNew !== null, 'a connection on the replaced shard');
    const ack = await jetstream(onNew).publish('spread.new', 'after');
    assert.equal(ack.seq, 401);
    assert.equal((await (await jetstreamManager(onNew)).streams.info('SPREAD')).state.messages, 401);
  } finally {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
