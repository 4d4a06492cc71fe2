// Load generator worker. The orchestrator (run.ts) forks one of these per publisher / subscriber /
// requester / replier, passing a WorkerConfig as JSON in argv[2], and drives it over the IPC channel:
//   worker -> {t:'ready'}       connected, subscriptions confirmed by PING/PONG (or: sink listening)
//   parent -> {t:'go'}          start publishing / requesting / blasting
//   worker -> {t:'done', ...}   publishers: after the final PING got its PONG
//   parent -> {t:'poll'}        subscribers answer {t:'stat', count, ...}
//   parent -> {t:'exit'}
// It speaks the raw NATS protocol over node:net. Publishers write one pre-encoded ~64 KB batch of PUB
// frames over and over, honouring backpressure (write() === false -> wait for 'drain'); subscribers count
// MSG frames with ProtoReader without allocating per message.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ProtoReader, buildMsgBatch, buildPubBatch, makePayload, nowNs } from './proto.js';
import { JsApi, check, freshStream, streamMessages } from './jsapi.js';
import type {
  BlasterConfig,
  FromWorker,
  JsFetchConfig,
  JsPubConfig,
  LatencySummary,
  NjsPubConfig,
  NjsSubConfig,
  PubConfig,
  ReplierConfig,
  RequesterConfig,
  SubConfig,
  ToWorker,
  WorkerConfig,
} from './types.js';

function send(m: FromWorker): void {
  if (process.send !== undefined && process.connected) process.send(m);
}

function fatal(err: unknown): void {
  const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
  send({ t: 'fatal', error: msg });
  process.stderr.write(`loadgen: ${msg}\n`);
  setTimeout(() => process.exit(2), 50);
}

let onGo: (() => void) | null = null;
let onPoll: (() => void) | null = null;
const closers: Array<() => void> = [];

process.on('message', (raw: unknown) => {
  const m = raw as ToWorker;
  if (m.t === 'go') {
    const f = onGo;
    onGo = null;
    f?.();
  } else if (m.t === 'poll') onPoll?.();
  else if (m.t === 'exit') shutdown(0);
});
process.on('disconnect', () => shutdown(0));

function shutdown(code: number): void {
  for (const c of closers) {
    try {
      c();
    } catch {
      /* ignore */
    }
  }
  process.exit(code);
}

function cpuUsNow(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Connected raw NATS client: a socket plus the reader that parses what the server sends. */
interface RawConn {
  sock: net.Socket;
  reader: ProtoReader;
  closed: boolean;
  error: string | undefined;
  /** The server's INFO line (without "INFO " and CRLF). */
  info: string;
  /** Resolves on the next PONG. */
  pong(): Promise<void>;
}

async function rawConnect(host: string, port: number, name: string, afterConnect: string, headers = false): Promise<RawConn> {
  const sock = net.connect({ host, port });
  sock.setNoDelay(true);
  const reader = new ProtoReader();
  const pongWaiters: Array<() => void> = [];
  const conn: RawConn = {
    sock,
    reader,
    closed: false,
    error: undefined,
    info: '',
    pong: () => new Promise<void>((resolve) => pongWaiters.push(resolve)),
  };
  closers.push(() => sock.destroy());
  reader.onPong = () => pongWaiters.shift()?.();
  reader.onPing = () => {
    sock.write('PONG\r\n');
  };
  reader.onErr = (line) => {
    conn.error ??= `server sent ${line}`;
  };
  const gotInfo = new Promise<void>((resolve, reject) => {
    reader.onInfo = (line) => {
      conn.info = line.slice(5).trim();
      resolve();
    };
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`connection to ${host}:${port} closed before INFO`)));
  });
  sock.on('error', (e) => {
    conn.error ??= `socket error: ${e.message}`;
  });
  sock.on('close', () => {
    conn.closed = true;
    // Wake anybody waiting for a PONG; they check `closed`.
    for (const w of pongWaiters.splice(0)) w();
  });
  sock.on('data', (chunk: Buffer) => reader.feed(chunk));
  await gotInfo;
  reader.onInfo = null;
  const connect = { verbose: false, pedantic: false, tls_required: false, name, lang: 'tsnats-bench', version: '0.0.1', protocol: 1, echo: true, headers, no_responders: false };
  const p = conn.pong();
  sock.write(`CONNECT ${JSON.stringify(connect)}\r\n${afterConnect}PING\r\n`);
  await p;
  if (conn.closed || conn.error !== undefined || reader.protocolError !== null) {
    throw new Error(`handshake with ${host}:${port} failed: ${conn.error ?? reader.protocolError ?? 'connection closed'}`);
  }
  return conn;
}

