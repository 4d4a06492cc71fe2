// RAFT snapshot files, as nats-server writes them (raft.go encodeSnapshot / loadLastSnapshot /
// setupLastSnapshot): `<group dir>/snapshots/snap.<term>.<index>`, one file kept, laid out as
//
//   0   8  last term            20    n  peer state (encodePeerState)
//   8   8  last index           20+n  .. the upper layer's snapshot data
//   16  4  n = peer state len   end-8 8  HighwayHash-64 of everything before, keyed sha256(group)
//
// The file is written to a temporary name, fsynced and renamed, so a crash leaves the old snapshot or the
// new one, never half of one (nats-server writes in place; the format is the same).

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { HighwayHash64 } from './highwayhash.js';
import { CodecError, readU64, writeU64 } from './codec.js';

export const SNAPSHOTS_DIR = 'snapshots';
/** raft.go minSnapshotLen. */
export const MIN_SNAPSHOT_LEN = 28;

export interface Snapshot {
  lastTerm: number;
  lastIndex: number;
  peerState: Buffer;
  data: Buffer;
}

export function snapshotHasher(group: string): HighwayHash64 {
  return new HighwayHash64(createHash('sha256').update(group).digest());
}

export function encodeSnapshot(hh: HighwayHash64, snap: Snapshot): Buffer {
  const body = Buffer.allocUnsafe(20 + snap.peerState.length + snap.data.length);
  writeU64(body, 0, snap.lastTerm);
  writeU64(body, 8, snap.lastIndex);
  body.writeUInt32LE(snap.peerState.length, 16);
  snap.peerState.copy(body, 20);
  snap.data.copy(body, 20 + snap.peerState.length);
  return Buffer.concat([body, hh.digest(body)]);
}

export function decodeSnapshot(hh: HighwayHash64, buf: Buffer): Snapshot {
  if (buf.length < MIN_SNAPSHOT_LEN) throw new CodecError('snapshot corrupt, too short');
  const hoff = buf.length - 8;
  if (!hh.digest(buf.subarray(0, hoff)).equals(buf.subarray(hoff))) throw new CodecError('snapshot corrupt, checksums did not match');
  const lps = buf.readUInt32LE(16);
  if (20 + lps > hoff) throw new CodecError('snapshot corrupt, peer state length');
  return {
    lastTerm: readU64(buf, 0),
    lastIndex: readU64(buf, 8),
    peerState: buf.subarray(20, 20 + lps),
    data: buf.subarray(20 + lps, hoff),
  };
}

/** raft.go snapFileT. */
export function snapshotFileName(term: number, index: number): string {
  return `snap.${term}.${index}`;
}

export function parseSnapshotFileName(name: string): { term: number; index: number } | null {
  const m = /^snap\.(\d+)\.(\d+)$/.exec(name);
  if (!m) return null;
  return { term: Number(m[1]), index: Number(m[2]) };
}

/** Writes the snapshot durably and removes every other snapshot file. Returns its path. */
export function writeSnapshotFile(groupDir: string, hh: HighwayHash64, snap: Snapshot, fsync = true): string {
  const dir = join(groupDir, SNAPSHOTS_DIR);
  mkdirSync(dir, { recursive: true });
  const name = snapshotFileName(snap.lastTerm, snap.lastIndex);
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const buf = encodeSnapshot(hh, snap);
  const fd = openSync(tmp, 'w', 0o640);
  try {
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (fsync) syncDir(dir);
  for (const f of readdirSync(dir)) if (f !== name) rmSync(join(dir, f), { force: true });
  return path;
}

/**
 * raft.go setupLastSnapshot + loadLastSnapshot: the newest parseable snapshot (highest term, then index)
 * whose checksum holds; every other file (older, unparseable, corrupt) is removed.
 */
export function loadLastSnapshot(groupDir: string, hh: HighwayHash64): { path: string; snap: Snapshot } | null {
  const dir = join(groupDir, SNAPSHOTS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const candidates = names
    .map((n) => ({ n, p: parseSnapshotFileName(n) }))
    .filter((c): c is { n: string; p: { term: number; index: number } } => c.p !== null)
    .sort((a, b) => b.p.term - a.p.term || b.p.index - a.p.index);
  let found: { path: string; snap: Snapshot } | null = null;
  for (const c of candidates) {
    const path = join(dir, c.n);
    try {
      found = { path, snap: decodeSnapshot(hh, readFileSync(path)) };
      break;
    } catch {
      rmSync(path, { force: true });
    }
  }
  for (const n of names) {
    const path = join(dir, n);
    if (!found || path !== found.path) rmSync(path, { force: true });
  }
  return found;
}

export function removeSnapshots(groupDir: string): void {
  rmSync(join(groupDir, SNAPSHOTS_DIR), { recursive: true, force: true });
}

/** fsync a directory so a rename or a new file in it survives a crash. */
export function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is synced.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
