// The `cluster` block of stream and consumer info and /jsz's meta_cluster replicas
// (jetstream_cluster.go clusterInfo, PeerInfo JSON): the cluster's name, the group leader's server name
// and, for every other member, whether it is current, how long since it was heard from (ns) and how
// far it lags, sorted by name. A member whose server has sent no statsz yet is named as nats-server
// names it.

import type { RaftNode } from '../raft/node.js';
import type { JsCluster } from './js-cluster.js';

/** raft.go lostQuorumInterval: a peer not heard from this long is not current. */
const LOST_QUORUM_MS = 10_000;

export interface PeerInfoJson {
  name: string;
  current: boolean;
  offline?: boolean;
  active: number;
  lag?: number;
  peer: string;
}

export interface ClusterInfoJson {
  name: string;
  leader?: string;
  replicas?: PeerInfoJson[];
}

/**
 * `members`: the group's peers (only those are listed). With `hideSelf` false (meta_cluster), our own
 * entry is left out as in clusterInfo (we are the leader there).
 */
export function clusterInfoOf(cl: JsCluster, node: RaftNode | null, members: string[], _hideSelf = true): ClusterInfoJson {
  const ci: ClusterInfoJson = { name: cl.opts.clusterName };
  if (node === null) {
    ci.leader = cl.opts.serverName;
    return ci;
  }
  const leaderId = node.groupLeader();
  const leader = leaderId === '' ? '' : cl.serverNameOf(leaderId);
  if (leader !== '') ci.leader = leader;
  // Leaderless: we list ourselves too.
  const self = leader === '' ? '' : node.id;
  const replicas: PeerInfoJson[] = [];
  for (const p of node.peerInfo()) {
    if (p.id === self || !members.includes(p.id)) continue;
    const last = p.last < 0 ? 0 : p.last;
    let current = p.current;
    if (current && last > LOST_QUORUM_MS) current = false;
    const name = cl.serverNameOf(p.id);
    const pi: PeerInfoJson = { name: name !== '' ? name : `Server name unknown at this time (peerID: ${p.id})`, current, active: last * 1e6, peer: p.id };
    if (name === '' || cl.statsz.isOffline(p.id)) pi.offline = true;
    if (name !== '' && p.lag > 0) pi.lag = p.lag;
    // Field order as nats-server's PeerInfo.
    replicas.push({ name: pi.name, current: pi.current, ...(pi.offline ? { offline: true } : {}), active: pi.active, ...(pi.lag !== undefined ? { lag: pi.lag } : {}), peer: pi.peer });
  }
  replicas.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (replicas.length > 0) ci.replicas = replicas;
  return ci;
}
