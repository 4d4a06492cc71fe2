// Moving a publishing connection to the shard its messages go to (issue 18, item 2).
//
// Why: a message that crosses shards costs ~2.7x the CPU of one delivered on the shard that read it
// (a ring frame written and read, a second sublist match, the other thread's wake-ups), and the
// main thread hands each new connection to the least-loaded shard before anyone knows what it will
// publish, so a publisher and its subscribers usually land apart (bench/README.md, "shard
// placement"). Once a connection's traffic shows where it goes, it moves there.
//
// Who moves: a plain TCP NATS client (no TLS, no WebSocket, not MQTT) without subscriptions or
// permissions, whose published messages, over one window (WINDOW_MS), almost all (MAJORITY) went
// to one other shard and nowhere else, at least MIN_MSGS of them. Subscribers never move (moving
// one would need every peer to switch its interest at one point of its own message stream); a
// connection moves at most once per COOLDOWN_MS. A mark lasts one window. While a move waits, the
// shard's own read pauses and resumes (full rings, stalls) leave the connection's socket paused.
//
// How (the source shard A, the target shard B):
//   1. A marks the connection; at the end of the next read that ends on a frame boundary (the
//      parser holds nothing) A stops reading its socket. Bytes the client sends meanwhile wait in
//      the kernel.
//   2. A waits until every peer has consumed the ring frames A had enqueued by then (the PONG
//      barrier's counters) and the connection's output has reached its socket. So everything it
//      published through A is delivered before anything it publishes through B: per-publisher
//      order holds for every subscriber, on any shard.
//   3. A detaches the socket's handle (the descriptor stays open), forgets the connection without
//      closing it, and sends the handle with the connection's state (CONNECT options, account,
//      counters, keepalive clocks; one JSON line) over an SCM_RIGHTS pipe of its own to B
//      (src/transport/handoff.ts; the pipe's receiving end reaches B through the main thread once).
//   4. B wraps the handle in a socket on its own read buffer, restores the connection under the
//      same client id and reads on. If the send fails, A takes the connection back the same way.
// Nothing changes for the client: same TCP connection, same cid in /connz, no INFO.
//
// TSNATS_MIGRATE=0 turns it off (the bench's shard-placement rows measure cross-shard cost with it
// off).

import net from 'node:net';
import { HandoffSender, type TcpHandle } from '../transport/handoff.js';
import type { ClientConnection } from './client.js';
import type { Shard } from './shard.js';

const WINDOW_MS = 100;
const MIN_MSGS = 1000;
/** The target shard's share of the window's messages must be at least this. */
const MAJORITY = 0.95;
const COOLDOWN_MS = 10_000;
/** Longest wait for the barrier (step 2) before the move is called off. */
const BARRIER_MS = 500;

/** What travels with a moved connection. */
export interface MigratedState {
  cid: number;
  start: number;
  connectReceived: boolean;
  verbose: boolean;
  pedantic: boolean;
  echo: boolean;
  headers: boolean;
  noResponders: boolean;
  protocol: number;
  name: string;
  lang: string;
  version: string;
  /** The account's name (shards index accounts alike, but a name survives a reload in between). */
  acc: string;
  authUser: string;
  creds: Record<string, unknown> | null;
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
  lastIn: number;
  lastPingIn: number;
  nextPingAt: number;
  pingsOut: number;
  pingSentAt: number;
  rtt: number;
  rttAt: number;
  migratedAt: number;
}

export const MIGRATE_TAG = 'm';

/** The state carried by a hand-off tag (after MIGRATE_TAG). */
export function decodeState(tag: string): MigratedState {
  return JSON.parse(Buffer.from(tag.slice(MIGRATE_TAG.length), 'base64').toString('utf8')) as MigratedState;
}

export function migrationEnabled(): boolean {
  return process.env['TSNATS_MIGRATE'] !== '0';
}

