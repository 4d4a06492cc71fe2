// One route connection inside a shard: the handshake (CONNECT with the cluster credentials and name,
// INFO both ways, then registration with the main thread's route table), the peer's interest (RS+/
// RS-, kept in this shard's sublists and told to the other shards), messages in (RMSG/HMSG, delivered
// here and to the other shards, never to another route) and out (writeRouted), PING/PONG, and an
// outbound buffer flushed once per event-loop turn. After nats-server's route.go and client.go
// (createRoute, processRouteConnect, processRouteInfo, processRemoteSub/Unsub, msgHeaderForRouteOrLeaf).

import type net from 'node:net';
import { RouteParser, type RouteParserHandler } from './route-parser.js';
import { deliverFromRoute } from './deliver.js';
import type { RouteUrl, RemoteRoute } from './messages.js';
import type { ShardCluster } from './shard-cluster.js';
import type { Shard, OutConn } from '../shard/shard.js';
import type { Account } from '../shard/account.js';
import type { MsgArgs } from '../shard/msg.js';
import { ForwardTarget, InterestFlags, RemoteInterest, interestFrame } from '../shard/peer.js';
import { Errors, PING, PONG, errLine, writeUint, copyBytes } from '../protocol/wire.js';
import { isValidSubject } from '../sublist/subject.js';

const MIN_OUT_CHUNK = 4096;
const MAX_OUT_CHUNK = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const RMSG_PREFIX = Buffer.from('RMSG ');
const HMSG_PREFIX = Buffer.from('HMSG ');
const QUEUES_WITH_REPLY = Buffer.from('+ ');
const QUEUES_ONLY = Buffer.from('| ');

/** Why a route closed (nats-server ClosedState names). */
export const RouteClose = {
  CLIENT: 'Client Closed',
  SERVER_SHUTDOWN: 'Server Shutdown',
  PARSE_ERROR: 'Parse Error',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  AUTH_VIOLATION: 'Authentication Failure',
  AUTH_TIMEOUT: 'Authentication Timeout',
  STALE: 'Stale Connection',
  SLOW_CONSUMER: 'Slow Consumer (Pending Bytes)',
  READ_ERROR: 'Read Error',
  DUPLICATE_ROUTE: 'Duplicate Route',
  CLUSTER_NAME_CONFLICT: 'Cluster Name Conflict',
  DUPLICATE_SERVER_NAME: 'Duplicate Server Name',
  WRONG_PORT: 'Wrong Port',
} as const;

export class RouteConnection implements RouteParserHandler, OutConn {
  readonly cid: number;
  readonly sc: ShardCluster;
  readonly shard: Shard;
  socket: net.Socket;
  readonly parser: RouteParser;
  /** This route as a destination of messages routed in the shard. */
  readonly target: ForwardTarget;
  readonly didSolicit: boolean;
  /** Where a solicited route dialed (null for an accepted one). */
  readonly url: RouteUrl | null;
  /** Configured in `routes` (not learned by gossip). */
  readonly explicit: boolean;
  readonly ip: string;
  readonly port: number;
  readonly start = Date.now();
  lastIn = Date.now();
  stopped = false;
  closed = false;
  closeReason = '';
  /** Do not reconnect after this one closes (route to self, cluster name conflict). */
  noReconnect = false;

  // Handshake.
  connectReceived = false;
  infoReceived = false;
  /** The route table accepted it (not a duplicate): our interest has been sent. */
  registered = false;
  remoteId = '';
  remoteName = '';
  /** The peer takes HMSG (both sides support headers). */
  headers = false;
  remoteImport: unknown = undefined;
  remoteExport: unknown = undefined;
  private authTimer: NodeJS.Timeout | null = null;
  private suspended = false;
  private pendingInput: Buffer | null = null;

  /** The peer's interest, by `<account index> <subject>[ <queue>]` (nats-server keys remote subs so). */
  readonly subs = new Map<string, RemoteInterest>();

  // Counters, as /routez reports them.
  inMsgs = 0;
  inBytes = 0;
  outMsgs = 0;
  outBytes = 0;

