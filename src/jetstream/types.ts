// The seams of the JetStream worker: what the ring link offers the engine (JsHost), what a stream
// store offers a stream (StreamStore, after nats-server's store.go StreamStore), and what streams and
// consumers see of each other. Config and state objects use nats-server's JSON field names, because
// they are persisted and returned by the API as they are.

import { performance as perf } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Advisories } from './advisories.js';
import type { TieredLimits } from './account-limits.js';

// ---- time ---------------------------------------------------------------------------------------

let lastNs = 0;
/** Read once: the global `performance` is a lazy getter, and timeOrigin another (~15% of nowNs). */
const TIME_ORIGIN = perf.timeOrigin;
/**
 * Wall-clock nanoseconds since the epoch as a Number (integer). A double holds these to 256 ns,
 * which is all the precision stream timestamps need; strictly increasing within this thread.
 */
export function nowNs(): number {
  let ns = Math.floor((TIME_ORIGIN + perf.now()) * 1e6);
  if (ns <= lastNs) ns = lastNs + 256;
  lastNs = ns;
  return ns;
}

/** RFC 3339 with nanoseconds, UTC, as Go's time.Time marshals (`2024-01-02T03:04:05.123456789Z`). */
export function nsToRfc3339(ns: number): string {
  if (ns <= 0) return '0001-01-01T00:00:00Z';
  const ms = Math.floor(ns / 1e6);
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  const frac = String(Math.floor(ns % 1e9)).padStart(9, '0').replace(/0+$/, '');
  return iso.slice(0, 19) + (frac.length > 0 ? `.${frac}` : '') + 'Z';
}

/** Parses RFC 3339 (with up to 9 fractional digits) into epoch nanoseconds; NaN when malformed. */
export function rfc3339ToNs(s: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (m === null) return NaN;
  const base = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(base)) return NaN;
  return base * 1e6 + Number((m[2] ?? '').padEnd(9, '0') || '0');
}

// ---- stream config and state (nats-server's StreamConfig / StreamState JSON) --------------------

export type RetentionPolicy = 'limits' | 'interest' | 'workqueue';
export type DiscardPolicy = 'old' | 'new';
export type StorageType = 'file' | 'memory';

export interface StreamConfig {
  name: string;
  description?: string;
  subjects: string[];
  retention: RetentionPolicy;
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  /** Nanoseconds; 0 = unlimited. */
  max_age: number;
  max_msgs_per_subject: number;
  max_msg_size: number;
  discard: DiscardPolicy;
  discard_new_per_subject?: boolean;
  storage: StorageType;
  num_replicas: number;
  no_ack?: boolean;
  /** Nanoseconds. */
  duplicate_window: number;
  allow_rollup_hdrs: boolean;
  deny_delete: boolean;
  deny_purge: boolean;
  allow_direct: boolean;
  mirror_direct: boolean;
  sealed: boolean;
  first_seq?: number;
  metadata?: Record<string, string>;
  compression?: 'none' | 's2';
  /** Mirror and sources (stream-sources.ts): nats-server's StreamSource JSON. */
  mirror?: StreamSourceConfig;
  sources?: StreamSourceConfig[];
  /** Input subject transform and republish (2.10). */
  subject_transform?: SubjectTransformConfig;
  republish?: RePublishConfig;
  [extra: string]: unknown;
}

/** SubjectTransformConfig: `{src, dest}`. */
export interface SubjectTransformConfig {
  src: string;
  dest: string;
}

/** ExternalStream: another account's or domain's JetStream API prefix and deliver prefix. */
export interface ExternalStreamConfig {
  api: string;
  deliver: string;
}

/** StreamSource: what a mirror or one source of a stream reads. */
export interface StreamSourceConfig {
  name: string;
  opt_start_seq?: number;
  /** RFC 3339. */
  opt_start_time?: string;
  filter_subject?: string;
  subject_transforms?: SubjectTransformConfig[];
  external?: ExternalStreamConfig;
}

