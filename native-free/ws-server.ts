// Pure-Node WebSocket server transport for NATS over WebSocket (no package, no addon), behaving like
// nats-server's server/websocket.go. A shard hands `acceptWebSocket` a fresh TCP (or TLS) socket before
// any byte is read; it reads the HTTP upgrade request itself, answers it, and then speaks frames.
//
//   acceptWebSocket(socket, opts, path?, subprotocol?) → Promise<WsConnection>
//     Opening handshake, server side (RFC 6455 §4.2.1), checked in nats-server's order: `path(p)` when
//     given (404 when it says no), GET (else 405), Host (else 400), `Upgrade: websocket` and
//     `Connection: upgrade` (comma-separated token lists, case-insensitive; else 400), a non-empty
//     Sec-WebSocket-Key (else 400), `Sec-WebSocket-Version: 13` (else 426, §4.4 — nats-server says 400
//     here), then nats-server's Origin checks `same_origin` / `allowed_origins` (§10.2; else 403; a request
//     without Origin passes, as there). Success: 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID))
//     (§1.3, §4.2.2). Every error answer is Go's http.Error (text body, nosniff) plus nats-server's
//     `Sec-Websocket-Version: 13`, then FIN and a destroy 0.5 s later; a head over 64 KiB is 431, a
//     malformed one 400, HTTP/2+ 505. No complete head within `handshakeTimeoutMs` (≤0: no limit) closes
//     the socket without an answer (Go's ReadTimeout). Rejections are WsHandshakeError (`status` 0 = none
//     answered). Bytes sent right behind the request are kept as the first frame bytes (nats-server
//     answers 400 to those; no real client sends them).
//     permessage-deflate (RFC 7692) is accepted when `compression` is on and the client offers it, always
//     with server_no_context_takeover and client_no_context_takeover (§7.1.1; every message is a fresh
//     raw deflate stream, done with zlib's sync calls), as nats-server does.
//     "Nats-No-Masking: true" (nats-server's leafnode extension) is honoured: such a client may send
//     unmasked frames and gets the header echoed.
//
//   WsConnection — stream-like, one object per connection, no per-message closures:
//     ondata(chunk)      application bytes as they arrive (§5.6: text and binary alike, unmasked,
//                        inflated). Chunks do NOT follow message or frame boundaries (a frame split across
//                        TCP reads comes as several chunks; the NATS protocol is a byte stream), and are
//                        views into the socket's Buffers: keep them, never expect them to be reused.
//                        Text messages are not checked for valid UTF-8 (§8.1): the NATS protocol is ASCII.
//     onclose(code, reason)  once, when the socket has closed: the code of the side that started the
//                        close handshake (§7.1.5; 1005 when the peer's close frame had no status), or 1006
//                        when the socket went without one (§7.1.5, §7.4.1).
//     write(buf)         one unmasked binary frame (§5.1, §5.6); compressed (RSV1, RFC 7692 §6) when
//                        negotiated and the payload is over 64 bytes. writev(bufs): the same, gathered
//                        into ONE frame. Both return socket.write's result; after close() they drop the
//                        bytes and return false.
//     pause()/resume()   stop/restart ondata at once (even mid-chunk) and stop/restart reading the socket.
//     close(code, reason) sends a close frame (§5.5.1, §7.1.2), then ends the socket (FIN); data frames
//                        arriving afterwards are dropped; the socket is destroyed if the peer has not
//                        closed within 5 s. destroy(): immediate teardown.
//   Incoming frames (§5.2–§5.5): masked (else close 1002, §5.1), FIN/continuation reassembly rules (§5.4),
//   control frames ≤125 bytes and unfragmented (§5.5), RSV bits only RSV1 on a message's first frame with
//   permessage-deflate (§5.2), 7/16/64-bit lengths, ping answered with pong carrying the same payload
//   (§5.5.2-3), close echoed (§5.5.1). A message over `maxPayload` (its inflated size when compressed)
//   closes with 1009 (§7.4.1). Reading starts on the macrotask after the promise resolves: set ondata and
//   onclose synchronously when it does (bytes the client sent right behind its request are kept).
import type net from 'node:net';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import {
  FrameParser,
  type FrameSink,
  encodeFrame,
  closePayload,
  headerLength,
  writeHeader,
  validCloseCode,
  FIN,
  RSV1,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_NO_STATUS,
  CLOSE_ABNORMAL,
  CLOSE_INVALID_DATA,
  negotiateDeflate,
} from './ws-frame.js';

