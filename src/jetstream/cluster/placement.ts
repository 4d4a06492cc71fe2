// Peer placement for new RAFT groups, as the meta leader does it (jetstream_cluster.go selectPeerGroup,
// createGroupForStream, createGroupForConsumer, remapStreamAssignment, selectPeerError). Servers are
// known by what their statsz says (nats-server's nodeToInfo): cluster, server tags, JetStream limits and
// usage, HA asset count, offline. A stream's replicas go to distinct servers of one cluster (the placement
// cluster, else the requester's, then its alternates), carrying every placement tag and not `!jetstream`,
// with room for max_bytes, at most one per value of the unique tag prefix; among the fit, the most free
// storage first and, for replicated streams, the fewest HA assets first.

import { consumerGroupName, streamGroupName } from '../raft/ids.js';
import type { ClientInfo, JsonObject, RaftGroup, StreamAssignment } from './assignments.js';

/** jetstream_cluster.go jsExcludePlacement. */
export const EXCLUDE_PLACEMENT_TAG = '!jetstream';

/** nats-server's nodeInfo (what a server's statsz tells the others). */
export interface NodeInfo {
  name: string;
  cluster: string;
  tags: string[];
  offline: boolean;
  /** JetStream enabled on that server. */
  js: boolean;
  /** JetStreamConfig: limits (bytes). */
  cfg: { maxMemory: number; maxStore: number } | null;
  /** JetStreamStats: usage and reservations (bytes), HA assets (RAFT groups incl. _meta_). */
  stats: { memory: number; store: number; reservedMemory: number; reservedStore: number; haAssets: number } | null;
}

export interface PlacementContext {
  /** The meta group's peers (ids). */
  peers: string[];
  nodes: Map<string, NodeInfo>;
  /** jetstream { unique_tag } */
  uniqueTag?: string;
  /** jetstream { limits { max_ha_assets } } */
  maxHaAssets?: number;
  /** Randomness (tests fix it). */
  random?: () => number;
}

/** jetstream_cluster.go selectPeerError: why no placement fit (returned, not thrown). */
export class SelectPeerError {
  excludeTag = false;
  offline = false;
  noStorage = false;
  uniqueTag = false;
  misc = false;
  noJsClust = false;
  readonly noMatchTags = new Set<string>();

  /** selectPeerError.Error(): the description of the 10005 API error. */
  get message(): string {
    let b = 'no suitable peers for placement';
    if (this.offline) b += ', peer offline';
    if (this.excludeTag) b += ', exclude tag set';
    if (this.noStorage) b += ', insufficient storage';
    if (this.uniqueTag) b += ', server tag not unique';
    if (this.misc) b += ', miscellaneous issue';
    if (this.noJsClust) b += ', jetstream not enabled in cluster';
    if (this.noMatchTags.size > 0) b += `, tags not matched [${[...this.noMatchTags].map((t) => `'${t}'`).join(', ')}]`;
    return b;
  }

  accumulate(e: SelectPeerError | null): void {
    if (!e) return;
    this.offline ||= e.offline;
    this.excludeTag ||= e.excludeTag;
    this.noStorage ||= e.noStorage;
    this.uniqueTag ||= e.uniqueTag;
    this.misc ||= e.misc;
    this.noJsClust ||= e.noJsClust;
    for (const t of e.noMatchTags) this.noMatchTags.add(t);
  }
}

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function placementOf(cfg: JsonObject): { cluster?: string; tags?: string[] } | undefined {
  const p = cfg['placement'];
  return p && typeof p === 'object' ? (p as { cluster?: string; tags?: string[] }) : undefined;
}

/**
 * selectPeerGroup: `r` peers in `cluster` for a stream with config `cfg`, keeping `existing` (the first
 * `replaceFirstExisting` of them may be replaced, so their unique tags are not reserved) and never
 * choosing `ignore`. Returns the peers, or the reasons nothing fit.
 */
