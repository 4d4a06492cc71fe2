// RAFT for JetStream clustering: nats-server's NRG (server/raft.go) on the wire, in TypeScript.
//
// What is here (phase 1, issue 15):
//   ids.ts         peer ids (sha256 of the server name, 8 base-62 chars), group names, $NRG subjects
//   codec.ts       appendEntry, appendEntryResponse, voteRequest, voteResponse, peerState, tav.idx
//   node.ts        RaftNode: elections, append entries, heartbeats, commit/apply, catch-up (entries or
//                  snapshot), leader transfer, peer add/remove, observers, lost-quorum step-down; split
//                  as core.ts (state, log, snapshots, commit/apply), follower.ts (follower side of
//                  append entries and catch-up), node.ts (candidate, leader, API), types.ts
//   catchup.ts     the leader's side of catching a follower up (flow-controlled replay)
//   wal.ts         the log: file WAL (segments, crc, group-commit fsync) and memory WAL
//   snapshot.ts    snapshot files `snapshots/snap.<term>.<index>` with HighwayHash-64 (highwayhash.ts)
//   state-files.ts peers.idx and tav.idx, written durably; bootstrapGroup
//   transport.ts   what a node needs from the network: send(subject, reply, payload) / subscribe
//   bus.ts         an in-process transport with partitions, drops and delays (tests, tools)
//   link-transport.ts  the transport over the JetStream worker's ring link (system account), for phase 2
// and beside it, src/jetstream/cluster/: the meta layer of jetstream_cluster.go (assignment JSON and
// entry ops, the meta state machine and its S2 snapshots, placement, stream and consumer group ops).
// Everything is checked against traffic and state files captured from a nats-server 2.9.10 cluster
// (test/fixtures/nrg, scripts/capture-nrg.mjs), and test/jetstream/raft/interop.test.ts runs a RaftNode
// inside a real nats-server cluster: in its meta group (follower, then leader placing streams on the
// nats-server nodes) and in stream groups (replica of a nats-server-led stream, leader of one with
// nats-server followers).
//
// Phase 2: integration plan.
//
// 1. Where the nodes live. Every RaftNode of a server (`_meta_`, each S-/C- group it is a member of)
//    lives in the JetStream worker, beside the streams they replicate; never on a shard. The worker
//    gains a cluster controller (jetstream_cluster.go monitorCluster) that owns the meta node and a
//    MetaState, and turns MetaChanges into actions: start/stop the stream and consumer groups this
//    server is a member of (groupDir: <store_dir>/jetstream/<system account>/_js_/<group>/, bootstrap
//    with the assigned peers), create/update/delete the local stream or consumer, answer the API
//    request an assignment carries when we lead its new group. Meta snapshots as monitorCluster takes
//    them: on peer entries, when the log outgrows 8x the last snapshot, every 2 minutes, at stop.
//    Stream groups snapshot every 64k entries / 8 MiB / 2 min (monitorStream), consumers likewise.
//
// 2. How $NRG traffic travels. A LinkTransport implements RaftTransport on the worker's JsHost:
//    send() = host.publish(<system account>, subject, reply, null, payload); subscribe() =
//    host.subscribe(<system account>, subject) plus an exact-subject dispatch map the engine's
//    onMessage consults first (link-transport.ts, written and tested on a fake host). Payloads are
//    ring views valid for the call; RaftNode copies what it keeps. The link must keep the two
//    properties of transport.ts: no delivery of the worker's own publications back to itself (the
//    shards never send a peer's frame back to that peer today), and FIFO per route (one route per
//    server pair, frames in order). Interest before messages (DESIGN.md) also matters here: a
//    follower subscribes its catch-up inbox and then answers with it; the subscription must reach the
//    leader's server first, which the ring order and the route's RS+-before-RMSG order give.
//    Node start waits until routes are up (raft.go run "Waiting for routing to be established").
//
// 3. What the routes branch must provide (src/cluster/ today sends the cluster only the shards' own
//    interest and never routes a JetStream-worker message): (a) the JetStream worker's subscriptions
//    in the system account (and $JSC.>, and, for forwarded API requests, $JS.API.> of each JetStream
//    account) announced to routes as RS+/RS- like a client's; (b) messages the worker publishes
//    delivered to routes with interest (RMSG), not only to the shards' local clients; (c) messages
//    from a route delivered to the worker when it has interest (deliverFromRoute skips targets with
//    localWeight 0 today); (d) the system account's server events: $SYS.SERVER.<id>.STATSZ sent
//    periodically with the jetstream {config, stats} block and $SYS.REQ.SERVER.PING.STATSZ answered,
//    and the same consumed from peers into a NodeInfo table (placement.ts NodeInfo) — nats-server's
//    nodeToInfo, which the meta leader places by and which decides whether nats-server will transfer
//    leadership to a tsnats peer (raft.go StepDown skips peers it has no statsz for).
//
// 4. Replicated streams. The stream leader (the member whose group node leads) subscribes the stream
//    subjects; a publish runs the leader-side checks (expected headers, Nats-Msg-Id de-duplication,
//    limits; jetstream_cluster.go processClusteredInboundMsg) and proposes
//    encodeStreamMsg(subject, reply, hdr, msg, clseq, ts) with clseq++ (compressed when every peer's
//    statsz says compress_ok and the message is over 4 KiB). Every member, leader included, stores the
//    message when the entry commits (seq = lseq + 1 - clfs, skips, flow control), and the leader sends
//    the pub ack then: an ack means a quorum has it on disk (followers ack entries only after fsync).
//    Purge and delete go through the log as purgeStreamOp/deleteMsgOp JSON, answered by the leader on
//    apply. Stream snapshots (JSON to 2.9 peers, binary to peers that advertise it) let a follower
//    behind the log ask the leader for messages on the sa.sync subject ($JSC.SYNC.<x>, streamSyncRequest)
//    and receive them as streamMsgOp on a $JSC.R.<x> inbox with flow-control acks (runCatchup); the
//    codecs exist (stream-ops.ts), the catch-up loop is phase 2. Reads (info, msg get) are served by the
//    leader; direct get by any current member when allow_direct.
//
// 5. Replicated consumers. The consumer leader delivers and proposes updateDeliveredOp per delivery and
//    updateAcksOp per ack (consumer.go updateDelivered/updateAcks); followers apply them with the exact
//    consumerFileStore semantics (ReplicatedConsumerState); snapshots carry encodeConsumerState.
//    Durables inherit the stream's replicas; ephemerals are R1 (no group).
//
// 6. The meta leader and the API (jetstream_api.go clustered paths). Every server subscribes the API;
//    stream/consumer create, update and delete are answered by the meta leader only: it validates,
//    places (createGroupForStream/createGroupForConsumer, setPreferred; 10005 with the selectPeerError
//    text when nothing fits — that is nats-server's answer to num_replicas above the cluster size),
//    and proposes the assignment carrying the request's subject and reply; the member that leads the
//    new group answers once it has created the stream. Info/msg get: the stream leader. List/names and
//    $JS.API.INFO: the meta leader from MetaState, with per-stream info gathered from group leaders
//    ($JSC.SI.<acc>.<stream> requests, as jsClusteredStreamListRequest). META.LEADER.STEPDOWN,
//    STREAM.LEADER.STEPDOWN (node.stepDown), STREAM.PEER.REMOVE (remapStreamAssignment + updateStream).
//    No meta leader (or no group quorum): 10008 "JetStream system temporarily unavailable" / timeouts,
//    as nats-server. /jsz meta_cluster {name, leader, peer, replicas, cluster_size} from the meta node's
//    peerInfo(); stream/consumer info cluster {name, leader, replicas [{name, current, active, lag,
//    peer}]} from the group node; /healthz not ok while a group this server belongs to is not current.
//
// 7. Mixed clusters (issue 16): the wire formats here are nats-server's; what differs between 2.9 and
//    2.10 (binary stream snapshots, deleteRangeOp, 2.11's lterm) is decoded always and sent only to
//    peers whose statsz version says they read it.

export * from './codec.js';
export * from './ids.js';
export { RaftNode, DEFAULT_TIMING, Follower, Leader, Candidate, Observer, Closed, STATE_NAMES, groupDir, type CommittedEntry, type PeerInfo, type RaftNodeConfig, type RaftTiming } from './node.js';
export { FileWal, MemoryWal, type Wal, type WalState } from './wal.js';
export { bootstrapGroup, readPeerStateFile, readTermVoteFile } from './state-files.js';
export { MemoryBus } from './bus.js';
export { LinkTransport, type RaftLinkHost } from './link-transport.js';
export type { RaftTransport, RaftSubscription, RaftMsgHandler } from './transport.js';
