// MQTT benchmark: publish → subscribe throughput of MQTT QoS 0 and QoS 1 against tsnats and nats-server
// in one run (medians of several runs, and the ratio). Both servers get the same config file: a server
// name, JetStream on a fresh store directory, and an mqtt block on a spare port.
//
//   npm run bench:mqtt [-- --runs N --msgs N --only qos0,qos1 --server both|tsnats|nats-server --quick]
//
// The clients are raw MQTT over TCP in this process (no client library, the same for both servers):
// one publisher and one subscriber on topic bench/x, 64-byte payloads.
//   qos0  the publisher writes PUBLISH packets as fast as the socket takes them; counted at the
//         subscriber (QoS 0 subscription)
//   qos1  QoS 1 publishes with up to 256 awaiting their PUBACK; a QoS 1 subscription whose deliveries
//         the subscriber PUBACKs at once; counted at the subscriber
// The rate is messages delivered per second, from the first publish to the last delivery.

import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServer, killAllServers, natsServerVersion, sparePort, startServer, type RunningServer, type ServerKind } from './servers.js';
import { median } from './report.js';

const WORKLOADS = ['qos0', 'qos1'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Opts {
  runs: number;
  msgs: number;
  only: Workload[];
  servers: ServerKind[];
  shards: number | undefined;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { runs: 3, msgs: 200_000, only: [...WORKLOADS], servers: ['tsnats', 'nats-server'], shards: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => argv[++i] ?? '';
    if (a === '--runs') o.runs = Math.max(1, Number(v()));
    else if (a === '--msgs') o.msgs = Math.max(100, Number(v()));
    else if (a === '--only') o.only = v().split(',').filter((x): x is Workload => (WORKLOADS as readonly string[]).includes(x));
    else if (a === '--shards') o.shards = Number(v());
    else if (a === '--server') {
      const s = v();
      o.servers = s === 'both' ? ['tsnats', 'nats-server'] : [s as ServerKind];
    } else if (a === '--quick') {
      o.runs = 2;
      o.msgs = 100_000;
    }
  }
  return o;
}

// ---- raw MQTT ----------------------------------------------------------------------------------

function str(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

function varInt(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...varInt(body.length)]), body]);
}

/** A raw MQTT connection: CONNECT, then a packet callback over a framing loop. */
class RawClient {
  readonly socket: net.Socket;
  private pending: Buffer | null = null;
  onPacket: (type: number, flags: number, buf: Buffer, s: number, e: number) => void = () => {};

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('error', () => {});
  }

  static async connect(port: number, clientId: string): Promise<RawClient> {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c));
      c.once('error', reject);
    });
    const rc = new RawClient(s);
    const acked = new Promise<void>((resolve, reject) => {
      rc.onPacket = (t, _f, b, st) => (t === 0x20 && b[st + 1] === 0 ? resolve() : reject(new Error(`CONNACK ${b[st + 1]}`)));
    });
    s.write(packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(clientId)])));
    await acked;
    return rc;
  }

  private read(d: Buffer): void {
    let buf = d;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, d]);
      this.pending = null;
    }
    let pos = 0;
    const n = buf.length;
    while (pos < n) {
      const start = pos;
      const first = buf[pos++]!;
      let len = 0;
      let mul = 1;
      let ok = false;
      while (pos < n) {
        const c = buf[pos++]!;
        len += (c & 0x7f) * mul;
        mul *= 128;
        if ((c & 0x80) === 0) {
          ok = true;
          break;
        }
      }
      if (!ok || pos + len > n) {
        this.pending = Buffer.from(buf.subarray(start));
        return;
      }
      this.onPacket(first & 0xf0, first & 0x0f, buf, pos, pos + len);
      pos += len;
    }
  }

  subscribe(filter: string, qos: number): Promise<void> {
    return new Promise((resolve) => {
      this.onPacket = (t) => {
        if (t === 0x90) resolve();
      };
      this.socket.write(packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([qos])])));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const PAYLOAD = Buffer.alloc(64, 0x61);