export interface WsOptions {
  compression: boolean; // offer/accept permessage-deflate when the client asks (RFC 7692); default false
  sameOrigin: boolean; // reject when Origin's host:port differs from Host
  allowedOrigins: string[]; // when non-empty, Origin must be one of these (scheme://host[:port])
  handshakeTimeoutMs: number; // no complete upgrade request in time → close
  maxPayload: number; // reject (close 1009) a message larger than this
}

/** Defaults for the options (nats-server's: no compression, any origin, 2 s handshake). */
export const WS_DEFAULTS: Readonly<WsOptions> = Object.freeze({
  compression: false,
  sameOrigin: false,
  allowedOrigins: [],
  handshakeTimeoutMs: 2000,
  maxPayload: 64 * 1024 * 1024,
});

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // §1.3
const COMPRESS_THRESHOLD = 64; // nats-server's wsCompressThreshold: small payloads go uncompressed
const COPY_LIMIT = 16 * 1024; // up to this, header + payload are copied into one Buffer; above, corked writes
const CLOSE_WAIT_MS = 5000; // after our close frame + FIN, how long the peer gets to close its side
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Sec-WebSocket-Accept for a key (§4.2.2 item 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export class WsConnection {
  /** Called with each chunk of application bytes (text or binary messages, unmasked, inflated). */
  ondata: ((chunk: Buffer) => void) | null = null;
  onclose: ((code: number, reason: string) => void) | null = null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The upgrade request (path, lower-cased headers): for X-Forwarded-For, cookies, User-Agent. */
  readonly request: UpgradeRequest;
  /** permessage-deflate was negotiated. */
  readonly compressed: boolean;

  private readonly socket: net.Socket;
  private readonly parser: FrameParser;
  private readonly deflateOpts: zlib.ZlibOptions;
  private started = false;
  private userPaused = false;
  private drainQueued = false;
  private closeSent = false;
  private closeReceived = false;
  private closed = false;
  private code = CLOSE_ABNORMAL;
  private reason = '';
  private closeTimer: NodeJS.Timeout | null = null;

  /** @internal Built by acceptWebSocket once the 101 answer is written; the socket is paused. */
  constructor(socket: net.Socket, opts: WsOptions, req: UpgradeRequest, compressed: boolean, serverWindowBits: number, requireMask: boolean, leftover: Buffer) {
    this.socket = socket;
    this.request = req;
    this.compressed = compressed;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.deflateOpts = { level: zlib.constants.Z_BEST_SPEED, windowBits: serverWindowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH };
    const sink: FrameSink = {
      data: (chunk) => this.onFrameData(chunk),
      control: (op, payload) => this.onControl(op, payload),
      error: (code, reason) => this.onProtocolError(code, reason),
    };
    this.parser = new FrameParser(sink, { maxPayload: opts.maxPayload, compression: compressed, requireMask });
    this.parser.paused = true;
    this.parser.push(leftover);
    socket.on('data', this.onSocketData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    setImmediate(this.start);
  }

  /** Number of bytes queued in the underlying socket (for back-pressure). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Sends bytes as one binary frame (compressed if negotiated). Returns socket.write's result. */
  write(data: Buffer): boolean {
    if (this.closeSent || !this.socket.writable) return false;
    if (this.compressed && data.length > COMPRESS_THRESHOLD) return this.writeCompressed(data);
    const len = data.length;
    if (len <= COPY_LIMIT) {
      const h = headerLength(len);
      const out = Buffer.allocUnsafe(h + len);
      writeHeader(out, 0, FIN | OP_BINARY, len);
      data.copy(out, h);
      return this.socket.write(out);
    }
    const hdr = Buffer.allocUnsafe(10);
    const h = writeHeader(hdr, 0, FIN | OP_BINARY, len);
    this.socket.cork();
    this.socket.write(hdr.subarray(0, h));
    const r = this.socket.write(data);
    this.socket.uncork();
    return r;
  }

  /** Sends several buffers as ONE binary frame (gathered; for a flush of many protocol lines). */
  writev(parts: Buffer[]): boolean {
    if (parts.length === 1) return this.write(parts[0]!);
    if (this.closeSent || !this.socket.writable) return false;
    let len = 0;
    for (let i = 0; i < parts.length; i++) len += parts[i]!.length;
    if (this.compressed && len > COMPRESS_THRESHOLD) return this.writeCompressed(Buffer.concat(parts, len));
    const h = headerLength(len);
    if (len <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(h + len);
      let off = writeHeader(out, 0, FIN | OP_BINARY, len);
      for (let i = 0; i < parts.length; i++) off += parts[i]!.copy(out, off);
      return this.socket.write(out);
    }
    const hdr = Buffer.allocUnsafe(h);
    writeHeader(hdr, 0, FIN | OP_BINARY, len);
    this.socket.cork();
    let r = this.socket.write(hdr);
    for (let i = 0; i < parts.length; i++) if (parts[i]!.length > 0) r = this.socket.write(parts[i]!);
    this.socket.uncork();
    return r;
  }

  pause(): void {
    this.userPaused = true;
    this.parser.paused = true;
    if (this.started) this.socket.pause();
  }

  resume(): void {
    this.userPaused = false;
    if (!this.started) return;
    this.parser.paused = false; // if we are inside ondata, the parse loop simply carries on
    if (this.parser.hasPending && !this.drainQueued) {
      this.drainQueued = true;
      process.nextTick(this.drain);
    }
    this.socket.resume();
  }

  /** Close handshake with code/reason, then end the socket. */
  close(code: number = CLOSE_NORMAL, reason = ''): void {
    if (this.closeSent || this.socket.destroyed) return;
    this.sendClose(code, reason);
  }

  /** Immediate teardown. */
  destroy(): void {
    this.parser.dead = true;
    this.socket.destroy();
  }

  // ---- internals ----

  private readonly start = (): void => {
    this.started = true;
    if (this.userPaused || this.closed) return;
    this.parser.resume();
    if (!this.userPaused) this.socket.resume();
  };

  private readonly drain = (): void => {
    this.drainQueued = false;
    if (!this.userPaused) this.parser.resume();
  };

  private readonly onSocketData = (chunk: Buffer): void => {
    this.parser.push(chunk);
  };

  private readonly onSocketError = (): void => {
    // 'close' follows; onclose reports 1006 unless a close handshake took place.
  };

  private readonly onSocketClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.parser.dead = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    const f = this.onclose;
    if (f !== null) f(this.code, this.reason);
  };

  private readonly closeTimeout = (): void => {
    this.closeTimer = null;
    this.socket.destroy();
  };

  private writeCompressed(data: Buffer): boolean {
    const z = zlib.deflateRawSync(data, this.deflateOpts);
    // Z_SYNC_FLUSH output ends with 00 00 ff ff, which the frame leaves out (RFC 7692 §7.2.1).
    const len = z.length - 4;
    const h = headerLength(len);
    if (len <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(h + len);
      writeHeader(out, 0, FIN | RSV1 | OP_BINARY, len);
      z.copy(out, h, 0, len);
      return this.socket.write(out);
    }
    const hdr = Buffer.allocUnsafe(h);
    writeHeader(hdr, 0, FIN | RSV1 | OP_BINARY, len);
    this.socket.cork();
    this.socket.write(hdr);
    const r = this.socket.write(z.subarray(0, len));
    this.socket.uncork();
    return r;
  }

  private onFrameData(chunk: Buffer): void {
    if (this.closeSent || this.closeReceived) return;
    const f = this.ondata;
    if (f !== null) f(chunk);
  }

  private onControl(op: number, payload: Buffer): void {
    if (op === OP_PING) {
      if (!this.closeSent && this.socket.writable) this.socket.write(encodeFrame(FIN | OP_PONG, payload));
      return;
    }
    if (op !== OP_CLOSE) return; // pong: nothing to do
    this.closeReceived = true;
    this.parser.dead = true; // nothing may follow a close frame (§5.5.1)
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.length === 1) return this.onProtocolError(CLOSE_PROTOCOL_ERROR, 'invalid close frame');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!validCloseCode(code)) return this.onProtocolError(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      try {
        reason = utf8.decode(payload.subarray(2));
      } catch {
        return this.onProtocolError(CLOSE_INVALID_DATA, 'invalid utf8 body in close frame');
      }
    }
    if (this.closeSent) return; // the answer to our close: the socket is already ending
    this.sendClose(code, reason); // echo (§5.5.1)
  }

  private onProtocolError(code: number, reason: string): void {
    this.parser.dead = true;
    if (this.closeSent || this.socket.destroyed) return;
    this.sendClose(code, reason);
  }

  /** Writes our close frame, records who closed and why, half-closes, and arms the destroy timer. */
  private sendClose(code: number, reason: string): void {
    this.closeSent = true;
    if (this.code === CLOSE_ABNORMAL) {
      this.code = code;
      this.reason = reason;
    }
    if (this.socket.writable) this.socket.end(encodeFrame(FIN | OP_CLOSE, closePayload(code, reason)));
    this.resume(); // keep reading (the peer's close frame, its FIN) even when the user paused us
    if (this.closeTimer === null && !this.closed) {
      this.closeTimer = setTimeout(this.closeTimeout, CLOSE_WAIT_MS);
      this.closeTimer.unref();
    }
  }
}

