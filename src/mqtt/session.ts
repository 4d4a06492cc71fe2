// An MQTT session (mqtt.go mqttSession): the client id, its subscriptions and their JetStream
// consumers (persisted as JSON in $MQTT_sess, mqttPersistedSession), and the packet identifiers of
// QoS 1/2 messages out for delivery (pendingPublish), of PUBRELs out (pendingPubRel), and per
// consumer which stream sequence went out under which identifier (cpending), so a redelivery by
// JetStream reuses the identifier and carries the DUP flag.

import { PUBREL_DELIVERY_PREFIX, PUBREL_PREFIX } from './constants.js';
import type { MqttConnection } from './connection.js';

/** ConsumerConfig as nats-server marshals it into the session record (durations in ns). */
export interface ConsumerCfg {
  durable_name?: string;
  name?: string;
  deliver_policy: string;
  ack_policy: string;
  ack_wait?: number;
  max_ack_pending?: number;
  filter_subject?: string;
  replay_policy: string;
  deliver_subject?: string;
  inactive_threshold?: number;
  num_replicas: number;
  mem_storage?: boolean;
}

/** mqttPersistedSession. */
export interface PersistedSession {
  origin?: string;
  id?: string;
  clean?: boolean;
  subs?: Record<string, number>;
  cons?: Record<string, ConsumerCfg>;
  pubrel?: ConsumerCfg;
}

interface Pending {
  sseq: number;
  /** The JetStream ack subject of the delivery ('' for a retained message). */
  jsAck: string;
  jsDur: string;
}

export class MqttSession {
  readonly id: string;
  readonly idHash: string;
  /** The connection bound to the session, null while none is. */
  conn: MqttConnection | null = null;
  clean = false;
  /** Filter (NATS subject) → QoS. */
  subs = new Map<string, number>();
  /** Subscription sid → the JetStream consumer delivering its QoS 1/2 messages. */
  cons = new Map<string, ConsumerCfg>();
  pubRelConsumer: ConsumerCfg | null = null;
  pubRelSubscribed = false;
  readonly pubRelSubject: string;
  readonly pubRelDeliverySubject: string;
  /** Stream sequence of the session record (0: not stored). */
  seq = 0;
  readonly pendingPublish = new Map<number, Pending>();
  readonly pendingPubRel = new Map<number, Pending>();
  /** Durable → stream sequence → packet identifier. */
  readonly cpending = new Map<string, Map<number, number>>();
  lastPi = 0;
  maxp: number;
  /** Sum of this session's consumers' max_ack_pending. */
  tmaxack = 0;
  readonly domainTk: string;

  constructor(id: string, idHash: string, seq: number, maxp: number, domainTk: string) {
    this.id = id;
    this.idHash = idHash;
    this.seq = seq;
    this.maxp = maxp;
    this.domainTk = domainTk;
    this.pubRelSubject = PUBREL_PREFIX + idHash;
    this.pubRelDeliverySubject = PUBREL_DELIVERY_PREFIX + idHash;
  }

  restore(ps: PersistedSession): void {
    this.clean = ps.clean === true;
    this.subs = new Map(Object.entries(ps.subs ?? {}));
    this.cons = new Map(Object.entries(ps.cons ?? {}));
    this.pubRelConsumer = ps.pubrel ?? null;
  }

  /** The session record (mqttSession.save's mqttPersistedSession). */
  record(origin: string): string {
    const ps: PersistedSession = { origin, id: this.id };
    if (this.clean) ps.clean = true;
    if (this.subs.size > 0) ps.subs = Object.fromEntries(this.subs);
    if (this.cons.size > 0) ps.cons = Object.fromEntries(this.cons);
    if (this.pubRelConsumer !== null) ps.pubrel = this.pubRelConsumer;
    return JSON.stringify(ps);
  }

  /** Forgets everything (mqttSession.clear); returns the consumers to delete and the record's seq. */
  reset(): { durables: string[]; pubRelDurable: string; seq: number } {
    const durables = [...this.cons.values()].map((c) => c.durable_name ?? '');
    const pubRelDurable = this.pubRelConsumer?.durable_name ?? '';
    const seq = this.seq;
    this.cons.clear();
    this.subs.clear();
    this.pendingPublish.clear();
    this.pendingPubRel.clear();
    this.cpending.clear();
    this.pubRelConsumer = null;
    this.seq = 0;
    this.tmaxack = 0;
    return { durables, pubRelDurable, seq };
  }

