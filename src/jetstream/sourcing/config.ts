// Configuration of mirrors, sources, the input subject transform and republish: JSON decoding (Go's
// json.Unmarshal into StreamSource / SubjectTransformConfig / RePublish), the checks of nats-server's
// checkStreamCfg (stream.go) in its order, the transform checks addStream makes, and the JSON view of
// a config (omitempty fields as nats-server renders them).

import { createHash } from 'node:crypto';
import { isValidLiteralSubject, isValidSubject, subjectCovers } from '../../sublist/subject.js';
import { JsErr } from '../errors.js';
import { SubjectTransform, TransformError, validateMappingDestination } from '../transform.js';
import { rfc3339ToNs } from '../types.js';
import type { ApiErrorBody, ExternalStreamConfig, RePublishConfig, StreamConfig, StreamSourceConfig, SubjectTransformConfig } from '../types.js';
import { SourceErr } from './errors.js';
import { subjectsCollide as collide } from '../stream-config.js';

/** Looks up another stream's config in the same account (undefined when there is none). */
export type StreamLookup = (name: string) => StreamConfig | undefined;

const JS_API_PREFIX = '$JS.API';

// ---- decoding -----------------------------------------------------------------------------------

const isStr = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function decodeTransform(v: unknown): SubjectTransformConfig | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!isStr(o['src']) || !isStr(o['dest'])) return null;
  return { src: str(o['src']), dest: str(o['dest']) };
}

function decodeExternal(v: unknown): ExternalStreamConfig | null | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!isStr(o['api']) || !isStr(o['deliver'])) return null;
  return { api: str(o['api']), deliver: str(o['deliver']) };
}

/** A StreamSource as Go unmarshals it; null when a field has the wrong type. */
function decodeSource(v: unknown): StreamSourceConfig | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!isStr(o['name']) || !isStr(o['filter_subject']) || !isStr(o['opt_start_time'])) return null;
  const seq = o['opt_start_seq'];
  if (seq !== undefined && seq !== null && (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0)) return null;
  const out: StreamSourceConfig = { name: str(o['name']) };
  if (typeof seq === 'number' && seq > 0) out.opt_start_seq = seq;
  const t = str(o['opt_start_time']);
  if (t !== '') {
    if (Number.isNaN(rfc3339ToNs(t))) return null; // time.Time fails to unmarshal
    out.opt_start_time = t;
  }
  if (str(o['filter_subject']) !== '') out.filter_subject = str(o['filter_subject']);
  const trs = o['subject_transforms'];
  if (trs !== undefined && trs !== null) {
    if (!Array.isArray(trs)) return null;
    const list: SubjectTransformConfig[] = [];
    for (const x of trs) {
      const tr = decodeTransform(x);
      if (tr === null) return null;
      list.push(tr);
    }
    if (list.length > 0) out.subject_transforms = list;
  }
  const ext = decodeExternal(o['external']);
  if (ext === null) return null;
  if (ext !== undefined) out.external = ext;
  return out;
}

export interface DecodedSourcing {
  mirror?: StreamSourceConfig;
  sources?: StreamSourceConfig[];
  subject_transform?: SubjectTransformConfig;
  republish?: RePublishConfig;
}

/** The sourcing fields of a raw config, or null when Go would fail to unmarshal them. */
export function decodeSourcing(raw: Record<string, unknown>): DecodedSourcing | null {
  const out: DecodedSourcing = {};
  const m = raw['mirror'];
  if (m !== undefined && m !== null) {
    const s = decodeSource(m);
    if (s === null) return null;
    out.mirror = s;
  }
  const srcs = raw['sources'];
  if (srcs !== undefined && srcs !== null) {
    if (!Array.isArray(srcs)) return null;
    const list: StreamSourceConfig[] = [];
    for (const x of srcs) {
      if (x === null) continue; // a nil *StreamSource
      const s = decodeSource(x);
      if (s === null) return null;
      list.push(s);
    }
    if (list.length > 0) out.sources = list;
  }
  const st = raw['subject_transform'];
  if (st !== undefined && st !== null) {
    const tr = decodeTransform(st);
    if (tr === null) return null;
    out.subject_transform = tr;
  }
  const rp = raw['republish'];
  if (rp !== undefined && rp !== null) {
    if (typeof rp !== 'object' || Array.isArray(rp)) return null;
    const o = rp as Record<string, unknown>;
    if (!isStr(o['src']) || !isStr(o['dest'])) return null;
    if (o['headers_only'] !== undefined && o['headers_only'] !== null && typeof o['headers_only'] !== 'boolean') return null;
    out.republish = { src: str(o['src']), dest: str(o['dest']), ...(o['headers_only'] === true ? { headers_only: true } : {}) };
  }
  return out;
}

