// An in-process message bus standing in for a cluster's routes, for RAFT tests and tools: one endpoint
// per server, each a RaftTransport. It keeps the two properties of the real path (transport.ts): no
// delivery back to the publishing server, and per-(sender, receiver) FIFO order. On top it lets a test
// cut links (partitions, one-way blocks, isolating a server), lose messages at random and delay them.
//
// Delivery is always asynchronous (a macrotask per batch), so handlers never run inside send().

import { hasWildcard, subjectMatches } from '../../sublist/subject.js';
import type { RaftMsgHandler, RaftSubscription, RaftTransport } from './transport.js';

interface Sub {
  subject: string;
  wild: boolean;
  handler: RaftMsgHandler;
  live: boolean;
}

interface Pending {
  at: number;
  subject: string;
  reply: string;
  payload: Buffer;
}

/** A link from one endpoint to another: its FIFO queue and its timer. */
interface Link {
  queue: Pending[];
  /** A drain is scheduled (a timer, or an immediate when nothing is delayed). */
  timer: NodeJS.Timeout | NodeJS.Immediate | null;
}

export interface BusStats {
  sent: number;
  delivered: number;
  dropped: number;
}

export class Endpoint implements RaftTransport {
  readonly name: string;
  private readonly bus: MemoryBus;
  readonly subs = new Map<string, Sub[]>();
  readonly wild: Sub[] = [];
  /** Messages this endpoint published, by subject prefix (`$NRG.AE`, ...), for tests. */
  readonly sentBy = new Map<string, number>();

  constructor(bus: MemoryBus, name: string) {
    this.bus = bus;
    this.name = name;
  }

  send(subject: string, reply: string, payload: Buffer): void {
    const key = subject.split('.', 2).join('.');
    this.sentBy.set(key, (this.sentBy.get(key) ?? 0) + 1);
    this.bus.route(this, subject, reply, Buffer.from(payload));
  }

  subscribe(subject: string, handler: RaftMsgHandler): RaftSubscription {
    const sub: Sub = { subject, wild: hasWildcard(subject), handler, live: true };
    if (sub.wild) this.wild.push(sub);
    else {
      const list = this.subs.get(subject);
      if (list) list.push(sub);
      else this.subs.set(subject, [sub]);
    }
    return {
      unsubscribe: () => {
        if (!sub.live) return;
        sub.live = false;
        if (sub.wild) this.wild.splice(this.wild.indexOf(sub), 1);
        else {
          const list = this.subs.get(subject);
          if (list) {
            list.splice(list.indexOf(sub), 1);
            if (list.length === 0) this.subs.delete(subject);
          }
        }
      },
    };
  }

  hasInterest(subject: string): boolean {
    if (this.subs.has(subject)) return true;
    for (const s of this.wild) if (subjectMatches(s.subject, subject)) return true;
    return false;
  }

  deliver(subject: string, reply: string, payload: Buffer): boolean {
    let n = 0;
    const list = this.subs.get(subject);
    if (list) {
      for (const s of [...list]) {
        if (!s.live) continue;
        n++;
        s.handler(subject, reply, payload);
      }
    }
    for (const s of [...this.wild]) {
      if (s.live && subjectMatches(s.subject, subject)) {
        n++;
        s.handler(subject, reply, payload);
      }
    }
    return n > 0;
  }
}

export class MemoryBus {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly links = new Map<string, Link>();
  /** Blocked directed links "from>to". */
  private readonly blocked = new Set<string>();
  private dropRate = 0;
  private minDelay = 0;
  private maxDelay = 0;
  private closed = false;
  readonly stats: BusStats = { sent: 0, delivered: 0, dropped: 0 };
  /** Errors thrown by handlers (none expected). */
  readonly errors: Error[] = [];
  /** Optional tap on every message sent (captures, tests). */
  tap: ((from: string, subject: string, reply: string, payload: Buffer) => void) | null = null;