// ---- opening handshake (§4.2) ----

/** The upgrade request as read off the socket. Header names are lower-cased; repeats are joined by ", ". */
export interface UpgradeRequest {
  method: string;
  /** The request target's path, without the query (absolute-form targets reduced to their path). */
  path: string;
  headers: Record<string, string>;
}

/** Why acceptWebSocket rejected: `status` is the HTTP status answered, or 0 when none was (timeout, hang-up). */
export class WsHandshakeError extends Error {
  readonly status: number;
  constructor(status: number, reason: string) {
    super(`websocket handshake error: ${reason}`);
    this.name = 'WsHandshakeError';
    this.status = status;
  }
}

const MAX_REQUEST_HEAD = 64 * 1024; // beyond this without the blank line: 431

/**
 * Performs the server side of the opening handshake on a fresh socket (reads the HTTP request itself);
 * resolves with a connection, or rejects after answering the HTTP error nats-server would
 * (400/403/404/405/426/431/505) and closing.
 */
export async function acceptWebSocket(socket: net.Socket, opts: WsOptions, path?: (p: string) => boolean, subprotocol?: (p: string) => string | null): Promise<WsConnection> {
  socket.on('error', discard); // a socket error is always followed by 'close', which is what we act on
  const { head, leftover } = await readRequestHead(socket, opts.handshakeTimeoutMs);
  const req = parseRequestHead(head);
  if (typeof req === 'number') return fail(socket, req, req === 505 ? 'unsupported HTTP version' : 'malformed request');
  const h = req.headers;
  // The checks and their order are nats-server's wsUpgrade (RFC 6455 §4.2.1 items 1-9).
  if (path !== undefined && !path(req.path)) return fail(socket, 404, `no websocket endpoint at ${req.path}`);
  if (req.method !== 'GET') return fail(socket, 405, 'request method must be GET');
  if (h.host === undefined || h.host === '') return fail(socket, 400, "'Host' missing in request");
  if (!hasToken(h.upgrade, 'websocket')) return fail(socket, 400, "invalid value for header 'Upgrade'");
  if (!hasToken(h.connection, 'upgrade')) return fail(socket, 400, "invalid value for header 'Connection'");
  const key = (h['sec-websocket-key'] ?? '').trim();
  if (key === '') return fail(socket, 400, 'key missing');
  // nats-server answers 400 here; RFC 6455 §4.4 asks for 426 (the version header goes with every error).
  if (!hasToken(h['sec-websocket-version'], '13')) return fail(socket, 426, 'invalid version');
  const tls = (socket as { encrypted?: boolean }).encrypted === true;
  const originError = checkOrigin(h, opts, tls);
  if (originError !== null) return fail(socket, 403, `origin not allowed: ${originError}`);
  const deflate = opts.compression ? negotiateDeflate(h['sec-websocket-extensions']) : null;
  const noMasking = h['nats-no-masking'] === 'true';
  let res = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (deflate !== null) res += `Sec-WebSocket-Extensions: ${deflate.response}\r\n`;
  if (noMasking) res += 'Nats-No-Masking: true\r\n';
  // A subprotocol the server speaks on this path (MQTT: always "mqtt", websocket.go wsMQTTSecProto).
  const sp = subprotocol?.(req.path) ?? null;
  if (sp !== null) res += `Sec-WebSocket-Protocol: ${sp}\r\n`;
  socket.write(`${res}\r\n`, 'latin1');
  return new WsConnection(socket, opts, req, deflate !== null, deflate?.serverWindowBits ?? 15, !noMasking, leftover);
}

