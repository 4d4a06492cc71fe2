// Stream snapshot and restore (nats-server's jetstream_api.go jsStreamSnapshotRequest,
// streamSnapshot, jsStreamRestoreRequest, processStreamRestore; stream.go RestoreStream), with the
// protocol `nats stream backup/restore` (jsm.go) speaks:
//
//   snapshot: `$JS.API.STREAM.SNAPSHOT.<s>` {deliver_subject, no_consumers, chunk_size, jsck} is
//   answered {config, state}; then chunks go to deliver_subject, each with a reply
//   `$JS.SNAPSHOT.ACK.<s>.<id>.<size>.<n>` the receiver answers (flow control: at most a window of
//   8 MiB unanswered), and an empty message with status 204 ends it (408 when the receiver went away
//   or stopped answering).
//   restore: `$JS.API.STREAM.RESTORE.<s>` {config, state} is answered {deliver_subject}; the client
//   sends chunks there as requests (each answered empty), then an empty message, answered with the
//   stream create response of the restored stream.
//
// The archive is an S2 stream (s2.ts) of a tar (tar.ts) of our own stream directory layout —
// `meta.json`, `msgs/<n>.blk`, `obs/<consumer>/{meta,state}.json` (filestore.ts, state-store.ts) —
// not nats-server's file formats: a snapshot restores into tsnats, and round-trips through the
// `nats` CLI, which stores the bytes without looking inside; nats-server cannot read our blocks,
// nor we its.

import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isValidSubject } from '../../sublist/subject.js';
import { JsErr } from '../errors.js';
import { buildHeaders } from '../headers.js';
import { checkStreamConfig, decodeConfig } from '../stream-config.js';
import { isEmptyRequest, parseObject } from '../api/request.js';
import { nsToRfc3339, nowNs, rfc3339ToNs } from '../types.js';
import type { JetStream, JsAccount } from '../engine.js';
import type { Stream } from '../stream.js';
import type { ConsumerLike, JsInbound, StreamConfig } from '../types.js';
import { SourceErr } from '../sourcing/errors.js';
import { checkNewStream } from '../account-limits.js';
import { renderStreamConfig } from '../sourcing/config.js';
import { S2Reader, S2_BLOCK, frame } from './s2.js';
import { TarReader, tarEnd, tarHeader, tarPadding } from './tar.js';

const T = 'io.nats.jetstream.api.v1.';
const SNAPSHOT_RESPONSE = `${T}stream_snapshot_response`;
const RESTORE_RESPONSE = `${T}stream_restore_response`;
const CREATE_RESPONSE = `${T}stream_create_response`;

/** defaultSnapshotChunkSize / defaultSnapshotWindowSize. */
const DEFAULT_CHUNK = 128 * 1024;
const WINDOW = 8 * 1024 * 1024;
/** How long a snapshot waits for the receiver's interest, and for its acks when the window is full. */
const INTEREST_WAIT_MS = 2_000;
const ACK_WAIT_MS = 10_000;
/** processStreamRestore's activityInterval: a restore with no chunk for this long is abandoned. */
const RESTORE_IDLE_MS = 5_000;
const READ_PIECE = 64 * 1024;

const STATUS_DONE = buildHeaders('204', []);
const NO_INTEREST = buildHeaders('408 No Interest', []);
const NO_FLOW = buildHeaders('408 No Flow Response', []);

function nuid(): string {
  return randomBytes(12).toString('base64url');
}

/** Where snapshots and restores stage their files (beside the accounts' directories). */
function stagingDir(js: JetStream): string {
  return join(js.opts.storeDir, '__snapshots__');
}

// ---- snapshot -----------------------------------------------------------------------------------

