// One account's MQTT state on one shard (mqtt.go mqttAccountSessionManager): the JetStream streams it
// makes sure of, the internal subscriptions (API replies, other nodes' session saves, the retained
// messages consumer, retained deletes), the sessions by client id, and the retained messages index.

import type { Account } from '../shard/account.js';
import type { MsgArgs } from '../shard/msg.js';
import { CloseReason } from '../shard/client.js';
import { parseAckSubject } from '../jetstream/consumer/ack.js';
import {
  JSA_PREFIX,
  Jsa,
  MSGS_PREFIX,
  MSGS_STREAM,
  OUT_PREFIX,
  OUT_STREAM,
  QOS2IN_PREFIX,
  QOS2IN_STREAM,
  RMSGS_PREFIX,
  RMSGS_STREAM,
  SESS_JAIL_MS,
  SESS_PREFIX,
  SESS_STREAM,
  SUB_PREFIX,
  JSA_TIMEOUT_MS,
} from './constants.js';
import { InternalClient } from './internal-client.js';
import { ErrCode, JsaClient, check, type JsResponse } from './jsa.js';
import { RetainedIndex, type RetainedMsg } from './retained.js';
import { MqttSession, type PersistedSession } from './session.js';
import { getHash, Nuid } from './hash.js';
import { maxAckPending } from './config.js';
import type { MqttShard } from './shard-mqtt.js';
import type { MqttConnection } from './connection.js';
import { publishWill } from './handlers/publish.js';

const EXPECTED_LAST_SUBJ_SEQ = 'Nats-Expected-Last-Subject-Sequence';
/** Retained-messages consumer: removed by JetStream 5 minutes after this shard stops listening. */
const RETAINED_CONSUMER_INACTIVE_NS = 5 * 60 * 1e9;

function subjectOf(m: MsgArgs): string {
  return m.paBuf.toString('latin1', m.paSubjectStart, m.paSubjectEnd);
}

function body(m: MsgArgs, buf: Buffer, start: number, end: number): Buffer {
  return buf.subarray(m.paHdr > 0 ? start + m.paHdr : start, end);
}

export class AccountSessionManager {
  readonly mq: MqttShard;
  readonly acc: Account;
  readonly c: InternalClient;
  readonly jsa: JsaClient;
  readonly sessions = new Map<string, MqttSession>();
  readonly byHash = new Map<string, MqttSession>();
  /** Client ids whose session a step is working on (sessLocked). */
  readonly locked = new Set<string>();
  /** Client ids that took a session over recently, with when (flappers). */
  readonly flappers = new Map<string, number>();
  readonly retained = new RetainedIndex();
  /** The domain token (with its '.') in session subjects. */
  readonly domainTk: string;
  readonly nuid = new Nuid();
  /** The retained-messages consumer's name and deliver subject. */
  private rmConsumer = '';
  /** Recovering retained messages up to this sequence (rrmLastSeq); 0 when done. */
  private rrmLastSeq = 0;
  private rrmDone: (() => void) | null = null;
  /** Highest $MQTT_rmsgs sequence this shard received from its consumer. */
  private rmSeen = 0;

  private constructor(mq: MqttShard, acc: Account) {
    this.mq = mq;
    this.acc = acc;
    // The domain to talk to (mqtt js_domain), and the one in session subjects: that one, or else the
    // server's own JetStream domain (mqttCreateAccountSessionManager).
    const mo = mq.shard.opts.mqtt;
    const domain = mo?.jsDomain ?? '';
    const own = mq.shard.opts.jetstream.domain ?? '';
    this.domainTk = domain !== '' ? `${domain}.` : own !== '' ? `${own}.` : '';
    this.c = new InternalClient(mq.shard, acc);
    this.jsa = new JsaClient(this.c, mq.id, domain, () => mq.kick());
    mq.requesters.add(this.jsa);
  }

  get log(): MqttShard['shard']['log'] {
    return this.mq.shard.log;
  }

  /** mqttCreateAccountSessionManager. */
  static async create(mq: MqttShard, acc: Account): Promise<AccountSessionManager> {
    const as = new AccountSessionManager(mq, acc);
    try {
      await as.init();
      return as;
    } catch (err) {
      as.c.unsubscribeAll();
      as.jsa.failAll('account session manager failed');
      mq.requesters.delete(as.jsa);
      throw err;
    }
  }

