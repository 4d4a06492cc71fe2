// `$JS.API.STREAM.{CREATE,UPDATE,INFO,DELETE,PURGE}.<stream>`, `STREAM.NAMES`, `STREAM.LIST`:
// nats-server's jsStreamCreateRequest, jsStreamUpdateRequest, jsStreamInfoRequest,
// jsStreamDeleteRequest, jsStreamPurgeRequest, jsStreamNamesRequest, jsStreamListRequest
// (jetstream_api.go) for a single, non-clustered server; checks in their order.

import { JsErr } from '../errors.js';
import { checkConfigUpdate, checkCreateOnly, checkStreamConfig, decodeConfig, sameConfig, subjectsCollide } from '../stream-config.js';
import { isEmptyRequest, parseObject, strField, uintField } from './request.js';
import { checkMaxBytes, checkNewStream, checkStreamUpdate, type LimitedStream } from '../account-limits.js';
import { checkTransforms } from '../sourcing/config.js';
import { restoreRequest, snapshotRequest } from '../snapshot/snapshot.js';
import type { JetStream, JsAccount } from '../engine.js';
import type { Stream } from '../stream.js';
import type { ApiErrorBody, JsInbound, PurgeRequest } from '../types.js';

const T = 'io.nats.jetstream.api.v1.';
export const STREAM_CREATE = `${T}stream_create_response`;
export const STREAM_UPDATE = `${T}stream_update_response`;
export const STREAM_INFO = `${T}stream_info_response`;
export const STREAM_DELETE = `${T}stream_delete_response`;
export const STREAM_PURGE = `${T}stream_purge_response`;
export const STREAM_NAMES = `${T}stream_names_response`;
export const STREAM_LIST = `${T}stream_list_response`;

/** JSApiNamesLimit / JSApiListLimit / JSMaxSubjectDetails. */
const NAMES_LIMIT = 1024;
const LIST_LIMIT = 256;
const MAX_SUBJECT_DETAILS = 100_000;

/** tokens: what follows `$JS.API.` (tokens[0] === 'STREAM'). */
export function streamApi(js: JetStream, a: JsAccount, t: string[], m: JsInbound): Promise<void> | void {
  if (t.length === 2) {
    if (t[1] === 'NAMES') return names(js, a, m);
    if (t[1] === 'LIST') return list(js, a, m);
    return;
  }
  if (t.length !== 3) return;
  const name = t[2]!;
  switch (t[1]) {
    case 'CREATE':
      return create(js, a, name, m);
    case 'UPDATE':
      return update(js, a, name, m);
    case 'INFO':
      return info(js, a, name, m);
    case 'DELETE':
      return del(js, a, name, m);
    case 'PURGE':
      return purge(js, a, name, m);
    case 'SNAPSHOT':
      return snapshotRequest(js, a, name, m);
    case 'RESTORE':
      return restoreRequest(js, a, name, m);
    default:
      return;
  }
}

async function create(js: JetStream, a: JsAccount, name: string, m: JsInbound): Promise<void> {
  const raw = decodeConfig(m.data);
  if (raw === null) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.invalidJson());
  if (name !== (typeof raw['name'] === 'string' ? raw['name'] : '')) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.streamNameMismatch());
  if (/[\\/]/.test(name)) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.streamNameContainsPathSeparators());
  const createErr = checkCreateOnly(raw);
  if (createErr !== null) return js.replyError(a.idx, m.reply, STREAM_CREATE, createErr);
  // jsNonClusteredStreamLimitsCheck, on the config as sent: max_streams, then the account's bytes.
  const preErr = checkNewStream(a.limits, limitedStreams(a), limitedRaw(name, raw), null);
  if (preErr !== null) return js.replyError(a.idx, m.reply, STREAM_CREATE, preErr);

  // acc.addStream: checkStreamCfg (with the account's max_bytes rules), replicas, then an existing
  // stream (same config: answer as created), the limits again, and subject overlap.
  const r = checkStreamConfig(raw, (n) => a.streams.get(n)?.config);
  if (!r.ok) return js.replyError(a.idx, m.reply, STREAM_CREATE, r.error);
  const cfg = r.config;
  const mbErr = checkMaxBytes(a.limits, cfg);
  if (mbErr !== null) return js.replyError(a.idx, m.reply, STREAM_CREATE, mbErr);
  if (cfg.num_replicas > 1) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.replicasNotSupported());
  const existing = a.streams.get(name);
  if (existing !== undefined) {
    if (!sameConfig(existing.config, cfg)) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.streamNameInUse());
    return js.reply(a.idx, m.reply, createdBody(existing));
  }
  // js.checkAllLimits: the account's limits, then max_bytes must fit the server's.
  const resErr = checkNewStream(a.limits, limitedStreams(a), cfg, () => js.resources.checkStream(cfg, null));
  if (resErr !== null) return js.replyError(a.idx, m.reply, STREAM_CREATE, resErr);
  // addStream: the transforms of mirror, sources and input, then the overlap with other streams.
  const trErr = checkTransforms(cfg);
  if (trErr !== null) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.streamCreate(trErr));
  if (js.overlaps(a, cfg.subjects, null, subjectsCollide)) return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.subjectOverlap());

  let s: Stream;
  try {
    s = await js.createStream(a, cfg);
  } catch (err) {
    js.log.warn({ err: err instanceof Error ? err.message : String(err) }, `Stream create failed for '${a.name} > ${name}'`);
    return js.replyError(a.idx, m.reply, STREAM_CREATE, JsErr.streamCreate('error creating store for stream'));
  }
  js.advisories.streamAction(a.idx, name, 'create');
  js.reply(a.idx, m.reply, createdBody(s));
}

