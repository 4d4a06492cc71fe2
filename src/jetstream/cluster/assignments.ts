// The meta group's records, in nats-server's JSON (jetstream_cluster.go streamAssignment,
// consumerAssignment, raftGroup; events.go ClientInfo). Field order follows the Go structs so that what
// we encode is what nats-server would encode; stream and consumer configs are kept as the JSON objects
// they arrived as, so fields this version does not know (a newer nats-server's) survive a round trip.
//
// Encodings (jetstream_cluster.go encodeAddStreamAssignment ...): one op byte, then the JSON as Go's
// json.Encoder writes it (HTML characters escaped, a trailing newline). Compressed consumer
// assignments: the op byte, then S2 of the JSON (json.Marshal, no newline).

import { s2Decode, s2Encode } from './s2.js';

/** jetstream_cluster.go entryOp (append-only list: the byte values are the interop contract). */
export const assignStreamOp = 0;
export const assignConsumerOp = 1;
export const removeStreamOp = 2;
export const removeConsumerOp = 3;
export const streamMsgOp = 4;
export const purgeStreamOp = 5;
export const deleteMsgOp = 6;
export const updateDeliveredOp = 7;
export const updateAcksOp = 8;
export const assignCompressedConsumerOp = 9;
export const updateSkipOp = 10;
export const updateStreamOp = 11;
export const addPendingRequest = 12;
export const removePendingRequest = 13;
export const compressedStreamMsgOp = 14;
/** 2.10+: deleted ranges sent during a stream catch-up. */
export const deleteRangeOp = 15;

export const OP_NAMES = [
  'assignStream',
  'assignConsumer',
  'removeStream',
  'removeConsumer',
  'streamMsg',
  'purgeStream',
  'deleteMsg',
  'updateDelivered',
  'updateAcks',
  'assignCompressedConsumer',
  'updateSkip',
  'updateStream',
  'addPendingRequest',
  'removePendingRequest',
  'compressedStreamMsg',
  'deleteRange',
];

/** events.go ClientInfo (the fields the cluster layer reads; others pass through). */
export interface ClientInfo {
  start?: string;
  host?: string;
  id?: number;
  acc?: string;
  svc?: string;
  user?: string;
  name?: string;
  lang?: string;
  ver?: string;
  rtt?: number;
  server?: string;
  cluster?: string;
  alts?: string[];
  [k: string]: unknown;
}

/** ClientInfo.serviceAccount(): the service account if set, else the account. */
export function serviceAccount(ci: ClientInfo | undefined | null): string {
  if (!ci) return '';
  return ci.svc ? ci.svc : (ci.acc ?? '');
}

/** jetstream_cluster.go raftGroup. `store` is StorageType's JSON: "file" or "memory". */
export interface RaftGroup {
  name: string;
  peers: string[];
  store: 'file' | 'memory';
  cluster?: string;
  preferred?: string;
}

export type JsonObject = Record<string, unknown>;

export interface StreamAssignment {
  client?: ClientInfo;
  /** Go time.Time JSON (RFC 3339 with nanoseconds), kept as text to keep every digit. */
  created: string;
  stream: JsonObject;
  group: RaftGroup;
  sync: string;
  subject: string;
  reply: string;
  restore_state?: JsonObject;
  /** Not in the JSON: the stream's consumers, by name (jetstream_cluster.go sa.consumers). */
  consumers?: Map<string, ConsumerAssignment>;
}

export interface ConsumerAssignment {
  client?: ClientInfo;
  created: string;
  name: string;
  stream: string;
  consumer: JsonObject;
  group: RaftGroup;
  subject: string;
  reply: string;
  state?: JsonObject;
}

export function streamName(sa: StreamAssignment): string {
  return String(sa.stream['name'] ?? '');
}

export function streamReplicas(cfg: JsonObject): number {
  const r = Number(cfg['num_replicas'] ?? 1);
  return r > 0 ? r : 1;
}

