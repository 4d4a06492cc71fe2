// Whether the JetStream worker runs clustered, and the cluster's settings from the server's options
// (jetstream_cluster.go enableJetStreamClustering: a cluster name that is not dynamic, configured
// routes, and jetstream.go's `server_name` requirement). Anything less runs JetStream as a single
// server, exactly as without a cluster block.

import { jetStreamDir, type ServerOptions } from '../../server/options.js';
import { NATS_SERVER_COMPAT_VERSION } from '../../version.js';
import type { JetStream } from '../engine.js';
import { JsCluster } from './js-cluster.js';
import { InterestFlags } from '../../shard/peer.js';
import type { RaftTiming } from '../raft/types.js';

export interface ClusterWorkerData {
  serverName: string;
  serverId: string;
  accounts: string[];
}

/**
 * tsnats's election timeouts (ms): shorter than nats-server's 4-9 s so a failed leader is replaced
 * within a few seconds (followers still never campaign while heartbeats, every second, arrive).
 * TSNATS_RAFT_ELECTION="min,max" overrides them (tests).
 */
export function raftTiming(): Partial<RaftTiming> {
  const env = process.env['TSNATS_RAFT_ELECTION'];
  if (env !== undefined) {
    const [min, max] = env.split(',').map(Number);
    if (min !== undefined && max !== undefined && min > 0 && max >= min) return { minElectionTimeout: min, maxElectionTimeout: max };
  }
  return { minElectionTimeout: 2000, maxElectionTimeout: 5000 };
}

export function clusteredJetStream(js: JetStream, o: ServerOptions, data: ClusterWorkerData): JsCluster | null {
  const c = o.cluster;
  if (c === null || !o.jetstream.enabled) return null;
  if (c.name === '' || c.routes.length === 0 || o.serverName === '') {
    js.log.warn('JetStream cluster requires a cluster name, configured routes and server_name: JetStream runs as a single server');
    return null;
  }
  const sysAcc = data.accounts.indexOf(o.systemAccount);
  if (sysAcc < 0) return null;
  const cl = new JsCluster(js, {
    serverName: data.serverName,
    serverId: data.serverId,
    clusterName: c.name,
    host: o.host,
    routes: c.routes.length,
    sysAcc,
    sysAccountName: o.systemAccount,
    jsDir: jetStreamDir(o),
    maxMemory: o.jetstream.maxMemory,
    maxStore: o.jetstream.maxStore,
    tags: o.serverTags ?? [],
    version: NATS_SERVER_COMPAT_VERSION,
    timing: raftTiming(),
  });
  js.cluster = cl;
  // Internal subscriptions (a mirror's deliver subject...) are heard of by the routes.
  js.internal.flags = InterestFlags.ANNOUNCE;
  js.log.info(`JetStream cluster enabled: cluster ${c.name}, server ${data.serverName}`);
  return cl;
}
