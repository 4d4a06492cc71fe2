// /jsz's details (nats-server monitor.go Jsz: ?accounts, ?streams, ?consumers, ?config, ?acc, bad
// values answered 400 with decodeBool's text), the shard event-loop counters in /metrics that the
// dashboard reads, and `/` as HTML keeping nats-server's links, on both HTTP engines.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { startServer, type ServerHandle } from 'tsnats';

type J = Record<string, any>;

async function get(s: ServerHandle, path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${s.monitorUrl}${path}`);
  return { status: r.status, text: await r.text(), headers: r.headers };
}

for (const nativeFree of [false, true]) {
  describe(`monitoring details for the dashboard (${nativeFree ? 'node:http' : 'uWS where it loads'})`, { timeout: 60_000 }, () => {
    test('/jsz account, stream and consumer details in nats-server shape', async () => {
      await using s = await startServer({ httpPort: 0, jetstream: true, nativeFree });
      const nc = await connect({ servers: s.url });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
        await jsm.consumers.add('S', { durable_name: 'C', ack_policy: 'explicit' });
        await jetstream(nc).publish('s.1', 'x');
      } finally {
        await nc.close();
      }
      const plain = JSON.parse((await get(s, '/jsz')).text) as J;
      assert.equal(plain['account_details'], undefined, 'no details unless asked');
      assert.equal(plain['streams'], 1);

      const acc = JSON.parse((await get(s, '/jsz?accounts=true')).text) as J;
      assert.equal(acc['account_details'].length, 1);
      const a = acc['account_details'][0] as J;
      assert.equal(a['name'], '$G');
      assert.equal(a['id'], '$G');
      assert.equal(a['storage'], plain['storage']);
      assert.deepEqual(a['api'], { total: 3, errors: 0 });
      assert.equal(a['stream_detail'], undefined);

      const streams = JSON.parse((await get(s, '/jsz?streams=1')).text) as J;
      const sd = streams['account_details'][0]['stream_detail'][0] as J;
      assert.equal(sd['name'], 'S');
      assert.match(sd['created'], /^\d{4}-\d\d-\d\dT/);
      assert.equal(sd['state']['messages'], 1);
      assert.equal(sd['state']['consumer_count'], 1);
      assert.equal(sd['config'], undefined);
      assert.equal(sd['consumer_detail'], undefined);

      const cons = JSON.parse((await get(s, '/jsz?consumers=true')).text) as J;
      const cd = cons['account_details'][0]['stream_detail'][0]['consumer_detail'][0] as J;
      assert.equal(cd['stream_name'], 'S');
      assert.equal(cd['name'], 'C');
      assert.equal(cd['num_pending'], 1);
      assert.equal(cd['num_ack_pending'], 0);
      assert.equal(cd['config'], undefined, 'consumer config only with ?config');

      const cfg = JSON.parse((await get(s, '/jsz?consumers=true&config=true')).text) as J;
      const sd2 = cfg['account_details'][0]['stream_detail'][0] as J;
      assert.deepEqual(sd2['config']['subjects'], ['s.>']);
      assert.equal(sd2['consumer_detail'][0]['config']['durable_name'], 'C');

      // ?acc picks the account even without ?accounts; an unknown one gives no details.
      assert.equal((JSON.parse((await get(s, '/jsz?acc=$G')).text) as J)['account_details'][0]['name'], '$G');
      assert.equal((JSON.parse((await get(s, '/jsz?acc=NOPE')).text) as J)['account_details'], undefined);

      const bad = await get(s, '/jsz?streams=x');
      assert.equal(bad.status, 400);
      assert.equal(bad.text, `Error decoding boolean for 'streams': strconv.ParseBool: parsing "x": invalid syntax`);
      const badInt = await get(s, '/jsz?accounts=true&limit=ten');
      assert.equal(badInt.status, 400);
      assert.equal(badInt.text, `Error decoding int for 'limit': strconv.Atoi: parsing "ten": invalid syntax`);
    });

    test('/metrics: cumulative event-loop seconds per shard; / is the dashboard with the endpoint links', async () => {
      await using s = await startServer({ httpPort: 0, shards: 2, nativeFree });
      const counters = (text: string, name: string): number[] =>
        [...text.matchAll(new RegExp(`^${name}\\{shard="(\\d+)"\\} (\\S+)$`, 'gm'))].sort((x, y) => Number(x[1]) - Number(y[1])).map((m) => Number(m[2]));
      const m1 = (await get(s, '/metrics')).text;
      await new Promise((r) => setTimeout(r, 300));
      const m2 = (await get(s, '/metrics')).text;
      for (const name of ['tsnats_shard_event_loop_active_seconds_total', 'tsnats_shard_event_loop_idle_seconds_total']) {
        assert.match(m1, new RegExp(`# TYPE ${name} counter`));
        const a = counters(m1, name);
        const b = counters(m2, name);
        assert.equal(a.length, 2, `${name} for both shards`);
        for (let i = 0; i < 2; i++) assert.ok(b[i]! >= a[i]!, `${name} never goes down`);
      }
      // Idle time moves between two scrapes 300 ms apart (the shards are idle).
      const idle = (t: string): number => counters(t, 'tsnats_shard_event_loop_idle_seconds_total').reduce((x, y) => x + y, 0);
      assert.ok(idle(m2) > idle(m1));

      const root = await get(s, '/');
      assert.equal(root.status, 200);
      assert.match(root.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(root.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
      for (const p of ['varz', 'connz', 'subsz', 'routez', 'accountz', 'jsz', 'healthz', 'metrics']) assert.ok(root.text.includes(`href="./${p}"`), `link to /${p}`);
      assert.doesNotMatch(root.text, /(src|href)="(https?:)?\/\//, 'no external asset');
    });
  });
}
