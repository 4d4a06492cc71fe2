// The meta group's state machine (jetstream_cluster.go applyMetaEntries, processStreamAssignment,
// processUpdateStreamAssignment, processStreamRemoval, processConsumerAssignment, processConsumerRemoval,
// metaSnapshot, applyMetaSnapshot): account -> stream -> assignment (with its consumers). Every server
// applies the same committed entries and ends with the same map.
//
// Applying returns changes instead of acting: the upper layer (phase 2: the JetStream worker) starts or
// stops the stream and consumer RAFT groups this server is a member of, answers the API request the
// assignment carries (subject/reply) when it leads the new group, and so on. During start-up replay,
// removals and updates are held back and released at the end (raft.go's nil apply entry), as
// nats-server's recoveryUpdates do, so a stream deleted later in the log is never created on the way.
//
// Meta snapshot (metaSnapshot): S2 of the JSON list of writeableStreamAssignment
// {client, created, stream, group, sync, Consumers: [consumerAssignment...]} (note the Go field name
// "Consumers" without a JSON tag); an empty state snapshots as no bytes.

import {
  type ConsumerAssignment,
  type JsonObject,
  type StreamAssignment,
  AssignmentError,
  assignCompressedConsumerOp,
  assignConsumerOp,
  assignStreamOp,
  consumerAssignmentJson,
  decodeConsumerAssignment,
  decodeConsumerAssignmentCompressed,
  decodeConsumerAssignmentJson,
  decodeStreamAssignment,
  decodeStreamAssignmentJson,
  goJson,
  removeConsumerOp,
  removeStreamOp,
  serviceAccount,
  streamName,
  updateStreamOp,
} from './assignments.js';
import { s2Decode, s2Encode } from './s2.js';
import { EntryAddPeer, EntryRemovePeer, EntrySnapshot, type Entry } from '../raft/codec.js';

export type MetaChange =
  | { op: 'stream-assign'; sa: StreamAssignment; prev: StreamAssignment | null; isMember: boolean }
  | { op: 'stream-update'; sa: StreamAssignment; prev: StreamAssignment; isMember: boolean }
  | { op: 'stream-remove'; sa: StreamAssignment; isMember: boolean }
  | { op: 'consumer-assign'; ca: ConsumerAssignment; prev: ConsumerAssignment | null; state: JsonObject | null; isMember: boolean }
  | { op: 'consumer-remove'; ca: ConsumerAssignment; isMember: boolean }
  | { op: 'peer-add'; peer: string }
  | { op: 'peer-remove'; peer: string; isUs: boolean }
  | { op: 'stream-check' };

export class MetaStateError extends Error {}

function isMember(group: { peers: string[] } | undefined, id: string): boolean {
  return !!group && Array.isArray(group.peers) && group.peers.includes(id);
}

export class MetaState {
  /** account -> stream name -> assignment. */
  readonly streams = new Map<string, Map<string, StreamAssignment>>();
  /** Our peer id (the meta node's). */
  readonly ourId: string;
  private recovering = true;
  // recoveryUpdates
  private ruRemoveStreams = new Map<string, StreamAssignment>();
  private ruUpdateStreams = new Map<string, StreamAssignment>();
  private ruRemoveConsumers = new Map<string, ConsumerAssignment>();
  private ruUpdateConsumers = new Map<string, ConsumerAssignment>();

  constructor(ourId: string) {
    this.ourId = ourId;
  }

  isRecovering(): boolean {
    return this.recovering;
  }

  /** The start-up replay is over (raft.go's nil apply entry): returns the held-back changes. */
  endRecovery(): MetaChange[] {
    const out: MetaChange[] = [];
    if (!this.recovering) return out;
    this.recovering = false;
    for (const ca of this.ruRemoveConsumers.values()) out.push(...this.removeConsumer(ca));
    for (const sa of this.ruRemoveStreams.values()) out.push(...this.removeStream(sa));
    for (const sa of this.ruUpdateStreams.values()) out.push(...this.updateStream(sa));
    for (const ca of this.ruUpdateConsumers.values()) out.push(...this.assignConsumer(ca));
    this.ruRemoveConsumers.clear();
    this.ruRemoveStreams.clear();
    this.ruUpdateStreams.clear();
    this.ruUpdateConsumers.clear();
    return out;
  }

