// One client connection inside a shard: the parser's handler, the CONNECT/SUB/UNSUB/PUB semantics of
// nats-server's client.go, and an outbound buffer flushed once per event-loop turn (never per message).

import type { ClientTransport } from './transport.js';
import { ClientParser, ParseError, type ParseErrorCode, type ParserHandler, parseSize } from '../protocol/parser.js';
import { Errors, OK, PING, PONG, errLine, writeUint, copyBytes, MSG_PREFIX, HMSG_PREFIX } from '../protocol/wire.js';
import { subjectMatches } from '../sublist/subject.js';
import { LastMatch } from '../sublist/sublist.js';
import { goQuote, isInsertableSubject, isLiteralSubject, splitArg } from '../protocol/args.js';
import { Subscription } from './subscription.js';
import type { Shard } from './shard.js';
import type { MsgArgs } from './msg.js';
import type { Account, Interest } from './account.js';
import { ConnPermissions } from '../auth/permissions.js';
import { newNonce } from '../auth/nkey.js';
import type { CertIdentity } from '../auth/cert-identity.js';
import type { BcryptTicket } from '../auth/bcrypt-queue.js';
import { ForwardStats } from './migrate.js';

/** Why a connection closed (nats-server's ClosedState names, as /connz reports them). */
export const CloseReason = {
  CLIENT: 'Client Closed',
  SERVER_SHUTDOWN: 'Server Shutdown',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  PARSE_ERROR: 'Parse Error',
  MAX_PAYLOAD: 'Maximum Message Payload Exceeded',
  MAX_CONTROL_LINE: 'Maximum Control Line Exceeded',
  STALE: 'Stale Connection',
  SLOW_CONSUMER: 'Slow Consumer (Pending Bytes)',
  BAD_PROTOCOL: 'Bad Client Protocol Version',
  NO_RESPONDERS_HEADERS: 'No Responders Requires Headers',
  WRITE_ERROR: 'Write Error',
  READ_ERROR: 'Read Error',
  AUTH_VIOLATION: 'Authentication Failure',
  AUTH_TIMEOUT: 'Authentication Timeout',
  TLS_HANDSHAKE: 'TLS Handshake Failure',
  DUPLICATE_CLIENT_ID: 'Duplicate Client ID',
} as const;
export type CloseReasonText = (typeof CloseReason)[keyof typeof CloseReason];

const MIN_OUT_CHUNK = 1024;
const MAX_OUT_CHUNK = 256 * 1024;
/**
 * Output chunk of a connection backed up past the stall threshold. Above glibc's largest dynamic
 * mmap threshold (32 MiB), so malloc always maps it on its own: its pages are committed only as
 * they are written, and all of it goes back to the system when it is freed. Chunks of ordinary
 * size come from the thread's malloc arena, which keeps what a cut slow consumer held (tens of
 * MB) resident long after it is freed.
 */
const SPILL_CHUNK = 32 * 1024 * 1024 + 64 * 1024;
const EMPTY = Buffer.alloc(0);
const NO_RESPONDERS_HDR = Buffer.from('NATS/1.0 503\r\n\r\n');
/** RTT is re-measured by the ping timer after this long (nats-server DEFAULT_RTT_MEASUREMENT_INTERVAL). */
const RTT_REMEASURE_MS = 60 * 60 * 1000;
/** server.go firstClientPingInterval. */
const FIRST_CLIENT_PING_MS = 2000;

export class ClientConnection implements ParserHandler {
  /** Speaks the NATS client protocol (INFO, PING, -ERR); false for MQTT connections. */
  readonly natsProtocol: boolean = true;
  /** The MQTT client id, for /connz ('' for NATS clients). */
  get mqttClientId(): string {
    return '';
  }
  readonly cid: number;
  readonly shard: Shard;
  /** The client's byte stream: a net.Socket, a TLSSocket once TLS is up, or a WebSocket adapter. */
  socket: ClientTransport;
  readonly parser: ClientParser;
  readonly ip: string;
  readonly port: number;
  /** When it connected (ms); carried over when the connection moves between shards (src/shard/migrate.ts). */
  start: number;
  stopped = false;
  closed = false;
  closeReason: CloseReasonText | null = null;

