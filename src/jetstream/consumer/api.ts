// `$JS.API.CONSUMER.*` (jetstream_api.go: jsConsumerCreateRequest, jsConsumerInfoRequest,
// jsConsumerDeleteRequest, jsConsumerNamesRequest, jsConsumerListRequest) and the consumer creation
// rules of stream.go addConsumerWithAssignment.

import { randomBytes } from 'node:crypto';
import type { ApiErrorBody, EngineLike, JsInbound, StreamLike } from '../types.js';
import { nowNs } from '../types.js';
import { buildHeaders } from '../headers.js';
import { ConsumerErr } from './errors.js';
import {
  checkConfigUpdate,
  checkConsumerConfig,
  checkWorkQueue,
  configFilters,
  decodeConsumerConfig,
  sameConsumerConfig,
  setConsumerConfigDefaults,
  type ConsumerConfig,
} from './config.js';
import { Consumer } from './consumer.js';
import { consumerDir } from './state-store.js';
import { JsErr } from '../errors.js';
import { maxAckPendingLimit, maxConsumersLimit, selectLimits } from '../account-limits.js';
import { checkLimits, ephemeralDefault, limitDefaults, maxConsumers } from './limits.js';

const T = {
  create: 'io.nats.jetstream.api.v1.consumer_create_response',
  info: 'io.nats.jetstream.api.v1.consumer_info_response',
  del: 'io.nats.jetstream.api.v1.consumer_delete_response',
  names: 'io.nats.jetstream.api.v1.consumer_names_response',
  list: 'io.nats.jetstream.api.v1.consumer_list_response',
} as const;

const NAMES_LIMIT = 1024; // JSApiNamesLimit
const LIST_LIMIT = 256; // JSApiListLimit

/** What the API needs of the plugin: the set of live consumers its timer drives. */
export interface ConsumerRegistry {
  register(c: Consumer): void;
  /** Deletes a consumer: out of its stream, state removed, interest retention rechecked. */
  remove(c: Consumer): Promise<void>;
}

export type Action = 'create' | 'update' | '';

export function consumerApi(reg: ConsumerRegistry, js: EngineLike, acc: number, t: string[], m: JsInbound): void {
  switch (t[0]) {
    case 'CREATE':
      if (t.length < 2) return;
      if (t.length === 2) return create(reg, js, acc, m, t[1]!, '', '', 'legacy-ephemeral');
      return create(reg, js, acc, m, t[1]!, t[2]!, t.slice(3).join('.'), 'new');
    case 'DURABLE':
      if (t[1] !== 'CREATE' || t.length < 3) return;
      if (t.length !== 4) return js.replyError(acc, m.reply, T.create, ConsumerErr.durableNotInSubject());
      return create(reg, js, acc, m, t[2]!, t[3]!, '', 'legacy-durable');
    case 'INFO':
      if (t.length !== 3) return;
      return info(js, acc, m, t[1]!, t[2]!);
    case 'DELETE':
      if (t.length !== 3) return;
      return void del(reg, js, acc, m, t[1]!, t[2]!);
    case 'NAMES':
      if (t.length !== 2) return;
      return names(js, acc, m, t[1]!);
    case 'LIST':
      if (t.length !== 2) return;
      return list(js, acc, m, t[1]!);
    case 'MSG':
      if (t[1] !== 'NEXT' || t.length !== 4) return;
      return next(js, acc, m, t[2]!, t[3]!);
    default:
      return;
  }
}

