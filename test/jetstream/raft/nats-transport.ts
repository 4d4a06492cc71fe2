// A RaftTransport over a NATS client connection in the system account: lets an in-process RaftNode take
// part in a real nats-server cluster's RAFT group, with nats-server routing its messages exactly as it
// routes its own nodes'. `noEcho` keeps our own publications from coming back (transport.ts).

import { connect, type NatsConnection, type Subscription } from 'nats';
import type { RaftMsgHandler, RaftSubscription, RaftTransport } from '../../../src/jetstream/raft/transport.js';

export class NatsClientTransport implements RaftTransport {
  readonly nc: NatsConnection;
  private readonly subs = new Set<Subscription>();
  /** Counts of what we sent, by subject kind ($NRG.AE, $NRG.V, ...). */
  readonly sent = new Map<string, number>();
  readonly received = new Map<string, number>();

  private constructor(nc: NatsConnection) {
    this.nc = nc;
  }

  static async connect(url: string, user: string, pass: string): Promise<NatsClientTransport> {
    const nc = await connect({ servers: url, user, pass, noEcho: true, name: 'tsnats-raft-probe', maxReconnectAttempts: -1 });
    return new NatsClientTransport(nc);
  }

  send(subject: string, reply: string, payload: Buffer): void {
    const k = subject.split('.', 2).join('.');
    this.sent.set(k, (this.sent.get(k) ?? 0) + 1);
    this.nc.publish(subject, payload, reply ? { reply } : undefined);
  }

  subscribe(subject: string, handler: RaftMsgHandler): RaftSubscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const k = msg.subject.split('.', 2).join('.');
        this.received.set(k, (this.received.get(k) ?? 0) + 1);
        handler(msg.subject, msg.reply ?? '', Buffer.from(msg.data));
      },
    });
    this.subs.add(sub);
    return {
      unsubscribe: () => {
        if (this.subs.delete(sub)) sub.unsubscribe();
      },
    };
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
