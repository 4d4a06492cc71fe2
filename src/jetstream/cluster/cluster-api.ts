// The JetStream API in a cluster (jetstream_api.go's clustered paths, jetstream_cluster.go
// jsClustered*Request). Every server gets every request (js-cluster.ts forwards clients' requests into
// the system account); each handler decides as nats-server's does whether this server answers:
//   meta leader    account info, stream create/update/delete/names/list, peer remove, consumer
//                  create/delete/names/list, meta leader stepdown; placement and the proposals;
//   stream leader  stream info, purge, message get/delete, stream leader stepdown;
//   consumer leader consumer info, consumer leader stepdown;
// and answers of proposals come from the member that carries them out (a new stream's first leader,
// the leader applying a purge). Without a meta leader, servers answer 10008 after a short delay, as
// nats-server's sendDelayedAPIErrResponse.

import { peerId } from '../raft/ids.js';
import { assignConsumerOp, assignStreamOp, encodeConsumerAssignment, encodeStreamAssignment, goTimeNow, removeConsumerOp, removeStreamOp, serviceAccount, updateStreamOp, type ClientInfo, type ConsumerAssignment, type JsonObject, type RaftGroup, type StreamAssignment } from './assignments.js';
import { SelectPeerError, createGroupForConsumer, createGroupForStream, setPreferred } from './placement.js';
import { consumerGroupName, randomToken } from '../raft/ids.js';
import { JsErr } from '../errors.js';
import { ConsumerErr } from '../consumer/errors.js';
import { checkConfigUpdate, checkCreateOnly, checkStreamConfig, decodeConfig, sameConfig, subjectsCollide } from '../stream-config.js';
import { checkMaxBytes, checkNewStream, maxAckPendingLimit, maxConsumersLimit, selectLimits, type LimitedStream } from '../account-limits.js';
import { checkConfigUpdate as checkConsumerUpdate, checkConsumerConfig, renderConfig, sameConsumerConfig, setConsumerConfigDefaults, type ConsumerConfig } from '../consumer/config.js';
import { checkLimits, ephemeralDefault, limitDefaults, maxConsumers } from '../consumer/limits.js';
import { checkCreateRequest, type CreateKind } from '../consumer/api.js';
import { accountInfo } from '../api/account-api.js';
import { streamApi } from '../api/stream-api.js';
import { directGet, directGetLastBySubject, msgGet } from '../api/msg-api.js';
import { isEmptyRequest, parseObject, strField, uintField } from '../api/request.js';
import type { ApiErrorBody, JsInbound, StreamConfig } from '../types.js';
import type { JsAccount } from '../engine.js';
import type { JsCluster } from './js-cluster.js';
import type { StreamGroup } from './stream-group.js';
import type { ConsumerGroup } from './consumer-group.js';

const T = 'io.nats.jetstream.api.v1.';
const STREAM_CREATE = `${T}stream_create_response`;
const STREAM_UPDATE = `${T}stream_update_response`;
const STREAM_DELETE = `${T}stream_delete_response`;
const STREAM_INFO = `${T}stream_info_response`;
const STREAM_NAMES = `${T}stream_names_response`;
const STREAM_LIST = `${T}stream_list_response`;
const STREAM_PURGE = `${T}stream_purge_response`;
const MSG_DELETE = `${T}stream_msg_delete_response`;
const MSG_GET = `${T}stream_msg_get_response`;
const STREAM_STEPDOWN = `${T}stream_leader_stepdown_response`;
const STREAM_PEER_REMOVE = `${T}stream_remove_peer_response`;
const CONSUMER_CREATE = `${T}consumer_create_response`;
const CONSUMER_DELETE = `${T}consumer_delete_response`;
const CONSUMER_INFO = `${T}consumer_info_response`;
const CONSUMER_NAMES = `${T}consumer_names_response`;
const CONSUMER_LIST = `${T}consumer_list_response`;
const CONSUMER_STEPDOWN = `${T}consumer_leader_stepdown_response`;
const META_STEPDOWN = `${T}meta_leader_stepdown_response`;
const ACCOUNT_INFO = `${T}account_info_response`;

const NAMES_LIMIT = 1024;
const LIST_LIMIT = 256;
/** How long the meta leader gathers stream / consumer infos for a list. */
const LIST_WAIT_MS = 4000;

interface Req {
  ci: ClientInfo;
  a: JsAccount;
  subject: string;
  reply: string;
  data: Buffer;
  t: string[];
}

export class ClusterApi {
  private readonly cl: JsCluster;
  /** Streams proposed but not yet applied (jetstream_cluster.go inflight), by `account\0name`. */
  private readonly inflight = new Map<string, RaftGroup>();

  constructor(cl: JsCluster) {
    this.cl = cl;
  }

