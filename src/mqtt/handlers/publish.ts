// PUBLISH (mqtt.go mqttParsePub, mqttProcessPub, mqttInitiateMsgDelivery, mqttStoreQoS2MsgOnce,
// mqttHandlePubRetain) and the will (mqttHandleWill). A publish becomes a NATS message on the
// converted subject with the `Nmqtt-Pub:<qos>` header, routed like any client's publish; QoS 1 and
// 2 messages are also stored in $MQTT_msgs for the subscriptions' consumers; a QoS 2 publish is
// first kept in $MQTT_qos2in (once per packet identifier) until its PUBREL.
//
// The hot path writes subject, header and payload into the shard's scratch buffer and routes from
// there: no object or string per message.

import { RingMsg } from '../../shard/msg.js';
import { MSGS_PREFIX, Packet, PubFlag, QOS2IN_PREFIX, Jsa } from '../constants.js';
import { PUB_HEADERS, PUB_HEADER_LEN, qos2Header } from '../headers.js';
import { subjectToTopic, topicErrorText, topicToSubject } from '../topic.js';
import { check } from '../jsa.js';
import { pubResponse } from '../writer.js';
import type { MqttConnection, Will } from '../connection.js';

const MSGS_PREFIX_BUF = Buffer.from(MSGS_PREFIX, 'latin1');
const STORE_SUBJECTS = `${MSGS_PREFIX}>`;
const MAX_MSGS_PER_SUBJECT = 'maximum messages per subject exceeded';
const view = new RingMsg();

export function handlePublish(c: MqttConnection, flags: number, buf: Buffer, s: number, e: number): void {
  const qos = (flags & PubFlag.QOS) >> 1;
  if (qos > 2) return c.protocolError(`QoS=${qos} is invalid in MQTT`);
  if (qos === 2 && c.shard.opts.mqtt?.rejectQoS2Pub === true) return c.protocolError('QoS=2 is disabled for PUBLISH messages');
  if (e - s < 2) return c.protocolError('error reading topic: unexpected EOF');
  const tl = (buf[s]! << 8) | buf[s + 1]!;
  const ts = s + 2;
  const te = ts + tl;
  if (te > e) return c.protocolError('error reading topic: unexpected EOF');
  if (tl === 0) return c.protocolError('topic cannot be empty');
  let pos = te;
  let pi = 0;
  if (qos > 0) {
    if (e - pos < 2) return c.protocolError('error reading packet identifier: unexpected EOF');
    pi = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (pi === 0) return c.protocolError(`with QoS=${qos}, packet identifier cannot be 0`);
  }
  const scratch = c.mq.scratch(2 * tl + 1 + PUB_HEADER_LEN + (e - pos));
  const sl = topicToSubject(buf, ts, te, scratch, 0, false);
  if (sl < 0) return c.protocolError(topicErrorText(sl, buf.toString('utf8', ts, te)));
  c.inMsgs++;
  c.inBytes += e - pos;
  if (c.shard.tracing) c.traceMqtt('PUBLISH', `${buf.toString('utf8', ts, te)} dup=${(flags & PubFlag.DUP) !== 0} QoS=${qos} retain=${(flags & PubFlag.RETAIN) !== 0} size=${e - pos}${pi > 0 ? ` pi=${pi}` : ''}`);
  if (qos === 2) {
    // The stored message keeps no retain flag (its headers are nats-server's); this connection
    // remembers it until the PUBREL.
    if ((flags & PubFlag.RETAIN) !== 0) c.qos2Retain.add(pi);
    else c.qos2Retain.delete(pi);
    return storeQos2(c, scratch.toString('latin1', 0, sl), buf.subarray(pos, e), pi);
  }
  if ((flags & PubFlag.RETAIN) !== 0) return publishRetained(c, scratch.toString('latin1', 0, sl), buf.toString('utf8', ts, te), Buffer.from(buf.subarray(pos, e)), qos, flags, pi);
  if (qos === 1) publishQos1(c, scratch, sl, buf, pos, e, pi);
  else deliver(c, scratch, sl, buf, pos, e, 0, null);
}