/** The account's streams as the limits see them. */
function limitedStreams(a: JsAccount): LimitedStream[] {
  const out: LimitedStream[] = [];
  for (const s of a.streams.values()) out.push(s.config);
  return out;
}

/** The raw request's fields the limits read, Go zero values for what is absent. */
function limitedRaw(name: string, raw: Record<string, unknown>): LimitedStream & { max_consumers: number } {
  const n = (k: string): number => (typeof raw[k] === 'number' ? (raw[k] as number) : 0);
  return { name, storage: raw['storage'] === 'memory' ? 'memory' : 'file', max_bytes: n('max_bytes'), num_replicas: n('num_replicas'), max_consumers: n('max_consumers') };
}

/** StreamInfo with `domain` after `state`, as update, info and list answer when there is a domain. */
function withDomain(js: JetStream, info: Record<string, unknown>): Record<string, unknown> {
  if (js.domain === null) return info;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    out[k] = v;
    if (k === 'state') out['domain'] = js.domain.name;
  }
  return out;
}

function createdBody(s: Stream): Record<string, unknown> {
  const { info } = s.info(null);
  return { type: STREAM_CREATE, ...info, did_create: true };
}

function update(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const raw = decodeConfig(m.data);
  if (raw === null) return js.replyError(a.idx, m.reply, STREAM_UPDATE, JsErr.invalidJson());
  const r = checkStreamConfig(raw, (n) => a.streams.get(n)?.config);
  if (!r.ok) return js.replyError(a.idx, m.reply, STREAM_UPDATE, r.error);
  if (name !== r.config.name) return js.replyError(a.idx, m.reply, STREAM_UPDATE, JsErr.streamNameMismatch());
  const s = a.streams.get(name);
  if (s === undefined) return js.replyError(a.idx, m.reply, STREAM_UPDATE, JsErr.streamNotFound());
  const u = checkConfigUpdate(s.config, r.config);
  if (!u.ok) return js.replyError(a.idx, m.reply, STREAM_UPDATE, u.error);
  const mbErr = checkMaxBytes(a.limits, u.config);
  if (mbErr !== null) return js.replyError(a.idx, m.reply, STREAM_UPDATE, mbErr);
  // configUpdateCheck ends with the limits: only the growth of max_bytes is reserved anew.
  const accErr = checkStreamUpdate(a.limits, limitedStreams(a), s.config, u.config);
  if (accErr !== null) return js.replyError(a.idx, m.reply, STREAM_UPDATE, accErr);
  const resErr = js.resources.checkStream(u.config, s.config);
  if (resErr !== null) return js.replyError(a.idx, m.reply, STREAM_UPDATE, resErr);
  if (js.overlaps(a, u.config.subjects, s, subjectsCollide)) return js.replyError(a.idx, m.reply, STREAM_UPDATE, JsErr.subjectOverlap());
  const trErr = checkTransforms(u.config);
  if (trErr !== null) return js.replyError(a.idx, m.reply, STREAM_UPDATE, JsErr.streamUpdate(trErr));
  js.updateStream(a, s, u.config);
  js.advisories.streamAction(a.idx, name, 'modify');
  const { info } = s.info(null);
  js.reply(a.idx, m.reply, { type: STREAM_UPDATE, ...withDomain(js, info) });
}

function info(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  let deletedDetails = false;
  let subjectsFilter = '';
  let offset = 0;
  if (!isEmptyRequest(m.data)) {
    const req = parseObject(m.data);
    const off = req === null ? NaN : uintField(req, 'offset');
    const filter = req === null ? null : strField(req, 'subjects_filter');
    if (req === null || Number.isNaN(off) || filter === null || (req['deleted_details'] !== undefined && typeof req['deleted_details'] !== 'boolean')) {
      return replyInfoError(js, a, m, JsErr.invalidJson());
    }
    deletedDetails = req['deleted_details'] === true;
    subjectsFilter = filter;
    offset = off;
  }
  const s = a.streams.get(name);
  if (s === undefined) return replyInfoError(js, a, m, JsErr.streamNotFound());
  const { info: body, subjectsTotal } = s.info(js.serverName, subjectsFilter, deletedDetails);
  let paged = { total: 0, offset: 0, limit: 0 };
  if (subjectsFilter !== '' && subjectsTotal > 0) {
    paged = { total: subjectsTotal, offset, limit: MAX_SUBJECT_DETAILS };
    const state = body['state'] as Record<string, unknown>;
    const all = state['subjects'] as Record<string, number> | undefined;
    if (all !== undefined && (offset > 0 || subjectsTotal > MAX_SUBJECT_DETAILS)) {
      const keys = Object.keys(all).sort();
      const start = Math.min(offset, keys.length);
      const page: Record<string, number> = {};
      for (const k of keys.slice(start, start + MAX_SUBJECT_DETAILS)) page[k] = all[k]!;
      if (Object.keys(page).length > 0) state['subjects'] = page;
      else delete state['subjects'];
    }
  }
  js.reply(a.idx, m.reply, { type: STREAM_INFO, ...paged, ...withDomain(js, body) });
}