  // ---- entry points --------------------------------------------------------------------------------

  /** A request in a JetStream account (a local client's, or a leader's subject that routes brought). */
  fromAccount(a: JsAccount, m: JsInbound): void {
    const t = m.subject.slice(8).split('.');
    const js = this.cl.js;
    if (t[0] === 'CONSUMER' && t[1] === 'MSG' && t[2] === 'NEXT') {
      // The consumer leader subscribes its own next subject; other servers ignore the request.
      if (t.length === 5 && this.cl.consumers.get(`${a.name}\0${t[3]}\0${t[4]}`)?.running() != null) js.plugin?.api(js, a.idx, t.slice(1), m);
      return;
    }
    if (t[0] === 'DIRECT') {
      // A queue group of the stream's members answers; we do when a shard picked us.
      if (m.queued !== true || t[1] !== 'GET' || t.length < 3) return;
      if (this.cl.streams.get(`${a.name}\0${t[2]}`)?.servesDirect() !== true) return;
      if (t.length === 3) directGet(js, a, t[2]!, m);
      else directGetLastBySubject(js, a, t[2]!, t.slice(3).join('.'), m);
      return;
    }
    if (m.fromRoute === true) return;
    const { ci, reply } = this.cl.forwardRequest(a, m);
    this.handle(ci, a, m.subject, reply, Buffer.from(m.data));
  }

  /** A system account user's request (no ClientInfo): the operator requests. */
  fromSystem(m: JsInbound): void {
    const t = m.subject.slice(8).split('.');
    if (t[0] === 'META' && t[1] === 'LEADER' && t[2] === 'STEPDOWN' && t.length === 3) {
      if (!this.cl.isMetaLeader()) return;
      this.cl.respond(null, m.reply ?? '', { type: META_STEPDOWN, success: true });
      setTimeout(() => {
        try {
          this.cl.meta.node.stepDown();
        } catch {
          // no longer leader
        }
      }, 10).unref?.();
    }
  }

  handle(ci: ClientInfo, a: JsAccount, subject: string, reply: string, data: Buffer): void {
    const t = subject.slice(8).split('.');
    const r: Req = { ci, a, subject, reply, data, t };
    switch (t[0]) {
      case 'INFO':
        if (t.length === 1) return this.accountInfo(r);
        return;
      case 'STREAM':
        return this.stream(r);
      case 'CONSUMER':
        return this.consumer(r);
      case 'META':
        if (t[1] === 'LEADER' && t[2] === 'STEPDOWN' && t.length === 3 && this.cl.isMetaLeader()) {
          // Only the system account may step the meta leader down (jsLeaderStepDownRequest).
          this.error(r, META_STEPDOWN, { code: 403, err_code: 10107, description: 'JetStream not enabled for account' });
        }
        return;
      default:
        return;
    }
  }

  private stream(r: Req): void {
    const t = r.t;
    if (t.length === 2) {
      if (t[1] === 'NAMES') return this.metaOnly(r, STREAM_NAMES, () => this.streamNames(r));
      if (t[1] === 'LIST') return this.metaOnly(r, STREAM_LIST, () => void this.streamList(r));
      return;
    }
    if (t[1] === 'MSG' && t.length === 4) {
      if (t[2] === 'GET') return this.streamLeaderOnly(r, t[3]!, MSG_GET, (sg) => this.local(r, sg, () => msgGet(this.cl.js, r.a, t[3]!, this.inbound(r))));
      if (t[2] === 'DELETE') return this.streamLeaderOnly(r, t[3]!, MSG_DELETE, (sg) => this.msgDelete(r, sg));
      return;
    }
    if (t[1] === 'LEADER' && t[2] === 'STEPDOWN' && t.length === 4) return this.streamLeaderOnly(r, t[3]!, STREAM_STEPDOWN, (sg) => this.streamStepdown(r, sg));
    if (t[1] === 'PEER' && t[2] === 'REMOVE' && t.length === 4) return this.metaOnly(r, STREAM_PEER_REMOVE, () => this.peerRemove(r, t[3]!));
    if (t.length !== 3) return;
    const name = t[2]!;
    switch (t[1]) {
      case 'CREATE':
        return this.metaOnly(r, STREAM_CREATE, () => this.streamCreate(r, name));
      case 'UPDATE':
        return this.metaOnly(r, STREAM_UPDATE, () => this.streamUpdate(r, name));
      case 'DELETE':
        return this.metaOnly(r, STREAM_DELETE, () => this.streamDelete(r, name));
      case 'INFO':
        return this.streamLeaderOnly(r, name, STREAM_INFO, (sg) => this.local(r, sg, () => streamApi(this.cl.js, r.a, ['STREAM', 'INFO', name], this.inbound(r))));
      case 'PURGE':
        return this.streamLeaderOnly(r, name, STREAM_PURGE, (sg) => this.purge(r, sg));
      case 'SNAPSHOT':
      case 'RESTORE':
        return this.metaOnly(r, `${T}stream_${t[1].toLowerCase()}_response`, () => this.error(r, `${T}stream_${t[1]!.toLowerCase()}_response`, JsErr.clusterUnsupported()));
      default:
        return;
    }
  }

