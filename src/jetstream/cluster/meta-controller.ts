// The meta controller: one server's member of the `_meta_` group and what it does with it
// (jetstream_cluster.go setupMetaGroup, monitorCluster, processAddPeer/processRemovePeer, the
// proposal side of jsClusteredStreamRequest / jsClusteredConsumerRequest). It owns the RaftNode and the
// MetaState, hands MetaChanges to the JetStream engine (which starts groups and creates or removes
// local streams and consumers), snapshots the meta state as monitorCluster does, and, as leader,
// places new assets and re-places those of a removed peer.
//
// The API layer (phase 2) calls proposeStream / proposeConsumer / proposeStreamRemoval ... on the
// meta leader; this file stays free of API request parsing and replies.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EntryAddPeer, EntryRemovePeer, EntrySnapshot, type Entry } from '../raft/codec.js';
import { META_GROUP, STORE_DIR_NAME } from '../raft/ids.js';
import { RaftNode, type CommittedEntry, type RaftLog, type RaftTiming } from '../raft/node.js';
import { bootstrapGroup, readPeerStateFile } from '../raft/state-files.js';
import type { RaftTransport } from '../raft/transport.js';
import { FileWal } from '../raft/wal.js';
import {
  type ClientInfo,
  type ConsumerAssignment,
  type JsonObject,
  type StreamAssignment,
  assignConsumerOp,
  assignStreamOp,
  encodeConsumerAssignment,
  encodeStreamAssignment,
  goTimeNow,
  removeConsumerOp,
  removeStreamOp,
  serviceAccount,
  streamName,
  updateStreamOp,
} from './assignments.js';
import { MetaState, type MetaChange } from './meta-state.js';
import { SelectPeerError, createGroupForConsumer, createGroupForStream, remapStreamAssignment, setPreferred, type PlacementContext } from './placement.js';
import { randomToken } from '../raft/ids.js';

/** monitorCluster compactInterval. */
const COMPACT_INTERVAL_MS = 2 * 60_000;

export interface MetaControllerConfig {
  /** <store_dir>/jetstream */
  jsDir: string;
  /** The system account's name (the directory under jsDir). */
  sysAccount: string;
  /** Our peer id. */
  id: string;
  transport: RaftTransport;
  /** Peers known at first start (ActivePeers) and the number of configured routes (bootstrap size). */
  knownPeers?: string[];
  routes?: number;
  /** Placement facts (the NodeInfo table from statsz and the meta peers), asked for when placing. */
  placement: () => PlacementContext;
  onChanges: (changes: MetaChange[]) => void;
  onLeaderChange?: (isLeader: boolean) => void;
  timing?: Partial<RaftTiming>;
  fsync?: boolean;
  observer?: boolean;
  log?: RaftLog;
}

export class MetaController {
  readonly state: MetaState;
  readonly node: RaftNode;
  private readonly cfg: MetaControllerConfig;
  private lastSnap: Buffer | null = null;
  private lastSnapTime = 0;
  private beenLeader = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** This start created the group (no peer state on disk). */
  private readonly bootstrapped: boolean;

  constructor(cfg: MetaControllerConfig) {
    this.cfg = cfg;
    const dir = join(cfg.jsDir, cfg.sysAccount, STORE_DIR_NAME, META_GROUP);
    mkdirSync(dir, { recursive: true });
    // setupMetaGroup: bootstrap on first start with the peers seen so far and an estimated size.
    this.bootstrapped = !readPeerStateFile(dir);
    if (this.bootstrapped) bootstrapGroup(dir, cfg.knownPeers ?? [], false, cfg.routes ?? 0, cfg.fsync ?? true);
    this.state = new MetaState(cfg.id);
    this.node = new RaftNode({
      group: META_GROUP,
      dir,
      id: cfg.id,
      wal: new FileWal(dir, { fsync: cfg.fsync ?? true }),
      transport: cfg.transport,
      timing: cfg.timing,
      fsync: cfg.fsync,
      observer: cfg.observer,
      log: cfg.log,
      onApply: (ce) => this.onApply(ce),
      onLeaderChange: (l) => this.onLeaderChange(l),
    });
  }