  stream(account: string, name: string): StreamAssignment | undefined {
    return this.streams.get(account)?.get(name);
  }

  consumer(account: string, stream: string, name: string): ConsumerAssignment | undefined {
    return this.stream(account, stream)?.consumers?.get(name);
  }

  /** Every assignment, for listings. */
  *allStreams(): Iterable<[string, StreamAssignment]> {
    for (const [acc, m] of this.streams) for (const sa of m.values()) yield [acc, sa];
  }

  /** jetstream_cluster.go applyMetaEntries. */
  applyEntries(entries: Entry[]): MetaChange[] {
    const out: MetaChange[] = [];
    for (const e of entries) {
      if (e.type === EntrySnapshot) {
        out.push(...this.applySnapshot(e.data));
      } else if (e.type === EntryRemovePeer) {
        if (!this.recovering) {
          const peer = e.data.toString('latin1');
          out.push({ op: 'peer-remove', peer, isUs: peer === this.ourId });
        }
      } else if (e.type === EntryAddPeer) {
        if (!this.recovering) out.push({ op: 'peer-add', peer: e.data.toString('latin1') });
      } else if (e.type === 0) {
        out.push(...this.applyOp(e.data));
      }
    }
    return out;
  }

  private applyOp(buf: Buffer): MetaChange[] {
    if (buf.length === 0) throw new MetaStateError('empty meta entry');
    const body = buf.subarray(1);
    switch (buf[0]) {
      case assignStreamOp: {
        const sa = decodeStreamAssignment(body);
        if (this.recovering) {
          this.setRecovering(sa);
          this.ruRemoveStreams.delete(recoveryKeyStream(sa));
        }
        return this.assignStream(sa);
      }
      case removeStreamOp: {
        const sa = decodeStreamAssignment(body);
        if (this.recovering) {
          this.setRecovering(sa);
          const key = recoveryKeyStream(sa);
          this.ruRemoveStreams.set(key, sa);
          this.ruUpdateStreams.delete(key);
          return [];
        }
        return this.removeStream(sa);
      }
      case assignConsumerOp:
      case assignCompressedConsumerOp: {
        const ca = buf[0] === assignConsumerOp ? decodeConsumerAssignment(body) : decodeConsumerAssignmentCompressed(body);
        if (this.recovering) {
          this.setRecoveringConsumer(ca);
          const key = recoveryKeyConsumer(ca);
          this.ruRemoveConsumers.delete(key);
          this.ruUpdateConsumers.set(key, ca);
          return [];
        }
        return this.assignConsumer(ca);
      }
      case removeConsumerOp: {
        const ca = decodeConsumerAssignment(body);
        if (this.recovering) {
          this.setRecoveringConsumer(ca);
          const key = recoveryKeyConsumer(ca);
          this.ruRemoveConsumers.set(key, ca);
          this.ruUpdateConsumers.delete(key);
          return [];
        }
        return this.removeConsumer(ca);
      }
      case updateStreamOp: {
        const sa = decodeStreamAssignment(body);
        if (this.recovering) {
          this.setRecovering(sa);
          const key = recoveryKeyStream(sa);
          this.ruUpdateStreams.set(key, sa);
          this.ruRemoveStreams.delete(key);
          return [];
        }
        return this.updateStream(sa);
      }
      default:
        // nats-server panics here; a server that cannot read its meta log cannot go on either.
        throw new MetaStateError(`JetStream Cluster Unknown meta entry op type ${buf[0]}`);
    }
  }