  private async init(): Promise<void> {
    const { c, jsa } = this;
    const mo = this.mq.shard.opts.mqtt;
    const replicas = mo !== null && mo.streamReplicas > 0 ? mo.streamReplicas : 1;
    const accName = this.acc.name;
    this.log.info(`Creating MQTT streams/consumers with replicas ${replicas} for account "${accName}"`);
    // Subscriptions first, so no reply can be missed.
    c.subscribe(`${jsa.replyPrefix}>`, (m, buf, s, e) => jsa.onReply(subjectOf(m), body(m, buf, s, e)));
    c.subscribe(`${JSA_PREFIX}*.${Jsa.SESS_PERSIST}.*.*`, (m, buf, s, e) => this.processSessionPersist(subjectOf(m), body(m, buf, s, e)));
    const rmsubj = SUB_PREFIX + this.nuid.next();
    c.subscribe(rmsubj, (m, buf, s, e) => this.processRetainedMsg(m, body(m, buf, s, e)));
    c.subscribe(`${JSA_PREFIX}*.${Jsa.RETAINED_MSG_DEL}`, (m, buf, s, e) => this.processRetainedMsgDel(subjectOf(m), body(m, buf, s, e)));

    const lookup = async (stream: string, txt: string): Promise<Record<string, unknown> | null> => {
      const r = await jsa.request(Jsa.STREAM_LOOKUP, `$JS.API.STREAM.INFO.${stream}`, null);
      if (r.error?.err_code === ErrCode.STREAM_NOT_FOUND) return null;
      if (r.error !== undefined) throw new Error(`lookup ${txt} stream for account "${accName}": ${r.error.description} (${r.error.err_code})`);
      return r;
    };
    const ensure = async (stream: string, txt: string, cfg: Record<string, unknown>): Promise<Record<string, unknown> | null> => {
      const si = await lookup(stream, txt);
      if (si !== null) return si;
      const r = await jsa.request(Jsa.STREAM_CREATE, `$JS.API.STREAM.CREATE.${stream}`, JSON.stringify({ name: stream, ...cfg, num_replicas: replicas }));
      if (r.error !== undefined && r.error.err_code !== ErrCode.STREAM_NAME_EXIST) throw new Error(`create ${txt} stream for account "${accName}": ${r.error.description} (${r.error.err_code})`);
      return r.error === undefined ? r : lookup(stream, txt);
    };
    await ensure(SESS_STREAM, 'sessions', { subjects: [`${SESS_PREFIX}${this.domainTk}>`], storage: 'file', retention: 'limits', max_msgs_per_subject: 1 });
    await ensure(MSGS_STREAM, 'messages', { subjects: [`${MSGS_PREFIX}>`], storage: 'file', retention: 'interest' });
    await ensure(QOS2IN_STREAM, 'QoS2 incoming messages', {
      subjects: [`${QOS2IN_PREFIX}>`],
      storage: 'file',
      retention: 'limits',
      discard: 'new',
      max_msgs_per_subject: 1,
      discard_new_per_subject: true,
    });
    await ensure(OUT_STREAM, 'QoS2 outgoing PUBREL', { subjects: [`${OUT_PREFIX}>`], storage: 'file', retention: 'interest' });
    let si = await ensure(RMSGS_STREAM, 'retained messages', { subjects: [`${RMSGS_PREFIX}>`], storage: 'file', retention: 'limits', max_msgs_per_subject: 1 });
    // A retained stream of an older layout (one `$MQTT.rmsgs` subject): move to per-subject records.
    const cfg = (si?.['config'] ?? {}) as Record<string, unknown>;
    const wanted = `${RMSGS_PREFIX}>`;
    const subs = cfg['subjects'];
    if (si !== null && (!Array.isArray(subs) || subs.length !== 1 || subs[0] !== wanted || cfg['max_msgs_per_subject'] !== 1)) {
      const upd = await jsa.request(Jsa.STREAM_UPDATE, `$JS.API.STREAM.UPDATE.${RMSGS_STREAM}`, JSON.stringify({ ...cfg, subjects: [wanted], max_msgs_per_subject: 1 }));
      if (upd.error !== undefined) throw new Error(`failed to update stream config: ${upd.error.description} (${upd.error.err_code})`);
      si = upd;
    }
    const state = (si?.['state'] ?? {}) as { messages?: number; last_seq?: number };
    let recovered: Promise<void> | null = null;
    if ((state.messages ?? 0) > 0 && (state.last_seq ?? 0) > 0) {
      this.rrmLastSeq = state.last_seq!;
      recovered = new Promise((resolve) => (this.rrmDone = resolve));
    }
    // The legacy per-node durable of nats-server <= 2.10.10, if any: not needed.
    jsa.send(`$JS.API.CONSUMER.DELETE.${RMSGS_STREAM}.${RMSGS_STREAM}_${jsa.id}`, null, null);
    this.rmConsumer = `${RMSGS_STREAM}_${this.nuid.next()}`;
    const ccr = {
      stream_name: RMSGS_STREAM,
      config: {
        name: this.rmConsumer,
        deliver_policy: 'all',
        ack_policy: 'none',
        replay_policy: 'instant',
        filter_subject: `${RMSGS_PREFIX}>`,
        deliver_subject: rmsubj,
        inactive_threshold: RETAINED_CONSUMER_INACTIVE_NS,
        num_replicas: 0,
      },
    };
    const cr = await jsa.request(Jsa.CONSUMER_CREATE, `$JS.API.CONSUMER.CREATE.${RMSGS_STREAM}`, JSON.stringify(ccr));
    if (cr.error !== undefined) throw new Error(`create retained messages consumer for account "${accName}": ${cr.error.description} (${cr.error.err_code})`);
    if (recovered !== null) {
      let timer: NodeJS.Timeout | null = null;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.warn(`Timing out waiting to load ${state.messages} retained messages`);
          resolve();
        }, JSA_TIMEOUT_MS);
      });
      await Promise.race([recovered, timedOut]);
      if (timer !== null) clearTimeout(timer);
    }
  }

  /** Periodic work (the shard's MQTT timer). */
  tick(now: number): void {
    this.retained.expire(now);
    for (const [id, t] of this.flappers) if (now - t > SESS_JAIL_MS) this.flappers.delete(id);
  }

  // ---- retained messages ----------------------------------------------------------------------

  /** processRetainedMsg: the retained consumer's delivery (recovery, or another node's store). */
  private processRetainedMsg(m: MsgArgs, payload: Buffer): void {
    const reply = m.paReplyStart >= 0 ? m.paBuf.toString('latin1', m.paReplyStart, m.paReplyEnd) : '';
    const seq = parseAckSubject(reply)?.sseq ?? 0;
    if (seq > this.rmSeen) this.rmSeen = seq;
    let rm: RetainedMsg;
    try {
      rm = JSON.parse(payload.toString('utf8')) as RetainedMsg;
    } catch {
      return;
    }
    if (this.rrmLastSeq === 0 && rm.origin === this.jsa.id) return;
    if (typeof rm.subject === 'string') this.retained.add(rm.subject, seq, rm, false);
    if (this.rrmLastSeq > 0 && seq >= this.rrmLastSeq) {
      this.rrmLastSeq = 0;
      this.rrmDone?.();
      this.rrmDone = null;
    }
  }

  /** processRetainedMsgDel: another node removed a retained message. */
  private processRetainedMsgDel(subject: string, payload: Buffer): void {
    const idHash = subject.split('.')[2];
    if (idHash === undefined || idHash === '' || idHash === this.jsa.id || payload.length < 2) return;
    try {
      const d = JSON.parse(payload.toString('utf8')) as { subject?: string; seq?: number };
      if (typeof d.subject === 'string' && typeof d.seq === 'number') this.retained.remove(d.subject, d.seq);
    } catch {
      // not a notice
    }
  }

  /** mqttHandlePubRetain: stores (or, for an empty payload, removes) the retained message of `subject`. */
  async storeRetained(subject: string, topic: string, msg: Buffer, flags: number, source: string): Promise<void> {
    if (msg.length === 0) {
      const seq = this.retained.remove(subject, 0);
      if (seq > 0) {
        this.jsa.send(`$JS.API.STREAM.MSG.DELETE.${RMSGS_STREAM}`, null, JSON.stringify({ seq, no_erase: true }));
        this.jsa.send(`${this.jsa.replyPrefix}${Jsa.RETAINED_MSG_DEL}`, null, JSON.stringify({ subject, seq }));
      }
      return;
    }
    const rm: RetainedMsg = { origin: this.jsa.id, subject, topic, msg: msg.toString('base64'), flags };
    if (source !== '') rm.source = source;
    try {
      const r = check(await this.jsa.request(Jsa.MSG_STORE, RMSGS_PREFIX + subject, JSON.stringify(rm)));
      this.retained.add(subject, Number(r['seq'] ?? 0), rm, true);
    } catch (err) {
      this.log.error(`unable to store retained message for account "${this.acc.name}", subject "${subject}": ${(err as Error).message}`);
    }
  }

  /**
   * Before matching a new subscription against the retained index: other shards' retained stores
   * reach this shard through its consumer; wait (briefly) until it has delivered everything stored
   * so far, so a subscriber never misses a retained message acknowledged before it subscribed.
   */
  async catchUpRetained(): Promise<void> {
    if (this.mq.shard.peers.filter((p) => p !== undefined).length <= 1) return; // one shard: the index is local
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      const r = await this.jsa.request(Jsa.CONSUMER_LOOKUP, `$JS.API.CONSUMER.INFO.${RMSGS_STREAM}.${this.rmConsumer}`, null);
      if (r.error !== undefined) return;
      const delivered = ((r['delivered'] ?? {}) as { stream_seq?: number }).stream_seq ?? 0;
      if ((r['num_pending'] ?? 0) === 0 && this.rmSeen >= delivered) return;
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  /** loadRetainedMessages: the records of these subjects, from the cache or the stream. */
  async loadRetained(subjects: Set<string>): Promise<Map<string, RetainedMsg>> {
    const out = new Map<string, RetainedMsg>();
    const now = Date.now();
    const missing: string[] = [];
    for (const s of subjects) {
      const rm = this.retained.getCached(s, now);
      if (rm !== null) out.set(s, rm);
      else missing.push(s);
    }
    const results = await Promise.all(
      missing.map((s) =>
        this.jsa.request(Jsa.MSG_LOAD, `$JS.API.STREAM.MSG.GET.${RMSGS_STREAM}`, JSON.stringify({ last_by_subj: RMSGS_PREFIX + s })).then(
          (r) => r,
          (err: unknown) => {
            this.log.warn(`error loading retained messages: ${(err as Error).message}`);
            return null;
          },
        ),
      ),
    );
    results.forEach((r, i) => {
      if (r === null) return;
      const s = missing[i]!;
      if (r.error !== undefined) {
        this.log.warn(`failed to load retained message for subject "${RMSGS_PREFIX}${s}": ${r.error.description}`);
        return;
      }
      const msg = (r['message'] ?? {}) as { data?: string };
      try {
        const rm = JSON.parse(Buffer.from(msg.data ?? '', 'base64').toString('utf8')) as RetainedMsg;
        this.retained.setCached(s, rm);
        out.set(s, rm);
      } catch {
        this.log.warn(`failed to decode retained message for subject "${RMSGS_PREFIX}${s}"`);
      }
    });
    return out;
  }

  // ---- sessions --------------------------------------------------------------------------------

  addSession(sess: MqttSession): void {
    this.sessions.set(sess.id, sess);
    this.byHash.set(sess.idHash, sess);
  }

  removeSession(sess: MqttSession): void {
    if (this.sessions.get(sess.id) === sess) this.sessions.delete(sess.id);
    if (this.byHash.get(sess.idHash) === sess) this.byHash.delete(sess.idHash);
  }

  /** createOrRestoreSession: from the $MQTT_sess record when there is one. */
  async createOrRestoreSession(clientId: string): Promise<{ sess: MqttSession; exists: boolean }> {
    const hash = getHash(clientId);
    const maxp = maxAckPending(this.mq.shard.opts.mqtt);
    const r = await this.jsa.request(Jsa.MSG_LOAD, `$JS.API.STREAM.MSG.GET.${SESS_STREAM}`, JSON.stringify({ last_by_subj: `${SESS_PREFIX}${this.domainTk}${hash}` }));
    if (r.error !== undefined) {
      if (r.error.err_code !== ErrCode.NO_MESSAGE_FOUND) throw new Error(`loading session record for account "${this.acc.name}", session "${clientId}": ${r.error.description} (${r.error.err_code})`);
      return { sess: new MqttSession(clientId, hash, 0, maxp, this.domainTk), exists: false };
    }
    const msg = (r['message'] ?? {}) as { data?: string; seq?: number };
    let ps: PersistedSession;
    try {
      ps = JSON.parse(Buffer.from(msg.data ?? '', 'base64').toString('utf8')) as PersistedSession;
    } catch (err) {
      throw new Error(`unmarshal of session record at sequence ${msg.seq} for account "${this.acc.name}", session "${clientId}": ${(err as Error).message}`);
    }
    const sess = new MqttSession(clientId, hash, msg.seq ?? 0, maxp, this.domainTk);
    sess.restore(ps);
    this.addSession(sess);
    return { sess, exists: true };
  }

  /** mqttSession.save: the session record, guarded by the last sequence we know of it. */
  async save(sess: MqttSession): Promise<void> {
    const body = sess.record(this.jsa.id);
    const hdr = sess.seq !== 0 ? Buffer.from(`NATS/1.0\r\n${EXPECTED_LAST_SUBJ_SEQ}:${sess.seq}\r\n\r\n`, 'latin1') : null;
    const subject = `${SESS_PREFIX}${sess.domainTk}${sess.idHash}`;
    let r: JsResponse;
    try {
      r = check(await this.jsa.request(Jsa.SESS_PERSIST, subject, body, hdr, sess.idHash));
    } catch (err) {
      throw new Error(`unable to persist session "${sess.id}" (seq=${sess.seq}): ${(err as Error).message}`);
    }
    sess.seq = Number(r['seq'] ?? 0);
  }

  /** mqttSession.clear: its consumers and its record go. */
  async clear(sess: MqttSession, noWait: boolean): Promise<void> {
    const { durables, pubRelDurable, seq } = sess.reset();
    const del = async (stream: string, dur: string): Promise<void> => {
      const subj = `$JS.API.CONSUMER.DELETE.${stream}.${dur}`;
      if (noWait) return this.jsa.send(subj, null, null);
      const r = await this.jsa.request(Jsa.CONSUMER_DEL, subj, null);
      if (r.error !== undefined && r.error.err_code !== ErrCode.CONSUMER_NOT_FOUND) throw new Error(`unable to delete consumer "${dur}" for session "${sess.id}": ${r.error.description} (${r.error.err_code})`);
    };
    for (const d of durables) if (d !== '') await del(MSGS_STREAM, d);
    if (pubRelDurable !== '') await del(OUT_STREAM, pubRelDurable);
    if (seq > 0) {
      const subj = `$JS.API.STREAM.MSG.DELETE.${SESS_STREAM}`;
      const req = JSON.stringify({ seq, no_erase: true });
      if (noWait) this.jsa.send(subj, null, req);
      else {
        const r = await this.jsa.request(Jsa.MSG_DELETE, subj, req);
        const e = r.error;
        // Already gone (a cluster peer did it) is fine.
        if (e !== undefined && e.err_code !== ErrCode.SEQUENCE_NOT_FOUND && !(e.err_code === ErrCode.STREAM_MSG_DELETE_FAILED && /not found/i.test(e.description))) {
          throw new Error(`unable to delete session "${sess.id}" record at sequence ${seq}: ${e.description} (${e.err_code})`);
        }
      }
    }
  }

  /** Deletes a consumer without waiting (mqttSession.deleteConsumer). */
  deleteConsumer(sess: MqttSession, stream: string, durable: string, maxAckPending: number): void {
    sess.tmaxack -= maxAckPending;
    this.jsa.send(`$JS.API.CONSUMER.DELETE.${stream}.${durable}`, null, null);
  }

  /**
   * processSessionPersist: another node stored the record of a session we have: it is now theirs;
   * a client of ours still bound to it is closed (Duplicate Client ID) [MQTT-3.1.4-2].
   */
  private processSessionPersist(subject: string, payload: Buffer): void {
    const t = subject.split('.');
    if (t[2] === this.jsa.id || payload.length < 2) return;
    let par: { error?: unknown; seq?: number; domain?: string };
    try {
      par = JSON.parse(payload.toString('utf8')) as typeof par;
    } catch {
      return;
    }
    if (par.error !== undefined && par.error !== null) return;
    if ((par.domain ?? '') !== this.domainTk.replace(/\.$/, '')) return;
    const sess = this.byHash.get(t[4] ?? '');
    if (sess === undefined || (par.seq ?? 0) < sess.seq) return;
    this.removeSession(sess);
    const ec = sess.conn;
    if (ec !== null) {
      this.flappers.set(sess.id, Date.now());
      this.log.warn({ cid: ec.cid }, `Closing because a remote connection has started with the same client ID: "${sess.id}"`);
      sess.conn = null;
      ec.close(CloseReason.DUPLICATE_CLIENT_ID);
    }
  }

  /** mqttHandleClosedClient: unbind the session (drop it when clean) and send the will. */
  handleClosed(c: MqttConnection): void {
    const sess = c.sess;
    if (sess === null) return;
    // lockSession: another client now owns the session (or is taking it): nothing to do, no will.
    if (this.locked.has(sess.id) || sess.conn !== c) return;
    sess.conn = null;
    if (sess.clean) {
      this.removeSession(sess);
      this.clear(sess, true).catch((err: unknown) => this.log.error((err as Error).message));
    }
    this.flappers.delete(sess.id);
    publishWill(c);
  }
}