  start(): this {
    this.node.start();
    // setupMetaGroup: a fresh group campaigns early.
    if (this.bootstrapped && !this.cfg.observer) this.node.campaign();
    this.timer = setInterval(() => {
      this.doSnapshot();
      if (this.node.isLeader()) this.checkStreams();
    }, COMPACT_INTERVAL_MS);
    this.timer.unref?.();
    return this;
  }

  /** Clean stop: snapshot the meta state first (monitorCluster's qch case). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.doSnapshot();
    this.node.stop();
  }

  isLeader(): boolean {
    return this.node.isLeader();
  }

  private onApply(ce: CommittedEntry | null): void {
    if (ce === null) {
      this.cfg.onChanges(this.state.endRecovery());
      return;
    }
    const changes = this.state.applyEntries(ce.entries);
    const { bytes } = this.node.appliedTo(ce.index);
    // The leader re-places assets of a peer removed from (or added to) the meta group.
    for (const c of changes) {
      if (c.op === 'peer-remove') this.processRemovePeer(c.peer);
      else if (c.op === 'peer-add') this.processAddPeer(c.peer);
    }
    this.cfg.onChanges(changes);
    const didSnap = ce.entries.some((e) => e.type === EntrySnapshot);
    const didRemoval = changes.some((c) => c.op === 'stream-remove' || c.op === 'consumer-remove');
    if (hasPeerEntries(ce.entries) || didSnap || (didRemoval && Date.now() - this.lastSnapTime > 2000)) this.doSnapshot();
    else if (this.lastSnap && this.lastSnap.length > 0 && bytes > this.lastSnap.length * 8) this.doSnapshot();
  }

  private onLeaderChange(isLeader: boolean): void {
    if (isLeader && !this.beenLeader) {
      this.beenLeader = true;
      if (this.node.needSnapshot()) this.doSnapshot(true);
    }
    this.cfg.onLeaderChange?.(isLeader);
  }

  /** monitorCluster doSnapshot: only after recovery, only when the state changed. */
  private doSnapshot(force = false): void {
    if (this.state.isRecovering()) return;
    const snap = this.state.snapshot();
    if (!force && this.lastSnap && snap.equals(this.lastSnap)) return;
    try {
      this.node.installSnapshot(snap);
      this.lastSnap = snap;
      this.lastSnapTime = Date.now();
    } catch {
      // Nothing applied yet, catch-ups running, or stopped: try again next time.
    }
  }

  // ---- leader actions ----

  /**
   * jsClusteredStreamRequest's proposal: place a new stream and propose its assignment. Returns the
   * assignment proposed, or the placement error (the API answers 10005 with its text).
   */
  proposeStream(ci: ClientInfo, config: JsonObject, subject = '', reply = ''): StreamAssignment | SelectPeerError {
    const group = createGroupForStream(this.cfg.placement(), ci, config);
    if (group instanceof SelectPeerError) return group;
    setPreferred(group);
    const sa: StreamAssignment = { client: ci, created: goTimeNow(), stream: config, group, sync: `$JSC.SYNC.${randomToken()}`, subject, reply };
    this.node.propose(encodeStreamAssignment(assignStreamOp, sa));
    return sa;
  }

  proposeStreamUpdate(sa: StreamAssignment): void {
    this.node.propose(encodeStreamAssignment(updateStreamOp, sa));
  }

  proposeStreamRemoval(sa: StreamAssignment): void {
    this.node.propose(encodeStreamAssignment(removeStreamOp, sa));
  }

