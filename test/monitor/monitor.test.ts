// Monitoring endpoints with nats-server's field names and types, and counts that match what the
// test did; connz paging and sorting; subsz test=; /metrics as Prometheus text whose counters move.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { startServer, type RunningServer, usingNatsServer } from '../helpers/server.js';

type Json = Record<string, unknown>;

/** A minimal Prometheus text-format parser: metric name + labels -> value; checks HELP/TYPE lines. */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      typed.add(t[1]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    if (!typed.has(m[1]!)) throw new Error(`sample before its # TYPE: ${line}`);
    out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

for (const [shards, mode] of [[1, 'default'], [3, 'default'], [3, 'native-free']] as const) {
  describe(`monitoring endpoints (${shards} shard(s), ${mode})`, { skip: usingNatsServer }, () => {
    let server: RunningServer;
    let base: string;
    const conns: NatsConnection[] = [];
    const get = async (path: string): Promise<Json> => {
      const r = await fetch(base + path);
      assert.equal(r.status, 200, `${path}: ${r.status}`);
      return (await r.json()) as Json;
    };
    before(async () => {
      server = await startServer({ shards, args: ['-m', '-1', ...(mode === 'native-free' ? ['--native-free'] : [])] });
      const uwsExpected = mode === 'default' && Number(process.versions.node.split('.')[0]) <= 22;
      assert.match(server.output(), uwsExpected ? /http monitor on .*\(uWS\)/ : /http monitor on .*\(node:http\)/);
      const port = Number(/Starting http monitor on [^\s]*:(\d+)/.exec(server.output())![1]);
      base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 3; i++) conns.push(await connect({ servers: server.url, name: `client-${i}` }));
      conns[0]!.subscribe('mon.a', { callback: () => {} });
      conns[0]!.subscribe('mon.*', { callback: () => {} });
      conns[1]!.subscribe('mon.b', { queue: 'q', callback: () => {} });
      for (const c of conns) await c.flush();
      for (let i = 0; i < 10; i++) conns[2]!.publish('mon.a', 'hello');
      for (const c of conns) await c.flush();
    });
    after(async () => {
      await Promise.all(conns.map((c) => c.close()));
      assert.equal(await server.stop(), 0);
    });

    test('/varz fields, types and counts', async () => {
      const v = await get('/varz');
      for (const k of ['server_id', 'server_name', 'version', 'host', 'start', 'now', 'uptime']) assert.equal(typeof v[k], 'string', k);
      for (const k of ['port', 'max_payload', 'connections', 'total_connections', 'routes', 'subscriptions', 'in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'slow_consumers', 'mem', 'cpu']) assert.equal(typeof v[k], 'number', k);
      assert.equal(typeof v['cluster'], 'object');
      assert.equal(typeof v['jetstream'], 'object');
      assert.equal(v['connections'], 3);
      assert.equal(v['subscriptions'], 3);
      assert.equal(v['in_msgs'], 10);
      assert.equal(v['out_msgs'], 20);
    });

    test('/connz: connections, names, counts, subs=1 and detail, paging, sorting, cid', async () => {
      const c = await get('/connz?subs=1');
      assert.equal(c['num_connections'], 3);
      assert.equal(c['total'], 3);
      assert.equal(c['offset'], 0);
      assert.equal(c['limit'], 1024);
      const list = c['connections'] as Json[];
      assert.deepEqual(list.map((x) => x['name']), ['client-0', 'client-1', 'client-2']);
      const first = list[0]!;
      for (const k of ['cid', 'port', 'pending_bytes', 'in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'subscriptions']) assert.equal(typeof first[k], 'number', k);
      for (const k of ['ip', 'start', 'last_activity', 'rtt', 'uptime', 'idle', 'lang', 'version']) assert.equal(typeof first[k], 'string', k);
      assert.deepEqual((first['subscriptions_list'] as string[]).sort(), ['mon.*', 'mon.a']);
      assert.equal(list[2]!['in_msgs'], 10);
      assert.equal(list[2]!['in_bytes'], 50);
      assert.equal(first['out_msgs'], 20); // mon.a and mon.* both match
      const sorted = (await get('/connz?sort=msgs_from'))['connections'] as Json[];
      assert.equal(sorted[0]!['name'], 'client-2');
      const bySubs = (await get('/connz?sort=subs'))['connections'] as Json[];
      assert.equal(bySubs[0]!['name'], 'client-0');
      const page = await get('/connz?limit=1&offset=1');
      assert.equal(page['num_connections'], 1);
      assert.equal(page['total'], 3);
      assert.equal((page['connections'] as Json[])[0]!['name'], 'client-1');
      const detail = (await get(`/connz?subs=detail&cid=${first['cid']}`))['connections'] as Json[];
      assert.equal(detail.length, 1);
      const d = detail[0]!['subscriptions_list_detail'] as Json[];
      assert.deepEqual(d.map((x) => x['subject']).sort(), ['mon.*', 'mon.a']);
      assert.equal(d.find((x) => x['subject'] === 'mon.a')!['msgs'], 10);
      const bad = await fetch(base + '/connz?sort=nope');
      assert.equal(bad.status, 400);
    });

    test('/connz?state=closed remembers a closed connection and why', async () => {
      const nc = await connect({ servers: server.url, name: 'short-lived' });
      await nc.close();
      await new Promise((r) => setTimeout(r, 100));
      const closed = (await get('/connz?state=closed'))['connections'] as Json[];
      const mine = closed.find((x) => x['name'] === 'short-lived');
      assert.ok(mine, JSON.stringify(closed));
      assert.equal(typeof mine['stop'], 'string');
      assert.equal(mine['reason'], 'Client Closed');
    });

    test('/subsz counts and test=', async () => {
      const s = await get('/subsz');
      assert.equal(s['num_subscriptions'], 3);
      for (const k of ['num_cache', 'num_inserts', 'num_removes', 'num_matches', 'cache_hit_rate', 'max_fanout', 'avg_fanout']) assert.equal(typeof s[k], 'number', k);
      const t = await get('/subsz?subs=1&test=mon.a');
      assert.deepEqual((t['subscriptions_list'] as Json[]).map((x) => x['subject']).sort(), ['mon.*', 'mon.a']);
      const t2 = await get('/subsz?subs=1&test=mon.b');
      assert.deepEqual((t2['subscriptions_list'] as Json[]).map((x) => `${x['subject']}/${x['qgroup'] ?? ''}`).sort(), ['mon.*/', 'mon.b/q']);
    });

    test('/routez, /accountz, /jsz, /healthz', async () => {
      const r = await get('/routez');
      assert.equal(r['num_routes'], 0);
      assert.deepEqual(r['routes'], []);
      const a = await get('/accountz');
      assert.ok((a['accounts'] as string[]).includes('$G'));
      assert.equal(a['system_account'], '$SYS');
      const j = await get('/jsz');
      assert.equal(j['disabled'], true);
      assert.equal(typeof (j['api'] as Json)['total'], 'number');
      assert.deepEqual(await get('/healthz'), { status: 'ok' });
    });

    test('/metrics is Prometheus text and its counters move with traffic', async () => {
      const r1 = await fetch(base + '/metrics');
      assert.match(r1.headers.get('content-type') ?? '', /^text\/plain/);
      const m1 = parseProm(await r1.text());
      assert.equal(m1.get('tsnats_connections'), 3);
      for (let i = 0; i < 25; i++) conns[2]!.publish('mon.a', 'x');
      await conns[2]!.flush();
      await conns[0]!.flush();
      const m2 = parseProm(await (await fetch(base + '/metrics')).text());
      assert.equal(m2.get('tsnats_in_msgs_total')! - m1.get('tsnats_in_msgs_total')!, 25);
      assert.equal(m2.get('tsnats_out_msgs_total')! - m1.get('tsnats_out_msgs_total')!, 50);
      assert.ok(m2.has('tsnats_shard_event_loop_utilization{shard="0"}'));
      if (shards > 1) assert.ok(m2.has('tsnats_ring_bytes_used{from="0",to="1"}'));
    });
  });
}
