// PUBREC from a subscriber (mqtt.go mqttProcessPubRec): the QoS 2 PUBLISH was received; the
// identifier now waits for PUBCOMP, a PUBREL marker is stored in $MQTT_out (the session's PUBREL
// consumer delivers it, and redelivers until PUBCOMP), then the message is acknowledged.

import { Jsa } from '../constants.js';
import { pubRelHeader } from '../headers.js';
import { check } from '../jsa.js';
import { readPi } from './reader.js';
import type { MqttConnection } from '../connection.js';

export function handlePubRec(c: MqttConnection, buf: Buffer, s: number, e: number): void {
  let pi: number;
  try {
    pi = readPi(buf, s, e);
  } catch (err) {
    return c.protocolError(err);
  }
  if (c.shard.tracing) c.traceMqtt('PUBREC', `pi=${pi}`);
  const sess = c.sess;
  if (sess === null || sess.conn !== c) return c.protocolError('invalid MQTT session');
  sess.trackAsPubRel(pi, '', 0);
  const jsAck = sess.untrackPublish(pi);
  const jsa = c.asm!.jsa;
  jsa.request(Jsa.MSG_STORE, sess.pubRelSubject, null, pubRelHeader(pi)).then(
    (r) => {
      check(r);
      jsa.sendAck(jsAck);
    },
    (err: unknown) => c.protocolError(err),
  );
}
