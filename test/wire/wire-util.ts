// Shared helpers for the raw-socket wire tests (not a test file itself: run-tests.mjs only picks *.test.js).
// Everything here was checked against the real nats-server 2.9.10.
import net from 'node:net';
import assert from 'node:assert/strict';
import { connectRaw, type WireClient } from '../helpers/wire.js';

/**
 * The INFO line. nats-server 2.9.10 writes `INFO {json} \r\n` (a space before CRLF); a space-less
 * `INFO {json}\r\n` is accepted too, since clients do not care.
 */
export const INFO_RE = /^INFO (\{.*\}) ?\r\n/;

export interface Info {
  [key: string]: unknown;
}

/** Reads the INFO line that must be the very first thing the server sends; returns the parsed JSON. */
export async function readInfo(c: WireClient, timeoutMs = 3000): Promise<Info> {
  const m = await c.expect(INFO_RE, timeoutMs);
  const parsed: unknown = JSON.parse(m[1]!);
  assert.equal(typeof parsed, 'object');
  assert.notEqual(parsed, null);
  return parsed as Info;
}

/**
 * Connects, reads INFO, sends `CONNECT {verbose:false, pedantic:false, ...connect}` and PING, and expects
 * exactly `PONG\r\n` (or `+OK\r\nPONG\r\n` when verbose). Unlike helpers/wire.ts's connectHandshake this
 * accepts nats-server's `INFO {...} \r\n` (trailing space).
 */
export async function handshake(port: number, connect: Record<string, unknown> = {}): Promise<WireClient> {
  const c = await connectRaw(port);
  await readInfo(c);
  const opts = { verbose: false, pedantic: false, ...connect };
  c.send(`CONNECT ${JSON.stringify(opts)}\r\nPING\r\n`);
  await c.expectExact(opts.verbose === true ? '+OK\r\nPONG\r\n' : 'PONG\r\n');
  return c;
}

/** Asserts the connection is still open and fully caught up: PING must be answered by exactly `expectBefore` + PONG. */
export async function assertOpen(c: WireClient, expectBefore = '', timeoutMs = 3000): Promise<void> {
  c.send('PING\r\n');
  await c.expectExact(expectBefore + 'PONG\r\n', timeoutMs);
  assert.equal(c.isClosed(), false, 'connection should still be open');
}

/** Waits for the server to close the connection, then asserts that exactly `bytes` arrived before the close. */
export async function assertClosedAfter(c: WireClient, bytes: string, timeoutMs = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const r = await Promise.race([c.closed.then(() => 'closed' as const), timedOut]);
  clearTimeout(timer);
  assert.equal(r, 'closed', `server did not close the connection within ${timeoutMs}ms; got ${JSON.stringify(c.buffered())}`);
  assert.equal(c.buffered(), bytes);
}

/** Polls `cond` until it returns true (or throws after timeoutMs). */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce from the printed seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ParsedMsg {
  subject: string;
  sid: string;
  reply: string | undefined;
  /** Header block (HMSG only), raw bytes. */
  headers: Buffer | undefined;
  payload: Buffer;
}

export interface ParserEvents {
  onMsg(m: ParsedMsg): void;
  onPing?(): void;
  onPong?(): void;
  onOk?(): void;
  onErr?(text: string): void;
  onInfo?(json: string): void;
}

const CR = 13;
const LF = 10;

/**
 * Incremental parser for the server→client protocol, working on raw bytes (payloads may contain anything).
 * Any protocol violation by the server throws (so tests fail loudly rather than resynchronising).
 */
export class ServerStreamParser {
  private pending: Buffer | undefined;

  constructor(private readonly ev: ParserEvents) {}

  feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      const eol = buf.indexOf(LF, pos);
      if (eol < 0) break;
      if (eol === pos || buf[eol - 1] !== CR) {
        throw new Error(`server line not terminated by CRLF at ${pos}: ${JSON.stringify(buf.subarray(pos, eol + 1).toString('latin1'))}`);
      }
      const c0 = buf[pos]!;
      if (c0 === 0x4d /* M */ || c0 === 0x48 /* H */) {
        const line = buf.toString('latin1', pos, eol - 1);
        const isH = c0 === 0x48;
        const parts = line.split(' ');
        let subject: string, sid: string, reply: string | undefined, hdrLen: number, total: number;
        if (!isH) {
          if (parts[0] !== 'MSG' || (parts.length !== 4 && parts.length !== 5)) throw new Error(`bad MSG line ${JSON.stringify(line)}`);
          subject = parts[1]!;
          sid = parts[2]!;
          reply = parts.length === 5 ? parts[3] : undefined;
          hdrLen = 0;
          total = Number(parts[parts.length - 1]);
        } else {
          if (parts[0] !== 'HMSG' || (parts.length !== 5 && parts.length !== 6)) throw new Error(`bad HMSG line ${JSON.stringify(line)}`);
          subject = parts[1]!;
          sid = parts[2]!;
          reply = parts.length === 6 ? parts[3] : undefined;
          hdrLen = Number(parts[parts.length - 2]);
          total = Number(parts[parts.length - 1]);
        }
        if (!Number.isInteger(total) || total < 0 || !Number.isInteger(hdrLen) || hdrLen < 0 || hdrLen > total) {
          throw new Error(`bad sizes in ${JSON.stringify(line)}`);
        }
        const start = eol + 1;
        const end = start + total;
        if (end + 2 > len) break; // wait for the rest
        if (buf[end] !== CR || buf[end + 1] !== LF) {
          throw new Error(`payload of ${JSON.stringify(line)} not followed by CRLF`);
        }
        this.ev.onMsg({
          subject,
          sid,
          reply,
          headers: isH ? buf.subarray(start, start + hdrLen) : undefined,
          payload: buf.subarray(start + hdrLen, end),
        });
        pos = end + 2;
        continue;
      }
      const line = buf.toString('latin1', pos, eol - 1);
      if (line === 'PING') this.ev.onPing?.();
      else if (line === 'PONG') this.ev.onPong?.();
      else if (line === '+OK') this.ev.onOk?.();
      else if (line.startsWith('-ERR ')) {
        if (this.ev.onErr) this.ev.onErr(line.slice(5));
        else throw new Error(`unexpected ${line}`);
      } else if (line.startsWith('INFO ')) this.ev.onInfo?.(line.slice(5));
      else throw new Error(`unexpected line from server: ${JSON.stringify(line)}`);
      pos = eol + 1;
    }
    if (pos < len) this.pending = buf.subarray(pos);
  }
}

/** A plain socket, connected, with the INFO line consumed by the caller's parser. */
export function connectSocket(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    s.setNoDelay(true);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Writes with backpressure: resolves once the data is handed to the kernel or buffered below the high-water mark. */
export function writeAsync(s: net.Socket, data: Buffer | string): Promise<void> {
  if (s.destroyed) return Promise.reject(new Error('socket closed'));
  if (s.write(data)) return Promise.resolve();
  if (s.destroyed) return Promise.reject(new Error('socket closed'));
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      s.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      s.off('drain', onDrain);
      reject(new Error('socket closed while waiting for drain'));
    };
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}
