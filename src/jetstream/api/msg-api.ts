// `$JS.API.STREAM.MSG.GET.<s>`, `STREAM.MSG.DELETE.<s>` (nats-server's jsMsgGetRequest,
// jsMsgDeleteRequest) and direct gets `$JS.API.DIRECT.GET.<s>` / `$JS.API.DIRECT.GET.<s>.<subject>`
// (stream.go processDirectGetRequest / processDirectGetLastBySubjectRequest / getDirectRequest).
// nats-server subscribes the direct-get subjects only for streams with allow_direct, so for other
// streams (and unknown ones) a direct get gets no answer at all, as there.

import { JsErr } from '../errors.js';
import { appendHeaders, buildHeaders } from '../headers.js';
import { nsToRfc3339 } from '../types.js';
import { isEmptyRequest, parseObject, strField, uintField } from './request.js';
import type { JetStream, JsAccount } from '../engine.js';
import type { Stream } from '../stream.js';
import type { JsInbound, StoredMsg } from '../types.js';

export const MSG_GET = 'io.nats.jetstream.api.v1.stream_msg_get_response';
export const MSG_DELETE = 'io.nats.jetstream.api.v1.stream_msg_delete_response';

interface GetRequest {
  seq: number;
  last: string;
  next: string;
}

/** JSApiMsgGetRequest {seq, last_by_subj, next_by_subj}, or null when it does not unmarshal. */
function getRequest(data: Buffer): GetRequest | null {
  const o = parseObject(data);
  if (o === null) return null;
  const seq = uintField(o, 'seq');
  const last = strField(o, 'last_by_subj');
  const next = strField(o, 'next_by_subj');
  if (Number.isNaN(seq) || last === null || next === null) return null;
  return { seq, last, next };
}

function load(s: Stream, r: GetRequest): StoredMsg | null {
  if (r.next !== '') return s.store.loadNextMsg(r.next, r.seq);
  if (r.last !== '') return s.store.loadLastMsg(r.last);
  return s.store.loadMsg(r.seq);
}

export function msgGet(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const err = (e: ReturnType<typeof JsErr.badRequest>): void => js.replyError(a.idx, m.reply, MSG_GET, e);
  if (isEmptyRequest(m.data)) return err(JsErr.badRequest());
  const r = getRequest(m.data);
  if (r === null) return err(JsErr.invalidJson());
  // Exactly one of seq / last_by_subj / next_by_subj (next may come with a starting seq).
  if ((r.seq > 0 && r.last !== '') || (r.seq === 0 && r.last === '' && r.next === '')) return err(JsErr.badRequest());
  if (r.last !== '' && r.next !== '') return err(JsErr.badRequest());
  const s = a.streams.get(name);
  if (s === undefined) return err(JsErr.streamNotFound());
  const sm = load(s, r);
  if (sm === null) return err(JsErr.noMessageFound());
  // StoredMsg JSON: hdrs and data are omitempty []byte (base64).
  const message: Record<string, unknown> = { subject: sm.subject, seq: sm.seq };
  if (sm.hdr !== null && sm.hdr.length > 0) message['hdrs'] = sm.hdr.toString('base64');
  if (sm.data.length > 0) message['data'] = sm.data.toString('base64');
  message['time'] = nsToRfc3339(sm.ts);
  js.reply(a.idx, m.reply, { type: MSG_GET, message });
}

export function msgDelete(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const err = (e: ReturnType<typeof JsErr.badRequest>): void => js.replyError(a.idx, m.reply, MSG_DELETE, e);
  if (isEmptyRequest(m.data)) return err(JsErr.badRequest());
  const o = parseObject(m.data);
  const seq = o === null ? NaN : uintField(o, 'seq');
  if (o === null || Number.isNaN(seq) || (o['no_erase'] !== undefined && typeof o['no_erase'] !== 'boolean')) return err(JsErr.invalidJson());
  const s = a.streams.get(name);
  if (s === undefined) return err(JsErr.streamNotFound());
  if (s.config.sealed) return err(JsErr.streamSealed());
  if (s.config.deny_delete) return err(JsErr.streamMsgDeleteFailed('message delete not permitted'));
  // no_erase is accepted; removed messages are never readable again either way.
  if (!s.deleteMsg(seq)) return err(JsErr.sequenceNotFound(seq));
  js.reply(a.idx, m.reply, { type: MSG_DELETE, success: true });
}

/** A status-only reply (`NATS/1.0 404 Message Not Found`, empty body). */
function status(js: JetStream, a: JsAccount, to: string, text: string): void {
  js.host.publish(a.idx, to, null, buildHeaders(text, []), null);
}

/** The stored message with Nats-Stream/-Subject/-Sequence/-Time-Stamp after its own headers. */
function sendDirect(js: JetStream, a: JsAccount, s: Stream, to: string, sm: StoredMsg | null): void {
  if (sm === null) return status(js, a, to, '404 Message Not Found');
  const hdr = appendHeaders(sm.hdr, [
    ['Nats-Stream', s.name],
    ['Nats-Subject', sm.subject],
    ['Nats-Sequence', String(sm.seq)],
    ['Nats-Time-Stamp', nsToRfc3339(sm.ts)],
  ]);
  js.host.publish(a.idx, to, null, hdr, sm.data);
}

/**
 * The stream answering a direct get for `name`: the stream itself with allow_direct, or one of its
 * mirrors with mirror_direct that caught up (nats-server puts them in one queue group, one answers).
 */
function directStream(js: JetStream, a: JsAccount, name: string): Stream | null {
  const s = a.streams.get(name);
  const own = s !== undefined && s.config.allow_direct ? s : null;
  const mirrors = js.sourcing.directMirrors(a.idx, name);
  if (mirrors.length === 0) return own;
  const all = own !== null ? [own, ...mirrors] : mirrors;
  return all[Math.floor(Math.random() * all.length)]!;
}

/** `$JS.API.DIRECT.GET.<stream>` with a JSON body. */
export function directGet(js: JetStream, a: JsAccount, name: string, m: JsInbound): void {
  const s = directStream(js, a, name);
  if (s === null || m.reply === null) return;
  if (m.data.length === 0) return status(js, a, m.reply, '408 Empty Request');
  const r = getRequest(m.data);
  if (r === null) return status(js, a, m.reply, '408 Malformed Request');
  if (r.seq === 0 && r.last === '' && r.next === '') return status(js, a, m.reply, '408 Empty Request');
  if ((r.seq > 0 && r.last !== '') || (r.last !== '' && r.next !== '')) return status(js, a, m.reply, '408 Bad Request');
  sendDirect(js, a, s, m.reply, load(s, r));
}

/** `$JS.API.DIRECT.GET.<stream>.<subject>`: the last message on subject (KV get). */
export function directGetLastBySubject(js: JetStream, a: JsAccount, name: string, subject: string, m: JsInbound): void {
  const s = directStream(js, a, name);
  if (s === null || m.reply === null) return;
  sendDirect(js, a, s, m.reply, s.store.loadLastMsg(subject));
}
