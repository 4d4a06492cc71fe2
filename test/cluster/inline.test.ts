// Routes on the inline shard (the library's `shards: 0`, and the fallback where the hand-off cannot
// load): the cluster listener gives sockets to the main thread's shard, and two servers in one
// process form a cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { startServer, type ServerHandle } from '../../src/index.js';
import { delay, waitFor } from '../helpers/wait.js';

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

test('two inline-shard servers in one process form a cluster and route messages', { timeout: 60_000 }, async () => {
  const servers: ServerHandle[] = [];
  try {
    const a = await startServer({ port: 0, shards: 0, httpPort: 0, cluster: { name: 'lib', listen: '127.0.0.1:-1' } });
    servers.push(a);
    const cport = ((await json(`${a.monitorUrl}/varz`))['cluster'] as Record<string, number>)['cluster_port'];
    const b = await startServer({ port: 0, shards: 0, httpPort: 0, cluster: { name: 'lib', listen: '127.0.0.1:-1', routes: [`nats://127.0.0.1:${cport}`] } });
    servers.push(b);
    let routes = 0;
    for (let i = 0; i < 100 && routes !== 1; i++) {
      routes = (await json(`${a.monitorUrl}/routez`))['num_routes'] as number;
      await delay(50);
    }
    assert.equal(routes, 1);
    const ca = await connect({ servers: a.url });
    const cb = await connect({ servers: b.url });
    try {
      assert.equal(ca.info?.cluster, 'lib');
      let got = 0;
      ca.subscribe('lib.x', { callback: () => void got++ });
      await ca.flush();
      for (let i = 0; i < 100; i++) {
        const r = await json(`${b.monitorUrl}/routez?subs=1`);
        if ((((r['routes'] as { subscriptions_list?: string[] }[])[0]?.subscriptions_list) ?? []).includes('lib.x')) break;
        await delay(50);
      }
      for (let i = 0; i < 100; i++) cb.publish('lib.x', 'y');
      await cb.flush();
      await waitFor(() => got === 100, () => `${got} of 100`, 10_000);
      assert.deepEqual([...(cb.info?.connect_urls ?? [])].sort(), [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
    } finally {
      await ca.close();
      await cb.close();
    }
  } finally {
    for (const s of servers.reverse()) await s.stop();
  }
});
