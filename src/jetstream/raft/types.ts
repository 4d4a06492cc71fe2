// Types, constants and helpers shared by the RAFT node's parts (core.ts, follower.ts, node.ts).

import { join } from 'node:path';
import type { Entry } from './codec.js';
import type { RaftSubscription, RaftTransport } from './transport.js';
import type { Wal } from './wal.js';

/** raft.go RaftState. */
export const Follower = 0;
export const Leader = 1;
export const Candidate = 2;
export const Observer = 3;
export const Closed = 4;
export const STATE_NAMES = ['FOLLOWER', 'LEADER', 'CANDIDATE', 'OBSERVER', 'CLOSED'];

/** raft.go's timing variables (ms); tests shorten them. */
export interface RaftTiming {
  minElectionTimeout: number;
  maxElectionTimeout: number;
  minCampaignTimeout: number;
  maxCampaignTimeout: number;
  hbInterval: number;
  lostQuorumInterval: number;
  lostQuorumCheck: number;
  /** runCatchup activityInterval / catchupStalled. */
  catchupActivity: number;
}

export const DEFAULT_TIMING: RaftTiming = {
  minElectionTimeout: 4000,
  maxElectionTimeout: 9000,
  minCampaignTimeout: 100,
  maxCampaignTimeout: 800,
  hbInterval: 1000,
  lostQuorumInterval: 10_000,
  lostQuorumCheck: 10_000,
  catchupActivity: 2000,
};

/** raft.go CommittedEntry: what the upper layer applies, then reports with applied(index). */
export interface CommittedEntry {
  index: number;
  entries: Entry[];
}

export interface PeerInfo {
  id: string;
  current: boolean;
  /** ms since we last heard from it (0 for ourselves). */
  last: number;
  lag: number;
}

export interface RaftLog {
  debug(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RaftNodeConfig {
  group: string;
  /** The group's directory: peers.idx, tav.idx, snapshots/ (and wal/ for a file WAL). */
  dir: string;
  /** Our peer id (ids.ts peerId(serverName)). */
  id: string;
  wal: Wal;
  transport: RaftTransport;
  observer?: boolean;
  timing?: Partial<RaftTiming>;
  /** fsync tav.idx, peers.idx and snapshots (default true). */
  fsync?: boolean;
  log?: RaftLog;
  /** The apply queue: committed entries in order; null once the start-up replay is done. */
  onApply(ce: CommittedEntry | null): void;
  onLeaderChange?(isLeader: boolean): void;
  /** nats-server's nodeToInfo "offline" check, consulted when choosing a leader to transfer to. */
  isPeerOffline?(id: string): boolean;
}

/** raft.go lps: what we know of a peer. */
export interface PeerTrack {
  /** Last time heard from (ms epoch; 0 = never). */
  ts: number;
  /** Last index it acknowledged. */
  li: number;
  /** Known (official) member, as opposed to merely seen. */
  kp: boolean;
}

export interface FollowerCatchup {
  sub: RaftSubscription;
  inbox: string;
  cterm: number;
  cindex: number;
  pindex: number;
  active: number;
}

export class RaftError extends Error {}
export const errNotLeader = 'raft: not leader';

export const NOOP_LOG: RaftLog = { debug() {}, warn() {}, error() {} };

export function quorumOf(csz: number): number {
  return Math.floor(csz / 2) + 1;
}

export function randBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * Math.max(1, max - min));
}

export function groupDir(storeDir: string, sysAccount: string, group: string): string {
  return join(storeDir, 'jetstream', sysAccount, '_js_', group);
}
