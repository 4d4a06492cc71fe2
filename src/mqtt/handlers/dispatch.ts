// Packet type → handler (mqtt.go mqttParse's switch). Each handler reads the packet in place.

import { Packet } from '../constants.js';
import type { MqttConnection } from '../connection.js';
import { handleConnect } from './connect.js';
import { handlePublish } from './publish.js';
import { handlePubAck } from './puback.js';
import { handlePubRec } from './pubrec.js';
import { handlePubRel } from './pubrel.js';
import { handlePubComp } from './pubcomp.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';
import { handlePingReq } from './pingreq.js';
import { handleDisconnect } from './disconnect.js';

export function dispatch(c: MqttConnection, type: number, flags: number, buf: Buffer, s: number, e: number): void {
  switch (type) {
    case Packet.PUBLISH:
      return handlePublish(c, flags, buf, s, e);
    case Packet.PUBACK:
      return handlePubAck(c, buf, s, e);
    case Packet.PUBREC:
      return handlePubRec(c, buf, s, e);
    case Packet.PUBREL:
      return handlePubRel(c, buf, s, e);
    case Packet.PUBCOMP:
      return handlePubComp(c, buf, s, e);
    case Packet.SUBSCRIBE:
      return handleSubscribe(c, flags, buf, s, e);
    case Packet.UNSUBSCRIBE:
      return handleUnsubscribe(c, flags, buf, s, e);
    case Packet.PINGREQ:
      return handlePingReq(c);
    case Packet.CONNECT:
      return handleConnect(c, buf, s, e);
    case Packet.DISCONNECT:
      return handleDisconnect(c);
    default:
      return c.protocolError(`received unknown packet type ${type >> 4}`);
  }
}