  private consumer(r: Req): void {
    const t = r.t;
    switch (t[1]) {
      case 'CREATE':
        if (t.length < 3) return;
        return this.metaOnly(r, CONSUMER_CREATE, () => this.consumerCreate(r, t[2]!, t.length === 3 ? '' : t[3]!, t.slice(4).join('.'), t.length === 3 ? 'legacy-ephemeral' : 'new'));
      case 'DURABLE':
        if (t[2] !== 'CREATE' || t.length < 4) return;
        return this.metaOnly(r, CONSUMER_CREATE, () => {
          if (t.length !== 5) return this.error(r, CONSUMER_CREATE, ConsumerErr.durableNotInSubject());
          this.consumerCreate(r, t[3]!, t[4]!, '', 'legacy-durable');
        });
      case 'DELETE':
        if (t.length !== 4) return;
        return this.metaOnly(r, CONSUMER_DELETE, () => this.consumerDelete(r, t[2]!, t[3]!));
      case 'INFO':
        if (t.length !== 4) return;
        return this.consumerLeaderOnly(r, t[2]!, t[3]!, CONSUMER_INFO, (cg) => this.local(r, null, () => this.cl.js.plugin?.api(this.cl.js, r.a.idx, ['INFO', t[2]!, t[3]!], this.inbound(r)), cg));
      case 'NAMES':
        if (t.length !== 3) return;
        return this.metaOnly(r, CONSUMER_NAMES, () => this.consumerNames(r, t[2]!));
      case 'LIST':
        if (t.length !== 3) return;
        return this.metaOnly(r, CONSUMER_LIST, () => void this.consumerList(r, t[2]!));
      case 'LEADER':
        if (t[2] !== 'STEPDOWN' || t.length !== 5) return;
        return this.consumerLeaderOnly(r, t[3]!, t[4]!, CONSUMER_STEPDOWN, (cg) => {
          try {
            cg.node?.stepDown();
          } catch {
            // raced with a leader change
          }
          this.answer(r.a, r.reply, CONSUMER_STEPDOWN, { success: true }, null);
        });
      default:
        return;
    }
  }

  // ---- who answers ---------------------------------------------------------------------------------

  /** Meta leader only; without one, everyone says the system is unavailable (after a moment). */
  private metaOnly(r: Req, type: string, fn: () => void): void {
    if (this.cl.isMetaLeader()) return fn();
    if (this.cl.isLeaderless()) this.delayedError(r, type, JsErr.clusterNotAvailable());
  }

  /** jsStreamInfoRequest's rule: the stream leader (or any member of a leaderless group) answers. */
  private streamLeaderOnly(r: Req, name: string, type: string, fn: (sg: StreamGroup) => void): void {
    const sa = this.cl.meta.state.stream(r.a.name, name);
    if (sa === undefined) {
      if (this.cl.isMetaLeader()) return this.error(r, type, JsErr.streamNotFound());
      if (this.cl.isLeaderless()) this.delayedError(r, type, JsErr.clusterNotAvailable());
      return;
    }
    const sg = this.cl.streams.get(`${r.a.name}\0${name}`);
    if (sg !== undefined && (sg.isLeader() || !sg.hasLeader())) return fn(sg);
    if (this.cl.isMetaLeader() && this.allPeersOffline(sa.group.peers)) this.delayedError(r, type, JsErr.streamOffline());
  }

  private consumerLeaderOnly(r: Req, stream: string, name: string, type: string, fn: (cg: ConsumerGroup) => void): void {
    const sa = this.cl.meta.state.stream(r.a.name, stream);
    const ca = sa?.consumers?.get(name);
    if (ca === undefined) {
      if (this.cl.isMetaLeader()) return this.error(r, type, sa === undefined ? JsErr.streamNotFound() : JsErr.consumerNotFound());
      if (this.cl.isLeaderless()) this.delayedError(r, type, JsErr.clusterNotAvailable());
      return;
    }
    const cg = this.cl.consumers.get(`${r.a.name}\0${stream}\0${name}`);
    if (cg !== undefined && cg.running() !== null && (cg.isLeader() || !cg.hasLeader())) return fn(cg);
    if (this.cl.isMetaLeader() && this.allPeersOffline(ca.group.peers)) this.delayedError(r, type, JsErr.consumerOffline());
  }