/** Publisher → subscriber on bench/x; resolves to delivered msgs/s. */
async function runOnce(mqttPort: number, w: Workload, n: number): Promise<number> {
  const qos = w === 'qos1' ? 1 : 0;
  const sub = await RawClient.connect(mqttPort, `bench-sub-${Date.now()}`);
  await sub.subscribe('bench/x', qos);
  const pub = await RawClient.connect(mqttPort, `bench-pub-${Date.now()}`);
  let got = 0;
  let t0 = 0;
  let t1 = 0;
  const done = new Promise<void>((resolve) => {
    sub.onPacket = (t, flags, buf, s) => {
      if (t !== 0x30) return;
      if (((flags >> 1) & 3) > 0) {
        // QoS 1 delivery: PUBACK with its packet identifier (after the topic).
        const tl = (buf[s]! << 8) | buf[s + 1]!;
        const p = s + 2 + tl;
        sub.socket.write(Buffer.from([0x40, 2, buf[p]!, buf[p + 1]!]));
      }
      if (++got === n) {
        t1 = performance.now();
        resolve();
      }
    };
  });
  const topic = str('bench/x');
  t0 = performance.now();
  if (qos === 0) {
    const one = packet(0x30, Buffer.concat([topic, PAYLOAD]));
    const batch = Buffer.concat(Array.from({ length: 500 }, () => one));
    for (let sent = 0; sent < n; sent += 500) {
      const k = Math.min(500, n - sent);
      const ok = pub.socket.write(k === 500 ? batch : batch.subarray(0, k * one.length));
      if (!ok) await new Promise((r) => pub.socket.once('drain', r));
    }
  } else {
    const WINDOW = 256;
    let acked = 0;
    let sent = 0;
    let wake: (() => void) | null = null;
    pub.onPacket = (t) => {
      if (t === 0x40) {
        acked++;
        wake?.();
      }
    };
    while (sent < n) {
      const room = Math.min(WINDOW - (sent - acked), n - sent);
      if (room <= 0) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
        continue;
      }
      const parts: Buffer[] = [];
      for (let i = 0; i < room; i++) {
        const pi = (sent % 65535) + 1;
        parts.push(packet(0x32, Buffer.concat([topic, Buffer.from([pi >> 8, pi & 0xff]), PAYLOAD])));
        sent++;
      }
      pub.socket.write(Buffer.concat(parts));
    }
  }
  const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`only ${got} of ${n} delivered`)), 120_000).unref());
  await Promise.race([done, timeout]);
  pub.close();
  sub.close();
  return n / ((t1 - t0) / 1000);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const bin = findNatsServer();
  const servers = o.servers.filter((s) => s === 'tsnats' || bin !== null);
  if (bin !== null) console.log(`nats-server: ${natsServerVersion(bin)}`);
  const rows: { workload: Workload; rates: Partial<Record<ServerKind, number>> }[] = [];
  for (const w of o.only) {
    const rates: Partial<Record<ServerKind, number>> = {};
    for (const kind of servers) {
      const samples: number[] = [];
      for (let r = 0; r < o.runs; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'tsnats-mqttbench-'));
        const mqttPort = await sparePort();
        const conf = join(dir, 'bench.conf');
        writeFileSync(conf, `server_name: mqtt_bench\njetstream { store_dir: "${dir}" }\nmqtt { host: "127.0.0.1", port: ${mqttPort} }\n`);
        let srv: RunningServer | null = null;
        try {
          srv = await startServer({ kind, ...(kind === 'tsnats' && o.shards !== undefined ? { shards: o.shards } : {}) }, { natsServerBin: bin ?? undefined, extraArgs: ['-c', conf] });
          // QoS 1 pays a JetStream store, delivery and ack per message: a tenth of the count keeps it short.
          samples.push(await runOnce(mqttPort, w, w === 'qos1' ? Math.ceil(o.msgs / 10) : o.msgs));
        } finally {
          await srv?.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      }
      rates[kind] = median(samples);
      console.log(`${w.padEnd(6)} ${kind.padEnd(12)} median ${Math.round(rates[kind]!).toLocaleString('en-US')} msgs/s  (runs: ${samples.map((x) => Math.round(x)).join(', ')})`);
    }
    rows.push({ workload: w, rates });
  }
  console.log('\n| workload | tsnats msgs/s | nats-server msgs/s | ratio |\n|---|---:|---:|---:|');
  for (const r of rows) {
    const a = r.rates.tsnats;
    const b = r.rates['nats-server'];
    const fmt = (x: number | undefined): string => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
    console.log(`| ${r.workload} | ${fmt(a)} | ${fmt(b)} | ${a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-'} |`);
  }
}

process.on('SIGINT', () => {
  killAllServers();
  process.exit(130);
});
main().catch((err: unknown) => {
  console.error(err);
  killAllServers();
  process.exit(1);
});
