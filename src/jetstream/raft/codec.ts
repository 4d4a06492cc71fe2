// The binary messages of nats-server's RAFT, byte for byte (raft.go, 2.9.10; 2.10 is identical on the
// wire; 2.11+ appends an optional uvarint "lterm" to an append entry, which we decode and never send).
// All integers are little-endian; terms and indexes are u64 on the wire and JS numbers here (safe up
// to 2^53, far beyond any real log).
//
//   appendEntry (appendEntry.encode)          appendEntryResponse (25 bytes)
//   0   8  leader peer id                     0   8  term
//   8   8  term                               8   8  index
//   16  8  commit                             16  8  peer id
//   24  8  pterm (term of entry pindex)       24  1  success (1/0)
//   32  8  pindex (index before these)
//   40  2  entry count                        voteRequest (32 bytes)
//   42  .. per entry: u32 len (1 + data),     0   8  term
//          u8 type, data                      8   8  last term
//   [2.11+: uvarint lterm]                    16  8  last index
//                                             24  8  candidate id
//   peerState (encodePeerState)
//   0   4  cluster size                       voteResponse (17 bytes)
//   4   4  peer count                         0   8  term
//   8   8·n peer ids                          8   8  peer id
//   ..  2  domain extension state             16  1  granted (1/0)

import { ID_LEN } from './ids.js';

/** raft.go EntryType. */
export const EntryNormal = 0;
export const EntryOldSnapshot = 1;
export const EntryPeerState = 2;
export const EntryAddPeer = 3;
export const EntryRemovePeer = 4;
export const EntryLeaderTransfer = 5;
export const EntrySnapshot = 6;

const ENTRY_NAMES = ['Normal', 'OldSnapshot', 'PeerState', 'AddPeer', 'RemovePeer', 'LeaderTransfer', 'Snapshot'];
export function entryTypeName(t: number): string {
  return ENTRY_NAMES[t] ?? `Unknown [${t}]`;
}

export interface Entry {
  type: number;
  data: Buffer;
}

export interface AppendEntry {
  leader: string;
  term: number;
  commit: number;
  pterm: number;
  pindex: number;
  entries: Entry[];
  /** 2.11+ only: the leader's term for catch-up entries (0 = absent). */
  lterm: number;
}

export interface AppendEntryResponse {
  term: number;
  index: number;
  peer: string;
  success: boolean;
}

export interface VoteRequest {
  term: number;
  lastTerm: number;
  lastIndex: number;
  candidate: string;
}

export interface VoteResponse {
  term: number;
  peer: string;
  granted: boolean;
}

/** raft.go extensionState. */
export const ExtUndetermined = 0;
export const ExtExtended = 1;
export const ExtNotExtended = 2;

export interface PeerState {
  knownPeers: string[];
  clusterSize: number;
  domainExt: number;
}

export class CodecError extends Error {}

/** raft.go appendEntryBaseLen, appendEntryResponseLen, voteRequestLen, voteResponseLen. */
export const APPEND_ENTRY_BASE_LEN = ID_LEN + 4 * 8 + 2;
export const APPEND_ENTRY_RESPONSE_LEN = 25;
export const VOTE_REQUEST_LEN = 24 + ID_LEN;
export const VOTE_RESPONSE_LEN = 17;
/** raft.go: append entries carry at most 64k entries (u16 count). */
export const MAX_ENTRIES = 0xffff;

const TWO32 = 4294967296;

export function readU64(b: Buffer, off: number): number {
  const lo = b.readUInt32LE(off);
  const hi = b.readUInt32LE(off + 4);
  if (hi > 0x1fffff) throw new CodecError(`u64 at ${off} exceeds 2^53`);
  return hi * TWO32 + lo;
}

export function writeU64(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v % TWO32 >>> 0, off);
  b.writeUInt32LE(Math.floor(v / TWO32) >>> 0, off + 4);
}

/** An id field: exactly ID_LEN bytes, latin1 (ids are base-62 ASCII). */
function writeId(b: Buffer, off: number, id: string): void {
  b.fill(0, off, off + ID_LEN);
  b.write(id, off, ID_LEN, 'latin1');
}

function readId(b: Buffer, off: number): string {
  return b.toString('latin1', off, off + ID_LEN);
}