  allPeersOffline(peers: string[]): boolean {
    if (peers.length === 0) return false;
    return peers.every((p) => p !== this.cl.ourId && this.cl.statsz.isOffline(p));
  }

  // ---- answering -------------------------------------------------------------------------------------

  answer(a: JsAccount, reply: string, type: string, body: Record<string, unknown> | null, err: ApiErrorBody | null): void {
    if (err !== null) this.cl.respond(a, reply, { type, error: err }, true);
    else this.cl.respond(a, reply, { type, ...(body ?? {}) });
  }

  private error(r: Req, type: string, err: ApiErrorBody): void {
    this.answer(r.a, r.reply, type, null, err);
  }

  private delayedError(r: Req, type: string, err: ApiErrorBody): void {
    setTimeout(() => this.error(r, type, err), 200).unref?.();
  }

  /** The request as a handler of the single-server API sees it (its answer goes to our `_R_` reply). */
  private inbound(r: Req): JsInbound {
    return { acc: r.a.idx, subject: r.subject, reply: r.reply === '' ? null : r.reply, hdr: null, data: r.data };
  }

  /** Runs a single-server handler, its answer in the system account with the cluster's info in it. */
  private local(r: Req, sg: StreamGroup | null, fn: () => void, cg?: ConsumerGroup): void {
    this.cl.js.withReplies(this.cl.sysAcc, (body) => {
      if (body['error'] === undefined && body['cluster'] !== undefined) {
        const ci = cg !== undefined ? cg.clusterInfo() : sg !== null ? sg.clusterInfo() : null;
        if (ci !== null) body = { ...body, cluster: ci };
      }
      return body;
    }, fn);
  }

  /** A stream's info (create / update answers): `did_create` for a new stream. */
  answerStreamInfo(a: JsAccount, reply: string, type: string, sg: StreamGroup, didCreate: boolean): void {
    const body: Record<string, unknown> = { type, ...this.streamInfo(sg) };
    if (didCreate) body['did_create'] = true;
    this.cl.respond(a, reply, body);
  }

  answerConsumerInfo(a: JsAccount, reply: string, cg: ConsumerGroup): void {
    const c = cg.running();
    if (c === null) return;
    this.cl.respond(a, reply, { type: CONSUMER_CREATE, ...c.info(), cluster: cg.clusterInfo() });
  }

  private streamInfo(sg: StreamGroup): Record<string, unknown> {
    const { info } = sg.stream.info(this.cl.opts.serverName);
    info['cluster'] = sg.clusterInfo();
    return info;
  }

  /** `$JSC.SI` answer: StreamInfo without a type. */
  sendStreamInfo(reply: string, sg: StreamGroup): void {
    this.cl.host.publish(this.cl.sysAcc, reply, null, null, Buffer.from(JSON.stringify(this.streamInfo(sg))));
  }

  /** `$JSC.CI` answer: ConsumerInfo without a type. */
  sendConsumerInfo(reply: string, cg: ConsumerGroup): void {
    const c = cg.running();
    if (c === null) return;
    this.cl.host.publish(this.cl.sysAcc, reply, null, null, Buffer.from(JSON.stringify({ ...c.info(), cluster: cg.clusterInfo() })));
  }

  // ---- meta leader: account and streams --------------------------------------------------------------

  private accountInfo(r: Req): void {
    if (!this.cl.isMetaLeader()) {
      if (this.cl.isLeaderless()) this.delayedError(r, ACCOUNT_INFO, JsErr.clusterNotAvailable());
      return;
    }
    const streams = this.cl.meta.state.streams.get(r.a.name);
    let consumers = 0;
    for (const sa of streams?.values() ?? []) consumers += sa.consumers?.size ?? 0;
    this.cl.js.withReplies(this.cl.sysAcc, (body) => ({ ...body, streams: streams?.size ?? 0, consumers }), () => accountInfo(this.cl.js, r.a, this.inbound(r)));
  }

  /** The account's stream configs as the meta layer knows them. */
  private assignedConfigs(acc: string): StreamConfig[] {
    const out: StreamConfig[] = [];
    for (const sa of this.cl.meta.state.streams.get(acc)?.values() ?? []) {
      const c = checkStreamConfig(sa.stream);
      if (c.ok) out.push(c.config);
    }
    return out;
  }

