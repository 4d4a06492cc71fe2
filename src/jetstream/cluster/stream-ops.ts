// The entries of a stream's RAFT group and of its catch-up stream, in nats-server's encodings
// (jetstream_cluster.go encodeStreamMsg / decodeStreamMsg, encodeStreamPurge, encodeMsgDelete,
// streamSnapshot, streamSyncRequest; 2.10's store.go EncodedStreamState).
//
// streamMsgOp (little-endian):
//   0  1  op (4; 14 = compressedStreamMsgOp: the rest is S2 of the same layout)
//   1  8  lseq: the stream's last sequence before this message (the message becomes lseq + 1 - clfs)
//   9  8  timestamp (ns)
//   17 2  subject length, subject
//   .. 2  reply length, reply
//   .. 2  header length, header
//   .. 4  payload length, payload
// A message with no subject, timestamp, header or payload is a "skip" (the sequence is used up).
// nats-server compresses (when every peer says it can) messages over 4 KiB whose S2 form is smaller.
//
// Stream snapshot: 2.9 sends JSON {messages, bytes, first_seq, last_seq, clfs, deleted[]}; 2.10.x (to
// peers that say they support it) sends binary: magic 42, version 1, uvarints msgs, bytes, first, last,
// failed, number deleted, then delete blocks (run-length: 33, uvarint first, uvarint count; or an AVL
// sequence set: 22, version 2, u32 nodes, u32 size, per node u64 base, 32 × u64 bitmap, u16 height).

import { putUvarint, readUvarint } from '../raft/codec.js';
import { type ClientInfo, type JsonObject, compressedStreamMsgOp, deleteMsgOp, goJson, purgeStreamOp, streamMsgOp } from './assignments.js';
import { s2Decode, s2Encode } from './s2.js';

export class StreamOpError extends Error {}

export interface StreamMsg {
  subject: string;
  reply: string;
  hdr: Buffer | null;
  msg: Buffer | null;
  lseq: number;
  /** Unix nanoseconds, exact (a bigint: a JS number would round them above 2^53). */
  ts: bigint;
}

const TWO32 = 4294967296;

/** jetstream_cluster.go compressThreshold. */
export const COMPRESS_THRESHOLD = 4 * 1024;

/** encodeStreamMsgAllowCompress. */
export function encodeStreamMsg(m: StreamMsg, compressOK = false): Buffer {
  const subj = Buffer.from(m.subject, 'latin1');
  const reply = Buffer.from(m.reply, 'latin1');
  const hl = m.hdr?.length ?? 0;
  const ml = m.msg?.length ?? 0;
  const len = 1 + 8 + 8 + 2 + subj.length + 2 + reply.length + 2 + hl + 4 + ml;
  const b = Buffer.allocUnsafe(len);
  b[0] = streamMsgOp;
  let wi = 1;
  b.writeUInt32LE(m.lseq % TWO32 >>> 0, wi);
  b.writeUInt32LE(Math.floor(m.lseq / TWO32) >>> 0, wi + 4);
  wi += 8;
  b.writeBigInt64LE(m.ts, wi);
  wi += 8;
  b.writeUInt16LE(subj.length, wi);
  wi += 2;
  subj.copy(b, wi);
  wi += subj.length;
  b.writeUInt16LE(reply.length, wi);
  wi += 2;
  reply.copy(b, wi);
  wi += reply.length;
  b.writeUInt16LE(hl, wi);
  wi += 2;
  if (hl > 0) m.hdr!.copy(b, wi);
  wi += hl;
  b.writeUInt32LE(ml, wi);
  wi += 4;
  if (ml > 0) m.msg!.copy(b, wi);
  if (compressOK && subj.length + reply.length + hl + ml > COMPRESS_THRESHOLD) {
    const z = s2Encode(b.subarray(1));
    if (z.length + 1 < len) {
      const out = Buffer.allocUnsafe(1 + z.length);
      out[0] = compressedStreamMsgOp;
      z.copy(out, 1);
      return out;
    }
  }
  return b;
}

/** decodeStreamMsg for a whole entry (op byte included; compressed or not). */
export function decodeStreamMsgEntry(entry: Buffer): StreamMsg {
  if (entry[0] === compressedStreamMsgOp) return decodeStreamMsg(s2Decode(entry.subarray(1)));
  if (entry[0] !== streamMsgOp) throw new StreamOpError('jetstream cluster bad replicated stream msg');
  return decodeStreamMsg(entry.subarray(1));
}

