// SUBSCRIBE (mqtt.go mqttParseSubsOrUnsubs, mqttProcessSubs, processSubs, processJSConsumer,
// ensurePubRelConsumerSubscription). Each filter becomes a NATS subscription on its subject (and on
// `foo` too for `foo/#`); a QoS 1/2 filter also gets a durable JetStream consumer on
// `$MQTT.msgs.<subject>` delivering to `$MQTT.sub.<nuid>`, and QoS 2 the session's PUBREL consumer.
// Retained messages matching the new subscriptions follow the SUBACK.

import { FWC_SID_SUFFIX, MAX_ACK_TOTAL_LIMIT, MSGS_PREFIX, MSGS_STREAM, OUT_STREAM, PUBREL_DURABLE_PREFIX, SUB_FLAGS, SUBACK_FAILURE, SUB_PREFIX, Jsa } from '../constants.js';
import { isReservedSubscription, needSubForLevelUp, topicToSubjectString } from '../topic.js';
import { subAck, publishPacket } from '../writer.js';
import { check } from '../jsa.js';
import { ackWaitMs, maxAckPending } from '../config.js';
import { SubKind, type MqttSub } from '../subscription.js';
import { PacketReader, validUtf8 } from './reader.js';
import type { MqttConnection } from '../connection.js';
import type { AccountSessionManager } from '../account-manager.js';
import type { ConsumerCfg, MqttSession } from '../session.js';
import type { RetainedMsg } from '../retained.js';

export interface Filter {
  /** The NATS subject ('' when the topic filter did not convert). */
  filter: string;
  /** Requested QoS, then granted QoS or SUBACK_FAILURE. */
  qos: number;
  /** The MQTT topic filter, for traces. */
  topic: string;
}

const reader = new PacketReader();

/** mqttParseSubsOrUnsubs. */
export function parseFilters(c: MqttConnection, flags: number, buf: Buffer, s: number, e: number, sub: boolean): { pi: number; filters: Filter[] } {
  const action = sub ? '' : 'un';
  if (flags !== SUB_FLAGS) throw new Error(`wrong ${action}subscribe reserved flags: ${flags.toString(16)}`);
  const r = reader.reset(buf, s, e);
  let pi: number;
  try {
    pi = r.uint16('packet identifier');
  } catch (err) {
    throw new Error(`reading packet identifier: ${(err as Error).message}`);
  }
  const filters: Filter[] = [];
  while (r.hasMore) {
    const [ts, te] = r.bytes('topic filter');
    if (te === ts) throw new Error('topic filter cannot be empty');
    if (!validUtf8(buf, ts, te)) throw new Error(`invalid utf8 for topic filter ${JSON.stringify(buf.toString('latin1', ts, te))}`);
    const topic = buf.toString('utf8', ts, te);
    const conv = topicToSubjectString(buf, ts, te, true);
    let filter = '';
    if (typeof conv === 'number') c.shard.log.error({ cid: c.cid }, `invalid topic "${topic}": character ' ' not supported for MQTT topics`);
    else filter = conv;
    let qos = 0;
    if (sub) {
      qos = r.byte('QoS');
      if (qos > 2) throw new Error(`subscribe QoS value must be 0, 1 or 2, got ${qos}`);
    }
    filters.push({ filter, qos, topic });
  }
  if (filters.length === 0) throw new Error(`${action}subscribe protocol must contain at least 1 topic filter`);
  return { pi, filters };
}

export function handleSubscribe(c: MqttConnection, flags: number, buf: Buffer, s: number, e: number): void {
  let parsed: { pi: number; filters: Filter[] };
  try {
    parsed = parseFilters(c, flags, buf, s, e, true);
  } catch (err) {
    return c.protocolError(err);
  }
  const { pi, filters } = parsed;
  if (c.shard.tracing) c.traceMqtt('SUBSCRIBE', `[${filters.map((f) => `${f.topic} (${f.filter}) QoS=${f.qos}`).join(', ')}] pi=${pi}`);
  c.run(async () => {
    const asm = c.asm!;
    const sess = c.sess!;
    lockSession(asm, sess, c);
    let subs: MqttSub[];
    try {
      subs = await processSubs(asm, sess, c, filters, true);
    } finally {
      asm.locked.delete(sess.id);
    }
    c.respond(subAck(pi, filters.map((f) => f.qos)));
    for (const sub of subs) c.flushRetained(sub);
  });
}

/** lockSession: the session must be this client's and free. */
export function lockSession(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection): void {
  if (asm.locked.has(sess.id) || sess.conn !== c) throw new Error(`another session is in use with client ID "${sess.id}"`);
  asm.locked.add(sess.id);
}

/**
 * processSubs: subscribes every filter (fromSubProto: a SUBSCRIBE, which loads retained messages and
 * saves the session; otherwise the restore of a session's subscriptions at CONNECT). Sets each
 * filter's granted QoS or SUBACK_FAILURE; returns the subscriptions with retained messages to send.
 */