  /** jsStreamCreateRequest → jsClusteredStreamRequest. */
  private streamCreate(r: Req, name: string): void {
    const raw = decodeConfig(r.data);
    if (raw === null) return this.error(r, STREAM_CREATE, JsErr.invalidJson());
    if (name !== (typeof raw['name'] === 'string' ? raw['name'] : '')) return this.error(r, STREAM_CREATE, JsErr.streamNameMismatch());
    if (/[\\/]/.test(name)) return this.error(r, STREAM_CREATE, JsErr.streamNameContainsPathSeparators());
    const createErr = checkCreateOnly(raw);
    if (createErr !== null) return this.error(r, STREAM_CREATE, createErr);
    const configs = this.assignedConfigs(r.a.name);
    const res = checkStreamConfig(raw, (n) => configs.find((c) => c.name === n));
    if (!res.ok) return this.error(r, STREAM_CREATE, res.error);
    const cfg = res.config;
    const mbErr = checkMaxBytes(r.a.limits, cfg);
    if (mbErr !== null) return this.error(r, STREAM_CREATE, mbErr);
    if (cfg.num_replicas > 1 && (cfg.mirror !== undefined || (cfg.sources?.length ?? 0) > 0)) {
      return this.error(r, STREAM_CREATE, JsErr.streamCreate('replicated mirrors and sources are not supported by tsnats yet'));
    }
    const osa = this.cl.meta.state.stream(r.a.name, name);
    let group: RaftGroup | null = null;
    if (osa !== undefined) {
      const ocfg = checkStreamConfig(osa.stream);
      if (!ocfg.ok || !sameConfig(ocfg.config, cfg)) return this.error(r, STREAM_CREATE, JsErr.streamNameInUse());
      // Same config: proposed again on its group, and its leader answers with the stream's info.
      group = osa.group;
    }
    for (const c of configs) {
      if (c.name === name) continue;
      if (c.subjects.some((x) => cfg.subjects.some((y) => subjectsCollide(x, y)))) return this.error(r, STREAM_CREATE, JsErr.subjectOverlap());
    }
    if (osa === undefined) {
      const limited: LimitedStream[] = configs;
      const lerr = checkNewStream(r.a.limits, limited, cfg, null);
      if (lerr !== null) return this.error(r, STREAM_CREATE, lerr);
    }
    const key = `${r.a.name}\0${name}`;
    if (group === null) group = this.inflight.get(key) ?? null;
    if (group === null) {
      const g = createGroupForStream(this.cl.placement(), r.ci, cfg as unknown as JsonObject);
      if (g instanceof SelectPeerError) return this.error(r, STREAM_CREATE, JsErr.clusterNoPeers(g.message));
      setPreferred(g);
      group = g;
    }
    const sa: StreamAssignment = { client: r.ci, created: osa?.created ?? goTimeNow(), stream: cfg as unknown as JsonObject, group, sync: osa?.sync || `$JSC.SYNC.${randomToken()}`, subject: r.subject, reply: r.reply };
    try {
      this.cl.meta.node.propose(encodeStreamAssignment(assignStreamOp, sa));
      this.inflight.set(key, group);
    } catch {
      this.error(r, STREAM_CREATE, JsErr.clusterNotAvailable());
    }
  }

  /** The assignment for a stream applied: it is no longer in flight. */
  inflightDone(sa: StreamAssignment): void {
    this.inflight.delete(`${serviceAccount(sa.client)}\0${String(sa.stream['name'] ?? '')}`);
  }

  /** jsStreamUpdateRequest → jsClusteredStreamUpdateRequest (same replicas: the group stays). */
  private streamUpdate(r: Req, name: string): void {
    const raw = decodeConfig(r.data);
    if (raw === null) return this.error(r, STREAM_UPDATE, JsErr.invalidJson());
    const configs = this.assignedConfigs(r.a.name);
    const res = checkStreamConfig(raw, (n) => configs.find((c) => c.name === n));
    if (!res.ok) return this.error(r, STREAM_UPDATE, res.error);
    if (name !== res.config.name) return this.error(r, STREAM_UPDATE, JsErr.streamNameMismatch());
    const osa = this.cl.meta.state.stream(r.a.name, name);
    if (osa === undefined) return this.error(r, STREAM_UPDATE, JsErr.streamNotFound());
    const old = checkStreamConfig(osa.stream);
    if (!old.ok) return this.error(r, STREAM_UPDATE, old.error);
    const u = checkConfigUpdate(old.config, res.config);
    if (!u.ok) return this.error(r, STREAM_UPDATE, u.error);
    if (u.config.num_replicas !== old.config.num_replicas) return this.error(r, STREAM_UPDATE, JsErr.replicasNotUpdatable());
    if (u.config.num_replicas > 1 && (u.config.sources?.length ?? 0) > 0) {
      return this.error(r, STREAM_UPDATE, JsErr.streamUpdate('replicated mirrors and sources are not supported by tsnats yet'));
    }
    const mbErr = checkMaxBytes(r.a.limits, u.config);
    if (mbErr !== null) return this.error(r, STREAM_UPDATE, mbErr);
    for (const c of configs) {
      if (c.name === name) continue;
      if (c.subjects.some((x) => u.config.subjects.some((y) => subjectsCollide(x, y)))) return this.error(r, STREAM_UPDATE, JsErr.subjectOverlap());
    }
    const sa: StreamAssignment = { ...osa, stream: u.config as unknown as JsonObject, subject: r.subject, reply: r.reply, client: r.ci };
    delete sa.consumers;
    this.cl.meta.node.propose(encodeStreamAssignment(updateStreamOp, sa));
  }