/** jetstream_cluster.go decodeStreamMsg (the body after the op byte). */
export function decodeStreamMsg(buf: Buffer): StreamMsg {
  const bad = (): never => {
    throw new StreamOpError('jetstream cluster bad replicated stream msg');
  };
  if (buf.length < 26) bad();
  const lseq = buf.readUInt32LE(0) + buf.readUInt32LE(4) * TWO32;
  const ts = buf.readBigInt64LE(8);
  let ri = 16;
  const sl = buf.readUInt16LE(ri);
  ri += 2;
  if (buf.length - ri < sl) bad();
  const subject = buf.toString('latin1', ri, ri + sl);
  ri += sl;
  if (buf.length - ri < 2) bad();
  const rl = buf.readUInt16LE(ri);
  ri += 2;
  if (buf.length - ri < rl) bad();
  const reply = buf.toString('latin1', ri, ri + rl);
  ri += rl;
  if (buf.length - ri < 2) bad();
  const hl = buf.readUInt16LE(ri);
  ri += 2;
  if (buf.length - ri < hl) bad();
  const hdr = hl > 0 ? buf.subarray(ri, ri + hl) : null;
  ri += hl;
  if (buf.length - ri < 4) bad();
  const ml = buf.readUInt32LE(ri);
  ri += 4;
  if (buf.length - ri < ml) bad();
  const msg = ml > 0 ? buf.subarray(ri, ri + ml) : null;
  return { subject, reply, hdr, msg, lseq, ts };
}

/** A skip: no subject, timestamp, header or payload (jetstream_cluster.go applyStreamEntries). */
export function isSkipMsg(m: StreamMsg): boolean {
  return m.subject === '' && m.ts === 0n && !m.msg && !m.hdr;
}

/** A flow-control message relayed through the log (jetstream_cluster.go isControlHdr). */
export function isFlowControl(m: StreamMsg): boolean {
  return !m.msg && !!m.hdr && m.reply !== '' && m.hdr.subarray(0, 13).toString('latin1') === 'NATS/1.0 100 ';
}

/** jetstream_cluster.go streamPurge. */
export interface StreamPurge {
  client?: ClientInfo;
  stream: string;
  last_seq: number;
  subject: string;
  reply: string;
  request?: JsonObject;
}

/** jetstream_cluster.go streamMsgDelete. */
export interface StreamMsgDelete {
  client?: ClientInfo;
  stream: string;
  seq: number;
  no_erase?: boolean;
  subject: string;
  reply: string;
}

function withOp(op: number, json: string): Buffer {
  return Buffer.concat([Buffer.from([op]), Buffer.from(json + '\n', 'utf8')]);
}

export function encodeStreamPurge(sp: StreamPurge): Buffer {
  const o: JsonObject = {};
  if (sp.client) o['client'] = sp.client;
  o['stream'] = sp.stream;
  o['last_seq'] = sp.last_seq;
  o['subject'] = sp.subject;
  o['reply'] = sp.reply;
  if (sp.request) o['request'] = sp.request;
  return withOp(purgeStreamOp, goJson(o));
}

export function decodeStreamPurge(body: Buffer): StreamPurge {
  const o = JSON.parse(body.toString('utf8')) as StreamPurge;
  return o;
}

export function encodeMsgDelete(md: StreamMsgDelete): Buffer {
  const o: JsonObject = {};
  if (md.client) o['client'] = md.client;
  o['stream'] = md.stream;
  o['seq'] = md.seq;
  if (md.no_erase) o['no_erase'] = true;
  o['subject'] = md.subject;
  o['reply'] = md.reply;
  return withOp(deleteMsgOp, goJson(o));
}

export function decodeMsgDelete(body: Buffer): StreamMsgDelete {
  return JSON.parse(body.toString('utf8')) as StreamMsgDelete;
}

/** A stream's replicated state: what a stream snapshot says. */
export interface StreamSnapshotState {
  msgs: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** clfs: messages the leader failed to store (they count as used sequences). */
  failed: number;
  /** Sequences between first and last that hold no message. */
  deleted: number[];
}

/** streamSnapshot (2.9, JSON). */
export function encodeStreamSnapshotJson(s: StreamSnapshotState): Buffer {
  const o: JsonObject = { messages: s.msgs, bytes: s.bytes, first_seq: s.firstSeq, last_seq: s.lastSeq, clfs: s.failed };
  if (s.deleted.length > 0) o['deleted'] = s.deleted;
  return Buffer.from(JSON.stringify(o));
}

/** store.go streamStateMagic / streamStateVersion / runLengthMagic / seqSetMagic. */
const STREAM_STATE_MAGIC = 42;
const STREAM_STATE_VERSION = 1;
const RUN_LENGTH_MAGIC = 33;
const SEQ_SET_MAGIC = 22;

export function isBinaryStreamSnapshot(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === STREAM_STATE_MAGIC && buf[1] === STREAM_STATE_VERSION;
}