  /** jsClusteredConsumerRequest's proposal: the consumer's group from the stream's peers. */
  proposeConsumer(ci: ClientInfo, stream: string, name: string, config: JsonObject, subject = '', reply = ''): ConsumerAssignment | null {
    const sa = this.state.stream(serviceAccount(ci), stream);
    if (!sa) return null;
    const group = createGroupForConsumer(config, sa);
    if (!group) return null;
    setPreferred(group);
    const ca: ConsumerAssignment = { client: ci, created: goTimeNow(), name, stream, consumer: config, group, subject, reply };
    this.node.propose(encodeConsumerAssignment(assignConsumerOp, ca));
    return ca;
  }

  proposeConsumerRemoval(ca: ConsumerAssignment): void {
    this.node.propose(encodeConsumerAssignment(removeConsumerOp, ca));
  }

  /** processRemovePeer (leader): move every asset off the removed peer. */
  private processRemovePeer(peer: string): void {
    if (!this.node.isLeader()) return;
    for (const [, sa] of [...this.state.allStreams()]) {
      if (!sa.group.peers.includes(peer)) continue;
      this.removePeerFromStream(sa, peer);
    }
  }

  /** removePeerFromStreamLocked: re-place the stream and its durable consumers (ephemerals go). */
  removePeerFromStream(sa: StreamAssignment, peer: string): boolean {
    const csa: StreamAssignment = { ...sa, group: { ...sa.group, peers: [...sa.group.peers] } };
    delete csa.consumers;
    const replaced = remapStreamAssignment(this.cfg.placement(), csa, peer);
    this.node.propose(encodeStreamAssignment(assignStreamOp, csa));
    for (const ca of sa.consumers?.values() ?? []) {
      if (ca.consumer['durable_name']) {
        const cca: ConsumerAssignment = { ...ca, group: { ...ca.group, peers: [...csa.group.peers] } };
        delete cca.group.preferred;
        this.node.propose(encodeConsumerAssignment(assignConsumerOp, cca));
      } else if (ca.group.peers.includes(peer)) {
        this.node.propose(encodeConsumerAssignment(removeConsumerOp, ca));
      }
    }
    return replaced;
  }

  /** processAddPeer (leader): streams short of replicas in the new peer's cluster take it. */
  private processAddPeer(peer: string): void {
    if (!this.node.isLeader()) return;
    const ni = this.cfg.placement().nodes.get(peer);
    if (!ni) return;
    for (const [, sa] of [...this.state.allStreams()]) {
      const replicas = Number(sa.stream['num_replicas'] ?? 1);
      if (sa.group.peers.length >= replicas || ni.cluster !== sa.client?.cluster) continue;
      const csa: StreamAssignment = { ...sa, group: { ...sa.group, peers: [...sa.group.peers, peer] } };
      delete csa.consumers;
      this.node.propose(encodeStreamAssignment(assignStreamOp, csa));
      for (const ca of sa.consumers?.values() ?? []) {
        if (ca.consumer['durable_name'] || ca.group.peers.length > 1) {
          this.node.propose(encodeConsumerAssignment(assignConsumerOp, { ...ca, group: { ...ca.group, peers: csa.group.peers } }));
        }
      }
    }
  }

  /** The streamsCheck of monitorCluster: assignments without a sync subject get one (an old bug). */
  private checkStreams(): void {
    for (const [, sa] of [...this.state.allStreams()]) {
      if (sa.sync) continue;
      const csa: StreamAssignment = { ...sa, sync: `$JSC.SYNC.${randomToken()}` };
      delete csa.consumers;
      this.node.propose(encodeStreamAssignment(assignStreamOp, csa));
    }
  }

  streamAssignment(account: string, stream: string): StreamAssignment | undefined {
    return this.state.stream(account, stream);
  }

  streamNames(account: string): string[] {
    return [...(this.state.streams.get(account)?.values() ?? [])].map(streamName);
  }
}

function hasPeerEntries(entries: Entry[]): boolean {
  return entries.some((e) => e.type === EntryAddPeer || e.type === EntryRemovePeer);
}
