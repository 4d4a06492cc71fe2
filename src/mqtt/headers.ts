// The NATS headers an MQTT message carries (mqtt.go mqttNewDeliverableMessage,
// mqttNewDeliverablePubRel, mqttParsePublishNATSHeader): `Nmqtt-Pub:<qos>` on every MQTT publish,
// plus `Nmqtt-Subject` (and `Nmqtt-Mapped`) on a stored QoS 2 message, `Nmqtt-PubRel:<pi>` on a
// PUBREL marker. Lookups scan the header bytes in place.

import { HDR_MAPPED, HDR_PUB, HDR_PUBREL, HDR_SUBJECT } from './constants.js';

const HDR_LINE = 'NATS/1.0\r\n';
const CR = 13;
const LF = 10;

/** `NATS/1.0\r\nNmqtt-Pub:0\r\n\r\n` for each QoS: the header of a plain MQTT publish. */
export const PUB_HEADERS = [0, 1, 2].map((q) => Buffer.from(`${HDR_LINE}${HDR_PUB}:${q}\r\n\r\n`, 'latin1'));
export const PUB_HEADER_LEN = PUB_HEADERS[0]!.length;

/** The header of a stored QoS 2 message: its QoS, NATS subject and mapping, for the PUBREL. */
export function qos2Header(qos: number, subject: string, mapped: string): Buffer {
  return Buffer.from(`${HDR_LINE}${HDR_PUB}:${qos}\r\n${HDR_SUBJECT}:${subject}\r\n${mapped !== '' ? `${HDR_MAPPED}:${mapped}\r\n` : ''}\r\n`, 'latin1');
}

export function pubRelHeader(pi: number): Buffer {
  return Buffer.from(`${HDR_LINE}${HDR_PUBREL}:${pi}\r\n\r\n`, 'latin1');
}

const KEY_PUB = Buffer.from(`\n${HDR_PUB}:`, 'latin1');
const KEY_PUBREL = Buffer.from(`\n${HDR_PUBREL}:`, 'latin1');
const KEY_SUBJECT = Buffer.from(`\n${HDR_SUBJECT}:`, 'latin1');
const KEY_MAPPED = Buffer.from(`\n${HDR_MAPPED}:`, 'latin1');

/** Start of the value of header `key` (given as `\nName:`) in buf[s, e), or -1. */
function find(buf: Buffer, s: number, e: number, key: Buffer): number {
  const k0 = key[0]!;
  const kl = key.length;
  outer: for (let i = s; i + kl <= e; i++) {
    if (buf[i] !== k0) continue;
    for (let j = 1; j < kl; j++) {
      // Header names are case-insensitive.
      const a = buf[i + j]!;
      const b = key[j]!;
      if (a !== b && (a | 0x20) !== (b | 0x20)) continue outer;
    }
    let v = i + kl;
    while (v < e && buf[v] === 0x20) v++;
    return v;
  }
  return -1;
}

function valueEnd(buf: Buffer, v: number, e: number): number {
  let i = v;
  while (i < e && buf[i] !== CR && buf[i] !== LF) i++;
  return i;
}

/** The `Nmqtt-Pub` QoS of the header block buf[s, s+hdr), or -1 when absent (a plain NATS message). */
export function pubQos(buf: Buffer, s: number, hdr: number): number {
  if (hdr <= 0) return -1;
  const v = find(buf, s, s + hdr, KEY_PUB);
  if (v < 0 || v >= s + hdr) return -1;
  return buf[v]! - 48;
}

/** `Nmqtt-Subject` / `Nmqtt-Mapped` of a stored QoS 2 message, as strings ('' when absent). */
export function qos2Subject(buf: Buffer, s: number, hdr: number): { subject: string; mapped: string } {
  const e = s + hdr;
  const vs = find(buf, s, e, KEY_SUBJECT);
  const vm = find(buf, s, e, KEY_MAPPED);
  return {
    subject: vs < 0 ? '' : buf.toString('latin1', vs, valueEnd(buf, vs, e)),
    mapped: vm < 0 ? '' : buf.toString('latin1', vm, valueEnd(buf, vm, e)),
  };
}

/** `Nmqtt-PubRel` packet identifier, or 0. */
export function pubRelPi(buf: Buffer, s: number, hdr: number): number {
  if (hdr <= 0) return 0;
  const e = s + hdr;
  const v = find(buf, s, e, KEY_PUBREL);
  if (v < 0) return 0;
  const n = Number(buf.toString('latin1', v, valueEnd(buf, v, e)));
  return Number.isInteger(n) && n > 0 && n <= 0xffff ? n : 0;
}
