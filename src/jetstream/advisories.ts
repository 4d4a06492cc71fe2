// JetStream advisories and metrics (nats-server's jetstream_events.go, the senders in stream.go,
// consumer.go and jetstream_api.go): JSON events on `$JS.EVENT.ADVISORY.>` and `$JS.EVENT.METRIC.>`
// in the account of the stream, published only when someone in that account listens (publishAdvisory
// checks interest before it marshals). Field names, order and `type` strings are nats-server's.
//
// The snapshot/restore senders are here for the snapshot code to call.

import { randomBytes } from 'node:crypto';
import { nsToRfc3339, nowNs } from './types.js';
import type { JsHost } from './types.js';

const ADVISORY = '$JS.EVENT.ADVISORY';
export const AdvisorySubject = {
  API: `${ADVISORY}.API`,
  STREAM_CREATED: `${ADVISORY}.STREAM.CREATED`,
  STREAM_DELETED: `${ADVISORY}.STREAM.DELETED`,
  STREAM_UPDATED: `${ADVISORY}.STREAM.UPDATED`,
  CONSUMER_CREATED: `${ADVISORY}.CONSUMER.CREATED`,
  CONSUMER_DELETED: `${ADVISORY}.CONSUMER.DELETED`,
  MAX_DELIVERIES: `${ADVISORY}.CONSUMER.MAX_DELIVERIES`,
  MSG_NAKED: `${ADVISORY}.CONSUMER.MSG_NAKED`,
  MSG_TERMINATED: `${ADVISORY}.CONSUMER.MSG_TERMINATED`,
  SNAPSHOT_CREATE: `${ADVISORY}.STREAM.SNAPSHOT_CREATE`,
  SNAPSHOT_COMPLETE: `${ADVISORY}.STREAM.SNAPSHOT_COMPLETE`,
  RESTORE_CREATE: `${ADVISORY}.STREAM.RESTORE_CREATE`,
  RESTORE_COMPLETE: `${ADVISORY}.STREAM.RESTORE_COMPLETE`,
  ACK_METRIC: '$JS.EVENT.METRIC.CONSUMER.ACK',
} as const;

const T = 'io.nats.jetstream.advisory.v1.';
export const AdvisoryType = {
  API_AUDIT: `${T}api_audit`,
  STREAM_ACTION: `${T}stream_action`,
  CONSUMER_ACTION: `${T}consumer_action`,
  MAX_DELIVER: `${T}max_deliver`,
  NAK: `${T}nak`,
  TERMINATED: `${T}terminated`,
  SNAPSHOT_CREATE: `${T}snapshot_create`,
  SNAPSHOT_COMPLETE: `${T}snapshot_complete`,
  RESTORE_CREATE: `${T}restore_create`,
  RESTORE_COMPLETE: `${T}restore_complete`,
  ACK_METRIC: 'io.nats.jetstream.metric.v1.consumer_ack',
} as const;

/** create / delete / modify (ActionAdvisoryType). */
export type Action = 'create' | 'delete' | 'modify';

/** The client fields an advisory carries (ClientInfo, as far as the worker knows the client). */
export type AdvisoryClient = Record<string, unknown>;

const NUID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A 22-character base-62 id, the shape of nats-server's nuid.Next(). */
export function nuid(): string {
  const b = randomBytes(22);
  let s = '';
  for (let i = 0; i < 22; i++) s += NUID_ALPHABET[b[i]! % 62];
  return s;
}

/** Most API requests remembered for their audit advisory at once (bounded, oldest dropped). */
const AUDIT_PENDING_MAX = 1024;

export class Advisories {
  private readonly host: JsHost;
  private readonly domain: string;
  private readonly server: string;
  /** API requests waiting for their response (only while someone listens to audits): reply → request. */
  private readonly audits = new Map<string, { acc: number; account: string; subject: string; request: string }>();

  constructor(host: JsHost, opts: { domain?: string; serverName?: string }) {
    this.host = host;
    this.domain = opts.domain ?? '';
    this.server = opts.serverName ?? '';
  }

  /** True when someone in the account listens on subject (the event is worth building). */
  wanted(acc: number, subject: string): boolean {
    return this.host.hasInterest(acc, subject);
  }

  /** publishAdvisory: `{type, id, timestamp, ...fields, domain?}` when someone listens. */
  publish(acc: number, subject: string, type: string, fields: Record<string, unknown>): boolean {
    if (!this.host.hasInterest(acc, subject)) return false;
    const ev: Record<string, unknown> = { type, id: nuid(), timestamp: nsToRfc3339(nowNs()), ...fields };
    if (this.domain !== '') ev['domain'] = this.domain;
    this.host.publish(acc, subject, null, null, Buffer.from(JSON.stringify(ev)));
    return true;
  }

  // ---- streams and consumers (stream.go sendCreateAdvisory / sendUpdateAdvisoryLocked / sendDeleteAdvisoryLocked,
  // consumer.go sendCreateAdvisory / sendDeleteAdvisoryLocked) ------------------------------------

  streamAction(acc: number, stream: string, action: Action): void {
    const subject = action === 'create' ? AdvisorySubject.STREAM_CREATED : action === 'delete' ? AdvisorySubject.STREAM_DELETED : AdvisorySubject.STREAM_UPDATED;
    this.publish(acc, `${subject}.${stream}`, AdvisoryType.STREAM_ACTION, { stream, action });
  }

