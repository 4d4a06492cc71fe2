// PINGREQ → PINGRESP (mqtt.go mqttEnqueuePingResp). Any packet resets the keep-alive clock.

import { PINGRESP } from '../writer.js';
import type { MqttConnection } from '../connection.js';

export function handlePingReq(c: MqttConnection): void {
  if (c.shard.tracing) c.traceMqtt('PINGREQ', '');
  c.respond(PINGRESP);
}