/**
 * mqttInitiateMsgDelivery: the NATS message (subject at scratch[0, sl), payload buf[ps, pe)) to every
 * subscriber, then for QoS > 0 the store in $MQTT_msgs; `stored` hears of its acknowledgement (null:
 * stored; an error). Returns false when permissions dropped the message (nothing stored, and a QoS 1
 * publish is still acknowledged, as nats-server), true otherwise (for QoS 0 `stored` is not called).
 */
export function deliver(c: MqttConnection, scratch: Buffer, sl: number, buf: Buffer, ps: number, pe: number, qos: number, stored: ((err: Error | null) => void) | null): boolean {
  if (c.perms !== null && !c.perms.canPublish(scratch, 0, sl, c.shard.now)) {
    c.shard.log.warn({ cid: c.cid, user: c.authUser, subject: scratch.toString('latin1', 0, sl) }, 'Publish Violation');
    return false;
  }
  const hs = sl;
  const hdr = PUB_HEADERS[qos]!;
  hdr.copy(scratch, hs);
  const ms = hs + PUB_HEADER_LEN;
  const me = ms + (pe - ps);
  buf.copy(scratch, ms, ps, pe);
  view.paBuf = scratch;
  view.paSubjectStart = 0;
  view.paSubjectEnd = sl;
  view.paReplyStart = -1;
  view.paReplyEnd = -1;
  view.paHdr = PUB_HEADER_LEN;
  view.paSize = me - hs;
  c.shard.route(c, view, scratch, hs, me);
  if (qos === 0 || stored === null) return true;
  const asm = c.asm!;
  const jsa = asm.jsa;
  const reply = jsa.newReply(Jsa.MSG_STORE);
  jsa.expectStored(reply, Jsa.MSG_STORE, STORE_SUBJECTS, stored);
  if (asm.c.publishPrefixed(MSGS_PREFIX_BUF, scratch, 0, sl, reply, scratch, hs, me, PUB_HEADER_LEN) === 0) jsa.fail(reply, new Error('no responders: JetStream is not available'));
  c.mq.kick();
  return true;
}

/** deliver, awaited (the slow paths: retained, released QoS 2, will). */
function deliverAsync(c: MqttConnection, scratch: Buffer, sl: number, buf: Buffer, ps: number, pe: number, qos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sent = deliver(c, scratch, sl, buf, ps, pe, qos, (err) => (err !== null ? reject(err) : resolve()));
    if (!sent || qos === 0) resolve();
  });
}

/** A QoS 1 publish: PUBACK once stored, in packet order; a failed store closes the connection. */
function publishQos1(c: MqttConnection, scratch: Buffer, sl: number, buf: Buffer, ps: number, pe: number, pi: number): void {
  const ticket = c.reserveResponse();
  const sent = deliver(c, scratch, sl, buf, ps, pe, 1, (err) => {
    if (err !== null) c.protocolError(err);
    else c.fulfil(ticket, pubResponse(Packet.PUBACK, pi));
  });
  if (!sent) c.fulfil(ticket, pubResponse(Packet.PUBACK, pi));
}