// ---- checkStreamCfg ------------------------------------------------------------------------------

/** nats-server's isValidName (stream names): not empty, none of ` \t\r\n\f.*>`. */
function validName(name: string): boolean {
  return name !== '' && !/[ \t\r\n\f.*>]/.test(name);
}

/** composeIName: `<name>[:<hash(api)>] <filters> <destinations>` (the source's index name). */
export function sourceIndexName(ss: StreamSourceConfig, hash: (s: string) => string): string {
  let name = ss.name;
  if (ss.external !== undefined) name += `:${hash(ss.external.api)}`;
  let source = ss.filter_subject ?? '';
  let dest = '>';
  const trs = ss.subject_transforms ?? [];
  if (trs.length === 0) {
    if (source === '') source = '>';
  } else {
    source = trs.map((t) => t.src || '>').join('\f');
    dest = trs.map((t) => t.dest || '>').join('\f');
  }
  return `${name} ${source} ${dest}`;
}

export interface SourcingContext {
  name: string;
  subjects: readonly string[];
  max_msg_size: number;
  first_seq: number;
  lookup: StreamLookup;
  hash: (s: string) => string;
}

export type SourcingResult = { ok: true; mirror_direct: boolean | null } | { ok: false; error: ApiErrorBody };

const bad = (error: ApiErrorBody): SourcingResult => ({ ok: false, error });

/**
 * The mirror, sources, external prefixes and cycle checks of checkStreamCfg, in its order. On
 * success, mirror_direct is the origin's allow_direct when the origin is a local stream (nats-server
 * makes a mirror inherit it), else null (keep what was asked for).
 */