/** Reads up to the blank line ending the request head; leaves the socket paused. */
function readRequestHead(socket: net.Socket, timeoutMs: number): Promise<{ head: string; leftover: Buffer }> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return reject(new WsHandshakeError(0, 'connection closed during handshake'));
    let buf: Buffer | null = null;
    let timer: NodeJS.Timeout | null = null;
    const cleanup = (): void => {
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      if (timer !== null) clearTimeout(timer);
    };
    const onData = (d: Buffer): void => {
      const from = buf === null ? 0 : Math.max(0, buf.length - 3);
      buf = buf === null ? d : Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n', from, 'latin1');
      if (end > MAX_REQUEST_HEAD || (end < 0 && buf.length > MAX_REQUEST_HEAD)) {
        cleanup();
        answerError(socket, 431);
        reject(new WsHandshakeError(431, 'request header too large'));
      } else if (end >= 0) {
        cleanup();
        resolve({ head: buf.toString('latin1', 0, end), leftover: buf.subarray(end + 4) });
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new WsHandshakeError(0, 'connection closed during handshake'));
    };
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        cleanup();
        socket.destroy(); // like Go's ReadTimeout: no answer
        reject(new WsHandshakeError(0, 'handshake timeout'));
      }, timeoutMs);
    }
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

/** Parses "METHOD target HTTP/1.x" and the header lines; an HTTP status on malformed input. */
function parseRequestHead(head: string): UpgradeRequest | number {
  const lines = head.split('\r\n');
  const rl = lines[0]!.split(' ');
  if (rl.length !== 3 || rl[0] === '' || rl[1] === '') return 400;
  const [method, target, version] = rl as [string, string, string];
  if (!/^HTTP\/1\.[01]$/.test(version)) return /^HTTP\/\d+\.\d+$/.test(version) ? 505 : 400;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(0) <= 32) return 400; // no name, or obsolete line folding
    const name = line.slice(0, colon).toLowerCase();
    if (/[\s]/.test(name)) return 400;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (name === 'host') return 400; // Go: "too many Host headers"
    else headers[name] = `${prev}, ${value}`;
  }
  let path = target;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path);
  if (scheme !== null) path = path.slice(scheme[0].length) || '/';
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  return { method, path, headers };
}