  // CONNECT options (client.go ClientOpts). nats-server starts every client from defaultOpts
  // {Verbose: true, Pedantic: true, Echo: true} and CONNECT overwrites only the fields it carries.
  connectReceived = false;
  verbose = true;
  pedantic = true;
  echo = true;
  headers = false;
  noResponders = false;
  protocol = 0;
  name = '';
  lang = '';
  version = '';

  readonly subs: Map<string, Subscription> = new Map();

  // Authentication and authorization.
  /** The account this connection publishes and subscribes in ($G until authenticated otherwise). */
  acc: Account;
  /** INFO nonce for nkey users; null when none are configured. */
  readonly nonce: string | null;
  /** null: no permissions (the common case costs a single null check per message). */
  perms: ConnPermissions | null = null;
  authUser = '';
  /** The CONNECT credentials, kept to authenticate again on a config reload. */
  creds: Record<string, unknown> | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  /** When authorization.timeout runs out (epoch ms); bcrypt checks still waiting then are dropped. */
  private authDeadline = Infinity;
  /** The bcrypt check this connection waits for, if any (cancelled when the connection goes). */
  private bcryptTicket: BcryptTicket | null = null;
  /** What the client's TLS certificate names (verify_and_map), once its handshake is done. */
  tlsIdentity: CertIdentity | null = null;
  /** Parsing waits for an asynchronous step (a bcrypt check); input read meanwhile is kept here. */
  private suspended = false;
  private pendingInput: Buffer | null = null;

  // Counters, as /connz reports them.
  inMsgs = 0;
  inBytes = 0;
  outMsgs = 0;
  outBytes = 0;

  // Keepalive (client.go processPingTimer).
  /** Last activity (client.go c.last): messages in, SUB/UNSUB; not PING/PONG. */
  lastIn: number;
  /** When the client last sent a PING (client.go ping.last): it also holds our PING back. */
  lastPingIn = 0;
  private seenInMsgs = 0;
  nextPingAt: number;
  pingsOut = 0;
  pingSentAt = 0;
  rtt = 0;
  /** When the last PING went out (client.go rttStart): 0 until then, so the first timer measures RTT. */
  rttAt = 0;

  // Outbound: bytes [outStart, outPos) of `out` are not yet handed to the socket; `outQueue` holds
  // earlier chunks of this turn that filled up. Bytes handed to the socket are never overwritten.
  out: Buffer = EMPTY;
  outStart = 0;
  outPos = 0;
  outQueue: Buffer[] = [];
  outQueued = 0;
  outChunk = MIN_OUT_CHUNK;
  dirty = false;
  /** Frames were put in peer rings on this client's behalf since its last PONG. */
  ringDirty = false;
  /** PONGs waiting for peers (answered in order). */
  pongsDeferred = 0;

  // Moving to the shard this connection publishes to (src/shard/migrate.ts).
  /** A plain TCP socket read into the shard's buffer (the kind of connection that can move). */
  plainTcp = false;
  /** Where this window's published messages went (updated by Shard.routeIn). */
  readonly fwd = new ForwardStats();
  /** This publisher's last subject and its match (src/sublist/sublist.ts LastMatch). */
  readonly lastMatch = new LastMatch<Interest>();
  /** The shard it is to move to, -1 when not moving. */
  migrateTo = -1;
  /** Its socket is paused for the move (from Migrator.begin until it leaves or the move is called off). */
  moving = false;
  /** When it last moved or tried to (ms). */
  migratedAt = 0;

  /** `deferAuthTimer`: TLS comes first; the accept path arms the timer after the handshake (as nats-server). */
  constructor(shard: Shard, socket: ClientTransport, cid: number, deferAuthTimer = false) {
    this.shard = shard;
    this.socket = socket;
    this.cid = cid;
    this.parser = new ClientParser(this);
    this.parser.maxControlLine = shard.opts.maxControlLine;
    this.ip = socket.remoteAddress ?? '';
    this.port = socket.remotePort ?? 0;
    this.start = Date.now();
    this.lastIn = this.start;
    this.nextPingAt = this.start + shard.opts.pingIntervalMs;
    this.acc = shard.accounts[0]!;
    if (shard.auth !== null) {
      this.parser.requireConnect = true;
      this.nonce = shard.auth.needsNonce ? newNonce() : null;
      if (!deferAuthTimer) this.armAuthTimer();
    } else this.nonce = null;
  }

