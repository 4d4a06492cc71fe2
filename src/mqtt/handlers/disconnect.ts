// DISCONNECT (mqtt.go): a normal end, so the will is discarded [MQTT-3.1.2-8]; the session is
// unbound (and dropped when clean) as for any close.

import { CloseReason } from '../../shard/client.js';
import type { MqttConnection } from '../connection.js';

export function handleDisconnect(c: MqttConnection): void {
  if (c.shard.tracing) c.traceMqtt('DISCONNECT', '');
  c.will = null;
  c.close(CloseReason.CLIENT);
}
