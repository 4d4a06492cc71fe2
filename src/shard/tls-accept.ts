// TLS on the client port as nats-server's createClient does it (server.go):
//
// - by default INFO goes out in plaintext (tls_required), then the client's first bytes decide: a
//   TLS record (0x16, a ClientHello) starts the handshake; anything else, or nothing within the TLS
//   timeout, gets `-ERR 'Secure Connection - TLS Required'` and a close (the text nats-server's
//   tlsTimeout sends; its own plaintext clients just see the close);
// - `allow_non_tls: true`: INFO says tls_available; a TLS record starts the handshake, other bytes
//   (or silence until the TLS timeout) keep the connection in plaintext;
// - `tls { handshake_first: true }` (nats-server 2.10.4+): the handshake comes before INFO, which is
//   then sent over TLS; with a fallback delay ("auto" = 50 ms, or a duration), a client that sends
//   nothing by then gets INFO first and the usual flow.
//
// The first bytes are read from the plain socket and handed back to it (unshift) before the TLS
// layer is put on top: Node's TLSSocket feeds what its socket already buffered into the handshake.
// Authorization's timer starts once the transport is settled (after the handshake), as nats-server's.

import type net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsOptions } from '../server/options.js';
import { errLine } from '../protocol/wire.js';
import { certIdentity } from '../auth/cert-identity.js';
import { CloseReason, type ClientConnection } from './client.js';

/** What the accept path needs from its shard. */
export interface TlsHost {
  readonly log: { debug(o: object, msg: string): void };
  /** Hooks a settled socket's events (data, error, close, end) to the connection. */
  attachSocket(conn: ClientConnection, s: net.Socket): void;
  afterRead(): void;
}

const TLS_HANDSHAKE_RECORD = 0x16;
export const TLS_REQUIRED_ERR = 'Secure Connection - TLS Required';

const contexts = new WeakMap<TlsOptions, tls.SecureContext>();

/**
 * The server's context: it sends its certificate file (the leaf and any intermediates in it, as Go's
 * tls.LoadX509KeyPair). ca_file is loaded only to verify client certificates: OpenSSL, as Node sets it
 * up, completes a leaf-only chain from the trust store, so a CA loaded without `verify` would be sent.
 */
function secureContext(t: TlsOptions): tls.SecureContext {
  let c = contexts.get(t);
  if (c === undefined) {
    c = tls.createSecureContext({ cert: readFileSync(t.certFile), key: readFileSync(t.keyFile), ...(t.caFile !== null && t.verify ? { ca: readFileSync(t.caFile) } : {}) });
    contexts.set(t, c);
  }
  return c;
}

/**
 * Serves a freshly accepted client socket on a TLS port. `info(tlsFirst)` is the INFO line (after a
 * handshake_first handshake it says tls_required); `allowNonTls` is the server's allow_non_tls.
 */
export function acceptTls(host: TlsHost, conn: ClientConnection, raw: net.Socket, t: TlsOptions, allowNonTls: boolean, info: (tlsFirst: boolean) => Buffer): void {
  let settled = false;
  const early = (err?: Error): void => {
    if (settled) return;
    settled = true;
    if (err !== undefined) host.log.debug({ cid: conn.cid, err: err.message }, 'socket error before TLS');
    conn.close(CloseReason.CLIENT, true);
  };
  const onClose = (): void => early();
  raw.on('error', early);
  raw.once('close', onClose);

  /** Waits up to `ms` for the client's first bytes; `then(chunk | null)`. */
  const firstBytes = (ms: number, then: (chunk: Buffer | null) => void): void => {
    const timer = setTimeout(() => {
      raw.off('data', onData);
      raw.pause();
      if (!settled) then(null);
    }, ms);
    timer.unref();
    const onData = (chunk: Buffer): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.pause();
      if (!settled) then(chunk);
    };
    raw.on('data', onData);
    raw.resume();
  };

  const settle = (): void => {
    settled = true;
    raw.off('error', early);
    raw.off('close', onClose);
  };

  const plaintext = (pre: Buffer | null): void => {
    settle();
    host.attachSocket(conn, raw);
    conn.armAuthTimer();
    if (pre !== null) {
      conn.onRead(pre);
      host.afterRead();
    }
    raw.resume();
  };

  const refuse = (): void => {
    settle();
    host.attachSocket(conn, raw);
    conn.sendErr(TLS_REQUIRED_ERR);
    conn.close(CloseReason.TLS_HANDSHAKE);
  };

  const handshake = (pre: Buffer | null, infoAfter: boolean): void => {
    settle();
    // Reads and their errors now surface on the TLS socket; one on the plain socket ends it too.
    raw.on('error', () => conn.close(CloseReason.READ_ERROR, true));
    if (pre !== null) raw.unshift(pre);
    const ts = new tls.TLSSocket(raw, { isServer: true, secureContext: secureContext(t), requestCert: t.verify, rejectUnauthorized: t.verify });
    conn.socket = ts;
    let secure = false;
    const timer = setTimeout(() => {
      if (secure || conn.closed) return;
      host.log.debug({ cid: conn.cid }, 'TLS handshake timeout');
      conn.close(CloseReason.TLS_HANDSHAKE, true);
    }, t.timeoutMs);
    timer.unref();
    ts.once('secure', () => {
      secure = true;
      clearTimeout(timer);
      if (conn.closed) return;
      if (t.map === true) {
        const cert = ts.getPeerX509Certificate();
        if (cert !== undefined) {
          try {
            conn.tlsIdentity = certIdentity(cert.raw);
          } catch (err) {
            host.log.debug({ cid: conn.cid, err: (err as Error).message }, 'client certificate not readable for verify_and_map');
          }
        }
      }
      if (infoAfter) conn.queue(info(true));
      conn.armAuthTimer();
    });
    ts.on('error', (err: Error) => {
      if (secure) return;
      host.log.debug({ cid: conn.cid, err: err.message }, 'TLS handshake error');
      conn.close(CloseReason.TLS_HANDSHAKE, true);
    });
    host.attachSocket(conn, ts);
  };

  /** INFO in plaintext, then the client's first byte says TLS or not. */
  const infoFirst = (): void => {
    raw.write(info(false));
    firstBytes(t.timeoutMs, (chunk) => {
      if (chunk !== null && chunk[0] === TLS_HANDSHAKE_RECORD) handshake(chunk, false);
      else if (allowNonTls) plaintext(chunk);
      else refuse();
    });
  };

  if (!t.handshakeFirst) return infoFirst();
  const fallback = t.handshakeFirstFallbackMs ?? 0;
  if (fallback <= 0) return handshake(null, true);
  // handshake_first with a fallback: a TLS-first client speaks first; a silent one gets INFO.
  firstBytes(fallback, (chunk) => (chunk !== null ? handshake(chunk, true) : infoFirst()));
}

/** Bytes of the -ERR a plaintext client gets on a TLS-only port (for tests and logs). */
export const TLS_REQUIRED_LINE = errLine(TLS_REQUIRED_ERR);