/** RePublish: `{src, dest, headers_only}`. */
export interface RePublishConfig {
  src?: string;
  dest: string;
  headers_only?: boolean;
}

export interface StreamState {
  messages: number;
  bytes: number;
  first_seq: number;
  /** RFC 3339 in the API; the store keeps ns (first_ts_ns) and the API layer renders it. */
  first_ts_ns: number;
  last_seq: number;
  last_ts_ns: number;
  num_subjects: number;
  num_deleted: number;
}

// ---- the store ----------------------------------------------------------------------------------

/** One stored message. Buffers belong to the caller once returned (the store never reuses them). */
export interface StoredMsg {
  subject: string;
  seq: number;
  /** Epoch nanoseconds. */
  ts: number;
  /** Header block (`NATS/1.0\r\n...\r\n\r\n`) or null. */
  hdr: Buffer | null;
  data: Buffer;
}

/** The limits a store enforces itself (nats-server's filestore/memstore enforce them too). */
export type StoreLimits = Required<
  Pick<StreamConfig, 'max_msgs' | 'max_bytes' | 'max_age' | 'max_msgs_per_subject' | 'max_msg_size' | 'discard' | 'discard_new_per_subject'>
>;

/** Why a store refused a message under discard new (texts as nats-server's errors). */
export const StoreRefusal = {
  MAX_MSGS: 'maximum messages exceeded',
  MAX_BYTES: 'maximum bytes exceeded',
  MAX_MSGS_PER_SUBJECT: 'maximum messages per subject exceeded',
  MAX_MSG_SIZE: 'message size exceeds maximum allowed',
} as const;
export type StoreRefusal = (typeof StoreRefusal)[keyof typeof StoreRefusal];

export class StoreError extends Error {
  readonly refusal: StoreRefusal;
  constructor(refusal: StoreRefusal) {
    super(refusal);
    this.refusal = refusal;
  }
}

export interface PurgeRequest {
  /** Only messages on subjects matching this filter (wildcards allowed). */
  filter?: string;
  /** Purge everything below this sequence (exclusive). */
  seq?: number;
  /** Keep this many newest messages (per filter when filter is set). */
  keep?: number;
}

/**
 * A stream's messages. Sequences start at 1 (or the config's first_seq) and never repeat; removed
 * messages leave gaps (num_deleted). Implementations: memory and file; one test suite covers both.
 */
export interface StreamStore {
  /**
   * Appends a message and returns its sequence. Enforces max_msg_size and, under discard new,
   * max_msgs/max_bytes/max_msgs_per_subject by throwing StoreError; under discard old it removes the
   * oldest messages (per subject for max_msgs_per_subject) to make room. `ts` defaults to nowNs().
   * `hdr` and `data` may be views of memory that is reused after the call: copy what is kept.
   */
  storeMsg(subject: string, hdr: Buffer | null, data: Buffer, ts?: number): { seq: number; ts: number };
  /** The message at seq, or null when it never existed or was removed. */
  loadMsg(seq: number): StoredMsg | null;
  /** First message with sequence >= start whose subject matches filter ('' or '>' = all), or null. */
  loadNextMsg(filter: string, start: number): StoredMsg | null;
  /** Newest message whose subject matches filter, or null. */
  loadLastMsg(filter: string): StoredMsg | null;
  /** Removes one message; false when it was not there. */
  removeMsg(seq: number): boolean;
  /**
   * Uses up the sequences after the last one through lastSeq without storing anything (nats-server's
   * SkipMsgs: a mirror keeps its origin's sequences across messages the origin no longer has).
   */
  skipTo(lastSeq: number): void;
  purge(req: PurgeRequest): number;
  state(): StreamState;
  /** state().bytes without building the state (server resource accounting on every publish). */
  usedBytes(): number;
  /** Number of messages per subject matching filter (for num_subjects, KV keys, last_per_subject). */
  subjectsState(filter: string): Map<string, { msgs: number; first: number; last: number }>;
  /** Messages with sequence >= start matching filter; lastPerSubject counts one per subject. */
  numPending(start: number, filter: string, lastPerSubject: boolean): number;
  /** New limits (stream update); applies them at once (may remove messages). */
  updateLimits(limits: StoreLimits): void;
  /** Called after a message leaves for any reason other than removeMsg (limits, age, purge). */
  onRemove: ((seq: number) => void) | null;
  /** Makes everything stored durable now (fsync for files). */
  flush(): Promise<void>;
  /** Stops timers and closes files; the data stays. */
  stop(): Promise<void>;
  /** Stops and removes every file. */
  destroy(): Promise<void>;
}