export function snapshotRequest(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const fail = (e: ReturnType<typeof JsErr.badRequest>): void => js.replyError(a.idx, m.reply, SNAPSHOT_RESPONSE, e);
  if (isEmptyRequest(m.data)) return fail(JsErr.badRequest());
  const s = a.streams.get(name);
  if (s === undefined) return fail(JsErr.streamNotFound());
  const req = parseObject(m.data);
  if (req === null) return fail(JsErr.invalidJson());
  const deliver = req['deliver_subject'];
  const chunkSize = req['chunk_size'];
  const noConsumers = req['no_consumers'];
  if ((deliver !== undefined && deliver !== null && typeof deliver !== 'string') || (chunkSize !== undefined && chunkSize !== null && (typeof chunkSize !== 'number' || !Number.isInteger(chunkSize))) || (noConsumers !== undefined && noConsumers !== null && typeof noConsumers !== 'boolean')) {
    return fail(JsErr.invalidJson());
  }
  if (typeof deliver !== 'string' || !isValidSubject(deliver)) return fail(SourceErr.snapshotDeliverSubjectInvalid());
  if (s.dir === null) return fail(SourceErr.streamSnapshot('no impl')); // memory streams, as nats-server's memstore
  let files: SnapshotFile[];
  let staged: string;
  try {
    ({ files, staged } = stage(js, s, noConsumers !== true));
  } catch (err) {
    js.log.warn(`Snapshot of stream '${a.name} > ${name}' failed: ${String(err)}`);
    return fail(SourceErr.streamSnapshot(err instanceof Error ? err.message : String(err)));
  }
  const { state } = s.stateJson('', false);
  const startNs = nowNs();
  js.reply(a.idx, m.reply, { type: SNAPSHOT_RESPONSE, config: renderStreamConfig(s.config), state });
  js.advisories.snapshotCreate(a.idx, name, state);
  js.log.info(`Starting snapshot for stream '${a.name} > ${name}'`);
  // Clamped to 1 KiB .. 1 MiB as nats-server does since 2.11 (a chunk is one message).
  const size = typeof chunkSize === 'number' && chunkSize > 0 ? Math.min(Math.max(1024, chunkSize), 1024 * 1024) : DEFAULT_CHUNK;
  new SnapshotSender(js, a, s, deliver, size, files, staged, startNs).start();
}

interface SnapshotFile {
  /** Path inside the archive. */
  name: string;
  /** Where its bytes are (a staged copy). */
  path: string;
  size: number;
}

/**
 * The stream's files as of now: meta.json, the message blocks (hard links, read only up to their
 * size now, so records appended later stay out; a copy where links are not possible), and the
 * consumers' config and current state.
 */
function stage(js: JetStream, s: Stream, consumers: boolean): { files: SnapshotFile[]; staged: string } {
  const staged = join(stagingDir(js), `snap-${nuid()}`);
  mkdirSync(join(staged, 'msgs'), { recursive: true });
  const files: SnapshotFile[] = [];
  const add = (name: string, path: string): void => {
    files.push({ name, path, size: statSync(path).size });
  };
  try {
    const meta = join(staged, 'meta.json');
    writeFileSync(meta, JSON.stringify({ config: s.config, created: nsToRfc3339(s.created) }));
    add('meta.json', meta);
    const msgs = join(s.dir!, 'msgs');
    const blocks = existsSync(msgs) ? readdirSync(msgs).filter((f) => f.endsWith('.blk')).sort((x, y) => parseInt(x, 10) - parseInt(y, 10)) : [];
    for (const b of blocks) {
      const to = join(staged, 'msgs', b);
      try {
        linkSync(join(msgs, b), to);
      } catch {
        copyFileSync(join(msgs, b), to);
      }
      add(`msgs/${b}`, to);
    }
    if (consumers) {
      for (const c of s.consumers.values()) {
        const f = consumerFiles(c);
        if (f === null) continue;
        const dir = join(staged, 'obs', c.name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'meta.json'), f.meta);
        writeFileSync(join(dir, 'state.json'), f.state);
        add(`obs/${c.name}/meta.json`, join(dir, 'meta.json'));
        add(`obs/${c.name}/state.json`, join(dir, 'state.json'));
      }
    }
  } catch (err) {
    rmSync(staged, { recursive: true, force: true });
    throw err;
  }
  return { files, staged };
}

function consumerFiles(c: ConsumerLike): { meta: string; state: string } | null {
  const f = (c as { snapshotFiles?: () => { meta: string; state: string } | null }).snapshotFiles;
  return typeof f === 'function' ? f.call(c) : null;
}

