// Names in nats-server's RAFT ("NRG"): peer ids, group names, subjects and reply inboxes.
//
// A peer id is the server's "system hash" (events.go getHash: sha256 of the server name, each of the first
// 8 bytes mapped to a base-62 digit), so every server computes the same id for a peer from its name alone:
// that is what lets tsnats and nats-server nodes sit in one group. Group names are `_meta_` for the meta
// group and `<S|C>-R<replicas><F|M>-<hash of a fresh nuid>` for streams and consumers
// (jetstream_cluster.go groupName). Subjects are raft.go's raftVoteSubj ... raftCatchupReply.

import { createHash, randomBytes } from 'node:crypto';

/** raft.go idLen: peer ids (and the leader field of an append entry) are exactly 8 bytes. */
export const ID_LEN = 8;
/** accounts.go digits/base. */
export const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = 62;
/** events.go replySuffixLen. */
export const REPLY_SUFFIX_LEN = 8;

/** jetstream_cluster.go defaultMetaGroupName / defaultStoreDirName. */
export const META_GROUP = '_meta_';
export const STORE_DIR_NAME = '_js_';

/** events.go getHashSize: sha256(name), first `size` bytes each mapped to digits[b % 62]. */
export function hashSize(name: string, size: number): string {
  const b = createHash('sha256').update(name).digest();
  let s = '';
  for (let i = 0; i < size; i++) s += DIGITS[b[i]! % BASE];
  return s;
}

/** The peer id of the server named `serverName` (events.go getHash, raft.go `hash[:idLen]`). */
export function peerId(serverName: string): string {
  return hashSize(serverName, ID_LEN);
}

/** A random base-62 token of REPLY_SUFFIX_LEN characters (raft.go newInbox / jetstream_cluster.go syncSubject). */
export function randomToken(len = REPLY_SUFFIX_LEN): string {
  const r = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += DIGITS[r[i]! % BASE];
  return s;
}

/** nats-server's nuid is 22 base-62 characters; only its hash is used in a group name. */
function nuidLike(): string {
  return randomToken(22);
}

/** StorageType.String()[:1]: "F" for file, "M" for memory. */
export type StorageKind = 'file' | 'memory';

/** jetstream_cluster.go groupName: `<prefix>-R<n><F|M>-<getHash(nuid.Next())>`. */
export function groupName(prefix: 'S' | 'C', replicas: number, storage: StorageKind): string {
  return `${prefix}-R${replicas}${storage === 'memory' ? 'M' : 'F'}-${hashSize(nuidLike(), ID_LEN)}`;
}

export function streamGroupName(replicas: number, storage: StorageKind): string {
  return groupName('S', replicas, storage);
}

export function consumerGroupName(replicas: number, storage: StorageKind): string {
  return groupName('C', replicas, storage);
}

// raft.go raftAllSubj ... raftCatchupReply.
export const NRG_ALL = '$NRG.>';
export const voteSubject = (group: string): string => `$NRG.V.${group}`;
export const appendSubject = (group: string): string => `$NRG.AE.${group}`;
export const proposalSubject = (group: string): string => `$NRG.P.${group}`;
export const removePeerSubject = (group: string): string => `$NRG.RP.${group}`;
/** raft.go newInbox: replies to votes and append entries. */
export const newReplyInbox = (): string => `$NRG.R.${randomToken()}`;
/** raft.go newCatchupInbox: a follower's catch-up stream from the leader. */
export const newCatchupInbox = (): string => `$NRG.CR.${randomToken()}`;
