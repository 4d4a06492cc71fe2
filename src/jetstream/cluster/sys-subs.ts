// The clustered JetStream's own subscriptions (nats-server's sysSubscribe / subscribeInternal of the
// jetStream and stream structs): a handler per subject, exact subjects in a map and the few wildcards
// in a list, each subscribed on the worker's link with ANNOUNCE so the cluster's routes hear of it.
// Handlers get views valid for the call only (copy to keep).

import { hasWildcard, subjectMatches } from '../../sublist/subject.js';
import { InterestFlags } from '../../shard/peer.js';
import type { JsHost, JsInbound } from '../types.js';

export type SysHandler = (m: JsInbound) => void;

interface Entry {
  acc: number;
  subject: string;
  queue: string | null;
  fn: SysHandler;
  live: boolean;
}

export interface SysSub {
  unsubscribe(): void;
}

export class SysSubs {
  private readonly host: JsHost;
  private readonly exact = new Map<string, Entry[]>();
  private readonly wild: Entry[] = [];

  constructor(host: JsHost) {
    this.host = host;
  }

  /** Subscribes `subject` in account `acc`, told to the cluster; `queue` for queue groups. */
  subscribe(acc: number, subject: string, fn: SysHandler, queue: string | null = null): SysSub {
    const e: Entry = { acc, subject, queue, fn, live: true };
    if (hasWildcard(subject)) this.wild.push(e);
    else {
      const key = `${acc} ${subject}`;
      const list = this.exact.get(key);
      if (list !== undefined) list.push(e);
      else this.exact.set(key, [e]);
    }
    this.host.subscribe(acc, subject, InterestFlags.ANNOUNCE, queue);
    return {
      unsubscribe: () => {
        if (!e.live) return;
        e.live = false;
        if (hasWildcard(subject)) this.wild.splice(this.wild.indexOf(e), 1);
        else {
          const key = `${acc} ${subject}`;
          const list = this.exact.get(key)!;
          list.splice(list.indexOf(e), 1);
          if (list.length === 0) this.exact.delete(key);
        }
        this.host.unsubscribe(acc, subject, InterestFlags.ANNOUNCE, queue);
      },
    };
  }

  /** Hands the message to every matching handler; false when none matched. */
  dispatch(m: JsInbound): boolean {
    let n = 0;
    const list = this.exact.get(`${m.acc} ${m.subject}`);
    if (list !== undefined) {
      for (const e of list.length === 1 ? list : [...list]) {
        if (!e.live) continue;
        n++;
        e.fn(m);
      }
    }
    const wild = this.wild.length > 1 ? [...this.wild] : this.wild;
    for (let i = 0; i < wild.length; i++) {
      const e = wild[i]!;
      if (e.live && e.acc === m.acc && subjectMatches(e.subject, m.subject)) {
        n++;
        e.fn(m);
      }
    }
    return n > 0;
  }

  /** True when a handler here takes this account and subject (a cheap pre-check). */
  has(acc: number, subject: string): boolean {
    if (this.exact.has(`${acc} ${subject}`)) return true;
    for (const e of this.wild) if (e.acc === acc && subjectMatches(e.subject, subject)) return true;
    return false;
  }
}