  /**
   * authorization.timeout: not authenticated by then ends the connection (client.go authTimeout),
   * also while the CONNECT's bcrypt check still waits for a pool thread.
   */
  armAuthTimer(): void {
    const auth = this.shard.auth;
    if (auth === null || this.authTimer !== null || this.closed) return;
    this.authDeadline = Date.now() + auth.opts.timeoutMs;
    this.authTimer = setTimeout(() => {
      this.authTimer = null;
      if (this.closed || !this.parser.requireConnect) return;
      this.sendErr(Errors.AUTH_TIMEOUT);
      this.close(CloseReason.AUTH_TIMEOUT);
      this.shard.afterRead();
    }, auth.opts.timeoutMs);
    this.authTimer.unref();
  }

  /** Called by the shard with each read (the buffer is the shard's and is reused after return). */
  onRead(chunk: Buffer): void {
    if (this.closed) return;
    if (this.suspended) {
      this.pendingInput = this.pendingInput === null ? Buffer.from(chunk) : Buffer.concat([this.pendingInput, chunk]);
      return;
    }
    const used = this.parser.parse(chunk);
    if (this.suspended && used >= 0 && used < chunk.length) this.pendingInput = Buffer.from(chunk.subarray(used));
    if (this.inMsgs !== this.seenInMsgs) {
      // Activity per read, not per message (client.go readLoop: c.last when msgs or subs came in).
      this.seenInMsgs = this.inMsgs;
      this.lastIn = this.shard.now;
    }
    if (this.migrateTo >= 0 && !this.suspended && !this.closed && this.parser.atFrameBoundary()) this.shard.migrator?.begin(this);
  }