  // Keepalive.
  nextPingAt: number;
  pingsOut = 0;
  private pingSentAt = 0;
  rtt = 0;
  stuckSince = 0;

  // Outbound, as ClientConnection: [outStart, outPos) of `out` not yet handed to the socket.
  private out: Buffer = EMPTY;
  private outStart = 0;
  private outPos = 0;
  private readonly outQueue: Buffer[] = [];
  private outQueued = 0;
  private outChunk = MIN_OUT_CHUNK;
  dirty = false;

  constructor(sc: ShardCluster, socket: net.Socket, cid: number, url: RouteUrl | null, explicit: boolean) {
    this.sc = sc;
    this.shard = sc.shard;
    this.socket = socket;
    this.cid = cid;
    this.url = url;
    this.didSolicit = url !== null;
    this.explicit = explicit;
    this.parser = new RouteParser(this);
    this.target = new ForwardTarget(null, this);
    this.ip = socket.remoteAddress ?? url?.host ?? '';
    this.port = socket.remotePort ?? url?.port ?? 0;
    this.nextPingAt = this.start + sc.pingIntervalMs;
  }

  /** Starts the handshake (route.go createRoute): a solicitor sends CONNECT first, both send INFO. */
  begin(): void {
    const o = this.sc.opts;
    if (this.didSolicit) {
      const connect = {
        echo: true,
        verbose: false,
        pedantic: false,
        ...(this.url!.user !== '' ? { user: this.url!.user, pass: this.url!.pass } : {}),
        tls_required: false,
        headers: true,
        name: this.shard.identity.serverId,
        cluster: this.sc.clusterName,
        ...(this.sc.dynamicName ? { cluster_dynamic: true } : {}),
        lnoc: true,
      };
      this.queueProto(`CONNECT ${JSON.stringify(connect)}\r\n`);
    } else if (o.username !== '') {
      // An accepted route must authenticate within authorization.timeout (client.go authTimeout).
      this.authTimer = setTimeout(() => {
        this.authTimer = null;
        if (this.closed || this.connectReceived) return;
        this.sendErr(Errors.AUTH_TIMEOUT);
        this.close(RouteClose.AUTH_TIMEOUT);
        this.shard.afterRead();
      }, o.authTimeoutMs);
      this.authTimer.unref();
    }
    this.queueProto(this.sc.routeInfoLine());
    this.shard.log.info({ rid: this.cid, ip: this.ip, port: this.port }, 'Route connection created');
  }

  /** Called with each read (the shard's buffer, reused after return). */
  onRead(chunk: Buffer): void {
    if (this.closed) return;
    this.lastIn = this.shard.now;
    if (this.suspended) {
      this.pendingInput = this.pendingInput === null ? Buffer.from(chunk) : Buffer.concat([this.pendingInput, chunk]);
      return;
    }
    const used = this.parser.parse(chunk);
    if (this.suspended && used >= 0 && used < chunk.length) this.pendingInput = Buffer.from(chunk.subarray(used));
  }

  /** Stops parsing after the current op until resume() (waiting for the route table, or bcrypt). */
  private suspend(): void {
    this.suspended = true;
    this.stopped = true;
  }

  private resume(): void {
    this.suspended = false;
    this.stopped = false;
    const rest = this.pendingInput;
    this.pendingInput = null;
    if (rest !== null && !this.closed) {
      const used = this.parser.parse(rest);
      if (this.suspended && used >= 0 && used < rest.length) this.pendingInput = rest.subarray(used);
    }
    this.shard.afterRead();
  }

  private trace(dir: '<<-' | '->>', text: string): void {
    this.shard.log.trace(`${this.ip}:${this.port} - rid:${this.cid} - "${dir} [${text}]"`);
  }

  // ---- RouteParserHandler ------------------------------------------------------------------