/** appendEntry.encode. The leader must be exactly 8 bytes (or empty: nats-server then writes 8 zeros). */
export function encodeAppendEntry(ae: AppendEntry): Buffer {
  if (ae.leader.length !== ID_LEN && ae.leader.length !== 0) throw new CodecError(`raft: leader should be exactly ${ID_LEN} bytes`);
  if (ae.entries.length > MAX_ENTRIES) throw new CodecError('raft: append entry can contain a max of 64k entries');
  let len = APPEND_ENTRY_BASE_LEN;
  for (const e of ae.entries) len += 4 + 1 + e.data.length;
  const b = Buffer.allocUnsafe(len);
  writeId(b, 0, ae.leader);
  writeU64(b, 8, ae.term);
  writeU64(b, 16, ae.commit);
  writeU64(b, 24, ae.pterm);
  writeU64(b, 32, ae.pindex);
  b.writeUInt16LE(ae.entries.length, 40);
  let wi = 42;
  for (const e of ae.entries) {
    b.writeUInt32LE(e.data.length + 1, wi);
    b[wi + 4] = e.type;
    e.data.copy(b, wi + 5);
    wi += 5 + e.data.length;
  }
  return b;
}

/**
 * raft.go decodeAppendEntry. Entry data are views into `msg` (no copy): callers that keep them past the
 * message's lifetime copy `msg` first (as nats-server's copyBytes). A leader of 8 zero bytes is "".
 */
export function decodeAppendEntry(msg: Buffer): AppendEntry {
  if (msg.length < APPEND_ENTRY_BASE_LEN) throw new CodecError('raft: append entry corrupt');
  let leader = readId(msg, 0);
  if (leader === '\0\0\0\0\0\0\0\0') leader = '';
  const ae: AppendEntry = {
    leader,
    term: readU64(msg, 8),
    commit: readU64(msg, 16),
    pterm: readU64(msg, 24),
    pindex: readU64(msg, 32),
    entries: [],
    lterm: 0,
  };
  const ne = msg.readUInt16LE(40);
  let ri = 42;
  const max = msg.length;
  for (let i = 0; i < ne; i++) {
    if (ri + 4 > max) throw new CodecError('raft: append entry corrupt');
    const le = msg.readUInt32LE(ri);
    ri += 4;
    if (le <= 0 || ri + le > max) throw new CodecError('raft: append entry corrupt');
    ae.entries.push({ type: msg[ri]!, data: msg.subarray(ri + 1, ri + le) });
    ri += le;
  }
  // 2.11+: an optional uvarint leader term after the entries.
  if (ri < max) {
    const [v, n] = readUvarint(msg, ri);
    if (n > 0) ae.lterm = v;
  }
  return ae;
}

export function encodeAppendEntryResponse(ar: AppendEntryResponse): Buffer {
  const b = Buffer.allocUnsafe(APPEND_ENTRY_RESPONSE_LEN);
  writeU64(b, 0, ar.term);
  writeU64(b, 8, ar.index);
  writeId(b, 16, ar.peer);
  b[24] = ar.success ? 1 : 0;
  return b;
}

/** raft.go decodeAppendEntryResponse: exactly 25 bytes, else null. */
export function decodeAppendEntryResponse(msg: Buffer): AppendEntryResponse | null {
  if (msg.length !== APPEND_ENTRY_RESPONSE_LEN) return null;
  return { term: readU64(msg, 0), index: readU64(msg, 8), peer: readId(msg, 16), success: msg[24] === 1 };
}

export function encodeVoteRequest(vr: VoteRequest): Buffer {
  const b = Buffer.allocUnsafe(VOTE_REQUEST_LEN);
  writeU64(b, 0, vr.term);
  writeU64(b, 8, vr.lastTerm);
  writeU64(b, 16, vr.lastIndex);
  writeId(b, 24, vr.candidate);
  return b;
}

export function decodeVoteRequest(msg: Buffer): VoteRequest | null {
  if (msg.length !== VOTE_REQUEST_LEN) return null;
  return { term: readU64(msg, 0), lastTerm: readU64(msg, 8), lastIndex: readU64(msg, 16), candidate: readId(msg, 24) };
}

export function encodeVoteResponse(vr: VoteResponse): Buffer {
  const b = Buffer.allocUnsafe(VOTE_RESPONSE_LEN);
  writeU64(b, 0, vr.term);
  writeId(b, 8, vr.peer);
  b[16] = vr.granted ? 1 : 0;
  return b;
}

export function decodeVoteResponse(msg: Buffer): VoteResponse | null {
  if (msg.length !== VOTE_RESPONSE_LEN) return null;
  return { term: readU64(msg, 0), peer: readId(msg, 8), granted: msg[16] === 1 };
}