const MAX_PLACEMENT_ATTEMPTS = 32;

/** The `tsnats_shard` of a tsnats INFO (sent when the server runs with TSNATS_DEBUG_INFO=1). */
function infoShard(info: string): number | undefined {
  try {
    const v = (JSON.parse(info) as { tsnats_shard?: unknown }).tsnats_shard;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * rawConnect, and when `cfg.shard` is set, on that shard: tsnats hands each new connection to its
 * least-loaded shard, so a connection that lands elsewhere is held open (it loads that shard) while
 * the next one is tried; once one lands right, the held ones are closed. `afterConnect` (the SUBs)
 * is sent only on the connection that is kept.
 */
async function connectPlaced(cfg: { host: string; port: number; name: string; shard?: number }, afterConnect: string, headers = false): Promise<{ conn: RawConn; placed: { shard?: number; attempts?: number } }> {
  if (cfg.shard === undefined) return { conn: await rawConnect(cfg.host, cfg.port, cfg.name, afterConnect, headers), placed: {} };
  const held: RawConn[] = [];
  const seen: number[] = [];
  try {
    for (let attempt = 1; attempt <= MAX_PLACEMENT_ATTEMPTS; attempt++) {
      const conn = await rawConnect(cfg.host, cfg.port, attempt === 1 ? cfg.name : `${cfg.name}-spare${attempt}`, '', headers);
      const shard = infoShard(conn.info);
      if (shard === undefined) throw new Error(`placement on shard ${cfg.shard} asked for, but the server's INFO has no tsnats_shard (tsnats started without TSNATS_DEBUG_INFO=1?): ${conn.info.slice(0, 200)}`);
      seen.push(shard);
      if (shard !== cfg.shard) {
        held.push(conn);
        continue;
      }
      if (afterConnect !== '') {
        const p = conn.pong();
        conn.sock.write(`${afterConnect}PING\r\n`);
        await p;
        if (conn.closed || conn.error !== undefined || conn.reader.protocolError !== null) {
          throw new Error(`subscribing on ${cfg.host}:${cfg.port} failed: ${conn.error ?? conn.reader.protocolError ?? 'connection closed'}`);
        }
      }
      return { conn, placed: { shard, attempts: attempt } };
    }
    throw new Error(`no connection landed on shard ${cfg.shard} in ${MAX_PLACEMENT_ATTEMPTS} attempts (shards seen: ${seen.join(',')})`);
  } finally {
    for (const h of held) h.sock.destroy();
  }
}

// ---------------------------------------------------------------------------------------------- pub

async function runPub(cfg: PubConfig): Promise<void> {
  const { conn, placed } = await connectPlaced(cfg, '');
  const { buf: batch, frames } = buildPubBatch(cfg.subjects, cfg.size, cfg.batchBytes);
  const { sock } = conn;
  // Only the data handler from rawConnect is needed now; replace it with a lighter one is not worth it:
  // a publisher receives nothing but the final PONG (or an -ERR).
  onGo = () => {
    const cpu0 = cpuUsNow();
    const startNs = nowNs();
    const deadline = startNs + cfg.durationMs * 1e6;
    let sent = 0;
    const finish = async (): Promise<void> => {
      const p = conn.pong();
      sock.write('PING\r\n');
      await p;
      const endNs = nowNs();
      const error = conn.closed ? (conn.error ?? 'connection closed by server before final PONG') : (conn.error ?? conn.reader.protocolError ?? undefined);
      send({ t: 'done', sent, startNs, endNs, cpuUs: cpuUsNow() - cpu0, ...(error !== undefined ? { error } : {}) });
    };
    const pump = (): void => {
      for (;;) {
        if (conn.closed) {
          send({ t: 'done', sent, startNs, endNs: nowNs(), cpuUs: cpuUsNow() - cpu0, error: conn.error ?? 'connection closed by server while publishing' });
          return;
        }
        if (nowNs() >= deadline) {
          void finish();
          return;
        }
        sent += frames;
        if (!sock.write(batch)) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
  send({ t: 'ready', ...placed });
}

// ---------------------------------------------------------------------------------------------- sub

async function runSub(cfg: SubConfig): Promise<void> {
  let sid = 0;
  const subs = cfg.subs.map((s) => `SUB ${s.subject}${s.queue !== undefined ? ' ' + s.queue : ''} ${++sid}\r\n`).join('');
  const { conn, placed } = await connectPlaced(cfg, subs);
  const r = conn.reader;
  r.expectSize = cfg.size;
  let firstNs = 0;
  let lastNs = 0;
  const cpu0 = cpuUsNow();
  // Replace the generic data handler with one that timestamps chunks that completed messages.
  conn.sock.removeAllListeners('data');
  conn.sock.on('data', (chunk: Buffer) => {
    const before = r.count;
    r.feed(chunk);
    if (r.count !== before) {
      lastNs = nowNs();
      if (firstNs === 0) firstNs = lastNs;
    }
  });
  onPoll = () => {
    const error = conn.error ?? r.protocolError ?? (r.badSize > 0 ? `${r.badSize} messages had an unexpected payload size` : undefined);
    send({ t: 'stat', count: r.count, badSize: r.badSize, firstNs, lastNs, closed: conn.closed, cpuUs: cpuUsNow() - cpu0, ...(error !== undefined ? { error } : {}) });
  };
  send({ t: 'ready', ...placed });
}

// ------------------------------------------------------------------------------------ request/reply

function summarize(samplesUs: Float64Array, n: number): LatencySummary {
  const s = samplesUs.subarray(0, n).slice().sort();
  const q = (p: number): number => (n === 0 ? 0 : s[Math.min(n - 1, Math.floor(p * n))]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return { count: n, meanUs: n === 0 ? 0 : sum / n, p50Us: q(0.5), p90Us: q(0.9), p99Us: q(0.99), p999Us: q(0.999), maxUs: n === 0 ? 0 : s[n - 1]! };
}

/** What an in-flight loop reports when it ends. */
interface LoopResult {
  sent: number;
  startNs: number;
  endNs: number;
  cpuUs: number;
  latency: LatencySummary;
  /** Replies the check refused (JetStream: error or duplicate pub acks). */
  bad: number;
  error?: string;
}

/**
 * Keeps `inflight` requests outstanding for `durationMs` once "go" arrives: slot k publishes with
 * reply subject `<inbox><k>` and sends its next request when the reply for k is in, recording each
 * round trip (`performance.now()`). `check` (when given) sees each reply's payload whole and says
 * whether it is good. `finish` gets the figures after the last reply (or the failure).
 */
function inflightLoop(
  conn: RawConn,
  inflight: number,
  durationMs: number,
  frame: (slot: number) => Buffer,
  check: ((buf: Buffer, payStart: number, payEnd: number) => boolean) | null,
  finish: (r: LoopResult) => void,
): void {
  const { sock, reader } = conn;
  const t0 = new Float64Array(inflight); // performance.now() of the request in flight on each slot
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let sent = 0;
  let outstanding = 0;
  let running = false;
  let unexpected = 0;
  let bad = 0;
  let deadlineMs = 0;
  let startNs = 0;
  let cpu0 = 0;
  let lastReplyNs = 0;
  let finished = false;
  const end = (error?: string): void => {
    if (finished) return;
    finished = true;
    running = false;
    const err = error ?? conn.error ?? reader.protocolError ?? (unexpected > 0 ? `${unexpected} replies for slots with no request in flight` : undefined);
    finish({ sent, startNs, endNs: lastReplyNs || nowNs(), cpuUs: cpuUsNow() - cpu0, latency: summarize(samples, n), bad, ...(err !== undefined ? { error: err } : {}) });
  };
  const onReply = (buf: Buffer, start: number): void => {
    // (H)MSG <inbox><slot> <sid> ...: the slot is the digits before the first space after the subject.
    const sp = buf.indexOf(32, start + 5);
    if (sp < 0) return;
    let slot = 0;
    let mul = 1;
    for (let j = sp - 1; j > start; j--) {
      const c = buf[j]!;
      if (c < 48 || c > 57) break;
      slot += (c - 48) * mul;
      mul *= 10;
    }
    if (slot >= inflight || t0[slot] === 0) {
      unexpected++;
      return;
    }
    const now = performance.now();
    if (n === samples.length) {
      const bigger = new Float64Array(samples.length * 2);
      bigger.set(samples);
      samples = bigger;
    }
    samples[n++] = (now - t0[slot]!) * 1000;
    outstanding--;
    if (running && now < deadlineMs) {
      t0[slot] = now;
      sent++;
      outstanding++;
      sock.write(frame(slot));
    } else {
      t0[slot] = 0;
      running = false;
    }
  };
  if (check === null) reader.onMsgLine = (buf, start) => onReply(buf, start);
  else
    reader.onMsg = (buf, start, _end, payStart, payEnd) => {
      if (!check(buf, payStart, payEnd)) bad++;
      onReply(buf, start);
    };
  sock.removeAllListeners('data');
  sock.on('data', (chunk: Buffer) => {
    sock.cork();
    reader.feed(chunk);
    sock.uncork();
    if (!running && outstanding === 0 && sent > 0) {
      lastReplyNs = nowNs();
      end();
    }
  });
  sock.on('close', () => {
    if (sent > 0) end(conn.error ?? `connection closed by server with ${outstanding} requests outstanding`);
  });
  onGo = () => {
    cpu0 = cpuUsNow();
    startNs = nowNs();
    deadlineMs = performance.now() + durationMs;
    running = true;
    sock.cork();
    for (let slot = 0; slot < inflight; slot++) {
      t0[slot] = performance.now();
      sent++;
      outstanding++;
      sock.write(frame(slot));
    }
    sock.uncork();
    setTimeout(() => end(`${outstanding} of ${sent} requests got no reply within 5s after the run`), durationMs + 5000).unref();
  };
}

async function runRequester(cfg: RequesterConfig): Promise<void> {
  const inbox = `_INBOX.bench${process.pid}.`;
  const { conn, placed } = await connectPlaced(cfg, `SUB ${inbox}* 1\r\n`);
  const payload = makePayload(cfg.size);
  const frames: Buffer[] = [];
  for (let slot = 0; slot < cfg.inflight; slot++) {
    frames.push(Buffer.concat([Buffer.from(`PUB ${cfg.subject} ${inbox}${slot} ${cfg.size}\r\n`, 'latin1'), payload, Buffer.from('\r\n')]));
  }
  inflightLoop(conn, cfg.inflight, cfg.durationMs, (slot) => frames[slot]!, null, (r) => {
    send({ t: 'done', sent: r.sent, startNs: r.startNs, endNs: r.endNs, cpuUs: r.cpuUs, latency: r.latency, ...(r.error !== undefined ? { error: r.error } : {}) });
  });
  send({ t: 'ready', ...placed });
}

async function runReplier(cfg: ReplierConfig): Promise<void> {
  const { conn, placed } = await connectPlaced(cfg, `SUB ${cfg.subject}${cfg.queue !== undefined ? ' ' + cfg.queue : ''} 1\r\n`);
  const { sock, reader } = conn;
  const tail = Buffer.concat([makePayload(cfg.size), Buffer.from('\r\n')]);
  const cpu0 = cpuUsNow();
  let noReply = 0;
  let firstNs = 0;
  let lastNs = 0;
  reader.onMsgLine = (buf, start, end) => {
    // MSG <subject> <sid> <reply> <size>
    const s1 = buf.indexOf(32, start + 4);
    const s2 = s1 < 0 ? -1 : buf.indexOf(32, s1 + 1);
    const s3 = s2 < 0 ? -1 : buf.indexOf(32, s2 + 1);
    if (s3 < 0 || s3 >= end) {
      noReply++;
      return;
    }
    sock.write(`PUB ${buf.toString('latin1', s2 + 1, s3)} ${cfg.size}\r\n`, 'latin1');
    sock.write(tail);
  };
  sock.removeAllListeners('data');
  sock.on('data', (chunk: Buffer) => {
    sock.cork();
    reader.feed(chunk);
    sock.uncork();
    lastNs = nowNs();
    if (firstNs === 0) firstNs = lastNs;
  });
  onPoll = () => {
    const error = conn.error ?? reader.protocolError ?? (noReply > 0 ? `${noReply} requests without a reply subject` : undefined);
    send({ t: 'stat', count: reader.count, badSize: reader.badSize, firstNs, lastNs, closed: conn.closed, cpuUs: cpuUsNow() - cpu0, ...(error !== undefined ? { error } : {}) });
  };
  send({ t: 'ready', ...placed });
}

// -------------------------------------------------------------------------------------- JetStream

/**
 * JetStream publisher: one PUB (or HPUB with a unique Nats-Msg-Id) per slot in flight, reply inbox
 * per slot; a pub ack is good when it is `{"stream":..., "seq":N}` (not `{"error"...`, not ending in
 * `"duplicate": true}`). The stream is created afresh before "ready"; its message count after the
 * run must equal the publishes sent (each was acknowledged).
 */
async function runJsPub(cfg: JsPubConfig): Promise<void> {
  const api = await JsApi.connect(cfg.host, cfg.port, `${cfg.name}-api`);
  closers.push(() => api.close());
  await freshStream(api, cfg.stream, cfg.streamSubjects);
  const inbox = `_INBOX.jsb${process.pid}.`;
  const { conn, placed } = await connectPlaced(cfg, `SUB ${inbox}* 1\r\n`, true);
  const payload = makePayload(cfg.size);
  const crlf = Buffer.from('\r\n');
  let frame: (slot: number) => Buffer;
  if (!cfg.msgId) {
    const frames: Buffer[] = [];
    for (let slot = 0; slot < cfg.inflight; slot++) frames.push(Buffer.concat([Buffer.from(`PUB ${cfg.subject} ${inbox}${slot} ${cfg.size}\r\n`, 'latin1'), payload, crlf]));
    frame = (slot) => frames[slot]!;
  } else {
    // A fixed-width decimal id, so the header (and the HPUB line) has the same length every time;
    // a fresh buffer per publish (a buffer handed to write() must not change).
    const W = 12;
    const before = Buffer.from(`NATS/1.0\r\nNats-Msg-Id: ${process.pid.toString(36)}-`, 'latin1');
    const after = Buffer.concat([Buffer.from('\r\n\r\n'), payload, crlf]);
    const hdrLen = before.length + W + 4;
    const heads: Buffer[] = [];
    for (let slot = 0; slot < cfg.inflight; slot++) heads.push(Buffer.from(`HPUB ${cfg.subject} ${inbox}${slot} ${hdrLen} ${hdrLen + cfg.size}\r\n`, 'latin1'));
    let counter = 0;
    frame = (slot) => {
      const h = heads[slot]!;
      const b = Buffer.allocUnsafe(h.length + before.length + W + after.length);
      let o = h.copy(b, 0);
      o += before.copy(b, o);
      let c = ++counter;
      for (let k = W - 1; k >= 0; k--) {
        b[o + k] = 48 + (c % 10);
        c = Math.floor(c / 10);
      }
      after.copy(b, o + W);
      return b;
    };
  }
  const goodAck = (buf: Buffer, ps: number, pe: number): boolean => buf[ps + 2] === 0x73 /* {"s */ && buf[pe - 1] === 0x7d /* } */ && buf[pe - 2] !== 0x65 /* true} */;
  inflightLoop(conn, cfg.inflight, cfg.durationMs, frame, goodAck, (r) => {
    // Outside the timing: every acknowledged message must be in the stream.
    void streamMessages(api, cfg.stream)
      .then((stored) => ({ stored, err: undefined as string | undefined }))
      .catch((e: unknown) => ({ stored: -1, err: `stream info after the run: ${(e as Error).message}` }))
      .then(({ stored, err }) => {
        const error = r.error ?? err ?? (r.bad > 0 ? `${r.bad} pub acks were errors or duplicates` : undefined);
        send({ t: 'done', sent: r.sent, startNs: r.startNs, endNs: r.endNs, cpuUs: r.cpuUs, latency: r.latency, stored, badAcks: r.bad, ...(error !== undefined ? { error } : {}) });
      });
  });
  send({ t: 'ready', ...placed });
}

/**
 * Pull consumer: fills the stream when it holds fewer than `msgs` messages (once per server: later
 * runs reuse them with a consumer of their own), creates a durable explicit-ack consumer, and on
 * "go" fetches batches (MSG.NEXT with batch = min(batch, left), expires 2 s) and acks every message
 * (`+ACK`), the next fetch going out when a batch is complete; the end is the PONG after the last ack.
 */
async function runJsFetch(cfg: JsFetchConfig): Promise<void> {
  const api = await JsApi.connect(cfg.host, cfg.port, `${cfg.name}-api`);
  closers.push(() => api.close());
  const inbox = `_INBOX.jsf${process.pid}`;
  const fillInbox = `_INBOX.jsfill${process.pid}`;
  const { conn, placed } = await connectPlaced(cfg, `SUB ${inbox} 1\r\nSUB ${fillInbox} 2\r\n`, true);
  const { sock, reader } = conn;
  if ((await streamMessages(api, cfg.stream)) < cfg.msgs) {
    await freshStream(api, cfg.stream, cfg.streamSubjects);
    // Fill in windows of 256 publishes, each window's acks awaited.
    const pub = Buffer.concat([Buffer.from(`PUB ${cfg.subject} ${fillInbox} ${cfg.size}\r\n`, 'latin1'), makePayload(cfg.size), Buffer.from('\r\n')]);
    let acks = 0;
    let wake: (() => void) | null = null;
    reader.onMsgLine = () => {
      acks++;
      const w = wake;
      wake = null;
      w?.();
    };
    for (let sent = 0; sent < cfg.msgs; ) {
      const k = Math.min(256, cfg.msgs - sent);
      sock.cork();
      for (let i = 0; i < k; i++) sock.write(pub);
      sock.uncork();
      sent += k;
      const deadline = Date.now() + 20_000;
      while (acks < sent) {
        if (conn.closed || Date.now() > deadline) throw new Error(`filling the stream: ${acks} of ${sent} publishes acknowledged`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
      }
    }
    reader.onMsgLine = null;
    const have = await streamMessages(api, cfg.stream);
    if (have < cfg.msgs) throw new Error(`filled the stream with ${cfg.msgs} messages, it holds ${have}`);
  }
  const durable = `bench${process.pid}`;
  check(
    await api.request(`$JS.API.CONSUMER.DURABLE.CREATE.${cfg.stream}.${durable}`, { stream_name: cfg.stream, config: { durable_name: durable, ack_policy: 'explicit', deliver_policy: 'all' } }),
    'create consumer',
  );
  const nextSubj = `$JS.API.CONSUMER.MSG.NEXT.${cfg.stream}.${durable}`;
  const ackTail = Buffer.from(' 4\r\n+ACK\r\n', 'latin1');
  let got = 0;
  let inBatch = 0;
  let batchSize = 0;
  let statuses = 0;
  let startNs = 0;
  let cpu0 = 0;
  let lastProgress = 0;
  let finished = false;
  const request = (): void => {
    batchSize = Math.min(cfg.batch, cfg.msgs - got);
    inBatch = 0;
    const body = `{"batch":${batchSize},"expires":2000000000}`;
    sock.write(`PUB ${nextSubj} ${inbox} ${body.length}\r\n${body}\r\n`, 'latin1');
  };
  const end = (error?: string): void => {
    if (finished) return;
    finished = true;
    const endNs = nowNs();
    const cpuUs = cpuUsNow() - cpu0;
    // Outside the timing: the consumer must have every message acknowledged.
    void (async () => {
      let err = error ?? conn.error ?? reader.protocolError ?? undefined;
      if (err === undefined) {
        try {
          let info: Record<string, unknown> = {};
          for (let i = 0; i < 50; i++) {
            info = check(await api.request(`$JS.API.CONSUMER.INFO.${cfg.stream}.${durable}`), 'consumer info');
            if (info['num_ack_pending'] === 0) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          const floor = (info['ack_floor'] as { stream_seq?: number } | undefined)?.stream_seq ?? 0;
          if (info['num_ack_pending'] !== 0 || floor < cfg.msgs) err = `after the run the consumer has ${String(info['num_ack_pending'])} acks pending, ack floor ${floor} of ${cfg.msgs}`;
        } catch (e) {
          err = `consumer info after the run: ${(e as Error).message}`;
        }
      }
      await api.request(`$JS.API.CONSUMER.DELETE.${cfg.stream}.${durable}`).catch(() => undefined);
      send({ t: 'done', sent: got, startNs, endNs, cpuUs, ...(statuses > 0 && err === undefined ? { error: `${statuses} pull status messages (404/408/409) although messages were waiting` } : err !== undefined ? { error: err } : {}) });
    })();
  };
  reader.onMsg = (buf, start, _end, ps, pe) => {
    if (finished) return;
    lastProgress = Date.now();
    if (buf[start] === 0x48 /* HMSG: a status (no message of ours has headers) */) {
      statuses++;
      if (got < cfg.msgs) request();
      return;
    }
    // MSG <subject> <sid> <reply> <size>: ack on the reply subject.
    const s1 = buf.indexOf(32, start + 4);
    const s2 = buf.indexOf(32, s1 + 1);
    const s3 = buf.indexOf(32, s2 + 1);
    if (s3 < 0 || s3 > _end) {
      end('a pull delivery without a reply subject');
      return;
    }
    if (pe - ps !== cfg.size) {
      end(`a pull delivery of ${pe - ps} bytes, expected ${cfg.size}`);
      return;
    }
    const ack = Buffer.allocUnsafe(4 + (s3 - s2 - 1) + ackTail.length);
    ack.write('PUB ', 0, 'latin1');
    buf.copy(ack, 4, s2 + 1, s3);
    ackTail.copy(ack, 4 + (s3 - s2 - 1));
    sock.write(ack);
    got++;
    inBatch++;
    if (got === cfg.msgs) {
      const p = conn.pong();
      sock.write('PING\r\n');
      void p.then(() => end());
    } else if (inBatch === batchSize) request();
  };
  sock.removeAllListeners('data');
  sock.on('data', (chunk: Buffer) => {
    sock.cork();
    reader.feed(chunk);
    sock.uncork();
  });
  sock.on('close', () => end(conn.error ?? `connection closed by server after ${got} of ${cfg.msgs} messages`));
  onGo = () => {
    cpu0 = cpuUsNow();
    startNs = nowNs();
    lastProgress = Date.now();
    request();
    const watchdog = setInterval(() => {
      if (finished) clearInterval(watchdog);
      else if (Date.now() - lastProgress > 10_000) {
        clearInterval(watchdog);
        end(`no pull delivery for 10s after ${got} of ${cfg.msgs} messages`);
      }
    }, 500);
    watchdog.unref();
  };
  send({ t: 'ready', ...placed });
}

// ----------------------------------------------------------------------------- self-test servers

const INFO = `INFO ${JSON.stringify({ server_id: 'BENCHSINK', server_name: 'bench-sink', version: '2.9.10', proto: 1, host: '127.0.0.1', port: 0, headers: false, max_payload: 1048576 })}\r\n`;
const PING_TAIL = Buffer.from('PING\r\n');

/** Calls `onPing` whenever the bytes received so far end with "PING\r\n" (clients send PING last). */
function watchPing(sock: net.Socket, onPing: () => void, onBytes?: (n: number) => void): void {
  let tail = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    onBytes?.(chunk.length);
    const t = chunk.length >= 6 ? chunk.subarray(chunk.length - 6) : Buffer.concat([tail, chunk]).subarray(-6);
    if (t.equals(PING_TAIL)) onPing();
    tail = Buffer.from(t);
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  closers.push(() => server.close());
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

async function runSink(): Promise<void> {
  let bytes = 0;
  const cpu0 = cpuUsNow();
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    closers.push(() => sock.destroy());
    sock.on('error', () => {});
    sock.write(INFO);
    watchPing(sock, () => sock.write('PONG\r\n'), (n) => (bytes += n));
  });
  const port = await listen(server);
  onPoll = () => send({ t: 'stat', count: bytes, badSize: 0, firstNs: 0, lastNs: 0, closed: false, cpuUs: cpuUsNow() - cpu0 });
  send({ t: 'ready', port });
}

async function runBlaster(cfg: BlasterConfig): Promise<void> {
  const { buf: batch, frames } = buildMsgBatch(cfg.subject, '1', cfg.size, cfg.batchBytes);
  let client: net.Socket | null = null;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    closers.push(() => sock.destroy());
    sock.on('error', () => {});
    sock.write(INFO);
    watchPing(sock, () => sock.write('PONG\r\n'));
    client = sock;
  });
  const port = await listen(server);
  onGo = () => {
    const sock: net.Socket | null = client;
    if (sock === null) {
      fatal(new Error('blaster: no client connected'));
      return;
    }
    const cpu0 = cpuUsNow();
    const startNs = nowNs();
    const deadline = startNs + cfg.durationMs * 1e6;
    let sent = 0;
    const pump = (): void => {
      for (;;) {
        if (sock.destroyed) {
          send({ t: 'done', sent, startNs, endNs: nowNs(), cpuUs: cpuUsNow() - cpu0, error: 'subscriber went away' });
          return;
        }
        if (nowNs() >= deadline) {
          send({ t: 'done', sent, startNs, endNs: nowNs(), cpuUs: cpuUsNow() - cpu0 });
          return;
        }
        sent += frames;
        if (!sock.write(batch)) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
  send({ t: 'ready', port });
}

// ------------------------------------------------------------------------- official nats.js client

async function loadNats(): Promise<typeof import('nats')> {
  return await import('nats');
}

async function runNjsPub(cfg: NjsPubConfig): Promise<void> {
  const { connect } = await loadNats();
  const nc = await connect({ servers: `${cfg.host}:${cfg.port}`, name: cfg.name, reconnect: false, noEcho: false });
  closers.push(() => void nc.close());
  const payload = new Uint8Array(makePayload(cfg.size));
  const BATCH = 5000;
  onGo = () => {
    void (async () => {
      const cpu0 = cpuUsNow();
      const startNs = nowNs();
      const deadline = startNs + cfg.durationMs * 1e6;
      let sent = 0;
      let error: string | undefined;
      try {
        // Keep one flush (PING/PONG) in flight while the next batch is queued, so the pipe stays full
        // without letting the client buffer grow without bound.
        let pending: Promise<void> | null = null;
        while (nowNs() < deadline) {
          for (let i = 0; i < BATCH; i++) nc.publish(cfg.subject, payload);
          sent += BATCH;
          if (pending !== null) await pending;
          pending = nc.flush();
        }
        if (pending !== null) await pending;
        await nc.flush();
      } catch (e) {
        error = `nats.js publisher: ${e instanceof Error ? e.message : String(e)}`;
      }
      send({ t: 'done', sent, startNs, endNs: nowNs(), cpuUs: cpuUsNow() - cpu0, ...(error !== undefined ? { error } : {}) });
    })();
  };
  send({ t: 'ready' });
}

async function runNjsSub(cfg: NjsSubConfig): Promise<void> {
  const { connect } = await loadNats();
  const nc = await connect({ servers: `${cfg.host}:${cfg.port}`, name: cfg.name, reconnect: false });
  closers.push(() => void nc.close());
  let closed = false;
  let error: string | undefined;
  void nc.closed().then((err) => {
    closed = true;
    if (err) error ??= `nats.js: ${err.message}`;
  });
  // performance.now() is cheap; map it onto the hrtime clock the other processes use.
  const offsetNs = nowNs() - performance.now() * 1e6;
  let count = 0;
  let badSize = 0;
  let first = 0;
  let last = 0;
  const cpu0 = cpuUsNow();
  nc.subscribe(cfg.subject, {
    callback: (err, msg) => {
      if (err !== null) {
        error ??= `nats.js subscription: ${err.message}`;
        return;
      }
      count++;
      if (msg.data.length !== cfg.size) badSize++;
      last = performance.now();
      if (first === 0) first = last;
    },
  });
  await nc.flush();
  onPoll = () => {
    const e = error ?? (badSize > 0 ? `${badSize} messages had an unexpected payload size` : undefined);
    send({
      t: 'stat',
      count,
      badSize,
      firstNs: first === 0 ? 0 : first * 1e6 + offsetNs,
      lastNs: last === 0 ? 0 : last * 1e6 + offsetNs,
      closed,
      cpuUs: cpuUsNow() - cpu0,
      ...(e !== undefined ? { error: e } : {}),
    });
  };
  send({ t: 'ready' });
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: loadgen.js <json WorkerConfig> (normally started by run.js)');
  const cfg = JSON.parse(arg) as WorkerConfig;
  switch (cfg.mode) {
    case 'pub':
      return runPub(cfg);
    case 'sub':
      return runSub(cfg);
    case 'requester':
      return runRequester(cfg);
    case 'replier':
      return runReplier(cfg);
    case 'sink':
      return runSink();
    case 'blaster':
      return runBlaster(cfg);
    case 'njs-pub':
      return runNjsPub(cfg);
    case 'njs-sub':
      return runNjsSub(cfg);
    case 'js-pub':
      return runJsPub(cfg);
    case 'js-fetch':
      return runJsFetch(cfg);
  }
}

main().catch(fatal);