  endpoint(name: string): Endpoint {
    let e = this.endpoints.get(name);
    if (!e) {
      e = new Endpoint(this, name);
      this.endpoints.set(name, e);
    }
    return e;
  }

  /** A server that goes away: its endpoint and queued messages to and from it are dropped. */
  remove(name: string): void {
    this.endpoints.delete(name);
    for (const [k, l] of this.links) {
      const [from, to] = k.split('>');
      if (from === name || to === name) {
        clearLink(l);
        this.links.delete(k);
      }
    }
  }

  /** Cut every link between the groups (each group stays connected inside). */
  partition(...groups: string[][]): void {
    this.heal();
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.blocked.add(`${a}>${b}`);
      }
    }
  }

  /** Cut a server off from all others, both ways. */
  isolate(name: string): void {
    for (const other of this.endpoints.keys()) {
      if (other === name) continue;
      this.blocked.add(`${name}>${other}`);
      this.blocked.add(`${other}>${name}`);
    }
  }

  /** Block one direction only. */
  block(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Lose each message with this probability (0..1). */
  setDropRate(p: number): void {
    this.dropRate = p;
  }

  /** Delay each message by a random time in [min, max] ms, keeping FIFO order per link. */
  setDelay(min: number, max = min): void {
    this.minDelay = min;
    this.maxDelay = max;
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) clearLink(l);
    this.links.clear();
  }

  route(from: Endpoint, subject: string, reply: string, payload: Buffer): void {
    if (this.closed) return;
    this.stats.sent++;
    this.tap?.(from.name, subject, reply, payload);
    for (const to of this.endpoints.values()) {
      if (to === from) continue;
      if (!to.hasInterest(subject)) continue;
      const key = `${from.name}>${to.name}`;
      if (this.blocked.has(key) || (this.dropRate > 0 && Math.random() < this.dropRate)) {
        this.stats.dropped++;
        continue;
      }
      let link = this.links.get(key);
      if (!link) {
        link = { queue: [], timer: null };
        this.links.set(key, link);
      }
      const delay = this.minDelay + (this.maxDelay > this.minDelay ? Math.random() * (this.maxDelay - this.minDelay) : 0);
      const prev = link.queue.length > 0 ? link.queue[link.queue.length - 1]!.at : 0;
      link.queue.push({ at: Math.max(Date.now() + delay, prev), subject, reply, payload });
      if (!link.timer) this.arm(key, link);
    }
  }

  private arm(key: string, link: Link): void {
    const head = link.queue[0];
    if (!head) return;
    const wait = head.at - Date.now();
    // Undelayed messages go on the next turn (a 0 ms timer is 1 ms in Node).
    link.timer = wait <= 0 ? setImmediate(() => this.drain(key, link)) : setTimeout(() => this.drain(key, link), wait);
  }

  private drain(key: string, link: Link): void {
    link.timer = null;
    const to = this.endpoints.get(key.split('>')[1]!);
    const now = Date.now();
    // Deliver what is due, a bounded batch per turn so timers of other links interleave.
    let n = 0;
    while (link.queue.length > 0 && link.queue[0]!.at <= now && n < 256) {
      const m = link.queue.shift()!;
      n++;
      // A link cut while the message was in flight loses it, as a route closing would.
      if (!to || this.blocked.has(key)) {
        this.stats.dropped++;
        continue;
      }
      try {
        if (to.deliver(m.subject, m.reply, m.payload)) this.stats.delivered++;
      } catch (err) {
        // A handler that throws is a bug under test: keep it for the test to assert on, keep delivering.
        this.errors.push(err as Error);
      }
    }
    if (link.queue.length > 0 && !this.closed) this.arm(key, link);
  }
}

function clearLink(l: Link): void {
  if (!l.timer) return;
  if ('hasRef' in l.timer && 'refresh' in l.timer) clearTimeout(l.timer as NodeJS.Timeout);
  else clearImmediate(l.timer as NodeJS.Immediate);
  l.timer = null;
}