function parseBody(m: JsInbound): { ok: true; v: unknown } | { ok: false; why: string } {
  const s = m.data.toString('utf8').trim();
  if (s === '') return { ok: true, v: null };
  try {
    return { ok: true, v: JSON.parse(s) };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}

export type CreateKind = 'legacy-ephemeral' | 'legacy-durable' | 'new';

/**
 * jsConsumerCreateRequest's checks of a parsed create request against its subject (stream name,
 * consumer name, filter) and its config, the same on a single server and on a cluster's meta leader.
 */
export function checkCreateRequest(req: Record<string, unknown>, streamName: string, consumerName: string, filtered: string, kind: CreateKind): { ok: true; cfg: ConsumerConfig; action: Action } | { ok: false; error: ApiErrorBody } {
  const fail = (error: ApiErrorBody): { ok: false; error: ApiErrorBody } => ({ ok: false, error });
  if ((req['stream_name'] ?? '') !== streamName) return fail(ConsumerErr.streamMismatch());
  if (consumerName !== '' && /[\\/]/.test(consumerName)) return fail(ConsumerErr.nameHasPathSeparators());
  const action = req['action'] ?? '';
  if (action !== '' && action !== 'create' && action !== 'update') return fail(ConsumerErr.invalidJson(`unknown consumer action: ${JSON.stringify(action)}`));
  const dec = decodeConsumerConfig(req['config']);
  if (!dec.ok) return fail(dec.error);
  const cfg = dec.config;
  if (kind === 'legacy-durable') {
    if (cfg.durable_name === undefined) return fail(ConsumerErr.durableNotSet());
    if (consumerName !== cfg.durable_name) return fail(ConsumerErr.durableNotMatchSubject());
    cfg.name = consumerName;
  } else if (kind === 'new') {
    if (cfg.durable_name !== undefined && consumerName !== cfg.durable_name) return fail(ConsumerErr.durableNotMatchSubject());
    cfg.name = consumerName;
  } else if (cfg.durable_name !== undefined) {
    return fail(ConsumerErr.ephemeralWithDurable());
  }
  if (filtered !== '' && cfg.filter_subjects !== undefined) return fail(ConsumerErr.multipleFiltersNotAllowed());
  if (filtered !== '' && cfg.filter_subject !== filtered) return fail(ConsumerErr.filterMismatch());
  return { ok: true, cfg, action };
}

function create(reg: ConsumerRegistry, js: EngineLike, acc: number, m: JsInbound, streamName: string, consumerName: string, filtered: string, kind: CreateKind): void {
  const fail = (err: ApiErrorBody): void => js.replyError(acc, m.reply, T.create, err);
  const body = parseBody(m);
  if (!body.ok) return fail(ConsumerErr.invalidJson(body.why));
  const req = (body.v ?? {}) as Record<string, unknown>;
  if (typeof req !== 'object' || Array.isArray(req)) return fail(ConsumerErr.invalidJson('cannot unmarshal request'));
  const checked = checkCreateRequest(req, streamName, consumerName, filtered, kind);
  if (!checked.ok) return fail(checked.error);
  const { cfg, action } = checked;
  // A stand-alone server: no replicated consumers (jsConsumerCreateRequest).
  if (cfg.num_replicas > 1) return fail(JsErr.replicasNotSupported());
  const stream = js.stream(acc, streamName);
  if (stream === undefined) return fail(ConsumerErr.streamNotFound());
  const r = addConsumer(reg, js, stream, cfg, action);
  if ('error' in r) return fail(r.error);
  js.reply(acc, m.reply, { type: T.create, ...r.consumer.info() });
}

/** Ephemeral names: 8 characters, as nats-server's createConsumerName (a hash of a nuid). */
function generateName(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(8);
  let s = '';
  for (let i = 0; i < 8; i++) s += alphabet[b[i]! % alphabet.length];
  return s;
}

/** stream.go addConsumerWithAssignment (single server). */
export function addConsumer(reg: ConsumerRegistry, js: EngineLike, stream: StreamLike, cfg: ConsumerConfig, action: Action): { consumer: Consumer } | { error: ApiErrorBody } {
  const tiers = js.limitsFor?.(stream.acc) ?? null;
  const replicas = cfg.num_replicas > 0 ? cfg.num_replicas : stream.config.num_replicas;
  if (tiers !== null && selectLimits(tiers, replicas) === null) return { error: JsErr.noLimits() };
  const accMaxAckPending = tiers === null ? 0 : maxAckPendingLimit(tiers, replicas);
  limitDefaults(cfg, stream.config, accMaxAckPending);
  setConsumerConfigDefaults(cfg);
  ephemeralDefault(cfg);
  const bad = checkConsumerConfig(cfg, stream.config) ?? checkLimits(cfg, stream.config, accMaxAckPending);
  if (bad !== null) return { error: bad };
  let name = cfg.durable_name ?? cfg.name;
  if (name === undefined) {
    do name = generateName();
    while (stream.consumers.has(name));
  }
  cfg.name = name;
  const others = (): { name: string; filters: readonly string[] }[] => {
    const out: { name: string; filters: readonly string[] }[] = [];
    for (const c of stream.consumers.values()) if (c instanceof Consumer) out.push({ name: c.name, filters: configFilters(c.cfg) });
    return out;
  };
  const existing = stream.consumers.get(name);
  if (existing instanceof Consumer) {
    if (action === 'create' && !sameConsumerConfig(existing.cfg, cfg)) return { error: ConsumerErr.alreadyExists() };
    if (stream.config.retention === 'workqueue') {
      const wq = checkWorkQueue(cfg, name, others());
      if (wq !== null && wq.err_code === 10100) return { error: wq };
    }
    const upd = checkConfigUpdate(existing.cfg, cfg);
    if (upd !== null) return { error: ConsumerErr.createFailed(upd) };
    // updateConfig: a push consumer moves to another deliver subject only once nobody listens on its
    // current one (a second client re-creating a bound durable gets "consumer name already in use").
    const oldDeliver = existing.cfg.deliver_subject;
    if (oldDeliver !== undefined && cfg.deliver_subject !== undefined && oldDeliver !== cfg.deliver_subject && js.host.hasInterest(stream.acc, oldDeliver)) {
      return { error: ConsumerErr.nameExists() };
    }
    if (!sameConsumerConfig(existing.cfg, cfg)) existing.updateConfig(cfg);
    return { consumer: existing };
  }
  if (action === 'update') return { error: ConsumerErr.doesNotExist() };
  const max = maxConsumers(stream.config, tiers === null ? 0 : maxConsumersLimit(tiers, stream.config.num_replicas));
  // Direct consumers (mirrors, sources) do not count (numPublicConsumers).
  if (max > 0 && publicCount(stream) >= max) return { error: ConsumerErr.maxConsumers() };
  if (stream.config.retention === 'workqueue' && cfg.direct !== true) {
    const wq = checkWorkQueue(cfg, name, others());
    if (wq !== null) return { error: wq };
  }
  // Every consumer of a file stream keeps its state on disk unless it asks for memory, ephemerals
  // too (nats-server restores them after a restart, so a KV watcher's ordered consumer resumes).
  // A mirror's or source's direct consumer has no store (it is made again after a restart).
  const dir = stream.dir !== null && cfg.mem_storage !== true && cfg.direct !== true ? consumerDir(stream.dir, name) : null;
  let c: Consumer;
  try {
    c = new Consumer({ js, stream, name, config: cfg, created: nowNs(), dir });
  } catch (err) {
    return { error: { code: 500, err_code: 10104, description: `error creating store for consumer: ${String(err)}` } };
  }
  stream.consumers.set(name, c);
  reg.register(c);
  js.advisories?.consumerAction(stream.acc, stream.name, name, 'create');
  c.signal();
  return { consumer: c };
}

function lookup(js: EngineLike, acc: number, streamName: string, name: string): { stream: StreamLike; c: Consumer } | { error: ApiErrorBody } {
  const stream = js.stream(acc, streamName);
  if (stream === undefined) return { error: ConsumerErr.streamNotFound() };
  const c = stream.consumers.get(name);
  if (!(c instanceof Consumer)) return { error: ConsumerErr.notFound() };
  return { stream, c };
}

function info(js: EngineLike, acc: number, m: JsInbound, streamName: string, name: string): void {
  const r = lookup(js, acc, streamName, name);
  if ('error' in r) return js.replyError(acc, m.reply, T.info, r.error);
  js.reply(acc, m.reply, { type: T.info, ...r.c.info() });
}

async function del(reg: ConsumerRegistry, js: EngineLike, acc: number, m: JsInbound, streamName: string, name: string): Promise<void> {
  const r = lookup(js, acc, streamName, name);
  if ('error' in r) return js.replyError(acc, m.reply, T.del, r.error);
  const reply = m.reply; // m is only valid during the call
  await reg.remove(r.c);
  js.advisories?.consumerAction(acc, streamName, name, 'delete');
  js.reply(acc, reply, { type: T.del, success: true });
}

function offsetOf(m: JsInbound): number {
  const b = parseBody(m);
  if (!b.ok || b.v === null || typeof b.v !== 'object') return 0;
  const o = (b.v as { offset?: unknown }).offset;
  return typeof o === 'number' && o > 0 ? Math.floor(o) : 0;
}

/** Consumers other than the direct ones of mirrors and sources (numPublicConsumers). */
function publicCount(stream: StreamLike): number {
  let n = 0;
  for (const c of stream.consumers.values()) if (c.direct !== true) n++;
  return n;
}

/** The consumers names and list show: not the direct ones (getPublicConsumers). */
function sortedConsumers(stream: StreamLike): Consumer[] {
  const out: Consumer[] = [];
  for (const c of stream.consumers.values()) if (c instanceof Consumer && c.cfg.direct !== true) out.push(c);
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

function names(js: EngineLike, acc: number, m: JsInbound, streamName: string): void {
  const stream = js.stream(acc, streamName);
  if (stream === undefined) return js.replyError(acc, m.reply, T.names, ConsumerErr.streamNotFound());
  const all = sortedConsumers(stream);
  const offset = Math.min(offsetOf(m), all.length);
  const page = all.slice(offset, offset + NAMES_LIMIT).map((c) => c.name);
  js.reply(acc, m.reply, { type: T.names, total: all.length, offset, limit: NAMES_LIMIT, consumers: page });
}

function list(js: EngineLike, acc: number, m: JsInbound, streamName: string): void {
  const stream = js.stream(acc, streamName);
  if (stream === undefined) return js.replyError(acc, m.reply, T.list, ConsumerErr.streamNotFound());
  const all = sortedConsumers(stream);
  const offset = Math.min(offsetOf(m), all.length);
  const page = all.slice(offset, offset + LIST_LIMIT).map((c) => c.info());
  js.reply(acc, m.reply, { type: T.list, total: all.length, offset, limit: LIST_LIMIT, consumers: page });
}

const NO_RESPONDERS = buildHeaders('503', []);

/**
 * MSG.NEXT: in nats-server each pull consumer subscribes to its own next subject, so a request for a
 * consumer that does not exist gets no responders (503); we answer the same status.
 */
function next(js: EngineLike, acc: number, m: JsInbound, streamName: string, name: string): void {
  const r = lookup(js, acc, streamName, name);
  if ('error' in r) {
    if (m.reply !== null) js.host.publish(acc, m.reply, null, NO_RESPONDERS, null);
    return;
  }
  r.c.nextRequest(m.reply, m.data);
}