  /** The next free packet identifier, or 0 (bumpPI). */
  bumpPi(): number {
    let next = this.lastPi;
    for (let i = 0; i < 0xffff; i++) {
      next = (next + 1) & 0xffff;
      if (next === 0) next = 1;
      if (!this.pendingPublish.has(next) && !this.pendingPubRel.has(next)) {
        this.lastPi = next;
        return next;
      }
    }
    return 0;
  }

  /** A retained message going out at QoS > 0: a fresh identifier, nothing to ack (trackPublishRetained). */
  trackPublishRetained(): number {
    const pi = this.bumpPi();
    if (pi !== 0) this.pendingPublish.set(pi, { sseq: 0, jsAck: '', jsDur: '' });
    return pi;
  }

  /**
   * trackPublish: the identifier for a JetStream delivery (`jsAck` is its ack subject, holding the
   * stream sequence and delivery count). pi 0: do not send now (max_ack_pending reached, or a PUBREL
   * is already out for it); JetStream redelivers after ack_wait.
   */
  trackPublish(jsDur: string, jsAck: string, sseq: number, dcount: number): { pi: number; dup: boolean } {
    if (jsAck === '' || jsDur === '') return { pi: 0, dup: false };
    const dup = dcount > 1;
    let sseqToPi = this.cpending.get(jsDur);
    let pi = 0;
    if (sseqToPi === undefined) {
      sseqToPi = new Map();
      this.cpending.set(jsDur, sseqToPi);
    } else pi = sseqToPi.get(sseq) ?? 0;
    if (pi !== 0) {
      if (this.pendingPubRel.has(pi)) return { pi: 0, dup: false };
      const ack = this.pendingPublish.get(pi);
      if (ack !== undefined) {
        ack.jsAck = jsAck;
        ack.sseq = sseq;
        ack.jsDur = jsDur;
        return { pi, dup };
      }
    } else {
      if (this.pendingPublish.size >= this.maxp) return { pi: 0, dup: false };
      pi = this.bumpPi();
      if (pi === 0) return { pi: 0, dup: false };
      sseqToPi.set(sseq, pi);
    }
    this.pendingPublish.set(pi, { sseq, jsAck, jsDur });
    return { pi, dup };
  }

  /** Stops tracking `pi` as a PUBLISH; returns its ack subject ('' when none). */
  untrackPublish(pi: number): string {
    const ack = this.pendingPublish.get(pi);
    if (ack === undefined) return '';
    this.pendingPublish.delete(pi);
    if (this.pendingPublish.size === 0) this.lastPi = 0;
    if (ack.jsDur !== '') this.cpending.get(ack.jsDur)?.delete(ack.sseq);
    return ack.jsAck;
  }

  /** A PUBREC moved `pi` to PUBREL tracking (jsAck ''), or the PUBREL marker was delivered (trackAsPubRel). */
  trackAsPubRel(pi: number, jsAck: string, sseq: number): void {
    const c = this.pubRelConsumer;
    if (c === null) return;
    const jsDur = c.durable_name ?? '';
    if (jsAck === '') {
      this.pendingPubRel.set(pi, { sseq: 0, jsAck: '', jsDur });
      return;
    }
    let sseqToPi = this.cpending.get(jsDur);
    if (sseqToPi === undefined) {
      sseqToPi = new Map();
      this.cpending.set(jsDur, sseqToPi);
    }
    sseqToPi.set(sseq, pi);
    this.pendingPubRel.set(pi, { sseq, jsAck, jsDur });
  }

  untrackPubRel(pi: number): string {
    const ack = this.pendingPubRel.get(pi);
    if (ack === undefined) return '';
    this.pendingPubRel.delete(pi);
    if (this.pubRelConsumer !== null) this.cpending.get(ack.jsDur)?.delete(ack.sseq);
    return ack.jsAck;
  }

  /** The durable of subscription `sid` went away: its identifiers are free (mqttProcessUnsubs). */
  dropConsumer(sid: string): ConsumerCfg | null {
    const cc = this.cons.get(sid);
    if (cc === undefined) return null;
    this.cons.delete(sid);
    const dur = cc.durable_name ?? '';
    const seqPis = this.cpending.get(dur);
    if (seqPis !== undefined) {
      this.cpending.delete(dur);
      for (const pi of seqPis.values()) this.pendingPublish.delete(pi);
      if (this.pendingPublish.size === 0) this.lastPi = 0;
    }
    return cc;
  }
}