/** fileStore.EncodedStreamState (2.10): deleted sequences as run-length blocks. */
export function encodeStreamSnapshotBinary(s: StreamSnapshotState): Buffer {
  const out: number[] = [STREAM_STATE_MAGIC, STREAM_STATE_VERSION];
  putUvarint(out, s.msgs);
  putUvarint(out, s.bytes);
  putUvarint(out, s.firstSeq);
  putUvarint(out, s.lastSeq);
  putUvarint(out, s.failed);
  const del = [...s.deleted].sort((a, b) => a - b);
  putUvarint(out, del.length);
  for (let i = 0; i < del.length; ) {
    let j = i;
    while (j + 1 < del.length && del[j + 1] === del[j]! + 1) j++;
    out.push(RUN_LENGTH_MAGIC);
    putUvarint(out, del[i]!);
    putUvarint(out, j - i + 1);
    i = j + 1;
  }
  return Buffer.from(out);
}

/** Either snapshot form (JSON or binary), as a 2.10 stream applies what its peers send. */
export function decodeStreamSnapshot(buf: Buffer): StreamSnapshotState {
  if (isBinaryStreamSnapshot(buf)) return decodeStreamSnapshotBinary(buf);
  const o = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
  return {
    msgs: Number(o['messages'] ?? 0),
    bytes: Number(o['bytes'] ?? 0),
    firstSeq: Number(o['first_seq'] ?? 0),
    lastSeq: Number(o['last_seq'] ?? 0),
    failed: Number(o['clfs'] ?? 0),
    deleted: Array.isArray(o['deleted']) ? (o['deleted'] as number[]).map(Number) : [],
  };
}

function decodeStreamSnapshotBinary(buf: Buffer): StreamSnapshotState {
  let bi = 2;
  const read = (): number => {
    const [v, n] = readUvarint(buf, bi);
    if (n <= 0) throw new StreamOpError('corrupt stream state');
    bi += n;
    return v;
  };
  const s: StreamSnapshotState = { msgs: read(), bytes: read(), firstSeq: read(), lastSeq: read(), failed: read(), deleted: [] };
  const numDeleted = read();
  if (numDeleted > 0) {
    while (bi < buf.length) {
      const magic = buf[bi];
      if (magic === RUN_LENGTH_MAGIC) {
        bi++;
        const first = read();
        const num = read();
        for (let i = 0; i < num; i++) s.deleted.push(first + i);
      } else if (magic === SEQ_SET_MAGIC) {
        bi += decodeSeqSet(buf, bi, s.deleted);
      } else throw new StreamOpError('corrupt stream state');
    }
  }
  return s;
}

/** avl/seqset.go Decode (v2: 32 buckets of 64 bits per node; v1: 64 buckets). Returns bytes read. */
function decodeSeqSet(buf: Buffer, off: number, into: number[]): number {
  const version = buf[off + 1];
  const buckets = version === 1 ? 64 : version === 2 ? 32 : -1;
  if (buckets < 0 || buf.length - off < 10) throw new StreamOpError('ss: bad encoding');
  const nn = buf.readUInt32LE(off + 2);
  let i = off + 10;
  const nodeLen = (buckets + 1) * 8 + 2;
  if (buf.length - i < nn * nodeLen) throw new StreamOpError('ss: bad encoding');
  const seqs: number[] = [];
  for (let n = 0; n < nn; n++) {
    const base = buf.readUInt32LE(i) + buf.readUInt32LE(i + 4) * TWO32;
    i += 8;
    for (let b = 0; b < buckets; b++) {
      const lo = buf.readUInt32LE(i);
      const hi = buf.readUInt32LE(i + 4);
      i += 8;
      for (let bit = 0; bit < 32; bit++) {
        if (lo & (1 << bit)) seqs.push(base + b * 64 + bit);
        if (hi & (1 << bit)) seqs.push(base + b * 64 + 32 + bit);
      }
    }
    i += 2;
  }
  seqs.sort((a, b) => a - b);
  into.push(...seqs);
  return i - off;
}

/** jetstream_cluster.go streamSyncRequest: a follower asks the leader for messages after a snapshot. */
export interface StreamSyncRequest {
  peer?: string;
  first_seq: number;
  last_seq: number;
}

export function encodeSyncRequest(r: StreamSyncRequest): Buffer {
  const o: JsonObject = {};
  if (r.peer) o['peer'] = r.peer;
  o['first_seq'] = r.first_seq;
  o['last_seq'] = r.last_seq;
  return Buffer.from(goJson(o));
}

export function decodeSyncRequest(buf: Buffer): StreamSyncRequest {
  return JSON.parse(buf.toString('utf8')) as StreamSyncRequest;
}