/** streamSnapshot: the archive in chunks to the receiver, flow-controlled by its acks. */
class SnapshotSender {
  private readonly js: JetStream;
  private readonly a: JsAccount;
  private readonly s: Stream;
  private readonly deliver: string;
  private readonly chunkSize: number;
  private readonly files: SnapshotFile[];
  private readonly staged: string;
  private readonly ackPrefix: string;
  private readonly maxInflight: number;
  private readonly startNs: number;
  private inflight = 0;
  private index = 0;
  private sent = 0;
  private lastAck = Date.now();
  private done = false;
  private waiting: NodeJS.Timeout | null = null;
  // archive production
  private fileIdx = -1;
  private fd = -1;
  private fileLeft = 0;
  private trailer: Buffer | null = null;
  private raw: Buffer[] = [];
  private rawLen = 0;
  private out: Buffer[] = [];
  private outLen = 0;
  private framedAny = false;
  private ended = false;

  constructor(js: JetStream, a: JsAccount, s: Stream, deliver: string, chunkSize: number, files: SnapshotFile[], staged: string, startNs: number) {
    this.startNs = startNs;
    this.js = js;
    this.a = a;
    this.s = s;
    this.deliver = deliver;
    this.chunkSize = chunkSize;
    this.files = files;
    this.staged = staged;
    this.ackPrefix = `$JS.SNAPSHOT.ACK.${s.name}.${nuid()}`;
    this.maxInflight = Math.max(1, Math.floor(WINDOW / chunkSize));
  }

  start(): void {
    this.js.internal.subscribePrefix(this.a.idx, this.ackPrefix, () => {
      this.inflight = Math.max(0, this.inflight - 1);
      this.lastAck = Date.now();
      this.schedule(0);
    });
    // Allow a moment for the receiver's interest to show up.
    const t0 = Date.now();
    const wait = (): void => {
      if (this.js.host.hasInterest(this.a.idx, this.deliver) || Date.now() - t0 >= INTEREST_WAIT_MS) return this.schedule(0);
      this.waiting = setTimeout(wait, 20);
    };
    wait();
  }

  private schedule(ms: number): void {
    if (this.done) return;
    if (this.waiting !== null) clearTimeout(this.waiting);
    this.waiting = setTimeout(() => {
      this.waiting = null;
      this.pump();
    }, ms);
  }

  private pump(): void {
    if (this.done) return;
    const host = this.js.host;
    if (!host.hasInterest(this.a.idx, this.deliver)) return this.finish(NO_INTEREST);
    while (this.inflight < this.maxInflight) {
      const chunk = this.nextChunk();
      if (chunk === null) return this.finish(this.index > 0 ? STATUS_DONE : null);
      this.index++;
      this.inflight++;
      this.sent += chunk.length;
      host.publish(this.a.idx, this.deliver, `${this.ackPrefix}.${chunk.length}.${this.index}`, null, chunk);
    }
    // Window full: wait for acks (answered through the internal subscription), not forever.
    if (Date.now() - this.lastAck > ACK_WAIT_MS) return this.finish(NO_FLOW);
    this.schedule(50);
  }