  consumerAction(acc: number, stream: string, consumer: string, action: 'create' | 'delete'): void {
    const subject = action === 'create' ? AdvisorySubject.CONSUMER_CREATED : AdvisorySubject.CONSUMER_DELETED;
    this.publish(acc, `${subject}.${stream}.${consumer}`, AdvisoryType.CONSUMER_ACTION, { stream, consumer, action });
  }

  // ---- deliveries (consumer.go notifyDeliveryExceeded, processNak, processTerm, sampleAck) ------

  maxDeliveries(acc: number, stream: string, consumer: string, streamSeq: number, deliveries: number): void {
    this.publish(acc, `${AdvisorySubject.MAX_DELIVERIES}.${stream}.${consumer}`, AdvisoryType.MAX_DELIVER, {
      stream,
      consumer,
      stream_seq: streamSeq,
      deliveries,
    });
  }

  nak(acc: number, stream: string, consumer: string, consumerSeq: number, streamSeq: number, deliveries: number): void {
    this.publish(acc, `${AdvisorySubject.MSG_NAKED}.${stream}.${consumer}`, AdvisoryType.NAK, {
      stream,
      consumer,
      consumer_seq: consumerSeq,
      stream_seq: streamSeq,
      deliveries,
    });
  }

  terminated(acc: number, stream: string, consumer: string, consumerSeq: number, streamSeq: number, deliveries: number, reason: string): void {
    const fields: Record<string, unknown> = { stream, consumer, consumer_seq: consumerSeq, stream_seq: streamSeq, deliveries };
    if (reason !== '') fields['reason'] = reason;
    this.publish(acc, `${AdvisorySubject.MSG_TERMINATED}.${stream}.${consumer}`, AdvisoryType.TERMINATED, fields);
  }

  /** JSConsumerAckMetric: `ackTimeNs` is the time from delivery to this ack. */
  ackMetric(acc: number, stream: string, consumer: string, consumerSeq: number, streamSeq: number, ackTimeNs: number, deliveries: number): void {
    this.publish(acc, `${AdvisorySubject.ACK_METRIC}.${stream}.${consumer}`, AdvisoryType.ACK_METRIC, {
      stream,
      consumer,
      consumer_seq: consumerSeq,
      stream_seq: streamSeq,
      ack_time: Math.max(0, Math.round(ackTimeNs)),
      deliveries,
    });
  }

  // ---- snapshot and restore (jetstream_api.go jsStreamSnapshotRequest / jsStreamRestoreRequest) --

  /** `state`: the stream's StreamState JSON at the start of the snapshot. */
  snapshotCreate(acc: number, stream: string, state: Record<string, unknown>, client: AdvisoryClient | null = null): void {
    this.publish(acc, `${AdvisorySubject.SNAPSHOT_CREATE}.${stream}`, AdvisoryType.SNAPSHOT_CREATE, { stream, state, client });
  }

  /** startNs / endNs: epoch nanoseconds. */
  snapshotComplete(acc: number, stream: string, startNs: number, endNs: number, client: AdvisoryClient | null = null): void {
    this.publish(acc, `${AdvisorySubject.SNAPSHOT_COMPLETE}.${stream}`, AdvisoryType.SNAPSHOT_COMPLETE, {
      stream,
      start: nsToRfc3339(startNs),
      end: nsToRfc3339(endNs),
      client,
    });
  }

  restoreCreate(acc: number, stream: string, client: AdvisoryClient | null = null): void {
    this.publish(acc, `${AdvisorySubject.RESTORE_CREATE}.${stream}`, AdvisoryType.RESTORE_CREATE, { stream, client });
  }

  restoreComplete(acc: number, stream: string, startNs: number, endNs: number, bytes: number, client: AdvisoryClient | null = null): void {
    this.publish(acc, `${AdvisorySubject.RESTORE_COMPLETE}.${stream}`, AdvisoryType.RESTORE_COMPLETE, {
      stream,
      start: nsToRfc3339(startNs),
      end: nsToRfc3339(endNs),
      bytes,
      client,
    });
  }

  // ---- API audit (sendJetStreamAPIAuditAdvisory) -------------------------------------------------

  /** An API request arrived: remember it for its audit when someone listens to audits. */
  apiRequest(acc: number, account: string, subject: string, reply: string | null, data: Buffer): void {
    if (reply === null || reply === '' || !this.host.hasInterest(acc, AdvisorySubject.API)) return;
    if (this.audits.size >= AUDIT_PENDING_MAX) {
      const oldest = this.audits.keys().next();
      if (!oldest.done) this.audits.delete(oldest.value);
    }
    this.audits.set(reply, { acc, account, subject, request: data.toString('utf8') });
  }

  /** The response to the request whose reply subject is `reply` is going out: its audit, if remembered. */
  apiResponse(acc: number, reply: string, response: string): void {
    if (this.audits.size === 0) return;
    const r = this.audits.get(reply);
    if (r === undefined || r.acc !== acc) return;
    this.audits.delete(reply);
    const fields: Record<string, unknown> = { server: this.server, client: { acc: r.account, server: this.server }, subject: r.subject };
    if (r.request !== '') fields['request'] = r.request;
    fields['response'] = response;
    this.publish(acc, AdvisorySubject.API, AdvisoryType.API_AUDIT, fields);
  }
}
