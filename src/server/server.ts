// The main thread's server: binds the client listener, starts the shard workers, hands each accepted
// connection to the least-loaded shard, and stops everything in order on a signal. It does no
// per-message work (DESIGN.md, "Threads and what each owns").

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { HandoffSender, handoffSupported, type TcpHandle } from '../transport/handoff.js';
import { Shard, type ServerIdentity } from '../shard/shard.js';
import type { FromShard, ShardWorkerData, ToShard } from '../shard/worker.js';
import type { ServerOptions } from './options.js';
import { createRingBuffer } from '../ring/ring.js';
import type { PeerRings } from '../shard/peer.js';
import { NATS_SERVER_COMPAT_VERSION, TSNATS_VERSION } from '../version.js';

interface ShardHandle {
  id: number;
  worker: Worker;
  sender: HandoffSender;
  /** Connections handed over and not yet reported closed. */
  load: number;
  stopped: Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A server id in nats-server's shape: 56 base32 characters starting with N (an nkey public key). */
export function newServerId(): string {
  const bytes = randomBytes(55);
  let s = 'N';
  for (const b of bytes) s += BASE32[b & 31];
  return s;
}

export class Server {
  readonly opts: ServerOptions;
  readonly log: Logger;
  readonly identity: ServerIdentity;
  private listener: net.Server | null = null;
  private shards: ShardHandle[] = [];
  /** Used when the hand-off cannot load: one shard on the main thread. */
  private inline: Shard | null = null;
  private nextCid = 0;
  /** rings[i][j]: the ring shard i produces into and shard j consumes. */
  private rings: SharedArrayBuffer[][] = [];
  private stopping: Promise<void> | null = null;
  port = 0;

  constructor(opts: ServerOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
    this.identity = {
      serverId: newServerId(),
      serverName: '',
      version: NATS_SERVER_COMPAT_VERSION,
      tsnatsVersion: TSNATS_VERSION,
      host: opts.host,
      port: opts.port,
    };
    this.identity.serverName = opts.serverName || this.identity.serverId;
  }

  async start(): Promise<void> {
    const { log, opts } = this;
    log.info(`Starting tsnats ${TSNATS_VERSION} (nats-server ${NATS_SERVER_COMPAT_VERSION} protocol)`);
    log.info(`Node.js: ${process.version}`);
    log.info(`Server name: ${this.identity.serverName}`);
    log.info(`ID: ${this.identity.serverId}`);
    if (opts.pidFile) writeFileSync(opts.pidFile, String(process.pid));

    // Bind first: the real port goes into every INFO.
    const listener = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: opts.host, port: opts.port < 0 ? 0 : opts.port, backlog: 4096 }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    this.port = (listener.address() as net.AddressInfo).port;
    this.identity.port = this.port;

    if (handoffSupported()) {
      const n = Math.max(1, opts.shards);
      for (let i = 0; i < n; i++) {
        this.rings[i] = [];
        for (let j = 0; j < n; j++) if (i !== j) this.rings[i]![j] = this.newRing();
      }
      this.shards = await Promise.all(Array.from({ length: n }, (_, i) => this.startShard(i)));
      log.info(`Started ${n} shard${n === 1 ? '' : 's'}`);
    } else {
      log.warn('Connection hand-off is not available on this platform: serving on the main thread');
      this.inline = new Shard(0, opts, this.identity, log);
    }
    listener.on('connection', (socket) => this.onConnection(socket));
    listener.on('error', (err) => log.error({ err: err.message }, 'listener error'));
    log.info(`Listening for client connections on ${opts.host}:${this.port}`);
    log.info('Server is ready');
  }

  /** A ring big enough that any frame (max_payload plus its control data) fits in half of it. */
  private newRing(): SharedArrayBuffer {
    // TSNATS_RING_SIZE (bytes) lets tests force tiny rings to exercise back-pressure.
    const forced = Number(process.env['TSNATS_RING_SIZE'] ?? 0);
    const min = 2 * (this.opts.maxPayload + 8 * 1024) + 1024;
    return createRingBuffer(forced > 0 ? Math.max(forced, min) : Math.max(4 * 1024 * 1024, 4 * (this.opts.maxPayload + 64 * 1024)));
  }