  /** jsClusteredStreamDeleteRequest. */
  private streamDelete(r: Req, name: string): void {
    if (!isEmptyRequest(r.data)) return this.error(r, STREAM_DELETE, JsErr.notEmptyRequest());
    const osa = this.cl.meta.state.stream(r.a.name, name);
    if (osa === undefined) return this.error(r, STREAM_DELETE, JsErr.streamNotFound());
    const sa: StreamAssignment = { ...osa, subject: r.subject, reply: r.reply };
    delete sa.consumers;
    this.cl.meta.node.propose(encodeStreamAssignment(removeStreamOp, sa));
  }

  private filteredNames(r: Req): { offset: number; names: string[] } | null {
    let offset = 0;
    let filter = '';
    if (!isEmptyRequest(r.data)) {
      const o = parseObject(r.data);
      if (o === null) return null;
      offset = uintField(o, 'offset');
      const f = strField(o, 'subject');
      if (Number.isNaN(offset) || f === null) return null;
      filter = f;
    }
    const names: string[] = [];
    for (const sa of this.cl.meta.state.streams.get(r.a.name)?.values() ?? []) {
      const subjects = Array.isArray(sa.stream['subjects']) ? (sa.stream['subjects'] as string[]) : [];
      if (filter === '' || subjects.some((s) => subjectsCollide(filter, s))) names.push(String(sa.stream['name']));
    }
    names.sort();
    return { offset: Math.min(offset, names.length), names };
  }

  private streamNames(r: Req): void {
    const f = this.filteredNames(r);
    if (f === null) return this.error(r, STREAM_NAMES, JsErr.invalidJson());
    const page = f.names.slice(f.offset, f.offset + NAMES_LIMIT);
    this.answer(r.a, r.reply, STREAM_NAMES, { total: f.names.length, offset: f.offset, limit: NAMES_LIMIT, streams: f.names.length === 0 ? null : page }, null);
  }

  /** jsClusteredStreamListRequest: each stream's info from its leader ($JSC.SI), gathered. */
  private async streamList(r: Req): Promise<void> {
    const f = this.filteredNames(r);
    if (f === null) return this.error(r, STREAM_LIST, JsErr.invalidJson());
    const page = f.names.slice(f.offset, f.offset + LIST_LIMIT);
    const infos = await Promise.all(page.map((n) => this.cl.request(`$JSC.SI.${r.a.name}.${n}`, Buffer.alloc(0), LIST_WAIT_MS)));
    const streams: Record<string, unknown>[] = [];
    const missing: string[] = [];
    infos.forEach((b, i) => {
      if (b === null) return void missing.push(page[i]!);
      try {
        streams.push(JSON.parse(b.toString('utf8')) as Record<string, unknown>);
      } catch {
        missing.push(page[i]!);
      }
    });
    const body: Record<string, unknown> = { total: f.names.length, offset: f.offset, limit: LIST_LIMIT, streams };
    if (missing.length > 0) body['missing'] = missing;
    this.answer(r.a, r.reply, STREAM_LIST, body, null);
  }

  /** jsStreamRemovePeerRequest: the named server's replica is re-placed. */
  private peerRemove(r: Req, name: string): void {
    const sa = this.cl.meta.state.stream(r.a.name, name);
    if (sa === undefined) return this.error(r, STREAM_PEER_REMOVE, JsErr.streamNotFound());
    const o = parseObject(r.data);
    const server = o === null ? null : strField(o, 'peer');
    if (server === null || server === '') return this.error(r, STREAM_PEER_REMOVE, JsErr.badRequest());
    const id = peerId(server);
    if (!sa.group.peers.includes(id)) return this.error(r, STREAM_PEER_REMOVE, JsErr.clusterPeerNotMember());
    // Re-placed on another server, or (nothing fits) the group shrinks and the answer says so.
    if (!this.cl.meta.removePeerFromStream(sa, id)) return this.error(r, STREAM_PEER_REMOVE, JsErr.peerRemap());
    this.answer(r.a, r.reply, STREAM_PEER_REMOVE, { success: true }, null);
  }

  // ---- stream leader -------------------------------------------------------------------------------

