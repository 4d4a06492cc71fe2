// The RAFT transport of the JetStream worker (phase 2, index.ts step 2): $NRG traffic as ordinary
// messages in the system account over the worker's ring link (JsHost), so it reaches the shards and,
// through the routes they host, the other servers. The worker's engine hands every inbound message of
// the system account to deliver() first; the subjects a RAFT node subscribes are exact (group subjects
// and inboxes), so dispatch is one map lookup. The link never delivers the worker's own publications
// back to it (transport.ts), and the payload views it passes are copied by RaftNode where kept.

import { hasWildcard, subjectMatches } from '../../sublist/subject.js';
import type { RaftMsgHandler, RaftSubscription, RaftTransport } from './transport.js';

/** The part of JsHost (jetstream/types.ts) the transport uses. */
export interface RaftLinkHost {
  publish(acc: number, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void;
  subscribe(acc: number, subject: string): void;
  unsubscribe(acc: number, subject: string): void;
}

interface Handler {
  subject: string;
  fn: RaftMsgHandler;
  live: boolean;
}

export class LinkTransport implements RaftTransport {
  private readonly host: RaftLinkHost;
  /** Index of the system account in the link's account table. */
  readonly sysAcc: number;
  private readonly exact = new Map<string, Handler[]>();
  private readonly wild: Handler[] = [];

  constructor(host: RaftLinkHost, sysAcc: number) {
    this.host = host;
    this.sysAcc = sysAcc;
  }

  send(subject: string, reply: string, payload: Buffer): void {
    this.host.publish(this.sysAcc, subject, reply === '' ? null : reply, null, payload);
  }

  subscribe(subject: string, fn: RaftMsgHandler): RaftSubscription {
    const h: Handler = { subject, fn, live: true };
    if (hasWildcard(subject)) this.wild.push(h);
    else {
      const list = this.exact.get(subject);
      if (list) list.push(h);
      else this.exact.set(subject, [h]);
    }
    // The host reference-counts interest per subject.
    this.host.subscribe(this.sysAcc, subject);
    return {
      unsubscribe: () => {
        if (!h.live) return;
        h.live = false;
        if (hasWildcard(subject)) this.wild.splice(this.wild.indexOf(h), 1);
        else {
          const list = this.exact.get(subject)!;
          list.splice(list.indexOf(h), 1);
          if (list.length === 0) this.exact.delete(subject);
        }
        this.host.unsubscribe(this.sysAcc, subject);
      },
    };
  }

  /** Hands an inbound message to the RAFT subscriptions; false when none wants it. */
  deliver(acc: number, subject: string, reply: string | null, data: Buffer): boolean {
    if (acc !== this.sysAcc) return false;
    let n = 0;
    const list = this.exact.get(subject);
    if (list) {
      for (const h of list.length === 1 ? list : [...list]) {
        if (!h.live) continue;
        n++;
        h.fn(subject, reply ?? '', data);
      }
    }
    for (let i = 0; i < this.wild.length; i++) {
      const h = this.wild[i]!;
      if (h.live && subjectMatches(h.subject, subject)) {
        n++;
        h.fn(subject, reply ?? '', data);
      }
    }
    return n > 0;
  }
}