  private peerRingsOf(id: number): PeerRings[] {
    const out: PeerRings[] = [];
    for (let j = 0; j < this.rings.length; j++) if (j !== id) out.push({ id: j, out: this.rings[id]![j]!, in: this.rings[j]![id]! });
    return out;
  }

  private startShard(id: number): Promise<ShardHandle> {
    return (async () => {
      const sender = await HandoffSender.create();
      const workerData: ShardWorkerData = {
        shardId: id,
        opts: this.opts,
        identity: this.identity,
        handoffFd: sender.receiverFd,
        peers: this.peerRingsOf(id),
      };
      const worker = new Worker(new URL('../shard/worker.js', import.meta.url), { workerData });
      let onStopped: () => void = () => {};
      const handle: ShardHandle = { id, worker, sender, load: 0, stopped: new Promise((r) => (onStopped = r)) };
      await new Promise<void>((resolve, reject) => {
        worker.on('message', (m: FromShard) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'load') handle.load = m.conns;
          else if (m.type === 'stopped') onStopped();
        });
        worker.once('error', (err) => {
          this.log.error({ shard: id, err: err.message }, 'shard failed');
          reject(err);
        });
        worker.once('exit', (code) => {
          onStopped();
          if (this.stopping === null) this.replaceShard(handle, code);
        });
      });
      return handle;
    })();
  }

  /**
   * A shard died: its connections died with it. Give the others new rings to and from its
   * replacement (they drop its interest and send theirs), then start the replacement.
   */
  private replaceShard(dead: ShardHandle, code: number): void {
    const id = dead.id;
    this.log.error({ shard: id, code }, 'shard exited unexpectedly; its connections are closed; starting a replacement');
    dead.sender.close();
    dead.load = Number.MAX_SAFE_INTEGER; // no new connections until replaced
    for (let j = 0; j < this.rings.length; j++) {
      if (j === id) continue;
      this.rings[id]![j] = this.newRing();
      this.rings[j]![id] = this.newRing();
    }
    for (const s of this.shards) {
      if (s.id === id) continue;
      s.worker.postMessage({ type: 'peer-reset', rings: { id, out: this.rings[s.id]![id]!, in: this.rings[id]![s.id]! } } satisfies ToShard);
    }
    setTimeout(() => {
      if (this.stopping !== null) return;
      this.startShard(id).then(
        (h) => {
          this.shards[id] = h;
          this.log.info({ shard: id }, 'replacement shard ready');
        },
        (err: unknown) => this.log.error({ shard: id, err: String(err) }, 'replacement shard failed to start'),
      );
    }, 100);
  }

  private onConnection(socket: net.Socket): void {
    const cid = ++this.nextCid;
    if (this.inline !== null) {
      socket.resume();
      this.inline.addConnection(socket, cid);
      return;
    }
    // Least-loaded shard.
    let target = this.shards[0]!;
    for (const s of this.shards) if (s.load < target.load) target = s;
    target.load++;
    const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
    if (handle === null) return;
    target.sender.send(handle, cid, () => {
      // Sent (or the shard is gone): either way main's own copy of the descriptor goes now.
      socket.destroy();
    });
  }

  /** Stop accepting, let shards flush and close their connections, then stop the workers. */
  shutdown(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.log.info('Initiating Shutdown...');
      await new Promise<void>((resolve) => (this.listener ? this.listener.close(() => resolve()) : resolve()));
      if (this.inline !== null) await this.inline.shutdown();
      for (const s of this.shards) s.worker.postMessage({ type: 'shutdown' } satisfies ToShard);
      await Promise.race([Promise.all(this.shards.map((s) => s.stopped)), new Promise((r) => setTimeout(r, 5000))]);
      for (const s of this.shards) {
        s.sender.close();
        await s.worker.terminate();
      }
      if (this.opts.pidFile) rmSync(this.opts.pidFile, { force: true });
      this.log.info('Server Exiting..');
    })();
    return this.stopping;
  }
}