/** Per-connection traffic counters the shard's routing updates (one window at a time). */
export class ForwardStats {
  /** The peer every counted message went to so far in this window, -1 none yet. */
  peer = -1;
  same = 0;
  other = 0;
}

export class Migrator {
  private readonly shard: Shard;
  /** Shard ids (peers that are shards, not the JetStream worker). */
  private readonly shardPeers: Set<number>;
  private readonly senders = new Map<number, Promise<HandoffSender | null>>();
  /** Asks the main thread to give B the receiving end of a new pipe (set by the worker entry). */
  postPipe: (to: number, fd: number) => void = () => {};
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(shard: Shard, shardPeers: number[]) {
    this.shard = shard;
    this.shardPeers = new Set(shardPeers);
    this.timer = setInterval(() => this.review(), WINDOW_MS);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const p of this.senders.values()) void p.then((s) => s?.close());
    this.senders.clear();
  }

  /** Peer `id` was replaced: its old pipe leads nowhere. */
  peerReset(id: number): void {
    const p = this.senders.get(id);
    if (p === undefined) return;
    this.senders.delete(id);
    void p.then((s) => s?.close());
  }

  /** End of a window: pick the connections to move, reset every counter. */
  private review(): void {
    if (this.closed || this.shard.closing) return;
    const now = Date.now();
    for (const c of this.shard.conns.values()) {
      // A mark lasts one window: traffic that changed course since is not followed.
      if (!c.moving) c.migrateTo = -1;
      const f = c.fwd;
      if (f.same + f.other === 0) continue;
      const same = f.same;
      const other = f.other;
      const peer = f.peer;
      f.peer = -1;
      f.same = 0;
      f.other = 0;
      if (same < MIN_MSGS || same < MAJORITY * (same + other)) continue;
      if (!this.shardPeers.has(peer) || c.migrateTo >= 0 || now - c.migratedAt < COOLDOWN_MS) continue;
      if (!this.eligible(c)) continue;
      c.migrateTo = peer;
    }
  }

  private eligible(c: ClientConnection): boolean {
    return c.plainTcp && c.natsProtocol && !c.closed && c.connectReceived && !c.parser.requireConnect && c.subs.size === 0 && c.perms === null && c.socket instanceof net.Socket;
  }

  /** Step 1: the connection's last read ended on a frame boundary; reading stops here. */
  begin(c: ClientConnection): void {
    const to = c.migrateTo;
    if (to < 0) return;
    if (this.closed || this.shard.closing || !this.eligible(c) || this.shard.peers[to] === undefined) {
      c.migrateTo = -1;
      return;
    }
    c.socket.pause();
    c.moving = true;
    this.shard.log.debug({ cid: c.cid, to }, 'Client connection moving');
    const barrier = this.shard.barrierTargets();
    const deadline = Date.now() + BARRIER_MS;
    const sender = this.senderTo(to);
    const check = (): void => {
      if (c.closed) return;
      if (this.closed || this.shard.closing || c.subs.size > 0 || Date.now() > deadline) return this.abort(c);
      const drained = c.pongsDeferred === 0 && c.outPos === c.outStart && c.outQueue.length === 0 && c.socket.writableLength === 0;
      if (!drained || !this.shard.barrierPassed(barrier)) {
        setImmediate(check);
        return;
      }
      void sender.then((s) => (s === null ? this.abort(c) : this.send(c, s, to)));
    };
    check();
  }

  private abort(c: ClientConnection): void {
    this.shard.log.debug({ cid: c.cid, to: c.migrateTo }, 'Client connection move called off');
    c.migrateTo = -1;
    c.moving = false;
    c.migratedAt = Date.now(); // no new attempt for a while
    if (!c.closed && !this.shard.readingPaused) c.socket.resume();
  }

  private senderTo(to: number): Promise<HandoffSender | null> {
    let p = this.senders.get(to);
    if (p === undefined) {
      p = HandoffSender.create().then(
        (s) => {
          this.postPipe(to, s.receiverFd);
          return s;
        },
        () => null,
      );
      this.senders.set(to, p);
    }
    return p;
  }

  /** Steps 3-4 on this side: detach, forget, send; on failure take it back. */
  private send(c: ClientConnection, sender: HandoffSender, to: number): void {
    if (c.closed || c.subs.size > 0 || !(c.socket instanceof net.Socket) || !c.parser.atFrameBoundary()) return this.abort(c);
    const state = snapshot(c);
    const handle = detach(c.socket);
    if (handle === null) return this.abort(c);
    this.shard.forgetMigrated(c);
    // The receiver reads tags as latin1 lines: base64 keeps a UTF-8 name or user intact.
    sender.send(handle as TcpHandle, MIGRATE_TAG + Buffer.from(JSON.stringify(state)).toString('base64'), (ok) => {
      if (ok) {
        handle.close();
        return;
      }
      this.shard.log.warn({ cid: state.cid, to }, 'connection move failed: kept here');
      this.shard.adoptMigrated(handle, state);
    });
  }
}

