// The `mqtt { }` block (nats-server opts.go parseMQTT), its checks at start-up (mqtt.go
// validateMQTTOptions, with nats-server's texts), what /varz shows of it (monitor.go MQTTOptsVarz),
// and the authentication an MQTT client faces (auth.go: the block's own authorization overrides the
// server's for MQTT clients).

import type { ConfMap, ConfValue } from '../config/conf.js';
import type { AuthOptions, ServerOptions, TlsOptions } from '../server/options.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_ACK_PENDING } from './constants.js';

export interface MqttOptions {
  host: string;
  /** 1883 unless given; -1: a random port. */
  port: number;
  tls: TlsOptions | null;
  /** The block's own authorization (auth.go "authOverride"). */
  username: string;
  password: string;
  token: string;
  /** ms; 0: the server's authorization timeout. */
  authTimeoutMs: number;
  noAuthUser: string;
  /** ms; 0: 30 s. */
  ackWaitMs: number;
  /** 0: 1024. */
  maxAckPending: number;
  jsDomain: string;
  streamReplicas: number;
  consumerReplicas: number;
  consumerMemoryStorage: boolean;
  /** ms; 0: none. */
  consumerInactiveThresholdMs: number;
  rejectQoS2Pub: boolean;
  downgradeQoS2Sub: boolean;
}

export const DEFAULT_MQTT_PORT = 1883;

export function defaultMqttOptions(): MqttOptions {
  return {
    host: '0.0.0.0',
    port: DEFAULT_MQTT_PORT,
    tls: null,
    username: '',
    password: '',
    token: '',
    authTimeoutMs: 0,
    noAuthUser: '',
    ackWaitMs: 0,
    maxAckPending: 0,
    jsDomain: '',
    streamReplicas: 0,
    consumerReplicas: 0,
    consumerMemoryStorage: false,
    consumerInactiveThresholdMs: 0,
    rejectQoS2Pub: false,
    downgradeQoS2Sub: false,
  };
}

/** What parseMqtt needs of the config loader (its Reader and the shared listen/tls parsers). */
export interface MqttConfReader {
  fail(path: string, msg: string): never;
  warn(path: string, msg: string): void;
  str(path: string, v: ConfValue): string;
  int(path: string, v: ConfValue): number;
  bool(path: string, v: ConfValue): boolean;
  duration(path: string, v: ConfValue): number;
  map(path: string, v: ConfValue): ConfMap;
  listen(path: string, v: ConfValue): { host?: string; port: number };
  tls(path: string, m: ConfMap): TlsOptions;
}

/** opts.go parseMQTT. */
export function parseMqtt(r: MqttConfReader, path: string, m: ConfMap): MqttOptions {
  const o = defaultMqttOptions();
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = `${path}.${key}`;
    switch (k) {
      case 'listen': {
        const l = r.listen(p, v);
        if (l.host !== undefined) o.host = l.host;
        o.port = l.port;
        break;
      }
      case 'port':
        o.port = r.int(p, v);
        break;
      case 'host':
      case 'net':
        o.host = r.str(p, v);
        break;
      case 'tls':
        o.tls = r.tls(p, r.map(p, v));
        break;
      case 'authorization':
      case 'authentication':
        for (const [ak, av] of Object.entries(r.map(p, v))) {
          const akl = ak.toLowerCase();
          const ap = `${p}.${ak}`;
          if (akl === 'user' || akl === 'username') o.username = r.str(ap, av);
          else if (akl === 'pass' || akl === 'password') o.password = r.str(ap, av);
          else if (akl === 'token') o.token = r.str(ap, av);
          else if (akl === 'timeout') o.authTimeoutMs = typeof av === 'number' ? av * 1000 : r.duration(ap, av);
          else r.fail(ap, `unknown field "${ak}"`);
        }
        break;
      case 'no_auth_user':
        o.noAuthUser = r.str(p, v);
        break;
      case 'ack_wait':
      case 'ackwait':
        o.ackWaitMs = r.duration(p, v);
        break;
      case 'max_ack_pending':
      case 'max_pending':
      case 'max_inflight': {
        const n = r.int(p, v);
        if (n < 0 || n > 0xffff) r.fail(p, `invalid value ${n}, should in [0..65535] range`);
        o.maxAckPending = n;
        break;
      }
      case 'js_domain':
        o.jsDomain = r.str(p, v);
        break;
      case 'stream_replicas':
        o.streamReplicas = r.int(p, v);
        break;
      case 'consumer_replicas':
        r.warn(p, 'consumer replicas setting ignored in this server version');
        break;
      case 'consumer_memory_storage':
        o.consumerMemoryStorage = r.bool(p, v);
        break;
      case 'consumer_inactive_threshold':
      case 'consumer_auto_cleanup':
        o.consumerInactiveThresholdMs = r.duration(p, v);
        break;
      case 'reject_qos2_publish':
        o.rejectQoS2Pub = r.bool(p, v);
        break;
      case 'downgrade_qos2_subscribe':
        o.downgradeQoS2Sub = r.bool(p, v);
        break;
      default:
        // nats-server: an unknown field in the mqtt block is an error.
        r.fail(p, `unknown field "${key}"`);
    }
  }
  return o;
}