export async function processSubs(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection, filters: Filter[], fromSubProto: boolean): Promise<MqttSub[]> {
  const mo = c.shard.opts.mqtt;
  const rmSubjects = new Set<string>();
  if (fromSubProto) await asm.catchUpRetained();
  for (const f of filters) {
    if (f.qos === 2 && mo?.downgradeQoS2Sub === true) {
      c.shard.log.warn({ cid: c.cid }, `Downgrading subscription QoS2 to QoS1 for "${f.filter}", as configured`);
      f.qos = 1;
    }
    // Our internal subjects are not for subscribing.
    if (f.filter === '' || f.filter.startsWith(SUB_PREFIX)) {
      f.qos = SUBACK_FAILURE;
      continue;
    }
    if (f.qos === 2) {
      try {
        await ensurePubRelConsumer(asm, sess, c);
      } catch (err) {
        c.shard.log.error({ cid: c.cid }, `failed to initialize PUBREL processing: ${(err as Error).message}`);
        f.qos = SUBACK_FAILURE;
        continue;
      }
    }
    if (fromSubProto) {
      for (const s of asm.retained.match(f.filter)) rmSubjects.add(s);
      if (needSubForLevelUp(f.filter)) for (const s of asm.retained.match(f.filter.slice(0, -2))) rmSubjects.add(s);
    }
  }
  const rms = rmSubjects.size > 0 ? await asm.loadRetained(rmSubjects) : null;
  const subs: MqttSub[] = [];
  for (const f of filters) {
    if (f.qos === SUBACK_FAILURE) continue;
    const done = await subscribeOne(asm, sess, c, f.filter, f.filter, f.qos, rms, fromSubProto);
    if (done === null) {
      f.qos = SUBACK_FAILURE;
      continue;
    }
    if (needSubForLevelUp(f.filter)) {
      const up = f.filter.slice(0, -2);
      const fwc = await subscribeOne(asm, sess, c, up, up + FWC_SID_SUFFIX, f.qos, rms, fromSubProto);
      if (fwc === null) {
        f.qos = SUBACK_FAILURE;
        cleanupFailedSub(asm, sess, c, f.filter);
        continue;
      }
      subs.push(fwc);
    }
    subs.push(done);
  }
  if (fromSubProto && updateSubs(sess, filters, true)) await asm.save(sess);
  return subs;
}

/** The NATS subscription of one filter (or its level-up twin), retained messages, and its consumer. */
async function subscribeOne(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection, subject: string, sid: string, qos: number, rms: Map<string, RetainedMsg> | null, fromSubProto: boolean): Promise<MqttSub | null> {
  const reserved = isReservedSubscription(subject);
  let sub: MqttSub;
  try {
    sub = c.subscribe(subject, sid, SubKind.QOS0, reserved, qos, '');
  } catch (err) {
    c.shard.log.error({ cid: c.cid }, (err as Error).message);
    return null;
  }
  if (rms !== null) serializeRetained(asm, sess, sub, rms);
  try {
    await processJsConsumer(asm, sess, c, subject, sid, qos, fromSubProto);
  } catch (err) {
    c.shard.log.error({ cid: c.cid }, `Unable to add JetStream consumer for subscription on "${subject}": err=${(err as Error).message}`);
    c.unsubscribe(sid);
    return null;
  }
  return sub;
}

function cleanupFailedSub(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection, sid: string): void {
  c.unsubscribe(sid);
  const cc = sess.dropConsumer(sid);
  if (cc !== null) {
    if (cc.deliver_subject !== undefined) c.unsubscribe(cc.deliver_subject);
    asm.deleteConsumer(sess, MSGS_STREAM, cc.durable_name ?? '', cc.max_ack_pending ?? 0);
  }
}

/** serializeRetainedMsgsForSub: retained messages the subscription matches, with the RETAIN flag. */
function serializeRetained(asm: AccountSessionManager, sess: MqttSession, sub: MqttSub, rms: Map<string, RetainedMsg>): void {
  for (const key of asm.retained.match(sub.subject)) {
    const rm = rms.get(key);
    if (rm === undefined) continue;
    let qos = Math.min(((rm.flags ?? 0) & 0x06) >> 1, sub.qos);
    if (qos === 2 && asm.mq.shard.opts.mqtt?.rejectQoS2Pub === true) continue;
    let pi = 0;
    if (qos > 0) {
      pi = sess.trackPublishRetained();
      if (pi === 0) qos = 0;
    }
    const msg = Buffer.from(rm.msg ?? '', 'base64');
    (sub.prm ??= []).push(publishPacket(pi, qos, false, true, Buffer.from(rm.topic ?? '', 'utf8'), msg));
  }
}

/**
 * processJSConsumer: QoS 1/2 → the durable consumer (made once; on a restore only its deliver
 * subject is subscribed again); QoS 0 after QoS > 0 → the consumer is deleted.
 */
