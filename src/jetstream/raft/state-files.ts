// The two small state files of a RAFT group directory (raft.go peerStateFile / termVoteFile):
//   peers.idx  encodePeerState (known peers, cluster size, domain extension state)
//   tav.idx    term (u64) + vote (the peer id voted for in that term, or nothing)
// Both are written durably (temporary file, fsync, rename, fsync of the directory) before the caller
// acts on them: a vote is granted or requested only once the term and vote are on disk, so a node that
// crashes and restarts can never vote twice in one term (nats-server writes them asynchronously).

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodePeerState, decodeTermVote, encodePeerState, encodeTermVote, type PeerState } from './codec.js';
import { syncDir } from './snapshot.js';

export const PEER_STATE_FILE = 'peers.idx';
export const TERM_VOTE_FILE = 'tav.idx';

export function writeFileDurable(path: string, buf: Buffer, fsync = true): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (fsync) syncDir(join(path, '..'));
}

export function readPeerStateFile(dir: string): PeerState | null {
  let buf: Buffer;
  try {
    buf = readFileSync(join(dir, PEER_STATE_FILE));
  } catch {
    return null;
  }
  return decodePeerState(buf);
}

export function writePeerStateFile(dir: string, ps: PeerState, fsync = true): void {
  mkdirSync(dir, { recursive: true });
  writeFileDurable(join(dir, PEER_STATE_FILE), encodePeerState(ps), fsync);
}

export function readTermVoteFile(dir: string): { term: number; vote: string } {
  try {
    return decodeTermVote(readFileSync(join(dir, TERM_VOTE_FILE)));
  } catch {
    return { term: 0, vote: '' };
  }
}

export function writeTermVoteFile(dir: string, term: number, vote: string, fsync = true): void {
  writeFileDurable(join(dir, TERM_VOTE_FILE), encodeTermVote(term, vote), fsync);
}

export function removeStateFiles(dir: string): void {
  rmSync(join(dir, PEER_STATE_FILE), { force: true });
  rmSync(join(dir, TERM_VOTE_FILE), { force: true });
}

/**
 * raft.go bootstrapRaftNode: a new group's directory gets its peer state before the node starts. With
 * every peer known (stream and consumer groups) the cluster size is their number; otherwise (the meta
 * group at first start) it is an estimate: at least 2 and at least the number of configured routes.
 */
export function bootstrapGroup(dir: string, knownPeers: string[], allPeersKnown: boolean, routes = 0, fsync = true): PeerState {
  let expected = knownPeers.length;
  if (!allPeersKnown) {
    if (expected < 2) expected = 2;
    if (expected < routes) expected = routes;
  }
  const ps: PeerState = { knownPeers: [...knownPeers], clusterSize: expected, domainExt: 0 };
  writePeerStateFile(dir, ps, fsync);
  return ps;
}