/** A retained publish: stored in $MQTT_rmsgs (or removed, when empty) before it is delivered. */
function publishRetained(c: MqttConnection, subject: string, topic: string, payload: Buffer, qos: number, flags: number, pi: number): void {
  c.run(async () => {
    const scratch = c.mq.scratch(subject.length + PUB_HEADER_LEN + payload.length);
    const sl = scratch.write(subject, 0, 'latin1');
    if (c.perms !== null && !c.perms.canPublish(scratch, 0, sl, c.shard.now)) {
      c.shard.log.warn({ cid: c.cid, user: c.authUser, subject }, 'Publish Violation');
      if (qos === 1) c.respond(pubResponse(Packet.PUBACK, pi));
      return;
    }
    await c.asm!.storeRetained(subject, topic, payload, flags, c.username);
    if (c.closed) return;
    // Delivered as a normal message: the retain flag is only for new subscriptions [MQTT-3.3.1-9].
    const again = c.mq.scratch(subject.length + PUB_HEADER_LEN + payload.length);
    const l = again.write(subject, 0, 'latin1');
    await deliverAsync(c, again, l, payload, 0, payload.length, qos);
    if (qos === 1) c.respond(pubResponse(Packet.PUBACK, pi));
  });
}

/**
 * mqttStoreQoS2MsgOnce: kept as `$MQTT.qos2.in.<client id>.<pi>` (one per identifier: a duplicate is
 * refused by the stream and ignored here), delivered on PUBREL; PUBREC once stored.
 */
function storeQos2(c: MqttConnection, subject: string, payload: Buffer, pi: number): void {
  const jsa = c.asm!.jsa;
  const ticket = c.reserveResponse();
  jsa.request(Jsa.MSG_STORE, `${QOS2IN_PREFIX}${c.clientId}.${pi}`, payload, qos2Header(2, subject, '')).then(
    (r) => {
      const e = r.error;
      if (e !== undefined && !(e.err_code === 10077 && e.description === MAX_MSGS_PER_SUBJECT)) check(r);
      c.fulfil(ticket, pubResponse(Packet.PUBREC, pi));
    },
    (err: unknown) => c.protocolError(err),
  ).catch((err: unknown) => c.protocolError(err));
}

/** The released QoS 2 message (PUBREL): delivered now, at QoS 2 (and retained first when it was). */
export async function deliverReleased(c: MqttConnection, subject: string, payload: Buffer, retain: boolean): Promise<void> {
  if (retain) {
    const scratch = c.mq.scratch(subject.length);
    const sl = scratch.write(subject, 0, 'latin1');
    if (c.perms === null || c.perms.canPublish(scratch, 0, sl, c.shard.now)) {
      const topic = Buffer.from(subjectToTopic(subject), 'latin1').toString('utf8');
      await c.asm!.storeRetained(subject, topic, payload, (2 << 1) | PubFlag.RETAIN, c.username);
    }
  }
  const scratch = c.mq.scratch(subject.length + PUB_HEADER_LEN + payload.length);
  const sl = scratch.write(subject, 0, 'latin1');
  await deliverAsync(c, scratch, sl, payload, 0, payload.length, 2);
}

/** mqttHandleWill: after the connection is gone, its will is published like a PUBLISH of the client. */
export function publishWill(c: MqttConnection): void {
  const will = c.will;
  c.will = null;
  if (will === null) return;
  // Not inside whatever closed the connection (a delivery, a read): the scratch may be in use there.
  setImmediate(() => {
    sendWill(c, will).catch((err: unknown) => c.shard.log.error({ cid: c.cid }, `will of "${c.clientId}": ${(err as Error).message}`));
  });
}

async function sendWill(c: MqttConnection, will: Will): Promise<void> {
  if (c.asm === null) return;
  const size = will.subject.length + PUB_HEADER_LEN + will.message.length;
  let scratch = c.mq.scratch(size);
  let sl = scratch.write(will.subject, 0, 'latin1');
  if (c.perms !== null && !c.perms.canPublish(scratch, 0, sl, c.shard.now)) return;
  if (will.retain) {
    await c.asm.storeRetained(will.subject, will.topic, will.message, (will.qos << 1) | PubFlag.RETAIN, c.username);
    scratch = c.mq.scratch(size);
    sl = scratch.write(will.subject, 0, 'latin1');
  }
  const done = deliverAsync(c, scratch, sl, will.message, 0, will.message.length, will.qos);
  c.shard.afterRead();
  await done;
}
