// PUBCOMP from a subscriber (mqtt.go mqttProcessPubComp): the QoS 2 exchange is over; the PUBREL
// marker is acknowledged.

import { readPi } from './reader.js';
import type { MqttConnection } from '../connection.js';

export function handlePubComp(c: MqttConnection, buf: Buffer, s: number, e: number): void {
  let pi: number;
  try {
    pi = readPi(buf, s, e);
  } catch (err) {
    return c.protocolError(err);
  }
  if (c.shard.tracing) c.traceMqtt('PUBCOMP', `pi=${pi}`);
  const sess = c.sess;
  if (sess === null || sess.conn !== c) return;
  c.asm!.jsa.sendAck(sess.untrackPubRel(pi));
}
