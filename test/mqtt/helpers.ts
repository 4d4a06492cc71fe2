// Shared helpers of the MQTT tests (not a test file): a server with an mqtt block (tsnats, or the real
// nats-server with TSNATS_TEST_SERVER=nats-server), the npm `mqtt` client, and raw MQTT packets.
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient, IConnackPacket, IPublishPacket } from 'mqtt';
import { startServer, usingNatsServer, type RunningServer } from '../helpers/server.js';
import { delay } from '../helpers/wait.js';

export { usingNatsServer };

export interface MqttServer {
  server: RunningServer;
  mqttPort: number;
  url: string;
  /** ws://127.0.0.1:PORT/mqtt when started with `websocket`. */
  wsUrl: string;
  storeDir: string;
  conf: string;
  stop(): Promise<number | null>;
}

export interface MqttServerOptions {
  /** Inside `mqtt { }`. */
  mqtt?: string;
  /** Top-level config lines. */
  conf?: string;
  shards?: number;
  /** Reuse a store directory (restart tests). */
  storeDir?: string;
  websocket?: boolean;
  args?: string[];
  /** Inside `jetstream { }` (after store_dir). */
  jetstream?: string;
  env?: Record<string, string>;
}

const dirs: string[] = [];

/** Removes every store directory the helpers made (call from an `after`). */
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function startMqttServer(o: MqttServerOptions = {}): Promise<MqttServer> {
  const storeDir = o.storeDir ?? mkdtempSync(join(tmpdir(), 'tsnats-mqtt-'));
  if (o.storeDir === undefined) dirs.push(storeDir);
  const conf = join(storeDir, `mqtt-${Date.now()}-${Math.floor(Math.random() * 1e6)}.conf`);
  const lines = [
    `server_name: mqtt_test_${Math.floor(Math.random() * 1e9)}`,
    `jetstream {\n  store_dir: "${storeDir}"\n  ${o.jetstream ?? ''}\n}`,
    `mqtt {\n  host: "127.0.0.1"\n  port: -1\n  ${o.mqtt ?? ''}\n}`,
    o.websocket ? 'websocket { host: "127.0.0.1", port: -1, no_tls: true }' : '',
    o.conf ?? '',
  ];
  writeFileSync(conf, lines.join('\n') + '\n');
  const server = await startServer({ args: ['-c', conf, ...(o.args ?? [])], ...(o.shards !== undefined ? { shards: o.shards } : {}), ...(o.env !== undefined ? { env: o.env } : {}) });
  const m = /Listening for MQTT clients on \w+:\/\/[^\s]*:(\d+)/.exec(server.output());
  if (m === null) {
    await server.stop();
    throw new Error(`no MQTT listener in:\n${server.output()}`);
  }
  const w = /Listening for websocket clients on wss?:\/\/[^\s]*:(\d+)/.exec(server.output());
  const mqttPort = Number(m[1]);
  return {
    server,
    mqttPort,
    url: `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: w !== null ? `ws://127.0.0.1:${w[1]}/mqtt` : '',
    storeDir,
    conf,
    stop: () => server.stop(),
  };
}

export interface Connected {
  client: MqttClient;
  connack: IConnackPacket;
  /** Every message received, from the first byte on (a resumed session's come right after CONNACK). */
  got: Received[];
}

/** Connects with the npm mqtt client (no automatic reconnect); rejects on error or a refused CONNACK. */
export function connectMqtt(url: string, opts: IClientOptions = {}): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...opts });
    const got = collect(client);
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error('MQTT connect timed out'));
    }, 15_000);
    client.once('connect', (connack) => {
      clearTimeout(timer);
      resolve({ client, connack, got });
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      client.end(true);
      reject(err);
    });
  });
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
}

/** Collects the messages a client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
    got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, dup: packet.dup });
  });
  return got;
}

/** Waits until `cond` holds (bounded), then a little more to catch extra deliveries when `settle`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Ends a client and forgets errors (tests close many). */
export async function endQuietly(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c === undefined) return resolve();
          c.removeAllListeners('error');
          c.on('error', () => {});
          c.end(true, {}, () => resolve());
          setTimeout(resolve, 2000);
        }),
    ),
  );
}

// ---- raw packets ---------------------------------------------------------------------------------

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

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

export function rawPacket(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...varInt(body.length)]), body]);
}

export interface RawConnect {
  protocol?: string;
  level?: number;
  flags?: number;
  keepAlive?: number;
  clientId?: string;
  will?: { topic: string; message: string };
  username?: string;
  password?: string;
}

export function connectPacket(o: RawConnect = {}): Buffer {
  let flags = o.flags ?? 0x02;
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  if (o.will !== undefined) flags |= 0x04;
  const parts = [str(o.protocol ?? 'MQTT'), Buffer.from([o.level ?? 4, flags, (o.keepAlive ?? 0) >> 8, (o.keepAlive ?? 0) & 0xff]), str(o.clientId ?? '')];
  if (o.will !== undefined) parts.push(str(o.will.topic), str(o.will.message));
  if (o.username !== undefined) parts.push(str(o.username));
  if (o.password !== undefined) parts.push(str(o.password));
  return rawPacket(0x10, Buffer.concat(parts));
}

export function publishPacket(topic: string, payload: string, qos = 0, pi = 0, flags = 0): Buffer {
  const parts: Buffer[] = [str(topic)];
  if (qos > 0) parts.push(Buffer.from([pi >> 8, pi & 0xff]));
  parts.push(Buffer.from(payload));
  return rawPacket(0x30 | (qos << 1) | flags, Buffer.concat(parts));
}

export function subscribePacket(pi: number, filters: [string, number][], flags = 0x02): Buffer {
  const parts: Buffer[] = [Buffer.from([pi >> 8, pi & 0xff])];
  for (const [f, q] of filters) parts.push(str(f), Buffer.from([q]));
  return rawPacket(0x80 | flags, Buffer.concat(parts));
}

/** A raw TCP connection that keeps everything it reads. */
export class RawMqtt {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => (this.buf = Buffer.concat([this.buf, d])));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawMqtt(s)));
      s.once('error', reject);
    });
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  /** Waits for `n` bytes and takes them. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${n} bytes (have ${this.buf.length}: ${this.buf.toString('hex')})`);
      if (this.closed && this.buf.length < n) throw new Error(`closed with ${this.buf.length} of ${n} bytes: ${this.buf.toString('hex')}`);
      await delay(5);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Waits until the server closes the connection; resolves to what was left unread. */
  async waitClosed(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection not closed');
      await delay(5);
    }
    return this.buf;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