async function processJsConsumer(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection, subject: string, sid: string, qos: number, fromSubProto: boolean): Promise<void> {
  let cc = sess.cons.get(sid);
  const mo = c.shard.opts.mqtt;
  if (cc !== undefined) {
    if (qos === 0) {
      sess.cons.delete(sid);
      asm.deleteConsumer(sess, MSGS_STREAM, cc.durable_name ?? '', cc.max_ack_pending ?? 0);
      if (cc.deliver_subject !== undefined) c.unsubscribe(cc.deliver_subject);
      return;
    }
    if (fromSubProto) {
      // Already made (at CONNECT): the maximum QoS may have changed.
      const qsub = cc.deliver_subject !== undefined ? c.subs.get(cc.deliver_subject) : undefined;
      if (qsub !== undefined) (qsub as MqttSub).qos = qos;
      return;
    }
  }
  if (qos === 0) return;
  let inbox: string;
  if (cc !== undefined) inbox = cc.deliver_subject ?? '';
  else {
    inbox = SUB_PREFIX + asm.nuid.next();
    const map = maxAckPending(mo);
    if (sess.tmaxack + map > MAX_ACK_TOTAL_LIMIT) throw new Error(`max_ack_pending for all consumers would be ${sess.tmaxack + map} which exceeds the limit of ${MAX_ACK_TOTAL_LIMIT}`);
    const config: ConsumerCfg = {
      durable_name: `${sess.idHash}_${asm.nuid.next()}`,
      deliver_policy: 'new',
      ack_policy: 'explicit',
      ack_wait: ackWaitMs(mo) * 1e6,
      max_ack_pending: map,
      filter_subject: MSGS_PREFIX + subject,
      replay_policy: 'instant',
      deliver_subject: inbox,
      num_replicas: 0,
    };
    if (mo?.consumerMemoryStorage === true) config.mem_storage = true;
    if (mo !== null && mo.consumerInactiveThresholdMs > 0) config.inactive_threshold = mo.consumerInactiveThresholdMs * 1e6;
    check(await asm.jsa.request(Jsa.CONSUMER_CREATE, `$JS.API.CONSUMER.DURABLE.CREATE.${MSGS_STREAM}.${config.durable_name}`, JSON.stringify({ stream_name: MSGS_STREAM, config })));
    cc = config;
    sess.tmaxack += map;
  }
  try {
    c.subscribe(inbox, inbox, SubKind.QOS12, isReservedSubscription(subject), qos, cc.durable_name ?? '');
  } catch (err) {
    asm.deleteConsumer(sess, MSGS_STREAM, cc.durable_name ?? '', cc.max_ack_pending ?? 0);
    throw err;
  }
  sess.cons.set(sid, cc);
}

/** ensurePubRelConsumerSubscription: the session's PUBREL deliver subject and durable consumer. */
async function ensurePubRelConsumer(asm: AccountSessionManager, sess: MqttSession, c: MqttConnection): Promise<void> {
  const mo = c.shard.opts.mqtt;
  if (!sess.pubRelSubscribed || !c.subs.has(sess.pubRelDeliverySubject)) {
    c.subscribe(sess.pubRelDeliverySubject, sess.pubRelDeliverySubject, SubKind.PUBREL, false, 2, '');
    sess.pubRelSubscribed = true;
  }
  if (sess.pubRelConsumer !== null) return;
  const map = maxAckPending(mo);
  if (sess.tmaxack + map > MAX_ACK_TOTAL_LIMIT) throw new Error(`max_ack_pending for all consumers would be ${sess.tmaxack + map} which exceeds the limit of ${MAX_ACK_TOTAL_LIMIT}`);
  const config: ConsumerCfg = {
    durable_name: PUBREL_DURABLE_PREFIX + sess.idHash,
    deliver_policy: 'new',
    ack_policy: 'explicit',
    ack_wait: ackWaitMs(mo) * 1e6,
    max_ack_pending: map,
    filter_subject: sess.pubRelSubject,
    replay_policy: 'instant',
    deliver_subject: sess.pubRelDeliverySubject,
    num_replicas: 0,
  };
  if (mo?.consumerMemoryStorage === true) config.mem_storage = true;
  if (mo !== null && mo.consumerInactiveThresholdMs > 0) config.inactive_threshold = mo.consumerInactiveThresholdMs * 1e6;
  const r = await asm.jsa.request(Jsa.CONSUMER_CREATE, `$JS.API.CONSUMER.DURABLE.CREATE.${OUT_STREAM}.${config.durable_name}`, JSON.stringify({ stream_name: OUT_STREAM, config }));
  if (r.error !== undefined) {
    c.shard.log.error({ cid: c.cid }, `Unable to add JetStream consumer for PUBREL for client "${sess.id}": err=${r.error.description}`);
    check(r);
  }
  sess.pubRelConsumer = config;
  sess.tmaxack += map;
}

/** mqttSession.update: the session's subscriptions; true when they changed (then it is saved). */
export function updateSubs(sess: MqttSession, filters: Filter[], add: boolean): boolean {
  let changed = false;
  for (const f of filters) {
    if (add) {
      if (f.qos === SUBACK_FAILURE) continue;
      if (sess.subs.get(f.filter) !== f.qos) {
        sess.subs.set(f.filter, f.qos);
        changed = true;
      }
    } else if (sess.subs.delete(f.filter)) changed = true;
  }
  return changed;
}