  /** setStreamAssignmentRecovering: a replayed assignment is not answered again, nor steers leadership. */
  private setRecovering(sa: StreamAssignment): void {
    delete sa.restore_state;
    if (sa.group) delete sa.group.preferred;
    (sa as { responded?: boolean }).responded = true;
  }

  private setRecoveringConsumer(ca: ConsumerAssignment): void {
    if (ca.group) delete ca.group.preferred;
    (ca as { responded?: boolean }).responded = true;
  }

  /** processStreamAssignment (data part). */
  assignStream(sa: StreamAssignment): MetaChange[] {
    const acc = serviceAccount(sa.client);
    const name = streamName(sa);
    let m = this.streams.get(acc);
    if (!m) {
      m = new Map();
      this.streams.set(acc, m);
    }
    const prev = m.get(name) ?? null;
    if (prev && prev !== sa) sa.consumers = prev.consumers;
    m.set(name, sa);
    const out: MetaChange[] = [{ op: 'stream-assign', sa, prev, isMember: isMember(sa.group, this.ourId) }];
    // An assignment without a sync subject (an old bug) asks the meta leader to check assignments.
    if (!sa.sync) out.push({ op: 'stream-check' });
    return out;
  }

  /** processUpdateStreamAssignment (data part): only for a stream we have. */
  updateStream(sa: StreamAssignment): MetaChange[] {
    const acc = serviceAccount(sa.client);
    const m = this.streams.get(acc);
    const prev = m?.get(streamName(sa));
    if (!m || !prev) return [];
    sa.consumers = prev.consumers;
    m.set(streamName(sa), sa);
    return [{ op: 'stream-update', sa, prev, isMember: isMember(sa.group, this.ourId) }];
  }

  /** processStreamRemoval (data part). */
  removeStream(sa: StreamAssignment): MetaChange[] {
    const acc = serviceAccount(sa.client);
    const m = this.streams.get(acc);
    const name = streamName(sa);
    const have = m?.get(name);
    if (!m || !have) return [];
    m.delete(name);
    if (m.size === 0) this.streams.delete(acc);
    return [{ op: 'stream-remove', sa: have, isMember: isMember(sa.group, this.ourId) }];
  }

  /** processConsumerAssignment (data part): the stream must be assigned. */
  assignConsumer(ca: ConsumerAssignment): MetaChange[] {
    const sa = this.stream(serviceAccount(ca.client), ca.stream);
    if (!sa) return [];
    if (!sa.consumers) sa.consumers = new Map();
    const prev = sa.consumers.get(ca.name) ?? null;
    const state = ca.state ?? null;
    delete ca.state;
    sa.consumers.set(ca.name, ca);
    return [{ op: 'consumer-assign', ca, prev, state, isMember: isMember(ca.group, this.ourId) }];
  }

  /** processConsumerRemoval (data part). */
  removeConsumer(ca: ConsumerAssignment): MetaChange[] {
    const sa = this.stream(serviceAccount(ca.client), ca.stream);
    const have = sa?.consumers?.get(ca.name);
    if (!sa || !have) return [];
    sa.consumers!.delete(ca.name);
    return [{ op: 'consumer-remove', ca: have, isMember: isMember(ca.group, this.ourId) }];
  }

  /** metaSnapshot: S2(JSON) of every stream with its consumers; empty when there are none. */
  snapshot(): Buffer {
    const list: JsonObject[] = [];
    for (const m of this.streams.values()) {
      for (const sa of m.values()) {
        const w: JsonObject = {};
        if (sa.client) w['client'] = sa.client;
        w['created'] = sa.created;
        w['stream'] = sa.stream;
        w['group'] = sa.group;
        w['sync'] = sa.sync;
        const cons = sa.consumers && sa.consumers.size > 0 ? [...sa.consumers.values()].map((ca) => consumerAssignmentJson(ca)) : null;
        w['Consumers'] = cons;
        list.push(w);
      }
    }
    if (list.length === 0) return Buffer.alloc(0);
    return s2Encode(Buffer.from(goJson(list), 'utf8'));
  }

