// The mqtt block (issue 14): what nats-server refuses at start-up and with which text, what /varz
// shows of it, and the ports file entry (a tsnats addition). The start-up checks also run against
// nats-server (TSNATS_TEST_SERVER=nats-server).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainJs, usingNatsServer } from '../helpers/server.js';
import { startMqttServer, cleanupDirs, connectMqtt, endQuietly } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsnats-mqtt-conf-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  cleanupDirs();
});

function run(conf: string, ...args: string[]): { code: number | null; out: string } {
  const file = join(dir, `c${Math.floor(Math.random() * 1e9)}.conf`);
  writeFileSync(file, conf);
  const argv = [...args, '-c', file];
  const r = usingNatsServer
    ? spawnSync(process.env.NATS_SERVER_BIN ?? 'nats-server', argv, { encoding: 'utf8', timeout: 10_000 })
    : spawnSync(process.execPath, [mainJs, ...argv], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('MQTT without server_name or without JetStream is refused at start-up with nats-server texts', () => {
  const noName = run(`listen: "127.0.0.1:-1"\njetstream { store_dir: "${dir}" }\nmqtt { port: -1 }\n`);
  assert.equal(noName.code, 1);
  assert.match(noName.out, /mqtt requires server name to be explicitly set/);
  const noJs = run('listen: "127.0.0.1:-1"\nserver_name: s1\nmqtt { port: -1 }\n');
  assert.equal(noJs.code, 1);
  assert.match(noJs.out, /mqtt requires JetStream to be enabled if running in standalone mode/);
  // `-t` checks the file only, as nats-server's.
  assert.equal(run('mqtt { port: -1 }\n', '-t').code, 0);
});

test('mqtt block errors name the file position', () => {
  const unknown = run('server_name: s1\njetstream: enabled\nmqtt { port: -1, foo: 1 }\n');
  assert.equal(unknown.code, 1);
  assert.match(unknown.out, /:3:\d+: unknown field "foo"/);
  const range = run('server_name: s1\njetstream: enabled\nmqtt { port: -1, max_ack_pending: 70000 }\n');
  assert.equal(range.code, 1);
  assert.match(range.out, /invalid value 70000, should in \[0\.\.65535\] range/);
  const mix = run('server_name: s1\njetstream: enabled\nauthorization { users: [{user: a, password: b}, {user: c, password: d}] }\nmqtt { port: -1, authorization { username: x, password: y } }\n');
  assert.equal(mix.code, 1);
  assert.match(mix.out, /mqtt authentication username not compatible with presence of users\/nkeys/);
});

test('/varz shows the mqtt block, /connz the MQTT clients; the ports file lists the MQTT port', async () => {
  const srv = await startMqttServer({ mqtt: 'ack_wait: "45s"\nmax_ack_pending: 100', args: ['-m', '-1', ...(usingNatsServer ? [] : ['--ports_file_dir', dir])] });
  try {
    const m = /Starting http monitor on [^\s]*:(\d+)/.exec(srv.server.output());
    assert.ok(m !== null);
    const varz = (await (await fetch(`http://127.0.0.1:${m[1]}/varz`)).json()) as Record<string, unknown>;
    assert.deepEqual(varz['mqtt'], { host: '127.0.0.1', port: srv.mqttPort, tls_timeout: 2, ack_wait: 45e9, max_ack_pending: 100 });
    const { client } = await connectMqtt(srv.url, { clientId: 'connz-me' });
    await client.subscribeAsync('connz/+', { qos: 0 });
    const connz = (await (await fetch(`http://127.0.0.1:${m[1]}/connz?subs=1`)).json()) as { connections: Record<string, unknown>[] };
    const c = connz.connections.find((x) => x['mqtt_client'] === 'connz-me');
    assert.ok(c !== undefined, JSON.stringify(connz.connections));
    assert.equal(c['type'], 'mqtt');
    assert.deepEqual(c['subscriptions_list'], ['connz.*']);
    await endQuietly(client);
    if (!usingNatsServer) {
      const f = readdirSync(dir).find((x) => x.endsWith('.ports'))!;
      const ports = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, string[]>;
      assert.deepEqual(ports['mqtt'], [`mqtt://127.0.0.1:${srv.mqttPort}`]);
    }
  } finally {
    await srv.stop();
  }
});

test('/varz shows an empty mqtt block when MQTT is off', { skip: usingNatsServer ? 'covered by the tsnats run' : false }, async () => {
  const r = spawnSync(process.execPath, ['-e', `import('${join(mainJs, '..', 'monitor', 'varz.js')}').then(async (v) => { const { defaultOptions } = await import('${join(mainJs, '..', 'server', 'options.js')}'); process.stdout.write(JSON.stringify(v.buildVarz({ identity: { serverId: 'x', serverName: 'x', version: '', tsnatsVersion: '', host: '', port: 0, wsConnectUrls: [] }, opts: defaultOptions(), start: new Date(), shards: [], httpPort: 0 }).mqtt)); })`], { encoding: 'utf8' });
  assert.equal(r.stdout, '{}');
});
