// The NATS subscriptions an MQTT subscription is made of (mqtt.go mqttSub): on the filter's subject
// (QoS 0 delivery, and NATS publishers), on a QoS 1/2 consumer's deliver subject `$MQTT.sub.<nuid>`,
// and on the session's PUBREL deliver subject. One class, a kind field: delivery switches on it.

import { Subscription } from '../shard/subscription.js';
import type { ClientConnection } from '../shard/client.js';

export const SubKind = {
  /** mqttDeliverMsgCbQoS0: the filter's own subject. */
  QOS0: 0,
  /** mqttDeliverMsgCbQoS12: a JetStream consumer's deliver subject. */
  QOS12: 1,
  /** mqttDeliverPubRelCb: the session's PUBREL consumer's deliver subject. */
  PUBREL: 2,
} as const;

export class MqttSub extends Subscription {
  readonly kind: number;
  /** The subscription's maximum QoS. */
  qos = 0;
  /** The JetStream durable delivering to it (QOS12). */
  jsDur = '';
  /** `#`, `+` or `+/...`: topics starting with `$` are not delivered [MQTT-4.7.2-1]. */
  readonly reserved: boolean;
  /** Retained messages serialized for it, sent before anything else reaches it (mqttSub.prm). */
  prm: Buffer[] | null = null;

  constructor(conn: ClientConnection, subject: string, sid: string, kind: number, reserved: boolean) {
    super(conn, subject, null, sid);
    this.kind = kind;
    this.reserved = reserved;
  }
}
