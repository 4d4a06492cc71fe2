// PUBACK from a subscriber (mqtt.go mqttProcessPubAck): the QoS 1 delivery is done; its JetStream
// message is acknowledged.

import { readPi } from './reader.js';
import type { MqttConnection } from '../connection.js';

export function handlePubAck(c: MqttConnection, buf: Buffer, s: number, e: number): void {
  let pi: number;
  try {
    pi = readPi(buf, s, e);
  } catch (err) {
    return c.protocolError(err);
  }
  if (c.shard.tracing) c.traceMqtt('PUBACK', `pi=${pi}`);
  const sess = c.sess;
  if (sess === null || sess.conn !== c) return c.protocolError('invalid MQTT session');
  c.asm!.jsa.sendAck(sess.untrackPublish(pi));
}