  private purge(r: Req, sg: StreamGroup): void {
    let request: JsonObject | undefined;
    if (!isEmptyRequest(r.data)) {
      const o = parseObject(r.data);
      if (o === null) return this.error(r, STREAM_PURGE, JsErr.invalidJson());
      const seq = uintField(o, 'seq');
      const keep = uintField(o, 'keep');
      const filter = strField(o, 'filter');
      if (Number.isNaN(seq) || Number.isNaN(keep) || filter === null) return this.error(r, STREAM_PURGE, JsErr.invalidJson());
      if (seq > 0 && keep > 0) return this.error(r, STREAM_PURGE, JsErr.badRequest());
      request = o as JsonObject;
    }
    const cfg = sg.stream.config;
    if (cfg.sealed) return this.error(r, STREAM_PURGE, JsErr.streamSealed());
    if (cfg.deny_purge) return this.error(r, STREAM_PURGE, JsErr.streamPurgeFailed('stream purge not permitted'));
    try {
      sg.proposePurge({ client: r.ci, stream: sg.stream.name, last_seq: 0, subject: r.subject, reply: r.reply, ...(request !== undefined ? { request } : {}) });
    } catch {
      this.error(r, STREAM_PURGE, JsErr.clusterNotAvailable());
    }
  }

  private msgDelete(r: Req, sg: StreamGroup): void {
    if (isEmptyRequest(r.data)) return this.error(r, MSG_DELETE, JsErr.badRequest());
    const o = parseObject(r.data);
    const seq = o === null ? NaN : uintField(o, 'seq');
    if (o === null || Number.isNaN(seq) || (o['no_erase'] !== undefined && typeof o['no_erase'] !== 'boolean')) return this.error(r, MSG_DELETE, JsErr.invalidJson());
    const cfg = sg.stream.config;
    if (cfg.sealed) return this.error(r, MSG_DELETE, JsErr.streamSealed());
    if (cfg.deny_delete) return this.error(r, MSG_DELETE, JsErr.streamMsgDeleteFailed('message delete not permitted'));
    try {
      sg.proposeDelete({ client: r.ci, stream: sg.stream.name, seq, ...(o['no_erase'] === true ? { no_erase: true } : {}), subject: r.subject, reply: r.reply });
    } catch {
      this.error(r, MSG_DELETE, JsErr.clusterNotAvailable());
    }
  }

  private streamStepdown(r: Req, sg: StreamGroup): void {
    if (sg.node === null) return this.error(r, STREAM_STEPDOWN, JsErr.clusterNotAvailable());
    try {
      sg.node.stepDown();
    } catch {
      // raced with a leader change
    }
    this.answer(r.a, r.reply, STREAM_STEPDOWN, { success: true }, null);
  }

  // ---- meta leader: consumers -------------------------------------------------------------------------