  processConnect(buf: Buffer, s: number, e: number): void {
    if (this.shard.tracing) this.trace('<<-', `CONNECT ${buf.toString('utf8', s, e).replace(/("pass"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[REDACTED]"')}`);
    if (this.didSolicit || this.connectReceived) return;
    let o: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(buf.toString('utf8', s, e));
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      o = v as Record<string, unknown>;
    } catch {
      return this.close(RouteClose.PROTOCOL_VIOLATION);
    }
    this.connectReceived = true;
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
    // processRouteConnect: a client (it sends `lang`) on the route port is told and closed.
    if (typeof o['lang'] === 'string' && o['lang'] !== '') {
      this.sendErr('attempted to connect to route port');
      this.shard.log.error({ rid: this.cid, ip: this.ip }, 'attempted to connect to route port');
      this.noReconnect = true;
      return this.close(RouteClose.WRONG_PORT);
    }
    if (typeof o['gateway'] === 'string' && o['gateway'] !== '') {
      const text = `Rejecting connection from gateway "${o['gateway']}" on the Route port`;
      this.sendErr(text);
      this.shard.log.error({ rid: this.cid }, text);
      return this.close(RouteClose.PROTOCOL_VIOLATION);
    }
    const user = typeof o['user'] === 'string' ? o['user'] : '';
    const pass = typeof o['pass'] === 'string' ? o['pass'] : '';
    const finish = (ok: boolean): void => {
      if (this.closed) return;
      if (!ok) {
        // isRouterAuthorized failed: client.go authViolation.
        this.shard.log.error({ rid: this.cid, ip: this.ip, user }, 'Authorization Error - User "' + user + '"');
        this.sendErr(Errors.AUTH_VIOLATION);
        this.close(RouteClose.AUTH_VIOLATION);
        this.shard.afterRead();
        return;
      }
      const cluster = typeof o['cluster'] === 'string' ? o['cluster'] : '';
      if (cluster !== this.sc.clusterName && !this.sc.adoptClusterName(cluster, o['cluster_dynamic'] === true, this)) {
        const text = `Rejecting connection, cluster name "${cluster}" does not match "${this.sc.clusterName}"`;
        this.shard.log.error({ rid: this.cid }, text);
        this.sendErr(text);
        this.close(RouteClose.CLUSTER_NAME_CONFLICT);
        this.shard.afterRead();
        return;
      }
      this.remoteId = typeof o['name'] === 'string' ? o['name'] : '';
      this.headers = o['headers'] === true;
      if (this.suspended) this.resume();
    };
    const want = this.sc.opts.username;
    if (want === '') return finish(true);
    if (user !== want) return finish(false);
    const hash = this.sc.opts.password;
    if (!/^\$2[abxy]?\$/.test(hash)) return finish(pass === hash);
    this.suspend();
    const ticket = { key: `${this.ip}\0route:${user}`, deadline: this.start + this.sc.opts.authTimeoutMs, cancel: null };
    this.shard.bcrypt(pass, hash, ticket).then(
      (v) => finish(v === true),
      () => finish(false),
    );
  }

  /**
   * An accepted route that must authenticate sends CONNECT first (parser.go: any other first op is
   * an Authorization Violation).
   */
  private unauthenticated(): boolean {
    if (this.didSolicit || this.connectReceived || this.sc.opts.username === '') return false;
    this.sendErr(Errors.AUTH_VIOLATION);
    this.close(RouteClose.AUTH_VIOLATION);
    return true;
  }

  processInfo(buf: Buffer, s: number, e: number): void {
    if (this.shard.tracing) this.trace('<<-', `INFO ${buf.toString('utf8', s, e)}`);
    if (this.unauthenticated()) return;
    let info: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(buf.toString('utf8', s, e));
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      info = v as Record<string, unknown>;
    } catch {
      return this.close(RouteClose.PARSE_ERROR);
    }
    const id = str(info['server_id']);
    const me = this.shard.identity;
    if (id === me.serverId) {
      // A route to ourselves (route.go processRouteInfo): close, and never retry it.
      this.remoteId = id;
      this.noReconnect = true;
      this.shard.log.debug({ rid: this.cid }, 'Detected route to self, ignoring');
      return this.close(RouteClose.DUPLICATE_ROUTE);
    }
    const cluster = str(info['cluster']);
    if (cluster !== '' && cluster !== this.sc.clusterName && !this.sc.adoptClusterName(cluster, info['cluster_dynamic'] === true, this)) {
      return this.close(RouteClose.CLUSTER_NAME_CONFLICT);
    }
    if (this.infoReceived) return this.asyncInfo(info, id);
    if (!this.didSolicit && str(info['server_name']) === me.serverName) {
      this.shard.log.error({ rid: this.cid }, `Remote server has a duplicate name: "${me.serverName}"`);
      this.noReconnect = true;
      return this.close(RouteClose.DUPLICATE_SERVER_NAME);
    }
    this.infoReceived = true;
    this.remoteId = id;
    this.remoteName = str(info['server_name']);
    this.headers = info['headers'] === true;
    this.remoteImport = info['import'];
    this.remoteExport = info['export'];
    const port = typeof info['port'] === 'number' ? info['port'] : 0;
    const host = str(info['host']);
    // Where others can reach this peer: its advertised `ip`, else its TCP address and cluster port.
    let ip = str(info['ip']);
    if (ip === '') ip = `nats-route://${this.ip.includes(':') ? `[${this.ip}]` : this.ip}:${port}/`;
    const forwarded: Record<string, unknown> = { ...info, ip };
    delete forwarded['nonce'];
    const remote: RemoteRoute = {
      id,
      name: this.remoteName,
      host,
      port,
      ip,
      authRequired: info['auth_required'] === true,
      connectUrls: strings(info['connect_urls']),
      wsConnectUrls: strings(info['ws_connect_urls']),
      info: forwarded,
    };
    // Hold everything after this INFO until the route table says whether this is a duplicate.
    this.suspend();
    this.sc.register(this, remote);
  }

  /** An INFO on a registered route: gossip about another server, or this peer's lame duck mode. */
  private asyncInfo(info: Record<string, unknown>, id: string): void {
    if (str(info['gateway']) !== '') return;
    if (this.remoteId !== '' && id !== this.remoteId) {
      const port = typeof info['port'] === 'number' ? info['port'] : 0;
      const ip = str(info['ip']);
      this.sc.implicit({
        id,
        name: str(info['server_name']),
        host: str(info['host']),
        port,
        ip,
        authRequired: info['auth_required'] === true,
        connectUrls: strings(info['connect_urls']),
        wsConnectUrls: strings(info['ws_connect_urls']),
        info,
      });
      return;
    }
    if (info['ldm'] === true) this.sc.remoteLameDuck(this);
  }

  /** The route table's verdict on this route's first INFO. */
  verdict(ok: boolean): void {
    if (this.closed) return;
    if (!ok) {
      this.shard.log.debug({ rid: this.cid, remote: this.remoteId }, 'Detected duplicate remote route');
      return this.close(RouteClose.DUPLICATE_ROUTE);
    }
    this.registered = true;
    this.shard.log.debug({ rid: this.cid, remote: this.remoteId }, 'Registering remote route');
    this.sc.sendAllInterest(this);
    this.resume();
  }

  processPing(): void {
    if (this.shard.tracing) this.trace('<<-', 'PING');
    this.queue(PONG);
  }

  processPong(): void {
    if (this.shard.tracing) this.trace('<<-', 'PONG');
    this.pingsOut = 0;
    if (this.pingSentAt > 0) {
      this.rtt = Date.now() - this.pingSentAt;
      this.pingSentAt = 0;
    }
  }

  processErr(buf: Buffer, s: number, e: number): void {
    const text = buf.toString('latin1', s, e);
    this.shard.log.error({ rid: this.cid, ip: this.ip, port: this.port }, `Route Error ${text}`);
    this.close(RouteClose.PARSE_ERROR);
  }

  /** RS+/LS+ (route.go processRemoteSub): the peer's interest, with a queue weight for groups. */
  processRemoteSub(buf: Buffer, s: number, e: number, origin: boolean): void {
    const line = buf.toString('latin1', s, e);
    if (this.shard.tracing) this.trace('<<-', `${origin ? 'LS+' : 'RS+'} ${line}`);
    if (this.unauthenticated()) return;
    const args = line.split(/[ \t]+/).filter((a) => a !== '');
    if (origin) args.shift();
    if (args.length !== 2 && args.length !== 4) {
      this.shard.log.error({ rid: this.cid }, `processRemoteSub Parse Error: '${line}'`);
      return this.close(RouteClose.PROTOCOL_VIOLATION);
    }
    const acc = this.sc.accountByName(args[0]!);
    const subject = args[1]!;
    if (acc === null) {
      this.shard.log.debug({ rid: this.cid }, `Unknown account "${args[0]}" for remote subject "${subject}"`);
      return;
    }
    if (!isValidSubject(subject)) return;
    if (!this.sc.canExport(subject)) {
      this.shard.log.debug({ rid: this.cid }, `Can not export "${subject}", ignoring remote subscription request`);
      return;
    }
    const queue = args.length === 4 ? args[2]! : null;
    const weight = queue === null ? 1 : Math.max(1, Number(args[3]) | 0);
    const key = queue === null ? `${acc.idx} ${subject}` : `${acc.idx} ${subject} ${queue}`;
    const ri = this.subs.get(key);
    if (ri === undefined) {
      const n = new RemoteInterest(subject, queue, -1, acc.idx, this.target);
      n.weight = weight;
      this.subs.set(key, n);
      acc.sublist.insert(n);
      this.shard.broadcast(interestFrame(acc.idx, subject, queue, weight, InterestFlags.ROUTE));
    } else if (queue !== null && weight !== ri.weight) {
      // A queue group's member count changed on the peer (UpdateRemoteQSub).
      const delta = weight - ri.weight;
      ri.weight = weight;
      this.shard.broadcast(interestFrame(acc.idx, subject, queue, delta, InterestFlags.ROUTE));
    }
  }

  /** RS-/LS- (processRemoteUnsub). */
  processRemoteUnsub(buf: Buffer, s: number, e: number): void {
    const line = buf.toString('latin1', s, e);
    if (this.shard.tracing) this.trace('<<-', `RS- ${line}`);
    if (this.unauthenticated()) return;
    const args = line.split(/[ \t]+/).filter((a) => a !== '');
    if (args.length !== 2 && args.length !== 3) {
      this.shard.log.error({ rid: this.cid }, `processRemoteUnsub parse error: '${line}'`);
      return this.close(RouteClose.PROTOCOL_VIOLATION);
    }
    const acc = this.sc.accountByName(args[0]!);
    if (acc === null) return;
    const key = args.length === 3 ? `${acc.idx} ${args[1]} ${args[2]}` : `${acc.idx} ${args[1]}`;
    const ri = this.subs.get(key);
    if (ri === undefined) return;
    this.subs.delete(key);
    this.dropInterest(ri);
  }

  private dropInterest(ri: RemoteInterest): void {
    const acc = this.shard.accounts[ri.acc]!;
    if (!acc.sublist.remove(ri)) return;
    this.shard.broadcast(interestFrame(ri.acc, ri.subject, ri.queue, -ri.weight, InterestFlags.ROUTE));
  }

  /** RMSG/HMSG/LMSG: delivered to this server's subscribers (here and on the other shards). */
  processRoutedMsg(p: RouteParser, buf: Buffer, start: number, end: number): void {
    if (!this.connectReceived && !this.didSolicit && this.unauthenticated()) return;
    this.inMsgs++;
    this.inBytes += end - start;
    if (this.shard.tracing) this.trace('<<-', `${p.paHdr >= 0 ? 'HMSG' : 'RMSG'} ${p.paBuf.toString('latin1', p.paAccStart, p.paAccEnd)} ${p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd)} ${end - start}`);
    const acc = this.sc.lookupAccount(p.paBuf, p.paAccStart, p.paAccEnd);
    if (acc === null) return;
    deliverFromRoute(this.shard, acc, p, buf, start, end);
  }

  parseError(what: string): void {
    this.shard.log.error({ rid: this.cid, ip: this.ip, port: this.port }, `Route parse error: ${what}`);
    this.sendErr(Errors.UNKNOWN_OP);
    this.close(RouteClose.PARSE_ERROR);
  }

  // ---- outbound ----------------------------------------------------------------------------

  /**
   * Appends one RMSG/HMSG for a message this server routes to the peer (client.go
   * msgHeaderForRouteOrLeaf): `RMSG <acc> <subject> [+ <reply> | '|'] [<queue> ...] [<reply>] <size>`.
   * The subject is `m.paBuf[ss, se)`: a JetStream delivery goes by its deliver subject, and its
   * reply carries the subject it is shown with after an '@' (processMsgResults), as nats-server's.
   */
  writeRouted(t: ForwardTarget, m: MsgArgs, ss: number, se: number, buf: Buffer, start: number, end: number, acc: Account): void {
    if (this.closed) return;
    let hdr = m.paHdr;
    let s = start;
    if (hdr > 0 && !this.headers) {
      s = start + hdr; // the peer does not take headers: the payload alone
      hdr = -1;
    } else if (hdr <= 0) hdr = -1;
    const size = end - s;
    const name = this.sc.accountNames[acc.idx]!;
    const sb = m.paBuf;
    const replyLen = m.paReplyStart >= 0 ? m.paReplyEnd - m.paReplyStart : 0;
    // A DELIVER (routed by another subject than it shows) with a reply: `<reply>@<shown subject>`.
    const shown = ss !== m.paSubjectStart && replyLen > 0 ? m.paSubjectEnd - m.paSubjectStart + 1 : 0;
    let qlen = 0;
    const ng = t.ngroups;
    for (let g = 0; g < ng; g++) qlen += t.groups[g]!.length + 1;
    const need = 5 + name.length + 1 + (se - ss) + 1 + 2 + replyLen + shown + 1 + qlen + 24 + size + 2;
    if (this.out.length - this.outPos < need) this.grow(need);
    const o = this.out;
    let pos = copyBytes(o, this.outPos, hdr >= 0 ? HMSG_PREFIX : RMSG_PREFIX, 0, 5);
    pos = copyBytes(o, pos, name, 0, name.length);
    o[pos++] = 32;
    pos = copyBytes(o, pos, sb, ss, se);
    o[pos++] = 32;
    if (ng > 0) {
      if (replyLen > 0) {
        pos = copyBytes(o, pos, QUEUES_WITH_REPLY, 0, 2);
        pos = this.writeReply(o, pos, m, shown);
      } else pos = copyBytes(o, pos, QUEUES_ONLY, 0, 2);
      for (let g = 0; g < ng; g++) {
        const q = t.groups[g]!;
        pos = copyBytes(o, pos, q, 0, q.length);
        o[pos++] = 32;
      }
    } else if (replyLen > 0) pos = this.writeReply(o, pos, m, shown);
    if (hdr >= 0) {
      pos = writeUint(o, pos, hdr);
      o[pos++] = 32;
    }
    pos = writeUint(o, pos, size);
    o[pos++] = 13;
    o[pos++] = 10;
    pos = copyBytes(o, pos, buf, s, end);
    o[pos++] = 13;
    o[pos++] = 10;
    this.outPos = pos;
    this.outMsgs++;
    this.outBytes += size;
    if (!this.dirty) this.shard.markDirty(this);
  }

  /** The reply and a blank; with `shown`, `<reply>@<shown subject>`. */
  private writeReply(o: Buffer, pos: number, m: MsgArgs, shown: number): number {
    pos = copyBytes(o, pos, m.paBuf, m.paReplyStart, m.paReplyEnd);
    if (shown > 0) {
      o[pos++] = 0x40;
      pos = copyBytes(o, pos, m.paBuf, m.paSubjectStart, m.paSubjectEnd);
    }
    o[pos++] = 32;
    return pos;
  }

  /** RS+ (or RS- when `n` is 0) for this server's interest in one subject [and queue] (route.go sendRouteSubProtos). */
  sendInterest(accName: string, subject: string, queue: string | null, n: number): void {
    let line: string;
    if (n > 0) line = queue === null ? `RS+ ${accName} ${subject}` : `RS+ ${accName} ${subject} ${queue} ${n}`;
    else line = queue === null ? `RS- ${accName} ${subject}` : `RS- ${accName} ${subject} ${queue}`;
    if (this.shard.tracing) this.trace('->>', line);
    this.queueProto(line + '\r\n');
  }

  private grow(need: number): void {
    if (this.outPos > this.outStart) {
      const part = this.out.subarray(this.outStart, this.outPos);
      this.outQueue.push(part);
      this.outQueued += part.length;
      if (this.outChunk < MAX_OUT_CHUNK) this.outChunk *= 2;
      if (this.outQueued + this.socket.writableLength > this.shard.opts.maxPending) this.slowConsumer();
    }
    this.out = Buffer.allocUnsafeSlow(Math.max(this.outChunk, need));
    this.outStart = 0;
    this.outPos = 0;
  }

  queue(b: Buffer): void {
    if (this.closed) return;
    if (this.out.length - this.outPos < b.length) this.grow(b.length);
    if (this.closed) return;
    this.outPos = copyBytes(this.out, this.outPos, b, 0, b.length);
    if (!this.dirty) this.shard.markDirty(this);
  }

  queueProto(s: string): void {
    this.queue(Buffer.from(s, 'latin1'));
  }

  sendErr(text: string): void {
    if (this.shard.tracing) this.trace('->>', `-ERR '${text}'`);
    this.queue(errLine(text));
  }

  sendPing(): void {
    this.pingsOut++;
    this.pingSentAt = Date.now();
    this.queue(PING);
  }

  flush(): void {
    this.dirty = false;
    if (this.closed || this.socket.destroyed) return;
    const q = this.outQueue;
    const hasTail = this.outPos > this.outStart;
    if (q.length === 0) {
      if (!hasTail) return;
      this.socket.write(this.out.subarray(this.outStart, this.outPos));
    } else {
      this.socket.cork();
      for (let i = 0; i < q.length; i++) this.socket.write(q[i]!);
      if (hasTail) this.socket.write(this.out.subarray(this.outStart, this.outPos));
      this.socket.uncork();
      q.length = 0;
      this.outQueued = 0;
    }
    this.outStart = this.outPos;
    if (this.out.length - this.outPos < 64) {
      this.out = EMPTY;
      this.outStart = this.outPos = 0;
    }
    const backlog = this.socket.writableLength;
    if (backlog > this.shard.opts.maxPending) this.slowConsumer();
    else if (backlog > this.shard.stallThreshold) this.shard.stall(this);
  }

  private slowConsumer(): void {
    this.shard.slowConsumers++;
    this.shard.log.warn({ rid: this.cid, ip: this.ip, port: this.port }, 'Slow Consumer Detected (route)');
    this.close(RouteClose.SLOW_CONSUMER, true);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Closes the route: its interest leaves this shard's sublists and the other shards'; pending output
   * (an -ERR) is flushed first unless `abort`. The route table hears of it (and may reconnect).
   */
  close(reason: string, abort = false): void {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.closeReason = reason;
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
    for (const ri of this.subs.values()) this.dropInterest(ri);
    this.subs.clear();
    if (abort) {
      this.outQueue.length = 0;
      this.outStart = this.outPos;
      this.socket.destroy();
    } else if (!this.socket.destroyed) {
      for (const b of this.outQueue) this.socket.write(b);
      if (this.outPos > this.outStart) this.socket.write(this.out.subarray(this.outStart, this.outPos));
      this.outQueue.length = 0;
      this.outStart = this.outPos;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    }
    this.sc.routeClosed(this);
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
