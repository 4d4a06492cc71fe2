// Delivery to MQTT subscribers, one function per subscription kind (mqtt.go mqttDeliverMsgCbQoS0,
// mqttDeliverMsgCbQoS12, mqttDeliverPubRelCb). A message reaches an MQTT QoS 1/2 subscription twice:
// directly on the filter's subject and from its JetStream consumer; the QoS 0 path drops what the
// consumer path delivers (a QoS > 0 publish to a QoS > 0 subscription), so each arrives once.

import type { MsgArgs } from '../shard/msg.js';
import { parseAckSubject } from '../jetstream/consumer/ack.js';
import { MSGS_PREFIX, Packet } from './constants.js';
import { pubQos, pubRelPi } from './headers.js';
import { pubResponse } from './writer.js';
import type { MqttConnection } from './connection.js';
import type { MqttSub } from './subscription.js';

const DOLLAR = 0x24;
const JS_ACK = Buffer.from('$JS.ACK.');
const MSGS_PREFIX_LEN = MSGS_PREFIX.length;

function startsWith(buf: Buffer, s: number, e: number, p: Buffer): boolean {
  if (e - s < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[s + i] !== p[i]) return false;
  return true;
}

/** The filter's own subscription: NATS publishes, QoS 0 publishes, anything to a QoS 0 subscription. */
export function deliverQos0(c: MqttConnection, sub: MqttSub, m: MsgArgs, buf: Buffer, start: number, end: number): boolean {
  // JetStream consumer deliveries are the QoS 1/2 path's.
  if (m.paReplyStart >= 0 && startsWith(m.paBuf, m.paReplyStart, m.paReplyEnd, JS_ACK)) return false;
  if (sub.reserved && m.paBuf[m.paSubjectStart] === DOLLAR) return false;
  const hdr = m.paHdr;
  // A QoS 1/2 MQTT publish to a QoS 1/2 subscription comes through the consumer.
  if (sub.qos > 0 && hdr > 0 && pubQos(buf, start, hdr) > 0) return false;
  c.writePublish(sub, m.paBuf, m.paSubjectStart, m.paSubjectEnd, buf, hdr > 0 ? start + hdr : start, end, 0, 0, false);
  return true;
}

/** A JetStream consumer's delivery of `$MQTT.msgs.<subject>`: a packet identifier, QoS min(pub, sub). */
export function deliverQos12(c: MqttConnection, sub: MqttSub, m: MsgArgs, buf: Buffer, start: number, end: number): boolean {
  const ss = m.paSubjectStart;
  const se = m.paSubjectEnd;
  if (se - ss < MSGS_PREFIX_LEN + 1) return false;
  const hdr = m.paHdr;
  const hq = hdr > 0 ? pubQos(buf, start, hdr) : -1;
  if (hq <= 0) return false;
  const sess = c.sess;
  if (sess === null || sess.conn !== c) return false;
  const qos = Math.min(hq, sub.qos);
  if (qos === 0) return false;
  const reply = m.paReplyStart >= 0 ? m.paBuf.toString('latin1', m.paReplyStart, m.paReplyEnd) : '';
  const ts = ss + MSGS_PREFIX_LEN;
  if (sub.reserved && m.paBuf[ts] === DOLLAR) {
    c.asm?.jsa.sendAck(reply);
    return false;
  }
  const info = parseAckSubject(reply);
  if (info === null) return false;
  const t = sess.trackPublish(sub.jsDur, reply, info.sseq, info.dc);
  if (t.pi === 0) return false; // max_ack_pending reached: JetStream redelivers after ack_wait
  c.writePublish(sub, m.paBuf, ts, se, buf, start + hdr, end, t.pi, qos, t.dup);
  return true;
}

/** The session's PUBREL consumer: a PUBREL for the identifier in `Nmqtt-PubRel`. */
export function deliverPubRel(c: MqttConnection, _sub: MqttSub, m: MsgArgs, buf: Buffer, start: number, _end: number): boolean {
  if (m.paReplyStart < 0) return false;
  const pi = pubRelPi(buf, start, m.paHdr);
  if (pi === 0) return false;
  const sess = c.sess;
  if (sess === null || sess.conn !== c || sess.pubRelConsumer === null) return false;
  const reply = m.paBuf.toString('latin1', m.paReplyStart, m.paReplyEnd);
  const info = parseAckSubject(reply);
  sess.trackAsPubRel(pi, reply, info?.sseq ?? 0);
  c.queue(pubResponse(Packet.PUBREL, pi));
  return true;
}