/** raft.go encodePeerState. */
export function encodePeerState(ps: PeerState): Buffer {
  const b = Buffer.alloc(4 + 4 + ID_LEN * ps.knownPeers.length + 2);
  b.writeUInt32LE(ps.clusterSize, 0);
  b.writeUInt32LE(ps.knownPeers.length, 4);
  let wi = 8;
  for (const p of ps.knownPeers) {
    writeId(b, wi, p);
    wi += ID_LEN;
  }
  b.writeUInt16LE(ps.domainExt, wi);
  return b;
}

/** raft.go decodePeerState (the trailing extension state is optional, as there). */
export function decodePeerState(buf: Buffer): PeerState {
  if (buf.length < 8) throw new CodecError('raft: corrupt peer state');
  const clusterSize = buf.readUInt32LE(0);
  const expected = buf.readUInt32LE(4);
  const knownPeers: string[] = [];
  let ri = 8;
  for (let i = 0; i < expected && ri + ID_LEN <= buf.length; i++) {
    knownPeers.push(readId(buf, ri));
    ri += ID_LEN;
  }
  if (knownPeers.length !== expected) throw new CodecError('raft: corrupt peer state');
  const domainExt = buf.length - ri >= 2 ? buf.readUInt16LE(ri) : ExtUndetermined;
  return { knownPeers, clusterSize, domainExt };
}

/** raft.go termVoteLen: tav.idx is the term (u64) followed by the vote (0 or 8 bytes). */
export const TERM_VOTE_LEN = ID_LEN + 8;

export function encodeTermVote(term: number, vote: string): Buffer {
  const b = Buffer.alloc(8 + vote.length);
  writeU64(b, 0, term);
  b.write(vote, 8, 'latin1');
  return b;
}

/** raft.go readTermVote: shorter than 16 bytes reads as no term (nats-server ignores it too). */
export function decodeTermVote(buf: Buffer): { term: number; vote: string } {
  if (buf.length < TERM_VOTE_LEN) return { term: 0, vote: '' };
  return { term: readU64(buf, 0), vote: buf.toString('latin1', 8) };
}

// Go's encoding/binary varints, used by the consumer ops and the consumer state encoding.

/** binary.Uvarint: [value, bytes read]; n <= 0 on a short or overlong input. */
export function readUvarint(b: Buffer, off: number): [number, number] {
  let x = 0;
  let s = 1;
  for (let i = 0; i < 10; i++) {
    if (off + i >= b.length) return [0, 0];
    const c = b[off + i]!;
    if (c < 0x80) {
      if (i === 9 && c > 1) return [0, -(i + 1)];
      return [x + c * s, i + 1];
    }
    x += (c & 0x7f) * s;
    s *= 128;
  }
  return [0, -11];
}

/** binary.Varint (zig-zag). */
export function readVarint(b: Buffer, off: number): [number, number] {
  const [v, n] = readVarintBig(b, off);
  return [Number(v), n];
}

/** binary.Varint, exact over the whole int64 range. */
export function readVarintBig(b: Buffer, off: number): [bigint, number] {
  const [ux, n] = readUvarintBig(b, off);
  if (n <= 0) return [0n, n];
  const x = ux >> 1n;
  return [(ux & 1n) === 0n ? x : ~x, n];
}

function readUvarintBig(b: Buffer, off: number): [bigint, number] {
  let x = 0n;
  let s = 0n;
  for (let i = 0; i < 10; i++) {
    if (off + i >= b.length) return [0n, 0];
    const c = b[off + i]!;
    if (c < 0x80) return [x | (BigInt(c) << s), i + 1];
    x |= BigInt(c & 0x7f) << s;
    s += 7n;
  }
  return [0n, -11];
}

/** binary.PutUvarint into an array of bytes. */
export function putUvarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** binary.PutVarint (zig-zag) of a JS number (integral). */
export function putVarint(out: number[], v: number): void {
  putVarintBig(out, BigInt(v));
}

/** binary.PutVarint (zig-zag), exact over the whole int64 range. */
export function putVarintBig(out: number[], x: bigint): void {
  let ux = (x << 1n) ^ (x < 0n ? -1n : 0n);
  if (x < 0n) ux = ux & 0xffffffffffffffffn;
  while (ux >= 0x80n) {
    out.push(Number(ux & 0x7fn) | 0x80);
    ux >>= 7n;
  }
  out.push(Number(ux));
}