export function checkSourcing(d: DecodedSourcing, ctx: SourcingContext): SourcingResult {
  const streamSubs: string[] = [];
  const deliveryPrefixes: string[] = [];
  const apiPrefixes: string[] = [];
  let mirrorDirect: boolean | null = null;
  const m = d.mirror;
  if (m !== undefined) {
    if (ctx.first_seq > 0) return bad(SourceErr.mirrorWithFirstSeq());
    if (ctx.subjects.length > 0) return bad(SourceErr.mirrorWithSubjects());
    if (d.sources !== undefined && d.sources.length > 0) return bad(SourceErr.mirrorWithSources());
    const trs = m.subject_transforms ?? [];
    if ((m.filter_subject ?? '') !== '' && trs.length !== 0) return bad(SourceErr.mirrorMultipleFiltersNotAllowed());
    for (let i = 0; i < trs.length; i++) {
      if (!isValidSubject(trs[i]!.src)) return bad(SourceErr.mirrorInvalidSubjectFilter());
      for (let j = 0; j < trs.length; j++) if (i !== j && collide(trs[i]!.src, trs[j]!.src)) return bad(SourceErr.mirrorOverlappingSubjectFilters());
    }
    if (m.external === undefined) {
      if (!validName(m.name)) return bad(SourceErr.mirrorInvalidStreamName());
      const origin = ctx.lookup(m.name);
      if (origin !== undefined) {
        streamSubs.push(...origin.subjects);
        if (ctx.max_msg_size > 0 && origin.max_msg_size > 0 && ctx.max_msg_size < origin.max_msg_size) return bad(SourceErr.mirrorMaxMessageSizeTooBig());
        mirrorDirect = origin.allow_direct;
      }
    } else {
      if (m.external.deliver !== '') deliveryPrefixes.push(m.external.deliver);
      if (m.external.api !== '') apiPrefixes.push(m.external.api);
    }
  }
  const inames = new Set<string>();
  for (const src of d.sources ?? []) {
    if (!validName(src.name)) return bad(SourceErr.sourceInvalidStreamName());
    const iname = sourceIndexName(src, ctx.hash);
    if (inames.has(iname)) return bad(SourceErr.sourceDuplicateDetected());
    inames.add(iname);
    if (src.external === undefined) {
      const origin = ctx.lookup(src.name);
      if (origin !== undefined) {
        streamSubs.push(...origin.subjects);
        if (ctx.max_msg_size > 0 && origin.max_msg_size > 0 && ctx.max_msg_size < origin.max_msg_size) return bad(SourceErr.sourceMaxMessageSizeTooBig());
      }
      const trs = src.subject_transforms ?? [];
      if ((src.filter_subject ?? '') !== '' && trs.length !== 0) return bad(SourceErr.sourceMultipleFiltersNotAllowed());
      for (const tr of trs) if (validateMappingDestination(tr.dest) !== null) return bad(SourceErr.sourceInvalidTransformDestination());
      for (let i = 0; i < trs.length; i++) {
        if (!isValidSubject(trs[i]!.src)) return bad(SourceErr.sourceInvalidSubjectFilter());
        // subjectIsSubsetMatch(i, j): every subject of i is one of j.
        for (let j = 0; j < trs.length; j++) if (i !== j && subjectCovers(trs[j]!.src, trs[i]!.src)) return bad(SourceErr.sourceOverlappingSubjectFilters());
      }
    } else {
      if (src.external.deliver !== '') deliveryPrefixes.push(src.external.deliver);
      if (src.external.api !== '') apiPrefixes.push(src.external.api);
    }
  }
  for (const pfx of deliveryPrefixes) {
    if (!isValidLiteralSubject(pfx)) return bad(SourceErr.invalidExternalDeliverySubject(pfx));
    for (const sub of streamSubs) if (collide(sub, `${pfx}.${sub}`)) return bad(SourceErr.externalDelPrefixOverlaps(pfx, sub));
  }
  for (const pfx of apiPrefixes) {
    if (!isValidLiteralSubject(pfx)) return bad(JsErr.streamInvalidConfig(`stream external api prefix ${JSON.stringify(pfx)} must be a valid subject without wildcards`));
    if (collide(pfx, JS_API_PREFIX)) return bad(SourceErr.externalApiOverlap(pfx, JS_API_PREFIX));
  }
  if (detectCycle(ctx, d)) return bad(JsErr.streamInvalidConfig('detected cycle'));
  return { ok: true, mirror_direct: mirrorDirect };
}

/** The cycle check of checkStreamCfg: sources (with overlapping subjects) and mirrors leading back. */
function detectCycle(ctx: SourcingContext, d: DecodedSourcing): boolean {
  type Node = { name: string; subjects: readonly string[]; sources: StreamSourceConfig[]; mirror: StreamSourceConfig | undefined };
  const toVisit: Node[] = [{ name: ctx.name, subjects: ctx.subjects, sources: d.sources ?? [], mirror: d.mirror }];
  const visited = new Set<string>();
  const overlaps = (subjects: readonly string[], filter: string): boolean => filter === '' || subjects.some((s) => collide(s, filter));
  for (let guard = 0; toVisit.length > 0 && guard < 10_000; guard++) {
    const cfg = toVisit.shift()!;
    visited.add(cfg.name);
    for (const src of cfg.sources) {
      if (src.external !== undefined) continue;
      if (visited.has(src.name)) {
        if (overlaps(cfg.subjects, src.filter_subject ?? '')) return true;
      } else {
        const o = ctx.lookup(src.name);
        if (o !== undefined) toVisit.push({ name: o.name, subjects: o.subjects, sources: o.sources ?? [], mirror: o.mirror });
      }
    }
    const mm = cfg.mirror;
    if (mm !== undefined && mm.external === undefined) {
      if (visited.has(mm.name)) return true;
      const o = ctx.lookup(mm.name);
      if (o !== undefined) toVisit.push({ name: o.name, subjects: o.subjects, sources: o.sources ?? [], mirror: o.mirror });
    }
  }
  return false;
}