  /** jsConsumerCreateRequest → jsClusteredConsumerRequest. */
  private consumerCreate(r: Req, streamName: string, consumerName: string, filtered: string, kind: CreateKind): void {
    const fail = (e: ApiErrorBody): void => this.error(r, CONSUMER_CREATE, e);
    let req: Record<string, unknown>;
    const text = r.data.toString('utf8').trim();
    try {
      req = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch (e) {
      return fail(ConsumerErr.invalidJson((e as Error).message));
    }
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return fail(ConsumerErr.invalidJson('cannot unmarshal request'));
    const checked = checkCreateRequest(req, streamName, consumerName, filtered, kind);
    if (!checked.ok) return fail(checked.error);
    const { cfg, action } = checked;
    const sa = this.cl.meta.state.stream(r.a.name, streamName);
    if (sa === undefined) return fail(ConsumerErr.streamNotFound());
    const sc = checkStreamConfig(sa.stream);
    if (!sc.ok) return fail(ConsumerErr.streamNotFound());
    const scfg = sc.config;
    const tiers = r.a.limits;
    const replicas = cfg.num_replicas > 0 ? cfg.num_replicas : scfg.num_replicas;
    if (selectLimits(tiers, replicas) === null) return fail(JsErr.noLimits());
    const accMaxAckPending = maxAckPendingLimit(tiers, replicas);
    limitDefaults(cfg, scfg, accMaxAckPending);
    setConsumerConfigDefaults(cfg);
    ephemeralDefault(cfg);
    const bad = checkConsumerConfig(cfg, scfg) ?? checkLimits(cfg, scfg, accMaxAckPending);
    if (bad !== null) return fail(bad);
    const name = cfg.durable_name ?? cfg.name;
    const existing = name !== undefined ? sa.consumers?.get(name) : undefined;
    let ca: ConsumerAssignment;
    if (existing !== undefined) {
      const ecfg = existing.consumer as unknown as ConsumerConfig;
      const withName = { ...cfg, name };
      if (action === 'create' && !sameConsumerConfig(ecfg, withName)) return fail(ConsumerErr.alreadyExists());
      const upd = checkConsumerUpdate(ecfg, withName);
      if (upd !== null) return fail(ConsumerErr.createFailed(upd));
      ca = { ...existing, consumer: renderConfig(withName) as JsonObject, client: r.ci, subject: r.subject, reply: r.reply };
    } else {
      if (action === 'update') return fail(ConsumerErr.doesNotExist());
      const max = maxConsumers(scfg, maxConsumersLimit(tiers, scfg.num_replicas));
      let count = 0;
      for (const c of sa.consumers?.values() ?? []) if (c.consumer['direct'] !== true) count++;
      if (max > 0 && count >= max) return fail(ConsumerErr.maxConsumers());
      const group = createGroupForConsumer(cfg as unknown as JsonObject, sa);
      if (group === null) return fail(JsErr.insufficientResources());
      setPreferred(group);
      if (sa.group.cluster !== undefined) group.cluster = sa.group.cluster;
      let cname = name;
      if (cfg.durable_name === undefined) {
        // Ephemerals are R1 unless the stream is interest or workqueue based (or they ask otherwise).
        if (scfg.retention === 'limits' && cfg.num_replicas <= 1) {
          group.peers = [group.preferred!];
          group.name = consumerGroupName(1, group.store);
        }
        if (cname === undefined) {
          do cname = ephemeralName();
          while (sa.consumers?.has(cname));
        }
      }
      cfg.name = cname!;
      ca = { client: r.ci, created: goTimeNow(), name: cname!, stream: streamName, consumer: renderConfig(cfg) as JsonObject, group, subject: r.subject, reply: r.reply };
    }
    try {
      this.cl.meta.node.propose(encodeConsumerAssignment(assignConsumerOp, ca));
    } catch {
      fail(JsErr.clusterNotAvailable());
    }
  }

  private consumerDelete(r: Req, stream: string, name: string): void {
    const sa = this.cl.meta.state.stream(r.a.name, stream);
    if (sa === undefined) return this.error(r, CONSUMER_DELETE, ConsumerErr.streamNotFound());
    const ca = sa.consumers?.get(name);
    if (ca === undefined) return this.error(r, CONSUMER_DELETE, ConsumerErr.notFound());
    this.cl.meta.node.propose(encodeConsumerAssignment(removeConsumerOp, { ...ca, subject: r.subject, reply: r.reply }));
  }

  private consumerNamesOf(r: Req, stream: string): { offset: number; names: string[] } | null {
    const sa = this.cl.meta.state.stream(r.a.name, stream);
    if (sa === undefined) return null;
    let offset = 0;
    if (!isEmptyRequest(r.data)) {
      const o = parseObject(r.data);
      const off = o === null ? 0 : uintField(o, 'offset');
      if (!Number.isNaN(off)) offset = off;
    }
    const names = [...(sa.consumers?.values() ?? [])].filter((c) => c.consumer['direct'] !== true).map((c) => c.name).sort();
    return { offset: Math.min(offset, names.length), names };
  }

  private consumerNames(r: Req, stream: string): void {
    const f = this.consumerNamesOf(r, stream);
    if (f === null) return this.error(r, CONSUMER_NAMES, ConsumerErr.streamNotFound());
    this.answer(r.a, r.reply, CONSUMER_NAMES, { total: f.names.length, offset: f.offset, limit: NAMES_LIMIT, consumers: f.names.slice(f.offset, f.offset + NAMES_LIMIT) }, null);
  }

  private async consumerList(r: Req, stream: string): Promise<void> {
    const f = this.consumerNamesOf(r, stream);
    if (f === null) return this.error(r, CONSUMER_LIST, ConsumerErr.streamNotFound());
    const page = f.names.slice(f.offset, f.offset + LIST_LIMIT);
    const infos = await Promise.all(page.map((n) => this.cl.request(`$JSC.CI.${r.a.name}.${stream}.${n}`, Buffer.alloc(0), LIST_WAIT_MS)));
    const consumers: Record<string, unknown>[] = [];
    const missing: string[] = [];
    infos.forEach((b, i) => {
      if (b === null) return void missing.push(page[i]!);
      try {
        consumers.push(JSON.parse(b.toString('utf8')) as Record<string, unknown>);
      } catch {
        missing.push(page[i]!);
      }
    });
    const body: Record<string, unknown> = { total: f.names.length, offset: f.offset, limit: LIST_LIMIT, consumers };
    if (missing.length > 0) body['missing'] = missing;
    this.answer(r.a, r.reply, CONSUMER_LIST, body, null);
  }
}

/** consumer.go createConsumerName: 8 characters. */
function ephemeralName(): string {
  return randomToken(8);
}
