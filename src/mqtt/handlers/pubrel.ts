// PUBREL from a publisher (mqtt.go mqttProcessPubRel): the QoS 2 message kept in $MQTT_qos2in under
// this identifier is removed and delivered now; PUBCOMP in any case.

import { Jsa, Packet, QOS2IN_PREFIX, QOS2IN_STREAM } from '../constants.js';
import { pubQos, qos2Subject } from '../headers.js';
import { pubResponse } from '../writer.js';
import { readPi } from './reader.js';
import { deliverReleased } from './publish.js';
import type { MqttConnection } from '../connection.js';

export function handlePubRel(c: MqttConnection, buf: Buffer, s: number, e: number): void {
  let pi: number;
  try {
    pi = readPi(buf, s, e);
  } catch (err) {
    return c.protocolError(err);
  }
  if (c.shard.tracing) c.traceMqtt('PUBREL', `pi=${pi}`);
  c.run(async () => {
    const ticket = c.reserveResponse();
    try {
      const jsa = c.asm!.jsa;
      const r = await jsa.request(Jsa.MSG_LOAD, `$JS.API.STREAM.MSG.GET.${QOS2IN_STREAM}`, JSON.stringify({ last_by_subj: `${QOS2IN_PREFIX}${c.clientId}.${pi}` })).catch(() => null);
      const msg = r === null || r.error !== undefined ? null : ((r['message'] ?? null) as { seq?: number; hdrs?: string; data?: string } | null);
      if (msg === null) return; // nothing kept for it (a repeated PUBREL)
      await jsa.request(Jsa.MSG_DELETE, `$JS.API.STREAM.MSG.DELETE.${QOS2IN_STREAM}`, JSON.stringify({ seq: msg.seq, no_erase: true })).catch(() => null);
      const hdr = Buffer.from(msg.hdrs ?? '', 'base64');
      const { subject } = qos2Subject(hdr, 0, hdr.length);
      if (pubQos(hdr, 0, hdr.length) !== 2 || subject === '') throw new Error('invalid message in QoS2 PUBREL stream');
      const retain = c.qos2Retain.delete(pi);
      await deliverReleased(c, subject, Buffer.from(msg.data ?? '', 'base64'), retain);
    } finally {
      c.fulfil(ticket, pubResponse(Packet.PUBCOMP, pi));
    }
  });
}
