// How a RAFT node reaches its peers. In nats-server the node's internal client publishes through the
// server's send queue in the system account and subscribes there (raft.go sendRPC / subscribe); the
// messages cross routes like any other. Two properties of that path matter and every transport must keep
// them:
//   - a server never delivers a message its own RAFT layer published back to its own internal
//     subscriptions (sendq.go: the send-queue client has noIcb set), so a candidate does not receive its
//     own vote request, a leader not its own append entries;
//   - messages between two servers arrive in the order sent (one route), though any may be lost.
// Production (phase 2) implements this over the JetStream worker's ring link; tests use bus.ts.

export type RaftMsgHandler = (subject: string, reply: string, payload: Buffer) => void;

export interface RaftSubscription {
  unsubscribe(): void;
}

export interface RaftTransport {
  /** Publish in the system account. `payload` is not retained by the caller after the call. */
  send(subject: string, reply: string, payload: Buffer): void;
  /** Subscribe to a subject (exact, or with NATS wildcards). Handlers run asynchronously to send(). */
  subscribe(subject: string, handler: RaftMsgHandler): RaftSubscription;
}