/** Go's json encoding of a string escapes <, >, & (and U+2028/2029) for HTML safety. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's zero time.Time in JSON. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** time.Now().UTC() as Go's JSON writes it (RFC 3339, nanoseconds, trailing zeros trimmed). */
export function goTimeNow(nowMs = Date.now(), extraNs = 0): string {
  const iso = new Date(nowMs).toISOString(); // 2026-12-03T09:32:20.252Z
  const ns = (nowMs % 1000) * 1_000_000 + extraNs;
  const frac = String(ns).padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? '.' + frac : ''}Z`;
}

/** Orders keys as the Go structs declare their fields (for byte-identical encodings). */
function groupJson(g: RaftGroup): RaftGroup {
  const o: RaftGroup = { name: g.name, peers: g.peers ?? null!, store: g.store };
  if (g.cluster) o.cluster = g.cluster;
  if (g.preferred) o.preferred = g.preferred;
  return o;
}

export function streamAssignmentJson(sa: StreamAssignment): JsonObject {
  const o: JsonObject = {};
  if (sa.client) o['client'] = sa.client;
  o['created'] = sa.created;
  o['stream'] = sa.stream;
  o['group'] = sa.group ? groupJson(sa.group) : null;
  o['sync'] = sa.sync ?? '';
  o['subject'] = sa.subject ?? '';
  o['reply'] = sa.reply ?? '';
  if (sa.restore_state) o['restore_state'] = sa.restore_state;
  return o;
}

export function consumerAssignmentJson(ca: ConsumerAssignment): JsonObject {
  const o: JsonObject = {};
  if (ca.client) o['client'] = ca.client;
  o['created'] = ca.created;
  o['name'] = ca.name;
  o['stream'] = ca.stream;
  o['consumer'] = ca.consumer;
  o['group'] = ca.group ? groupJson(ca.group) : null;
  o['subject'] = ca.subject ?? '';
  o['reply'] = ca.reply ?? '';
  if (ca.state) o['state'] = ca.state;
  return o;
}

export class AssignmentError extends Error {}

function parseObject(buf: Buffer): JsonObject {
  const v = JSON.parse(buf.toString('utf8')) as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new AssignmentError('assignment is not a JSON object');
  return v as JsonObject;
}

export function decodeStreamAssignmentJson(o: JsonObject): StreamAssignment {
  const stream = o['stream'];
  const group = o['group'];
  if (!stream || typeof stream !== 'object') throw new AssignmentError('stream assignment without a stream config');
  if (!group || typeof group !== 'object') throw new AssignmentError('stream assignment without a group');
  const sa: StreamAssignment = {
    created: typeof o['created'] === 'string' ? (o['created'] as string) : ZERO_TIME,
    stream: stream as JsonObject,
    group: group as RaftGroup,
    sync: String(o['sync'] ?? ''),
    subject: String(o['subject'] ?? ''),
    reply: String(o['reply'] ?? ''),
  };
  if (o['client']) sa.client = o['client'] as ClientInfo;
  if (o['restore_state']) sa.restore_state = o['restore_state'] as JsonObject;
  if (!Array.isArray(sa.group.peers)) sa.group.peers = [];
  return sa;
}

export function decodeConsumerAssignmentJson(o: JsonObject): ConsumerAssignment {
  const group = o['group'];
  if (!group || typeof group !== 'object') throw new AssignmentError('consumer assignment without a group');
  const ca: ConsumerAssignment = {
    created: typeof o['created'] === 'string' ? (o['created'] as string) : ZERO_TIME,
    name: String(o['name'] ?? ''),
    stream: String(o['stream'] ?? ''),
    consumer: (o['consumer'] as JsonObject) ?? {},
    group: group as RaftGroup,
    subject: String(o['subject'] ?? ''),
    reply: String(o['reply'] ?? ''),
  };
  if (o['client']) ca.client = o['client'] as ClientInfo;
  if (o['state']) ca.state = o['state'] as JsonObject;
  if (!Array.isArray(ca.group.peers)) ca.group.peers = [];
  return ca;
}

function withOp(op: number, json: string): Buffer {
  const body = Buffer.from(json + '\n', 'utf8');
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = op;
  body.copy(out, 1);
  return out;
}

/** encodeAddStreamAssignment / encodeUpdateStreamAssignment / encodeDeleteStreamAssignment. */
export function encodeStreamAssignment(op: typeof assignStreamOp | typeof updateStreamOp | typeof removeStreamOp, sa: StreamAssignment): Buffer {
  return withOp(op, goJson(streamAssignmentJson(sa)));
}

/** encodeAddConsumerAssignment / encodeDeleteConsumerAssignment. */
export function encodeConsumerAssignment(op: typeof assignConsumerOp | typeof removeConsumerOp, ca: ConsumerAssignment): Buffer {
  return withOp(op, goJson(consumerAssignmentJson(ca)));
}

/** encodeAddConsumerAssignmentCompressed. */
export function encodeConsumerAssignmentCompressed(ca: ConsumerAssignment): Buffer {
  const z = s2Encode(Buffer.from(goJson(consumerAssignmentJson(ca)), 'utf8'));
  const out = Buffer.allocUnsafe(1 + z.length);
  out[0] = assignCompressedConsumerOp;
  z.copy(out, 1);
  return out;
}

/** The body after the op byte. */
export function decodeStreamAssignment(body: Buffer): StreamAssignment {
  return decodeStreamAssignmentJson(parseObject(body));
}

export function decodeConsumerAssignment(body: Buffer): ConsumerAssignment {
  return decodeConsumerAssignmentJson(parseObject(body));
}

export function decodeConsumerAssignmentCompressed(body: Buffer): ConsumerAssignment {
  return decodeConsumerAssignmentJson(parseObject(s2Decode(body)));
}