function replyInfoError(js: JetStream, a: JsAccount, m: JsInbound, err: ApiErrorBody): void {
  // nats-server also adds zero paging fields to this error (ApiPaged is embedded); clients read `error`.
  js.replyError(a.idx, m.reply, STREAM_INFO, err);
}

async function del(js: JetStream, a: JsAccount, name: string, m: JsInbound): Promise<void> {
  if (!isEmptyRequest(m.data)) return js.replyError(a.idx, m.reply, STREAM_DELETE, JsErr.notEmptyRequest());
  const s = a.streams.get(name);
  if (s === undefined) return js.replyError(a.idx, m.reply, STREAM_DELETE, JsErr.streamNotFound());
  try {
    await js.deleteStream(a, s);
  } catch (err) {
    return js.replyError(a.idx, m.reply, STREAM_DELETE, JsErr.streamDelete(err instanceof Error ? err.message : String(err)));
  }
  js.reply(a.idx, m.reply, { type: STREAM_DELETE, success: true });
}

function purge(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const err = (e: ApiErrorBody): void => {
    js.replyError(a.idx, m.reply, STREAM_PURGE, e);
  };
  let req: PurgeRequest = {};
  if (!isEmptyRequest(m.data)) {
    const o = parseObject(m.data);
    if (o === null) return err(JsErr.invalidJson());
    const seq = uintField(o, 'seq');
    const keep = uintField(o, 'keep');
    const filter = strField(o, 'filter');
    if (Number.isNaN(seq) || Number.isNaN(keep) || filter === null) return err(JsErr.invalidJson());
    if (seq > 0 && keep > 0) return err(JsErr.badRequest());
    req = {};
    if (filter !== '') req.filter = filter;
    if (seq > 0) req.seq = seq;
    if (keep > 0) req.keep = keep;
  }
  const s = a.streams.get(name);
  if (s === undefined) return err(JsErr.streamNotFound());
  if (s.config.sealed) return err(JsErr.streamSealed());
  if (s.config.deny_purge) return err(JsErr.streamPurgeFailed('stream purge not permitted'));
  const purged = s.purge(req);
  js.reply(a.idx, m.reply, { type: STREAM_PURGE, success: true, purged });
}

/** Streams of the account whose subjects collide with filter ('' = all), sorted by name. */
function filtered(a: JsAccount, filter: string): Stream[] {
  const out: Stream[] = [];
  for (const s of a.streams.values()) {
    if (filter === '' || s.config.subjects.some((subj) => subjectsCollide(filter, subj))) out.push(s);
  }
  out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return out;
}

/** The `{offset, subject}` request of NAMES and LIST, or null (invalid JSON). */
function pagedRequest(m: JsInbound): { offset: number; filter: string } | null {
  if (isEmptyRequest(m.data)) return { offset: 0, filter: '' };
  const o = parseObject(m.data);
  if (o === null) return null;
  const offset = uintField(o, 'offset');
  const filter = strField(o, 'subject');
  if (Number.isNaN(offset) || filter === null) return null;
  return { offset, filter };
}

function names(js: JetStream, a: JsAccount, m: JsInbound): void {
  const req = pagedRequest(m);
  if (req === null) return js.replyError(a.idx, m.reply, STREAM_NAMES, JsErr.invalidJson());
  const all = filtered(a, req.filter);
  const offset = Math.min(req.offset, all.length);
  const streams = all.slice(offset, offset + NAMES_LIMIT).map((s) => s.name);
  // Go's nil slice: no stream at all marshals as null (consumer names start from an empty slice).
  js.reply(a.idx, m.reply, { type: STREAM_NAMES, total: all.length, offset, limit: NAMES_LIMIT, streams: all.length === 0 ? null : streams });
}

function list(js: JetStream, a: JsAccount, m: JsInbound): void {
  const req = pagedRequest(m);
  if (req === null) return js.replyError(a.idx, m.reply, STREAM_LIST, JsErr.invalidJson());
  const all = filtered(a, req.filter);
  const offset = Math.min(req.offset, all.length);
  const streams = all.slice(offset, offset + LIST_LIMIT).map((s) => withDomain(js, s.info(js.serverName).info));
  js.reply(a.idx, m.reply, { type: STREAM_LIST, total: all.length, offset, limit: LIST_LIMIT, streams });
}