export function selectPeerGroup(
  ctx: PlacementContext,
  r: number,
  cluster: string,
  cfg: JsonObject,
  existing: string[] = [],
  replaceFirstExisting = 0,
  ignore: string[] = [],
): string[] | SelectPeerError {
  if (!cluster) {
    const e = new SelectPeerError();
    e.misc = true;
    return e;
  }
  const random = ctx.random ?? Math.random;
  const maxBytes = Number(cfg['max_bytes'] ?? -1) > 0 ? Number(cfg['max_bytes']) : 0;
  const tags = placementOf(cfg)?.tags ?? [];
  let uniqueTagPrefix = ctx.uniqueTag ?? '';
  if (uniqueTagPrefix && tags.some((t) => t.startsWith(uniqueTagPrefix))) uniqueTagPrefix = '';
  const uniqueTags = new Map<string, NodeInfo>();
  const checkUniqueTag = (ni: NodeInfo): [boolean, NodeInfo | null] => {
    for (const t of ni.tags) {
      if (t.startsWith(uniqueTagPrefix)) {
        const owner = uniqueTags.get(t);
        if (!owner) {
          uniqueTags.set(t, ni);
          return [true, ni];
        }
        return [false, owner];
      }
    }
    return [false, null];
  };

  const ep = new Set<string>();
  if (existing.length > 0) {
    if (existing.length >= r) return existing.slice(0, r);
    existing.forEach((p, i) => {
      ep.add(p);
      if (!uniqueTagPrefix || i < replaceFirstExisting) return;
      const ni = ctx.nodes.get(p);
      if (ni) checkUniqueTag(ni);
    });
  }
  const ip = new Set(ignore);
  const err = new SelectPeerError();
  const storage = cfg['storage'] === 'memory' ? 'memory' : 'file';
  const nodes: { id: string; avail: number; ha: number }[] = [];
  for (const id of shuffle([...ctx.peers], random)) {
    const ni = ctx.nodes.get(id);
    if (!ni) {
      err.misc = true;
      continue;
    }
    if (ni.cluster !== cluster) continue;
    if (ni.offline || !ni.cfg || !ni.stats) {
      err.offline = true;
      continue;
    }
    if (ip.has(id) || ep.has(id)) continue;
    if (ni.tags.includes(EXCLUDE_PLACEMENT_TAG)) {
      err.excludeTag = true;
      continue;
    }
    let matched = true;
    for (const t of tags) {
      if (!ni.tags.includes(t)) {
        matched = false;
        err.noMatchTags.add(t);
        break;
      }
    }
    if (!matched) continue;
    let available = 0;
    if (storage === 'memory') {
      const used = Math.max(ni.stats.reservedMemory, ni.stats.memory);
      if (ni.cfg.maxMemory > used) available = ni.cfg.maxMemory - used;
    } else {
      const used = Math.max(ni.stats.reservedStore, ni.stats.store);
      if (ni.cfg.maxStore > used) available = ni.cfg.maxStore - used;
    }
    if (maxBytes > 0 && maxBytes > available) {
      err.noStorage = true;
      continue;
    }
    if (ctx.maxHaAssets && ctx.maxHaAssets > 0 && ni.stats.haAssets > ctx.maxHaAssets) {
      err.misc = true;
      continue;
    }
    if (uniqueTagPrefix) {
      const [unique] = checkUniqueTag(ni);
      if (!unique) {
        err.uniqueTag = true;
        continue;
      }
    }
    nodes.push({ id, avail: available, ha: ni.stats.haAssets });
  }
  if (nodes.length < r - existing.length) {
    if (ctx.peers.length === 0) err.noJsClust = true;
    return err;
  }
  // Most available first; for replicated streams, balance HA assets first (stable sorts, as Go's).
  nodes.sort((a, b) => b.avail - a.avail);
  if (streamReplicasOf(cfg) > 1) nodes.sort((a, b) => a.ha - b.ha);
  return [...existing, ...nodes.slice(0, r - existing.length).map((n) => n.id)];
}

function streamReplicasOf(cfg: JsonObject): number {
  const r = Number(cfg['num_replicas'] ?? 1);
  return r > 0 ? r : 1;
}

/** createGroupForStream: try the placement cluster, else the requester's cluster and its alternates. */
export function createGroupForStream(ctx: PlacementContext, ci: ClientInfo | undefined, cfg: JsonObject): RaftGroup | SelectPeerError {
  const replicas = streamReplicasOf(cfg);
  const placement = placementOf(cfg);
  const clusterDefined = !!placement?.cluster;
  const clusters = [clusterDefined ? placement!.cluster! : (ci?.cluster ?? '')];
  if (!clusterDefined) clusters.push(...(ci?.alts ?? []));
  const errs = new SelectPeerError();
  const storage = cfg['storage'] === 'memory' ? 'memory' : 'file';
  for (const cn of clusters) {
    const res = selectPeerGroup(ctx, replicas, cn, cfg);
    if (res instanceof SelectPeerError || res.length < replicas) {
      errs.accumulate(res instanceof SelectPeerError ? res : null);
      continue;
    }
    return { name: streamGroupName(res.length, storage), peers: res, store: storage, cluster: cn };
  }
  return errs;
}

/** raftGroup.setPreferred: a random member leads first. */
export function setPreferred(g: RaftGroup, random: () => number = Math.random): void {
  if (g.peers.length === 0) return;
  g.preferred = g.peers.length === 1 ? g.peers[0] : g.peers[Math.floor(random() * g.peers.length)];
}

/**
 * createGroupForConsumer: the stream's peers (a random subset when the consumer asks for fewer
 * replicas); memory storage when the consumer asks for it.
 */
export function createGroupForConsumer(cfg: JsonObject, sa: StreamAssignment, random: () => number = Math.random): RaftGroup | null {
  let peers = [...sa.group.peers];
  if (peers.length === 0) return null;
  const replicas = Number(cfg['num_replicas'] ?? 0);
  if (replicas > 0 && replicas !== peers.length) peers = shuffle(peers, random).slice(0, replicas);
  let storage: 'file' | 'memory' = sa.stream['storage'] === 'memory' ? 'memory' : 'file';
  if (cfg['mem_storage'] === true) storage = 'memory';
  return { name: consumerGroupName(peers.length, storage), peers, store: storage };
}

/** remapStreamAssignment: replace `removePeer` (true), or at least drop it (false). Mutates sa.group. */
export function remapStreamAssignment(ctx: PlacementContext, sa: StreamAssignment, removePeer: string): boolean {
  const retain = sa.group.peers.filter((p) => p !== removePeer);
  const ignore = sa.group.peers.filter((p) => p === removePeer);
  const res = selectPeerGroup(ctx, sa.group.peers.length, sa.group.cluster ?? '', sa.stream, retain, 0, ignore);
  if (!(res instanceof SelectPeerError)) {
    sa.group.peers = res;
    delete sa.group.preferred;
    return true;
  }
  const i = sa.group.peers.indexOf(removePeer);
  if (i >= 0) {
    sa.group.peers[i] = sa.group.peers[sa.group.peers.length - 1]!;
    sa.group.peers.pop();
  }
  return false;
}