  /** applyMetaSnapshot: the snapshot replaces our state; changes are the differences. */
  applySnapshot(buf: Buffer): MetaChange[] {
    let wsas: JsonObject[] = [];
    if (buf.length > 0) {
      const v = JSON.parse(s2Decode(buf).toString('utf8')) as unknown;
      if (v !== null && !Array.isArray(v)) throw new AssignmentError('meta snapshot is not a list');
      wsas = (v as JsonObject[] | null) ?? [];
    }
    const next = new Map<string, Map<string, StreamAssignment>>();
    for (const w of wsas) {
      const sa = decodeStreamAssignmentJson(w);
      const cons = w['Consumers'];
      if (Array.isArray(cons) && cons.length > 0) {
        sa.consumers = new Map();
        for (const c of cons as JsonObject[]) {
          const ca = decodeConsumerAssignmentJson(c);
          sa.consumers.set(ca.name, ca);
        }
      }
      const acc = serviceAccount(sa.client);
      let m = next.get(acc);
      if (!m) {
        m = new Map();
        next.set(acc, m);
      }
      m.set(streamName(sa), sa);
    }
    const saDel: StreamAssignment[] = [];
    const saAdd: StreamAssignment[] = [];
    const saChk: StreamAssignment[] = [];
    for (const [acc, m] of this.streams) {
      for (const [name, sa] of m) {
        const nsa = next.get(acc)?.get(name);
        if (!nsa) saDel.push(sa);
        else saChk.push(nsa);
      }
    }
    for (const [acc, m] of next) for (const [name, sa] of m) if (!this.streams.get(acc)?.get(name)) saAdd.push(sa);
    const caDel: ConsumerAssignment[] = [];
    const caAdd: ConsumerAssignment[] = [];
    for (const nsa of saChk) {
      const osa = this.stream(serviceAccount(nsa.client), streamName(nsa));
      if (!osa) continue;
      for (const ca of osa.consumers?.values() ?? []) if (!nsa.consumers?.get(ca.name)) caDel.push(ca);
      for (const ca of nsa.consumers?.values() ?? []) caAdd.push(ca);
    }
    const out: MetaChange[] = [];
    for (const sa of saDel) {
      if (this.recovering) this.setRecovering(sa);
      out.push(...this.removeStream(sa));
    }
    for (const sa of saAdd) {
      if (this.recovering) this.setRecovering(sa);
      const cons = sa.consumers;
      sa.consumers = undefined;
      out.push(...this.assignStream(sa));
      for (const ca of cons?.values() ?? []) {
        if (this.recovering) this.setRecoveringConsumer(ca);
        out.push(...this.assignConsumer(ca));
      }
    }
    // Existing streams take the snapshot's assignment when it changed (2.10 processes these as updates).
    for (const nsa of saChk) {
      const osa = this.stream(serviceAccount(nsa.client), streamName(nsa));
      if (osa && (JSON.stringify(osa.group) !== JSON.stringify(nsa.group) || JSON.stringify(osa.stream) !== JSON.stringify(nsa.stream))) {
        const cons = osa.consumers;
        out.push(...this.updateStream({ ...nsa, consumers: cons }));
      }
    }
    for (const ca of caDel) {
      if (this.recovering) this.setRecoveringConsumer(ca);
      out.push(...this.removeConsumer(ca));
    }
    for (const ca of caAdd) {
      if (this.recovering) this.setRecoveringConsumer(ca);
      out.push(...this.assignConsumer(ca));
    }
    return out;
  }
}

/** jetstream_cluster.go recoveryKey. */
function recoveryKeyStream(sa: StreamAssignment): string {
  return `${serviceAccount(sa.client)}:${streamName(sa)}`;
}

function recoveryKeyConsumer(ca: ConsumerAssignment): string {
  return `${serviceAccount(ca.client)}:${ca.stream}:${ca.name}`;
}