// ---- the link between the engine and the shards -----------------------------------------------

/** `$JS.ACK.<stream>.<consumer>.`, as a string and as its latin1 bytes. */
export interface AckReplyPrefix {
  readonly str: string;
  readonly bytes: Buffer;
}

/** What the JetStream engine can do on the rings: it behaves like one internal client per account. */
export interface JsHost {
  readonly log: Logger;
  /** Publishes a message (hdr: a full header block or null) to whoever has interest in this account. */
  publish(acc: number, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void;
  /** Routes by `to` (an inbox or deliver subject) while the MSG line shows `subject` (a stream message). */
  deliver(acc: number, to: string, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void;
  /**
   * deliver() with the consumer's ack reply `<prefix><dc>.<sseq>.<dseq>.<ts>.<pending>` (prefix ends
   * in a dot), written into the frame as digits: no reply string per delivery on the common path.
   */
  deliverAck(acc: number, to: string, subject: string, prefix: AckReplyPrefix, dc: number, sseq: number, dseq: number, tsNs: number, pending: number, hdr: Buffer | null, data: Buffer | null): void;
  /** True while some shard's ring is full (frames wait in overflow): deliveries should pause. */
  congested(): boolean;
  /**
   * Adds interest (reference-counted per account, subject, queue and flags); shards route matching
   * messages here. `flags` InterestFlags.ANNOUNCE: the cluster's routes hear of it (clustered only).
   */
  subscribe(acc: number, subject: string, flags?: number, queue?: string | null): void;
  unsubscribe(acc: number, subject: string, flags?: number, queue?: string | null): void;
  /** Publishes to the shards' clients and routes only, never back to the engine (RAFT traffic). */
  publishOut?(acc: number, subject: string, reply: string | null, hdr: Buffer | null, data: Buffer | null): void;
  /** True when some client in the account has interest in subject (push consumer activity, FC). */
  hasInterest(acc: number, subject: string): boolean;
}

/** A message the engine receives; buffers are views valid only during the call (copy to keep). */
export interface JsInbound {
  acc: number;
  subject: string;
  reply: string | null;
  /** Header block or null. */
  hdr: Buffer | null;
  data: Buffer;
  /**
   * The subject the message was routed by when it differs from `subject`: a JetStream delivery the
   * engine made to one of its own internal subscriptions (loopback). Absent for ring messages.
   */
  to?: string | null;
  /** It came in over a cluster route (clustered JetStream tells local requests from forwarded ones). */
  fromRoute?: boolean;
  /** A shard picked this worker as a queue group's member for it (direct gets of stream members). */
  queued?: boolean;
}

// ---- streams, consumers and the engine as each other see them ---------------------------------

/** An API error body: `{"error":{"code","err_code","description"}}` (see errors.ts). */
export interface ApiErrorBody {
  code: number;
  err_code: number;
  description: string;
}

/** What a consumer needs of its stream (implemented by stream.ts's Stream). */
export interface StreamLike {
  /** Account index (same in every shard) and name. */
  readonly acc: number;
  readonly account: string;
  readonly name: string;
  readonly config: StreamConfig;
  readonly store: StreamStore;
  /** Directory of a file stream (`<store>/jetstream/<account>/streams/<name>`), null for memory. */
  readonly dir: string | null;
  readonly consumers: Map<string, ConsumerLike>;
}

/** What a stream needs of its consumers (implemented by consumer/). */
export interface ConsumerLike {
  readonly name: string;
  /** A mirror's or source's internal consumer: not counted or listed as the stream's. */
  readonly direct?: boolean;
  /** A message was stored in the stream (after limits were applied). */
  onStored(seq: number, subject: string): void;
  /** The store removed messages (purge, limits, deletes): pending state may need pruning. */
  onRemoved(seq: number): void;
  /** The stream was purged: pending/redelivery state below the new first sequence goes. */
  onPurged(): void;
  /** Interest retention: true while this consumer still wants seq (filter matches and not acked). */
  wants(seq: number, subject: string): boolean;
  /** Consumer info JSON (`io.nats.jetstream.api.v1.consumer_info_response` body minus type). */
  info(): Record<string, unknown>;
  /** Stream stop (server shutdown): persist state, stop timers. */
  stop(): Promise<void>;
  /** Consumer or stream deleted: stop and remove persisted state. */
  destroy(): Promise<void>;
}

/** The engine as the consumer plugin sees it (implemented by engine.ts). */
export interface EngineLike {
  readonly host: JsHost;
  readonly log: Logger;
  stream(acc: number, name: string): StreamLike | undefined;
  /** Sends a JSON reply (when `to` is not null). */
  reply(acc: number, to: string | null, body: Record<string, unknown>): void;
  /** Sends `{type, error}`; also counts it in the API error statistics. */
  replyError(acc: number, to: string | null, type: string, err: ApiErrorBody): void;
  /** Limits for consumers (max_consumers checks live in the consumer plugin). */
  readonly accountNames: readonly string[];
  /** The account's JetStream limits by tier (account-limits.ts), null when it has none. */
  limitsFor?(acc: number): TieredLimits | null;
  /** Advisories and metrics (`$JS.EVENT.>`). */
  readonly advisories?: Advisories;
}

/**
 * Consumers are a plugin of the engine, so streams (engine.ts, stream.ts) and consumers (consumer/)
 * are separate rooms. The engine routes these subjects to it.
 */
export interface ConsumerPlugin {
  /** `$JS.API.CONSUMER.<op...>`; tokens are what follows `$JS.API.CONSUMER.`. */
  api(js: EngineLike, acc: number, tokens: string[], m: JsInbound): void;
  /** `$JS.ACK.>` (acks, naks, progress, term, next). */
  ack(js: EngineLike, acc: number, m: JsInbound): void;
  /**
   * A plain ack (empty or `+ACK` body, no reply, 9-token subject) from the ring frame's bytes:
   * true when handled; false when it is anything else (then ack() gets it).
   */
  ackBytes?(js: EngineLike, acc: number, buf: Buffer, subj: number, subjLen: number, data: number, end: number): boolean;
  /** `$JS.FC.>` (flow-control replies from push consumers' clients). */
  flowControl(js: EngineLike, acc: number, m: JsInbound): void;
  /** After a file stream was recovered on start: recreate its persisted consumers. */
  restore(js: EngineLike, stream: StreamLike): Promise<void>;
  /**
   * Clustered JetStream: run a consumer on this server (its group's leader, or an R1 consumer's
   * server), from its config (defaults applied) and, when it has one, its replicated state.
   */
  adopt?(js: EngineLike, stream: StreamLike, init: AdoptedConsumer): ConsumerLike;
  /** Clustered JetStream: stop running a consumer whose state lives on in its group (not deleted). */
  release?(c: ConsumerLike): Promise<void>;
  /** Clustered JetStream: delete a consumer run here (its assignment was removed). */
  remove?(c: ConsumerLike): Promise<void>;
}

/** A consumer the cluster hands to the plugin (config and state in the consumer plugin's shapes). */
export interface AdoptedConsumer {
  name: string;
  config: Record<string, unknown>;
  /** Epoch ns. */
  created: number;
  dir: string | null;
  /** consumer/state-store.ts ConsumerStateFile, or null for a consumer that never delivered. */
  state: unknown;
}
