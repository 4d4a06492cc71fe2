// Throughput and ordering: one publisher's 1,000,000 16-byte messages reach one subscriber complete and in
// order. The publisher writes pre-encoded batches of `PUB foo 16\r\n<16 bytes>\r\n` respecting socket
// backpressure; the subscriber parses raw bytes incrementally and checks every frame byte for byte
// (`MSG foo 1 16\r\n<16-digit zero-padded sequence>\r\n`). Server keepalive PINGs are answered.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { connectSocket, waitFor, writeAsync } from './wire-util.js';

const TOTAL = 1_000_000;
const BATCH = 10_000;
const PAYLOAD = 16;
const PUB_HDR = Buffer.from(`PUB foo ${PAYLOAD}\r\n`);
const MSG_HDR = Buffer.from(`MSG foo 1 ${PAYLOAD}\r\n`);
const PUB_FRAME = PUB_HDR.length + PAYLOAD + 2;
const MSG_FRAME = MSG_HDR.length + PAYLOAD + 2;
const PING = Buffer.from('PING\r\n');
const PONG = Buffer.from('PONG\r\n');

/** Writes `seq` as 16 zero-padded ASCII digits at buf[off..off+16). */
function putSeq(buf: Buffer, off: number, seq: number): void {
  let v = seq;
  for (let i = PAYLOAD - 1; i >= 0; i--) {
    buf[off + i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/** Strict, incremental subscriber-side parser: only MSG frames for sid 1, PING and PONG are allowed. */
class SeqReceiver {
  received = 0;
  pongs = 0;
  error: string | undefined;
  private rest: Buffer | undefined;
  constructor(private readonly onPing: () => void) {}

  feed(chunk: Buffer): void {
    if (this.error !== undefined) return;
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      const c0 = buf[pos];
      if (c0 === 0x4d /* M */) {
        if (pos + MSG_FRAME > len) break;
        if (buf.compare(MSG_HDR, 0, MSG_HDR.length, pos, pos + MSG_HDR.length) !== 0) {
          this.fail(buf, pos, 'bad MSG line');
          return;
        }
        const p = pos + MSG_HDR.length;
        let v = 0;
        for (let i = 0; i < PAYLOAD; i++) {
          const d = buf[p + i]! - 0x30;
          if (d < 0 || d > 9) {
            this.fail(buf, pos, 'bad payload');
            return;
          }
          v = v * 10 + d;
        }
        if (buf[p + PAYLOAD] !== 13 || buf[p + PAYLOAD + 1] !== 10) {
          this.fail(buf, pos, 'payload not followed by CRLF');
          return;
        }
        if (v !== this.received) {
          this.error = `out of order: expected sequence ${this.received}, got ${v}`;
          return;
        }
        this.received++;
        pos += MSG_FRAME;
      } else if (c0 === 0x50 /* P */) {
        if (pos + 6 > len) break;
        if (buf.compare(PING, 0, 6, pos, pos + 6) === 0) this.onPing();
        else if (buf.compare(PONG, 0, 6, pos, pos + 6) === 0) this.pongs++;
        else {
          this.fail(buf, pos, 'unexpected line');
          return;
        }
        pos += 6;
      } else {
        this.fail(buf, pos, 'unexpected bytes');
        return;
      }
    }
    if (pos < len) this.rest = Buffer.from(buf.subarray(pos));
  }

  private fail(buf: Buffer, pos: number, why: string): void {
    this.error = `${why} after ${this.received} messages: ${JSON.stringify(buf.subarray(pos, pos + 40).toString('latin1'))}`;
  }
}

describe('throughput', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
  });

  test(`${TOTAL.toLocaleString('en')} x ${PAYLOAD}-byte messages, one publisher -> one subscriber, complete and in order`, { timeout: 90_000 }, async () => {
    const t0 = Date.now();
    const sub = await connectSocket(srv.port);
    const pub = await connectSocket(srv.port);
    let closedEarly = '';
    for (const [s, name] of [
      [sub, 'subscriber'],
      [pub, 'publisher'],
    ] as const) {
      s.on('error', () => {});
      s.on('close', () => {
        closedEarly ||= `${name} connection closed by the server`;
      });
    }

    // Subscriber: skip INFO, then hand everything to the strict parser.
    const rx = new SeqReceiver(() => sub.write('PONG\r\n'));
    let subInfo = false;
    let subPre = Buffer.alloc(0);
    sub.on('data', (d: Buffer) => {
      if (!subInfo) {
        subPre = Buffer.concat([subPre, d]);
        const eol = subPre.indexOf('\r\n');
        if (eol < 0) return;
        if (!subPre.subarray(0, 5).equals(Buffer.from('INFO '))) rx.error = 'first line is not INFO';
        subInfo = true;
        d = subPre.subarray(eol + 2);
        if (d.length === 0) return;
      }
      rx.feed(d);
    });
    // Publisher: count PONGs, answer PINGs, anything else is an error.
    let pubPongs = 0;
    let pubErr = '';
    let pubInfo = false;
    let pubText = '';
    pub.on('data', (d: Buffer) => {
      pubText += d.toString('latin1');
      let eol: number;
      while ((eol = pubText.indexOf('\r\n')) >= 0) {
        const line = pubText.slice(0, eol);
        pubText = pubText.slice(eol + 2);
        if (!pubInfo && line.startsWith('INFO ')) pubInfo = true;
        else if (line === 'PONG') pubPongs++;
        else if (line === 'PING') pub.write('PONG\r\n');
        else pubErr ||= `publisher got ${JSON.stringify(line)}`;
      }
    });

    sub.write('CONNECT {"verbose":false,"pedantic":false}\r\nSUB foo 1\r\nPING\r\n');
    await waitFor(() => rx.pongs === 1 || rx.error !== undefined || closedEarly !== '', 5000, 'subscriber PONG');
    assert.equal(rx.error, undefined);
    pub.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
    await waitFor(() => pubPongs === 1 || closedEarly !== '', 5000, 'publisher PONG');
    assert.equal(closedEarly, '');

    const tPub = Date.now();
    const batch = Buffer.alloc(BATCH * PUB_FRAME);
    for (let i = 0; i < BATCH; i++) {
      const off = i * PUB_FRAME;
      PUB_HDR.copy(batch, off);
      batch[off + PUB_HDR.length + PAYLOAD] = 13;
      batch[off + PUB_HDR.length + PAYLOAD + 1] = 10;
    }
    for (let seq = 0; seq < TOTAL; seq += BATCH) {
      const n = Math.min(BATCH, TOTAL - seq);
      // A fresh buffer per write: the socket may still hold the previous one.
      const b = Buffer.from(batch.subarray(0, n * PUB_FRAME));
      for (let i = 0; i < n; i++) putSeq(b, i * PUB_FRAME + PUB_HDR.length, seq + i);
      await writeAsync(pub, b);
      if (rx.error !== undefined || closedEarly !== '' || pubErr !== '') break;
    }
    pub.write('PING\r\n');
    await waitFor(() => pubPongs === 2 || closedEarly !== '' || pubErr !== '', 60_000, 'publisher final PONG');
    const pubMs = Date.now() - tPub;
    await waitFor(
      () => rx.received === TOTAL || rx.error !== undefined || closedEarly !== '',
      60_000,
      `all messages (${rx.received}/${TOTAL})`,
    );
    const totalMs = Date.now() - t0;
    console.log(`# throughput: ${TOTAL} msgs published in ${pubMs} ms, all received after ${totalMs} ms (${Math.round(TOTAL / (totalMs / 1000))} msg/s)`);
    assert.equal(rx.error, undefined);
    assert.equal(pubErr, '');
    assert.equal(closedEarly, '');
    assert.equal(rx.received, TOTAL);
    // Flush the subscriber: nothing beyond the TOTAL messages may be pending.
    sub.write('PING\r\n');
    await waitFor(() => rx.pongs === 2 || rx.error !== undefined, 5000, 'subscriber final PONG');
    assert.equal(rx.error, undefined);
    assert.equal(rx.received, TOTAL);
    assert.ok(totalMs < 60_000, `took ${totalMs} ms`);
    sub.destroy();
    pub.destroy();
  });
});