/**
 * mqtt.go validateMQTTOptions, run when the server starts (nats-server's `-t` passes such a file):
 * the error text, or null. Like nats-server 2.9 and 2.10.0, MQTT wants an explicit server name.
 */
export function validateMqttOptions(opts: ServerOptions): string | null {
  const mo = opts.mqtt;
  if (mo === null || mo.port === 0) return null;
  if (opts.serverName === '') return 'mqtt requires server name to be explicitly set';
  const users = opts.auth?.users ?? [];
  const nkeys = opts.auth?.nkeys ?? [];
  if (mo.noAuthUser !== '' && !users.some((u) => u.user === mo.noAuthUser) && !nkeys.some((n) => n.nkey === mo.noAuthUser)) {
    return users.length + nkeys.length === 0
      ? `no_auth_user: "${mo.noAuthUser}" present, but users/nkeys are not defined`
      : `no_auth_user: "${mo.noAuthUser}" not present as user or nkey in authorization block or account configuration`;
  }
  // A single authorization { user, password } is a user entry here, not a users list: only a list counts.
  if (users.length > 1 || nkeys.length > 0) {
    if (mo.username !== '') return 'mqtt authentication username not compatible with presence of users/nkeys';
    if (mo.token !== '') return 'mqtt authentication token not compatible with presence of users/nkeys';
  }
  if (mo.ackWaitMs < 0) return 'ack wait must be a positive value';
  if (!opts.jetstream.enabled) return 'mqtt requires JetStream to be enabled if running in standalone mode';
  return null;
}

/** monitor.go MQTTOptsVarz (omitempty fields left out); `{}` when MQTT is off, as nats-server's. */
export function mqttVarz(opts: ServerOptions, port: number): Record<string, unknown> {
  const mo = opts.mqtt;
  if (mo === null) return {};
  const v: Record<string, unknown> = { host: mo.host, port };
  if (mo.noAuthUser) v['no_auth_user'] = mo.noAuthUser;
  if (mo.authTimeoutMs > 0) v['auth_timeout'] = mo.authTimeoutMs / 1000;
  v['tls_timeout'] = mo.tls !== null ? mo.tls.timeoutMs / 1000 : 2;
  if (mo.jsDomain) v['js_domain'] = mo.jsDomain;
  if (mo.ackWaitMs > 0) v['ack_wait'] = mo.ackWaitMs * 1e6;
  if (mo.maxAckPending > 0) v['max_ack_pending'] = mo.maxAckPending;
  return v;
}

/** Does the block carry its own authorization (auth.go mqttConfigAuth)? */
export function mqttAuthOverride(mo: MqttOptions | null): boolean {
  return mo !== null && (mo.username !== '' || mo.token !== '' || mo.noAuthUser !== '');
}

/**
 * The authentication MQTT clients face: the block's username/password/token/no_auth_user when it has
 * any (the server's users stay, for no_auth_user), else the server's; null when none is required.
 */
export function mqttAuthOptions(opts: ServerOptions): AuthOptions | null {
  const mo = opts.mqtt;
  const server = opts.auth;
  if (!mqttAuthOverride(mo)) {
    if (server === null) return null;
    return mo !== null && mo.authTimeoutMs > 0 ? { ...server, timeoutMs: mo.authTimeoutMs } : server;
  }
  const m = mo!;
  const users = m.username !== '' ? [{ user: m.username, password: m.password, account: '$G', permissions: null }] : (server?.users ?? []);
  return {
    timeoutMs: m.authTimeoutMs > 0 ? m.authTimeoutMs : (server?.timeoutMs ?? 2000),
    token: m.token !== '' ? m.token : null,
    users,
    nkeys: server?.nkeys ?? [],
    noAuthUser: m.noAuthUser !== '' ? m.noAuthUser : null,
    defaultPermissions: server?.defaultPermissions ?? null,
  };
}

/** Effective ack_wait and max_ack_pending (mqtt.go defaults). */
export function ackWaitMs(mo: MqttOptions | null): number {
  return mo !== null && mo.ackWaitMs > 0 ? mo.ackWaitMs : DEFAULT_ACK_WAIT_MS;
}

export function maxAckPending(mo: MqttOptions | null): number {
  return mo !== null && mo.maxAckPending > 0 ? mo.maxAckPending : DEFAULT_MAX_ACK_PENDING;
}