  private finish(hdr: Buffer | null): void {
    if (this.done) return;
    this.done = true;
    if (this.waiting !== null) clearTimeout(this.waiting);
    this.js.internal.unsubscribePrefix(this.a.idx, this.ackPrefix);
    this.js.host.publish(this.a.idx, this.deliver, null, hdr, null);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.staged, { recursive: true, force: true });
    this.js.advisories.snapshotComplete(this.a.idx, this.s.name, this.startNs, nowNs());
    const how = hdr === STATUS_DONE || hdr === null ? 'Completed' : 'Aborted';
    this.js.log.info(`${how} snapshot of ${this.sent} bytes for stream '${this.a.name} > ${this.s.name}'`);
  }

  /** The next chunk of the S2 stream, or null at its end. */
  private nextChunk(): Buffer | null {
    while (this.outLen < this.chunkSize && !this.ended) this.produce();
    if (this.outLen === 0) return null;
    const all = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    const n = Math.min(this.chunkSize, all.length);
    const chunk = all.subarray(0, n);
    const rest = all.subarray(n);
    this.out = rest.length > 0 ? [rest] : [];
    this.outLen = rest.length;
    return Buffer.from(chunk);
  }

  /** Moves at least one piece of the tar through the S2 framing. */
  private produce(): void {
    const piece = this.nextTarPiece();
    if (piece === null) {
      this.flushRaw(true);
      this.ended = true;
      return;
    }
    this.raw.push(piece);
    this.rawLen += piece.length;
    if (this.rawLen >= S2_BLOCK) this.flushRaw(false);
  }

  private flushRaw(all: boolean): void {
    if (this.rawLen === 0 && (this.framedAny || !all)) return;
    const data = Buffer.concat(this.raw);
    const whole = all ? data.length : data.length - (data.length % S2_BLOCK);
    const framed = frame(data.subarray(0, whole), !this.framedAny);
    this.framedAny = true;
    this.out.push(framed);
    this.outLen += framed.length;
    const rest = data.subarray(whole);
    this.raw = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.rawLen = rest.length;
  }

  /** Header, file bytes and padding of each file in turn, then the end blocks; null after them. */
  private nextTarPiece(): Buffer | null {
    if (this.trailer !== null) {
      const t = this.trailer;
      this.trailer = null;
      return t;
    }
    if (this.fd >= 0 && this.fileLeft > 0) {
      const buf = Buffer.allocUnsafe(Math.min(READ_PIECE, this.fileLeft));
      const n = readSync(this.fd, buf, 0, buf.length, null);
      if (n <= 0) {
        // The staged copy shrank under us (should not happen): pad with zeros to the declared size.
        buf.fill(0);
        this.fileLeft -= buf.length;
        return buf;
      }
      this.fileLeft -= n;
      return buf.subarray(0, n);
    }
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      return tarPadding(this.files[this.fileIdx]!.size);
    }
    this.fileIdx++;
    if (this.fileIdx > this.files.length) return null;
    if (this.fileIdx === this.files.length) return tarEnd();
    const f = this.files[this.fileIdx]!;
    this.fd = openSync(f.path, 'r');
    this.fileLeft = f.size;
    return tarHeader(f.name, f.size, Date.now());
  }
}

// ---- restore ------------------------------------------------------------------------------------

export function restoreRequest(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const fail = (e: ReturnType<typeof JsErr.badRequest>): void => js.replyError(a.idx, m.reply, RESTORE_RESPONSE, e);
  if (isEmptyRequest(m.data)) return fail(JsErr.badRequest());
  const req = parseObject(m.data);
  if (req === null) return fail(JsErr.invalidJson());
  const rawCfg = req['config'] === undefined || req['config'] === null ? {} : decodeConfig(JSON.stringify(req['config']));
  if (rawCfg === null) return fail(JsErr.invalidJson());
  if (typeof rawCfg['name'] !== 'string' || rawCfg['name'] === '') rawCfg['name'] = name;
  const r = checkStreamConfig(rawCfg, (n) => a.streams.get(n)?.config);
  if (!r.ok) return fail(r.error);
  const cfg = r.config;
  // jsNonClusteredStreamLimitsCheck: the account's limits, then the server's.
  const resErr = checkNewStream(a.limits, [...a.streams.values()].map((x) => x.config), cfg, () => js.resources.checkStream(cfg, null));
  if (resErr !== null) return fail(resErr);
  if (a.streams.has(name)) return fail(SourceErr.streamNameExistRestoreFailed());
  let tmp: string;
  let fd: number;
  try {
    mkdirSync(stagingDir(js), { recursive: true });
    tmp = join(stagingDir(js), `js-restore-${nuid()}`);
    fd = openSync(tmp, 'w+');
  } catch {
    return fail(SourceErr.tempStorageFailed());
  }
  const deliver = `$JS.SNAPSHOT.RESTORE.${name}.${nuid()}`;
  js.log.info(`Starting restore for stream '${a.name} > ${name}'`);
  const started = Date.now();
  const startNs = nowNs();
  js.advisories.restoreCreate(a.idx, name);
  let total = 0;
  let last = Date.now();
  let finished = false;
  const cleanUp = (): void => {
    finished = true;
    clearInterval(idle);
    js.internal.unsubscribe(a.idx, deliver);
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
  };
  const idle = setInterval(() => {
    if (Date.now() - last > RESTORE_IDLE_MS) {
      js.log.warn(`Restore for stream '${a.name} > ${name}' is stalled`);
      cleanUp();
    }
  }, 1000);
  idle.unref?.();
  js.internal.subscribe(a.idx, deliver, (c) => {
    if (finished) return;
    last = Date.now();
    const reply = c.reply ?? null;
    if (reply === null || reply === '') {
      js.log.warn(`Restore for stream '${a.name} > ${name}' requires reply subject for each chunk`);
      return cleanUp();
    }
    if (c.data.length > 0) {
      try {
        writeSync(fd, c.data);
      } catch {
        js.host.publish(a.idx, reply, null, null, Buffer.from("-ERR 'storage failure during restore'"));
        return cleanUp();
      }
      total += c.data.length;
      js.host.publish(a.idx, reply, null, null, null);
      return;
    }
    // The end: unpack and open the stream, then answer with its info (or the error).
    finished = true;
    clearInterval(idle);
    js.internal.unsubscribe(a.idx, deliver);
    closeSync(fd);
    void finishRestore(js, a, cfg, tmp)
      .finally(() => js.advisories.restoreComplete(a.idx, name, startNs, nowNs(), total))
      .then(
        (s) => {
          const { info } = s.info(null);
          js.reply(a.idx, reply, { type: CREATE_RESPONSE, ...info });
          js.log.info(`Completed restore of ${total} bytes for stream '${a.name} > ${name}' in ${Date.now() - started}ms`);
        },
        (err: unknown) => {
          const why = err instanceof Error ? err.message : String(err);
          js.log.warn(`Restore failed for stream '${a.name} > ${name}': ${why}`);
          js.replyError(a.idx, reply, CREATE_RESPONSE, typeof err === 'object' && err !== null && 'err_code' in err ? (err as ReturnType<typeof JsErr.badRequest>) : SourceErr.streamRestore(why));
        },
      )
      .finally(() => rmSync(tmp, { force: true }));
  });
  js.reply(a.idx, m.reply, { type: RESTORE_RESPONSE, deliver_subject: deliver });
}

