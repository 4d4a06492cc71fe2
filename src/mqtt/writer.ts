// Encoders of the packets the server sends (mqtt.go mqttWriter, mqttEnqueueConnAck,
// mqttEnqueuePubResponse, mqttEnqueueSubAck, mqttMakePublishHeader). The PUBLISH header is written
// straight into a connection's output buffer; the small fixed packets are 4 bytes or fewer.

import { Packet, PubFlag } from './constants.js';

export const PINGRESP = Buffer.from([Packet.PINGRESP, 0]);

/** Bytes a remaining-length variable int takes. */
export function varIntSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
}

export function writeVarInt(dst: Buffer, at: number, v: number): number {
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 0x80);
    if (v > 0) b |= 0x80;
    dst[at++] = b;
  } while (v > 0);
  return at;
}

/** CONNACK; the session-present flag only with return code 0 [MQTT-3.2.2-4]. */
export function connAck(rc: number, sessionPresent: boolean): Buffer {
  return Buffer.from([Packet.CONNACK, 2, rc === 0 && sessionPresent ? 1 : 0, rc]);
}

/** PUBACK, PUBREC, PUBREL (flags 0010 [MQTT-3.6.1-1]) or PUBCOMP for packet identifier `pi`. */
export function pubResponse(type: number, pi: number): Buffer {
  return Buffer.from([type === Packet.PUBREL ? type | 0x02 : type, 2, pi >> 8, pi & 0xff]);
}

export function subAck(pi: number, codes: number[]): Buffer {
  const len = 2 + codes.length;
  const b = Buffer.allocUnsafe(1 + varIntSize(len) + len);
  b[0] = Packet.SUBACK;
  let p = writeVarInt(b, 1, len);
  b[p++] = pi >> 8;
  b[p++] = pi & 0xff;
  for (const c of codes) b[p++] = c;
  return b;
}

export function unsubAck(pi: number): Buffer {
  return Buffer.from([Packet.UNSUBACK, 2, pi >> 8, pi & 0xff]);
}

/** Size of a PUBLISH packet with a topic of `topicLen` bytes and a payload of `msgLen`. */
export function publishSize(qos: number, topicLen: number, msgLen: number): number {
  const rl = 2 + topicLen + msgLen + (qos > 0 ? 2 : 0);
  return 1 + varIntSize(rl) + rl;
}

/**
 * Writes a PUBLISH fixed header and the topic length at dst[at] (the topic bytes follow, then the
 * packet identifier when qos > 0, then the payload); returns where the topic goes.
 */
export function writePublishHead(dst: Buffer, at: number, qos: number, dup: boolean, retain: boolean, topicLen: number, msgLen: number): number {
  let flags = 0;
  if (dup) flags |= PubFlag.DUP;
  if (retain) flags |= PubFlag.RETAIN;
  if (qos > 0) flags |= qos << 1;
  dst[at++] = Packet.PUBLISH | flags;
  at = writeVarInt(dst, at, 2 + topicLen + msgLen + (qos > 0 ? 2 : 0));
  dst[at++] = topicLen >> 8;
  dst[at++] = topicLen & 0xff;
  return at;
}

/** A whole PUBLISH packet as one Buffer (retained messages; not the per-message path). */
export function publishPacket(pi: number, qos: number, dup: boolean, retain: boolean, topic: Buffer, msg: Buffer): Buffer {
  const b = Buffer.allocUnsafe(publishSize(qos, topic.length, msg.length));
  let p = writePublishHead(b, 0, qos, dup, retain, topic.length, msg.length);
  p += topic.copy(b, p);
  if (qos > 0) {
    b[p++] = pi >> 8;
    b[p++] = pi & 0xff;
  }
  msg.copy(b, p);
  return b;
}
