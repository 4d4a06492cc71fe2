// MQTT 3.1.1 constants and the names nats-server's mqtt.go gives its JetStream streams, subjects and
// headers (the "References to spec" there and here are to mqtt-v3.1.1-os). Kept in one place so a
// tsnats node and a nats-server node read each other's session and retained records.

export const Packet = {
  CONNECT: 0x10,
  CONNACK: 0x20,
  PUBLISH: 0x30,
  PUBACK: 0x40,
  PUBREC: 0x50,
  PUBREL: 0x60,
  PUBCOMP: 0x70,
  SUBSCRIBE: 0x80,
  SUBACK: 0x90,
  UNSUBSCRIBE: 0xa0,
  UNSUBACK: 0xb0,
  PINGREQ: 0xc0,
  PINGRESP: 0xd0,
  DISCONNECT: 0xe0,
} as const;
export const PACKET_MASK = 0xf0;
export const FLAG_MASK = 0x0f;

export const PROTO_LEVEL = 4;

/** CONNECT flags. */
export const ConnFlag = {
  RESERVED: 0x01,
  CLEAN_SESSION: 0x02,
  WILL: 0x04,
  WILL_QOS: 0x18,
  WILL_RETAIN: 0x20,
  PASSWORD: 0x40,
  USERNAME: 0x80,
} as const;

/** PUBLISH fixed-header flags. */
export const PubFlag = {
  RETAIN: 0x01,
  QOS: 0x06,
  DUP: 0x08,
} as const;

/** SUBSCRIBE / UNSUBSCRIBE reserved fixed-header flags [MQTT-3.8.1-1], [MQTT-3.10.1-1]. */
export const SUB_FLAGS = 0x02;
export const SUBACK_FAILURE = 0x80;

/** CONNACK return codes. */
export const ConnAck = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USER_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
  QOS2_WILL_REJECTED: 0x10,
} as const;

/** Largest remaining length a 4-byte variable int can say (mqttMaxPayloadSize). */
export const MAX_PACKET_SIZE = 0xfffffff;

// Streams, subjects, consumers (mqtt.go constants).
export const SUB_PREFIX = '$MQTT.sub.';
export const MSGS_STREAM = '$MQTT_msgs';
export const MSGS_PREFIX = '$MQTT.msgs.';
export const RMSGS_STREAM = '$MQTT_rmsgs';
export const RMSGS_PREFIX = '$MQTT.rmsgs.';
export const SESS_STREAM = '$MQTT_sess';
export const SESS_PREFIX = '$MQTT.sess.';
export const QOS2IN_STREAM = '$MQTT_qos2in';
export const QOS2IN_PREFIX = '$MQTT.qos2.in.';
export const OUT_STREAM = '$MQTT_out';
export const OUT_PREFIX = '$MQTT.out.';
export const PUBREL_PREFIX = '$MQTT.out.pubrel.';
export const PUBREL_DELIVERY_PREFIX = '$MQTT.deliver.pubrel.';
export const PUBREL_DURABLE_PREFIX = '$MQTT_PUBREL_';
/** Reply subjects of JetStream API requests: `$MQTT.JSA.<node id>.<kind>.[<client id hash>.]<uid>`. */
export const JSA_PREFIX = '$MQTT.JSA.';
/** The " fwc" sid suffix of the extra subscription `foo/#` needs to also match `foo`. */
export const FWC_SID_SUFFIX = ' fwc';

/** Request kinds: the token after the node id in a JSA reply subject. */
export const Jsa = {
  STREAM_CREATE: 'SC',
  STREAM_UPDATE: 'SU',
  STREAM_LOOKUP: 'SL',
  STREAM_DEL: 'SD',
  CONSUMER_CREATE: 'CC',
  CONSUMER_LOOKUP: 'CL',
  CONSUMER_DEL: 'CD',
  MSG_STORE: 'MS',
  MSG_LOAD: 'ML',
  MSG_DELETE: 'MD',
  SESS_PERSIST: 'SP',
  RETAINED_MSG_DEL: 'RD',
  STREAM_NAMES: 'SN',
} as const;

// Headers a MQTT publish carries as a NATS message.
export const HDR_PUB = 'Nmqtt-Pub';
export const HDR_PUBREL = 'Nmqtt-PubRel';
export const HDR_SUBJECT = 'Nmqtt-Subject';
export const HDR_MAPPED = 'Nmqtt-Mapped';

// Defaults (mqtt.go).
export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_MAX_ACK_PENDING = 1024;
/** A session's consumers together may not have more than this max_ack_pending. */
export const MAX_ACK_TOTAL_LIMIT = 0xffff;
/** mqttJSAPITimeout. */
export const JSA_TIMEOUT_MS = 4000;
/** mqttSessFlappingJailDur. */
export const SESS_JAIL_MS = 1000;
/** mqttDefaultRetainedCacheTTL. */
export const RETAINED_CACHE_TTL_MS = 2 * 60_000;
export const WS_PATH = '/mqtt';