/** The republish checks at the end of checkStreamCfg; fills in the default source ('>'). */
export function checkRepublish(rp: RePublishConfig, subjects: readonly string[]): ApiErrorBody | null {
  if ((rp.src ?? '') === '') rp.src = '>';
  for (const subj of subjects) {
    if (collide(rp.dest, subj)) return JsErr.streamInvalidConfig('stream configuration for republish destination forms a cycle');
  }
  try {
    SubjectTransform.create(rp.src!, rp.dest);
  } catch {
    return JsErr.streamInvalidConfig(`stream configuration for republish with transform from '${rp.src}' to '${rp.dest}' not valid`);
  }
  return null;
}

/**
 * What addStream checks beyond checkStreamCfg (its errors are plain errors, answered as stream
 * create/update errors): filters and transforms of the mirror and sources, the input transform.
 */
export function checkTransforms(cfg: StreamConfig): string | null {
  const tryCreate = (src: string, dest: string, what: string): string | null => {
    try {
      SubjectTransform.create(src, dest);
      return null;
    } catch (err) {
      return `${what}: ${err instanceof TransformError ? err.message : String(err)}`;
    }
  };
  const m = cfg.mirror;
  if (m !== undefined) {
    const trs = m.subject_transforms ?? [];
    if (trs.length === 0) {
      if ((m.filter_subject ?? '') !== '' && !isValidSubject(m.filter_subject!)) return `subject filter '${m.filter_subject}' for the mirror invalid subject`;
    } else {
      for (const st of trs) {
        if (st.src !== '' && !isValidSubject(st.src)) return `invalid subject transform source '${st.src}' for the mirror: invalid subject`;
        if (st.dest !== '') {
          const e = tryCreate(st.src, st.dest, `subject transform from '${st.src}' to '${st.dest}' for the mirror`);
          if (e !== null) return e;
        }
      }
    }
  }
  for (const ss of cfg.sources ?? []) {
    const trs = ss.subject_transforms ?? [];
    if (trs.length === 0) {
      if ((ss.filter_subject ?? '') !== '' && !isValidSubject(ss.filter_subject!)) return `subject filter '${ss.filter_subject}' for the source: invalid subject`;
    } else {
      for (const st of trs) {
        if (st.src !== '' && !isValidSubject(st.src)) return `subject filter '${st.src}' for the source: invalid subject`;
        if (st.dest !== '') {
          const e = tryCreate(st.src, st.dest, `subject transform from '${st.src}' to '${st.dest}' for the source`);
          if (e !== null) return e;
        }
      }
    }
  }
  const st = cfg.subject_transform;
  if (st !== undefined) {
    const e = tryCreate(st.src, st.dest, `stream subject transform from '${st.src}' to '${st.dest}'`);
    if (e !== null) return e;
  }
  return null;
}

// ---- rendering ----------------------------------------------------------------------------------

/**
 * The config as nats-server marshals it: `subjects` and `duplicate_window` are omitempty (a mirror or
 * a stream of sources alone has neither). Internally both are always present.
 */
export function renderStreamConfig(cfg: StreamConfig): StreamConfig {
  if (cfg.subjects.length > 0 && cfg.duplicate_window > 0) return cfg;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'subjects' && cfg.subjects.length === 0) continue;
    if (k === 'duplicate_window' && cfg.duplicate_window === 0) continue;
    out[k] = v;
  }
  return out as StreamConfig;
}

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** nats-server's getHash: 8 characters from the sha256 of name. */
export function natsHash(name: string): string {
  const b = createHash('sha256').update(name).digest();
  let s = '';
  for (let i = 0; i < 8; i++) s += DIGITS[b[i]! % 62];
  return s;
}