function snapshot(c: ClientConnection): MigratedState {
  return {
    cid: c.cid,
    start: c.start,
    connectReceived: c.connectReceived,
    verbose: c.verbose,
    pedantic: c.pedantic,
    echo: c.echo,
    headers: c.headers,
    noResponders: c.noResponders,
    protocol: c.protocol,
    name: c.name,
    lang: c.lang,
    version: c.version,
    acc: c.acc.name,
    authUser: c.authUser,
    creds: c.creds,
    inMsgs: c.inMsgs,
    inBytes: c.inBytes,
    outMsgs: c.outMsgs,
    outBytes: c.outBytes,
    lastIn: c.lastIn,
    lastPingIn: c.lastPingIn,
    nextPingAt: c.nextPingAt,
    pingsOut: c.pingsOut,
    pingSentAt: c.pingSentAt,
    rtt: c.rtt,
    rttAt: c.rttAt,
    migratedAt: Date.now(),
  };
}

/** Gives the connection its state back on the shard it moved to. */
export function restore(c: ClientConnection, s: MigratedState, shard: Shard): void {
  c.start = s.start;
  c.connectReceived = s.connectReceived;
  c.verbose = s.verbose;
  c.pedantic = s.pedantic;
  c.echo = s.echo;
  c.headers = s.headers;
  c.noResponders = s.noResponders;
  c.protocol = s.protocol;
  c.name = s.name;
  c.lang = s.lang;
  c.version = s.version;
  c.acc = shard.accountByName.get(s.acc) ?? shard.accounts[0]!;
  c.authUser = s.authUser;
  c.creds = s.creds;
  c.inMsgs = s.inMsgs;
  c.inBytes = s.inBytes;
  c.outMsgs = s.outMsgs;
  c.outBytes = s.outBytes;
  c.lastIn = s.lastIn;
  c.lastPingIn = s.lastPingIn;
  c.nextPingAt = s.nextPingAt;
  c.pingsOut = s.pingsOut;
  c.pingSentAt = s.pingSentAt;
  c.rtt = s.rtt;
  c.rttAt = s.rttAt;
  c.migratedAt = s.migratedAt;
  // Authenticated already (or no authorization): the first op need not be CONNECT.
  if (s.connectReceived) c.parser.requireConnect = false;
}

/**
 * Takes the native handle away from a paused socket without closing its descriptor, as Node's
 * child_process does when it sends a socket (handleConversion 'net.Socket').
 */
function detach(socket: net.Socket): { close(): void; readStop(): number; onread: unknown } | null {
  const s = socket as unknown as { _handle: { close(): void; readStop(): number; onread: unknown } | null };
  const h = s._handle;
  if (h === null) return null;
  h.readStop();
  h.onread = () => {};
  s._handle = null;
  socket.removeAllListeners();
  socket.on('error', () => {});
  socket.destroy();
  return h;
}