/** RestoreStream: unpacks the archive into a new stream directory and opens it. */
async function finishRestore(js: JetStream, a: JsAccount, cfg: StreamConfig, archive: string): Promise<Stream> {
  if (cfg.storage === 'memory') throw new Error('memory streams do not support snapshots');
  const into = join(stagingDir(js), `restore-${nuid()}`);
  mkdirSync(into, { recursive: true });
  try {
    await unpack(archive, into);
    let meta: { config?: { name?: string }; created?: string };
    try {
      meta = JSON.parse(readFileSync(join(into, 'meta.json'), 'utf8')) as typeof meta;
    } catch {
      throw new Error('unexpected content (no stream metadata)');
    }
    if (meta.config?.name !== cfg.name) throw new Error('stream names do not match');
    if (a.streams.has(cfg.name)) throw SourceErr.streamNameExistRestoreFailed();
    const dir = js.streamDir(a, cfg.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(into, dir);
    const created = rfc3339ToNs(meta.created ?? '');
    const createdNs = Number.isNaN(created) ? nowNs() : created;
    // The config given with the restore request is the stream's new identity.
    js.writeMeta(dir, cfg, createdNs);
    return await js.openRestoredStream(a, dir, cfg, createdNs);
  } finally {
    rmSync(into, { recursive: true, force: true });
  }
}

/** Decompresses and unpacks an archive file into a directory, yielding between reads. */
async function unpack(archive: string, into: string): Promise<void> {
  const fh = await open(archive, 'r');
  let out = -1;
  try {
    const tar = new TarReader({
      begin: (name) => {
        const p = join(into, name);
        mkdirSync(dirname(p), { recursive: true });
        out = openSync(p, 'w');
      },
      data: (bytes) => {
        writeSync(out, bytes);
      },
      end: () => {
        closeSync(out);
        out = -1;
      },
    });
    const s2 = new S2Reader();
    const buf = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead <= 0) break;
      for (const d of s2.push(Buffer.from(buf.subarray(0, bytesRead)))) tar.push(d);
    }
    if (!s2.done) throw new Error('truncated snapshot');
  } finally {
    if (out >= 0) closeSync(out);
    await fh.close();
  }
}