  /** Stops parsing after the current op until resume(); further reads are kept, not parsed. */
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
      this.shard.afterRead();
    }
  }

  // ---- ParserHandler -------------------------------------------------------------------------

  processConnect(buf: Buffer, s: number, e: number): void {
    if (this.shard.tracing) this.traceIn('CONNECT', buf.toString('utf8', s, e).replace(/("(?:pass|auth_token|sig)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[REDACTED]"'));
    let o: Record<string, unknown>;
    try {
      // Go's json.Unmarshal of `null` into ClientOpts leaves the defaults: `CONNECT null` is `{}`.
      const v: unknown = JSON.parse(buf.toString('utf8', s, e)) ?? {};
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      o = v as Record<string, unknown>;
      checkConnectTypes(o);
    } catch {
      // client.go processConnect: a JSON (or JSON type) error ends the connection, no -ERR sent.
      this.shard.log.debug({ cid: this.cid }, 'CONNECT with invalid JSON');
      return this.close(CloseReason.PROTOCOL_VIOLATION);
    }
    this.connectReceived = true;
    firstPing(this);
    if (o['verbose'] !== undefined) this.verbose = o['verbose'] === true;
    if (o['pedantic'] !== undefined) this.pedantic = o['pedantic'] === true;
    if (o['echo'] !== undefined) this.echo = o['echo'] === true;
    if (o['headers'] !== undefined) this.headers = o['headers'] === true;
    if (o['no_responders'] !== undefined) this.noResponders = o['no_responders'] === true;
    if (typeof o['name'] === 'string') this.name = o['name'];
    if (typeof o['lang'] === 'string') this.lang = o['lang'];
    if (typeof o['version'] === 'string') this.version = o['version'];
    if (typeof o['protocol'] === 'number') this.protocol = o['protocol'];
    if (this.protocol < 0 || this.protocol > 1) {
      this.sendErr(Errors.BAD_PROTOCOL);
      return this.close(CloseReason.BAD_PROTOCOL);
    }
    if (this.noResponders && !this.headers) {
      this.sendErr(Errors.NO_RESPONDERS_NEEDS_HEADERS);
      return this.close(CloseReason.NO_RESPONDERS_HEADERS);
    }
    const auth = this.shard.auth;
    if (auth === null || this.authUser !== '' || this.perms !== null || this.parser.requireConnect === false) {
      if (this.verbose) this.queue(OK);
      return;
    }
    // Authenticate; a bcrypt comparison is asynchronous, so parsing waits for the verdict.
    this.creds = { user: o['user'], pass: o['pass'], auth_token: o['auth_token'], nkey: o['nkey'], sig: o['sig'] };
    this.suspend();
    // bcrypt waits in the main thread's fair queue, keyed by client IP and user, until this
    // connection's authorization deadline (src/auth/bcrypt-queue.ts).
    const ticket: BcryptTicket = { key: `${this.ip}\0${typeof o['user'] === 'string' ? o['user'] : ''}`, deadline: this.authDeadline, cancel: null };
    let unchecked = false;
    const bcrypt = (password: string, hash: string): Promise<boolean> => {
      this.bcryptTicket = ticket;
      return this.shard.bcrypt(password, hash, ticket).then((v) => {
        this.bcryptTicket = null;
        if (v === null) unchecked = true;
        return v === true;
      });
    };
    auth.check(o, this.nonce, bcrypt, this.tlsIdentity).then(
      (who) => {
        if (this.closed) return;
        if (who === null && unchecked) {
          // Dropped unchecked: its deadline passed while it waited (or the queue was full).
          this.sendErr(Errors.AUTH_TIMEOUT);
          this.close(CloseReason.AUTH_TIMEOUT);
          this.shard.afterRead();
          return;
        }
        if (who === null) {
          this.shard.log.warn({ cid: this.cid, ip: this.ip, user: typeof o['user'] === 'string' ? o['user'] : undefined }, 'Authorization Error');
          this.sendErr(Errors.AUTH_VIOLATION);
          this.close(CloseReason.AUTH_VIOLATION);
          this.shard.afterRead();
          return;
        }
        if (this.authTimer !== null) clearTimeout(this.authTimer);
        this.authTimer = null;
        this.parser.requireConnect = false;
        this.authUser = who.user;
        this.acc = this.shard.accountByName.get(who.account) ?? this.shard.accounts[0]!;
        this.perms = who.permissions !== null ? new ConnPermissions(who.permissions) : null;
        if (this.verbose) this.queue(OK);
        this.resume();
      },
      (err: unknown) => {
        this.shard.log.error({ cid: this.cid, err: String(err) }, 'authentication failed');
        this.sendErr(Errors.AUTH_VIOLATION);
        this.close(CloseReason.AUTH_VIOLATION);
      },
    );
  }

  processPing(): void {
    if (this.shard.tracing) this.traceIn('PING', '');
    this.lastPingIn = this.shard.now;
    // A PONG promises that everything this client sent before the PING has taken effect server-wide
    // (a flush() the client awaits). Frames it caused in peer rings must be consumed first.
    if (this.ringDirty || this.pongsDeferred > 0) this.shard.deferPong(this);
    else this.queue(PONG);
  }

  /** Sends a PONG the shard deferred until peers consumed this client's frames. */
  sendDeferredPong(): void {
    this.pongsDeferred--;
    this.queue(PONG);
  }

  processPong(): void {
    if (this.shard.tracing) this.traceIn('PONG', '');
    this.pingsOut = 0;
    if (this.pingSentAt > 0) {
      this.rtt = this.shard.now - this.pingSentAt;
      this.pingSentAt = 0;
    }
  }

  processSub(buf: Buffer, s: number, e: number): void {
    if (this.shard.tracing) this.traceIn('SUB', buf.toString('latin1', s, e));
    this.lastIn = this.shard.now;
    // SUB <subject> [queue] <sid>
    const args = splitArg(buf.toString('latin1', s, e));
    let subject: string;
    let queue: string | null = null;
    let sid: string;
    if (args.length === 2) {
      subject = args[0]!;
      sid = args[1]!;
    } else if (args.length === 3) {
      subject = args[0]!;
      queue = args[1]!;
      sid = args[2]!;
    } else {
      // processSub Parse Error: the connection is closed without an -ERR.
      return this.close(CloseReason.PROTOCOL_VIOLATION);
    }
    if (this.perms !== null && !this.perms.canSubscribe(subject, queue)) {
      // client.go subPermissionViolation (checked before the subject's validity, as processSub).
      this.sendErr(`Permissions Violation for Subscription to ${goQuote(subject)}${queue !== null ? ` using queue ${goQuote(queue)}` : ''}`);
      this.shard.log.warn({ cid: this.cid, user: this.authUser, subject, queue: queue ?? undefined, sid }, 'Subscription Violation');
      return;
    }
    const max = this.shard.opts.maxSubscriptions;
    if (max > 0 && this.subs.size >= max && !this.subs.has(sid)) {
      this.sendErr(Errors.MAX_SUBSCRIPTIONS);
      return;
    }
    // The sublist's own check (Insert), after permissions and the subscription limit as in processSub;
    // a sid already in use is not inserted again, so it is not checked either.
    if (!isInsertableSubject(subject) && !this.subs.has(sid)) {
      this.sendErr(Errors.INVALID_SUBJECT);
      return;
    }
    // A SUB with a sid already in use is ignored (client.go: "already have this sid").
    if (!this.subs.has(sid)) {
      const sub = new Subscription(this, subject, queue, sid);
      this.subs.set(sid, sub);
      this.shard.addSubscription(sub);
    }
    if (this.verbose) this.queue(OK);
  }

  processUnsub(buf: Buffer, s: number, e: number): void {
    if (this.shard.tracing) this.traceIn('UNSUB', buf.toString('latin1', s, e));
    this.lastIn = this.shard.now;
    // UNSUB <sid> [max]
    const args = splitArg(buf.toString('latin1', s, e));
    if (args.length < 1 || args.length > 2) return this.close(CloseReason.PROTOCOL_VIOLATION);
    let max = -1;
    if (args.length === 2) {
      // processUnsub: a max that is not a size (`-46`, `x`) parses as -1, an unsubscribe now.
      const b = Buffer.from(args[1]!, 'latin1');
      max = parseSize(b, 0, b.length);
    }
    const sub = this.subs.get(args[0]!);
    if (sub !== undefined) {
      // client.go processUnsub: with a max above what was delivered, keep it until then.
      if (max > 0 && max > sub.delivered) sub.max = max;
      else this.removeSubscription(sub);
    }
    if (this.verbose) this.queue(OK);
  }

  processPubArgs(p: ClientParser): boolean {
    if (this.shard.tracing) {
      const reply = p.paReplyStart >= 0 ? ` ${p.paBuf.toString('latin1', p.paReplyStart, p.paReplyEnd)}` : '';
      const sizes = p.paHdr >= 0 ? `${p.paHdr} ${p.paSize}` : String(p.paSize);
      this.traceIn(p.paHdr >= 0 ? 'HPUB' : 'PUB', `${p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd)}${reply} ${sizes}`);
    }
    if (p.paHdr >= 0 && !this.headers) {
      // processHeaderPub: headers were not declared in CONNECT.
      this.close(CloseReason.PROTOCOL_VIOLATION);
      return false;
    }
    if (p.paSize > this.shard.opts.maxPayload) {
      this.sendErr(Errors.MAX_PAYLOAD);
      this.close(CloseReason.MAX_PAYLOAD);
      return false;
    }
    // processPub: pedantic clients hear about a bad publish subject, but the message still goes out.
    if (this.pedantic && !isLiteralSubject(p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd))) {
      this.sendErr(Errors.INVALID_PUB_SUBJECT);
    }
    return true;
  }

  processMsg(p: ClientParser, buf: Buffer, start: number, end: number): void {
    this.inMsgs++;
    this.inBytes += end - start;
    if (this.perms !== null && !this.perms.canPublish(p.paBuf, p.paSubjectStart, p.paSubjectEnd, this.shard.now)) {
      // processInboundClientMsg: a denied publish gets the -ERR only, no +OK.
      const subject = p.paBuf.toString('latin1', p.paSubjectStart, p.paSubjectEnd);
      this.sendErr(`Permissions Violation for Publish to ${goQuote(subject)}`);
      this.shard.log.warn({ cid: this.cid, user: this.authUser, subject }, 'Publish Violation');
      return;
    }
    // Then +OK, before any MSG this PUB triggers here.
    if (this.verbose) this.queue(OK);
    if (this.shard.debugHooks) this.shard.debugHook(p);
    const delivered = this.shard.route(this, p, buf, start, end);
    if (delivered === 0 && this.noResponders && p.paReplyStart >= 0) this.sendNoResponders(p);
  }

  parseError(code: ParseErrorCode): void {
    switch (code) {
      case ParseError.CONTROL_LINE:
        this.sendErr(Errors.MAX_CONTROL_LINE);
        return this.close(CloseReason.MAX_CONTROL_LINE);
      case ParseError.PUB_ARGS:
        // processPub Parse Error / Bad or Missing Size: closed without an -ERR.
        return this.close(CloseReason.PROTOCOL_VIOLATION);
      case ParseError.CLIENT_ERR:
        return this.close(CloseReason.PARSE_ERROR);
      case ParseError.AUTH:
        this.sendErr(Errors.AUTH_VIOLATION);
        return this.close(CloseReason.AUTH_VIOLATION);
      default:
        this.sendErr(Errors.UNKNOWN_OP);
        return this.close(CloseReason.PARSE_ERROR);
    }
  }

  // ---- delivery ------------------------------------------------------------------------------

  /**
   * Appends one MSG/HMSG for `sub` (whose connection is this one) carrying the message the parser
   * holds. Returns false when nothing was written (closed, or past the subscription's max).
   */
  writeMsg(sub: Subscription, p: MsgArgs, buf: Buffer, start: number, end: number): boolean {
    if (this.closed) return false;
    if (sub.max > 0 && sub.delivered >= sub.max) return false;
    if (this.perms !== null && !this.permitDelivery(p)) return false;
    sub.delivered++;
    let hdr = p.paHdr;
    let s = start;
    if (hdr >= 0 && !this.headers) {
      // client.go deliverMsg: a subscriber without header support gets the payload alone.
      s = start + hdr;
      hdr = -1;
    }
    const size = end - s;
    const subj = p.paBuf;
    const sidBytes = sub.sidBytes;
    const replyLen = p.paReplyStart >= 0 ? p.paReplyEnd - p.paReplyStart + 1 : 0;
    const need = 6 + (p.paSubjectEnd - p.paSubjectStart) + 1 + sidBytes.length + 1 + replyLen + 32 + size + 2;
    if (this.out.length - this.outPos < need) this.grow(need);
    const o = this.out;
    let pos = this.outPos;
    if (hdr < 0) pos = copyBytes(o, pos, MSG_PREFIX, 0, 4);
    else pos = copyBytes(o, pos, HMSG_PREFIX, 0, 5);
    pos = copyBytes(o, pos, subj, p.paSubjectStart, p.paSubjectEnd);
    o[pos++] = 32;
    pos = copyBytes(o, pos, sidBytes, 0, sidBytes.length);
    o[pos++] = 32;
    if (replyLen > 0) {
      pos = copyBytes(o, pos, subj, p.paReplyStart, p.paReplyEnd);
      o[pos++] = 32;
    }
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
    if (sub.max > 0 && sub.delivered >= sub.max) this.removeSubscription(sub);
    return true;
  }

  /** After a config reload: check the credentials again and apply the user's new permissions. */
  async reauthorize(): Promise<void> {
    const auth = this.shard.auth;
    if (auth === null || this.creds === null) return;
    let unchecked = false;
    const ticket: BcryptTicket = { key: `${this.ip}\0reload`, deadline: Infinity, cancel: null };
    const bcrypt = (password: string, hash: string): Promise<boolean> =>
      this.shard.bcrypt(password, hash, ticket).then((v) => {
        if (v === null) unchecked = true;
        return v === true;
      });
    const who = await auth.check(this.creds, this.nonce, bcrypt, this.tlsIdentity);
    if (this.closed || (who === null && unchecked)) return; // could not be checked: left as it was
    if (who === null || (this.acc.name !== who.account && this.subs.size > 0)) {
      this.sendErr(Errors.AUTH_VIOLATION);
      this.close(CloseReason.AUTH_VIOLATION);
      this.shard.afterRead();
      return;
    }
    this.acc = this.shard.accountByName.get(who.account) ?? this.acc;
    this.perms = who.permissions !== null ? new ConnPermissions(who.permissions) : null;
    if (this.perms !== null) {
      // client.go processSubsOnConfigReload: kept if allowed plainly or in its queue group.
      for (const sub of [...this.subs.values()]) {
        if (!this.perms.canSubscribe(sub.subject) && !(sub.queue !== null && this.perms.canSubscribe(sub.subject, sub.queue))) {
          this.removeSubscription(sub);
          this.sendErr(`Permissions Violation for Subscription to ${goQuote(sub.subject)} (sid ${goQuote(sub.sid)})`);
        }
      }
    }
    this.shard.afterRead();
  }

  /** Deny-on-delivery filter and allow_responses bookkeeping (only for connections with permissions). */
  private permitDelivery(p: MsgArgs): boolean {
    const perms = this.perms!;
    if (perms.deniedOnDelivery(p.paBuf, p.paSubjectStart, p.paSubjectEnd)) return false;
    if (perms.responses !== null && p.paReplyStart >= 0) perms.recordReply(p.paBuf.toString('latin1', p.paReplyStart, p.paReplyEnd), this.shard.now);
    return true;
  }

  /** client.go: HMSG <reply> <sid of the sub matching reply> with a 503 status to the publisher. */
  private sendNoResponders(p: ClientParser): void {
    const reply = p.paBuf.toString('latin1', p.paReplyStart, p.paReplyEnd);
    let sid: string | null = null;
    for (const sub of this.subs.values()) {
      if (sub.queue === null && subjectMatches(sub.subject, reply)) {
        sid = sub.sid;
        break;
      }
    }
    if (sid === null) return;
    const hdr = NO_RESPONDERS_HDR;
    this.queue(Buffer.from(`HMSG ${reply} ${sid} ${hdr.length} ${hdr.length}\r\n`, 'latin1'));
    this.queue(hdr);
    this.queue(Buffer.from('\r\n'));
  }

  // ---- outbound ------------------------------------------------------------------------------

  /** Makes room for `need` bytes: the current chunk's unsent part is queued, a new chunk started. */
  protected grow(need: number): void {
    if (this.outPos > this.outStart) {
      const part = this.out.subarray(this.outStart, this.outPos);
      this.outQueue.push(part);
      this.outQueued += part.length;
      // Needing a second chunk in one turn: use bigger chunks for this connection from now on.
      if (this.outChunk < MAX_OUT_CHUNK) this.outChunk *= 2;
      // The chunk is still allocated below so the caller's write lands somewhere harmless.
      if (this.outQueued + this.socket.writableLength > this.shard.opts.maxPending) this.slowConsumer();
    }
    // Closed (a slow consumer just now): room for the caller's write only, dropped with the connection.
    const backedUp = !this.closed && this.outQueued + this.socket.writableLength > this.shard.stallThreshold;
    this.out = Buffer.allocUnsafeSlow(Math.max(this.closed ? 0 : backedUp ? SPILL_CHUNK : this.outChunk, need));
    this.outStart = 0;
    this.outPos = 0;
  }

  /** Appends protocol bytes (not on the message path). */
  queue(b: Buffer): void {
    if (this.closed) return;
    if (this.out.length - this.outPos < b.length) this.grow(b.length);
    if (this.closed) return;
    this.outPos = copyBytes(this.out, this.outPos, b, 0, b.length);
    if (!this.dirty) this.shard.markDirty(this);
  }

  /** -V: nats-server's trace line for a protocol op received (client.go traceInOp). */
  private traceIn(op: string, arg: string): void {
    this.shard.log.trace(`${this.ip}:${this.port} - cid:${this.cid} - "<<- [${arg === '' ? op : `${op} ${arg}`}]"`);
  }

  sendErr(text: string): void {
    if (this.shard.tracing) this.shard.log.trace(`${this.ip}:${this.port} - cid:${this.cid} - "->> [-ERR '${text}']"`);
    this.queue(errLine(text));
  }

  sendPing(): void {
    this.pingsOut++;
    this.pingSentAt = this.rttAt = this.shard.now;
    this.queue(PING);
  }

  /** Hands everything buffered to the socket: one write, or several under one cork. */
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
    const backlog = this.socket.writableLength;
    // A nearly full chunk is dropped; the next write starts a fresh one. So is a spill chunk once
    // the backlog is down again (freed, and unmapped, when the socket has sent its last slice).
    if (this.out.length - this.outPos < 64 || (this.out.length >= SPILL_CHUNK && backlog < this.shard.stallThreshold / 2)) {
      this.out = EMPTY;
      this.outStart = this.outPos = 0;
    }
    if (backlog > this.shard.opts.maxPending) this.slowConsumer();
    else if (backlog > this.shard.stallThreshold) this.shard.stall(this);
  }

  /** When the connection closed (ms), 0 while open. */
  closedAt = 0;

  /** Output queued since (ms), 0 when drained: the write_deadline clock. */
  stuckSince = 0;

  slowConsumer(why = 'pending bytes'): void {
    this.shard.slowConsumers++;
    this.shard.log.warn({ cid: this.cid, ip: this.ip, port: this.port, why }, 'Slow Consumer Detected');
    this.close(CloseReason.SLOW_CONSUMER, true);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  removeSubscription(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subs.delete(sub.sid);
    this.shard.removeSubscription(sub);
  }

  /**
   * Closes the connection: subscriptions go at once; pending output (an -ERR, say) is flushed first
   * unless `abort` (slow consumer, write error), where the socket is destroyed.
   */
  close(reason: CloseReasonText, abort = false): void {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.closeReason = reason;
    this.closedAt = Date.now();
    this.shard.rememberClosed(this);
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.bcryptTicket?.cancel?.();
    this.bcryptTicket = null;
    for (const sub of this.subs.values()) {
      sub.closed = true;
      this.shard.removeSubscription(sub);
    }
    this.subs.clear();
    if (abort) {
      this.socket.destroy();
    } else {
      const sock = this.socket;
      if (!sock.destroyed) {
        const q = this.outQueue;
        for (let i = 0; i < q.length; i++) sock.write(q[i]!);
        if (this.outPos > this.outStart) sock.write(this.out.subarray(this.outStart, this.outPos));
        sock.end();
      }
      // Don't wait forever for a peer that does not read (the timer holds the socket, not this).
      const t = setTimeout(() => sock.destroy(), 2000);
      t.unref();
      sock.once('close', () => clearTimeout(t));
    }
    // Only a small record outlives the connection (DESIGN.md, "Memory"): its output chunks, input
    // kept while suspended and the parser's split-payload scratch (up to max_payload) go now.
    this.outQueue.length = 0;
    this.outQueued = 0;
    this.out = EMPTY;
    this.outStart = this.outPos = 0;
    this.pendingInput = null;
    this.parser.msgBuf = null;
    this.shard.connectionClosed(this);
  }
}

/**
 * client.go setFirstPingTimer: at CONNECT the next PING comes after min(ping_interval, 2 s) plus up to
 * 20% (firstClientPingInterval), to measure the RTT early; later ones at ping_interval. The RTT is
 * first estimated from the time the CONNECT took (processConnect computeRTT).
 */
function firstPing(c: ClientConnection): void {
  const now = Date.now();
  if (c.rtt === 0) c.rtt = Math.max(1, now - c.start);
  const d = Math.min(c.shard.opts.pingIntervalMs, FIRST_CLIENT_PING_MS);
  c.nextPingAt = now + d + Math.floor(Math.random() * (d / 5));
}

const CONNECT_BOOLS = ['verbose', 'pedantic', 'tls_required', 'echo', 'headers', 'no_responders'];
const CONNECT_STRINGS = ['user', 'pass', 'auth_token', 'name', 'lang', 'version', 'nkey', 'sig', 'jwt'];

/** Go's json.Unmarshal into ClientOpts fails on a field of the wrong type; so do we. */
function checkConnectTypes(o: Record<string, unknown>): void {
  for (const k of CONNECT_BOOLS) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'boolean') throw new Error(k);
  for (const k of CONNECT_STRINGS) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') throw new Error(k);
  const p = o['protocol'];
  if (p !== undefined && p !== null && (typeof p !== 'number' || !Number.isInteger(p))) throw new Error('protocol');
}