/** nats-server's wsHeaderContains: a comma-separated token list holds `token` (case-insensitive). */
function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const t of value.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}

interface Origin {
  scheme: string;
  host: string;
  port: string;
}

const allowedCache = new WeakMap<string[], Origin[]>();

/** nats-server's checkOrigin (same_origin, allowed_origins): null when accepted, else why not. */
function checkOrigin(h: Record<string, string>, opts: WsOptions, tls: boolean): string | null {
  const list = opts.allowedOrigins;
  if (!opts.sameOrigin && list.length === 0) return null;
  const origin = h.origin || h['sec-websocket-origin'] || '';
  if (origin === '') return null; // no Origin: not a browser (§1.6, §10.2), accepted
  const o = parseOrigin(origin);
  if (o === null) return `invalid origin ${JSON.stringify(origin)}`;
  if (opts.sameOrigin) {
    const hp = splitHostPort(h.host ?? '', tls);
    if (hp === null) return 'invalid Host';
    if (hp.host !== o.host || hp.port !== o.port) return 'not same origin';
  }
  if (list.length > 0) {
    let allowed = allowedCache.get(list);
    if (allowed === undefined) {
      allowed = [];
      for (const a of list) {
        const p = parseOrigin(a);
        if (p !== null) allowed.push(p);
      }
      allowedCache.set(list, allowed);
    }
    if (!allowed.some((a) => a.scheme === o.scheme && a.host === o.host && a.port === o.port)) return 'not in the allowed list';
  }
  return null;
}

/** "scheme://[user@]host[:port][/...]" → parts, the port defaulting to 443 for https and 80 otherwise. */
function parseOrigin(s: string): Origin | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(?:[^/?#@]*@)?([^/?#]*)/.exec(s.trim());
  if (m === null) return null;
  const scheme = m[1]!.toLowerCase();
  const hp = splitHostPort(m[2]!, scheme === 'https');
  return hp === null ? null : { scheme, host: hp.host, port: hp.port };
}

/** Go's net.SplitHostPort with wsGetHostAndPort's default port and lower-cased host. */
function splitHostPort(s: string, tls: boolean): { host: string; port: string } | null {
  let host: string;
  let port: string | null = null;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest.startsWith(':')) port = rest.slice(1);
    else if (rest !== '') return null;
  } else {
    const first = s.indexOf(':');
    if (first >= 0 && s.indexOf(':', first + 1) >= 0) return null; // too many colons
    host = first < 0 ? s : s.slice(0, first);
    if (first >= 0) port = s.slice(first + 1);
  }
  return { host: host.toLowerCase(), port: port ?? (tls ? '443' : '80') };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

function fail(socket: net.Socket, status: number, reason: string): never {
  answerError(socket, status);
  throw new WsHandshakeError(status, reason);
}

/** Go's http.Error answer plus nats-server's Sec-Websocket-Version header, then a graceful close. */
function answerError(socket: net.Socket, status: number): void {
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = `${text}\n`;
  socket.on('data', discard); // drain what the client still sends, so closing does not reset the answer
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n` +
      `X-Content-Type-Options: nosniff\r\nDate: ${new Date().toUTCString()}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
  // Like Go's closeWriteAndWait: FIN first, give the client a moment to read and close, then destroy.
  setTimeout(() => socket.destroy(), 500).unref();
}

function discard(): void {}
