// CONNECT (mqtt.go mqttParseConnect, mqttProcessConnect): checks in nats-server's order with its
// CONNACK return codes and texts, authentication (CONNACK 5 when refused), then the session: made or
// restored from $MQTT_sess, cleared for a clean start, taken over from a client still bound to it
// [MQTT-3.1.4-2], saved, CONNACK, and its subscriptions restored.

import { randomBytes } from 'node:crypto';
import { CloseReason } from '../../shard/client.js';
import { ConnPermissions } from '../../auth/permissions.js';
import type { BcryptTicket } from '../../auth/bcrypt-queue.js';
import { ConnAck, ConnFlag, PROTO_LEVEL, SESS_JAIL_MS } from '../constants.js';
import { topicErrorText, topicToSubjectString } from '../topic.js';
import { connAck } from '../writer.js';
import { PacketReader, validUtf8 } from './reader.js';
import { processSubs, type Filter } from './subscribe.js';
import type { MqttConnection, Will } from '../connection.js';

const reader = new PacketReader();

interface ConnectProto {
  flags: number;
  keepAliveMs: number;
  will: Will | null;
  password: string;
  hasPassword: boolean;
}

/** A refusal with a CONNACK code (rc 0: none sent), then the connection closes. */
class ConnectError extends Error {
  readonly rc: number;
  constructor(rc: number, msg: string) {
    super(msg);
    this.rc = rc;
  }
}

/** nuid.Next() for an empty client id [MQTT-3.1.3-6]. */
function generatedId(): string {
  const a = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const b = randomBytes(22);
  let s = '';
  for (let i = 0; i < 22; i++) s += a[b[i]! % 62];
  return s;
}

/** mqttParseConnect. */
function parseConnect(c: MqttConnection, buf: Buffer, s: number, e: number): ConnectProto {
  const r = reader.reset(buf, s, e);
  const [ps, pe] = r.bytes('protocol name');
  const proto = buf.toString('latin1', ps, pe);
  if (proto !== 'MQTT') {
    if (proto === 'MQIsdp') throw new ConnectError(0, `older protocol "${proto}" not supported`);
    throw new ConnectError(0, `expected connect packet with protocol name "MQTT", got "${proto}"`);
  }
  const level = r.byte('protocol level');
  if (level !== PROTO_LEVEL) throw new ConnectError(ConnAck.UNACCEPTABLE_PROTOCOL, `unacceptable protocol version of ${level}`);
  const flags = r.byte('flags');
  if ((flags & ConnFlag.RESERVED) !== 0) throw new ConnectError(0, 'connect flags reserved bit not set to 0');
  const wqos = (flags & ConnFlag.WILL_QOS) >> 3;
  const wretain = (flags & ConnFlag.WILL_RETAIN) !== 0;
  const hasWill = (flags & ConnFlag.WILL) !== 0;
  if (!hasWill) {
    if (wqos !== 0) throw new ConnectError(0, `if Will flag is set to 0, Will QoS must be 0 too, got ${wqos}`);
    if (wretain) throw new ConnectError(0, 'if Will flag is set to 0, Will Retain flag must be 0 too');
  } else if (wqos === 3) throw new ConnectError(0, `if Will flag is set to 1, Will QoS can be 0, 1 or 2, got ${wqos}`);
  if (hasWill && wqos === 2 && c.shard.opts.mqtt?.rejectQoS2Pub === true) throw new ConnectError(ConnAck.QOS2_WILL_REJECTED, 'server does not accept QoS2 for Will messages');
  const hasUser = (flags & ConnFlag.USERNAME) !== 0;
  const hasPassword = (flags & ConnFlag.PASSWORD) !== 0;
  if (!hasUser && hasPassword) throw new ConnectError(0, 'password flag set but username flag is not');
  const ka = r.uint16('keep alive');
  const [cs, ce] = r.bytes('client ID');
  c.clientId = buf.toString('utf8', cs, ce);
  if (c.clientId === '') {
    if ((flags & ConnFlag.CLEAN_SESSION) === 0) throw new ConnectError(ConnAck.IDENTIFIER_REJECTED, 'when client ID is empty, clean session flag must be set to 1');
    c.clientId = generatedId();
  } else if (!validUtf8(buf, cs, ce)) throw new ConnectError(ConnAck.IDENTIFIER_REJECTED, `invalid utf8 for client ID: ${JSON.stringify(c.clientId)}`);
  let will: Will | null = null;
  if (hasWill) {
    const [ts, te] = r.bytes('Will topic');
    if (te === ts) throw new ConnectError(0, 'empty Will topic not allowed');
    if (!validUtf8(buf, ts, te)) throw new ConnectError(0, `invalid utf8 for Will topic ${JSON.stringify(buf.toString('latin1', ts, te))}`);
    const topic = buf.toString('utf8', ts, te);
    const subject = topicToSubjectString(buf, ts, te, false);
    if (typeof subject === 'number') throw new ConnectError(0, topicErrorText(subject, topic));
    const [ms, me] = r.bytes('Will message');
    will = { topic, subject, message: Buffer.from(buf.subarray(ms, me)), qos: wqos, retain: wretain };
  }
  if (hasUser) {
    const [us, ue] = r.bytes('user name');
    c.username = buf.toString('utf8', us, ue);
    if (c.username === '') throw new ConnectError(ConnAck.BAD_USER_OR_PASSWORD, 'empty user name not allowed');
    if (!validUtf8(buf, us, ue)) throw new ConnectError(ConnAck.BAD_USER_OR_PASSWORD, `invalid utf8 for user name ${JSON.stringify(c.username)}`);
  }
  let password = '';
  if (hasPassword) password = r.string('password');
  return { flags, keepAliveMs: ka > 0 ? Math.floor(ka * 1.5) * 1000 : 0, will, password, hasPassword };
}

export function handleConnect(c: MqttConnection, buf: Buffer, s: number, e: number): void {
  if (c.connected) return c.protocolError('received a second CONNECT packet');
  let cp: ConnectProto;
  try {
    cp = parseConnect(c, buf, s, e);
  } catch (err) {
    const rc = err instanceof ConnectError ? err.rc : 0;
    if (rc !== 0) c.queue(connAck(rc, false));
    return c.protocolError(err);
  }
  if (c.shard.tracing) c.traceMqtt('CONNECT', `clientID=${c.clientId}${cp.keepAliveMs > 0 ? ` keepAlive=${cp.keepAliveMs / 1000}s` : ''}${cp.will !== null ? ` will=(topic=${cp.will.topic} QoS=${cp.will.qos} retain=${cp.will.retain})` : ''}${(cp.flags & ConnFlag.CLEAN_SESSION) !== 0 ? ' clean' : ''}${c.username !== '' ? ` username=${c.username}` : ''}${cp.hasPassword ? ' password=****' : ''}`);
  c.connectReceived = true;
  c.run(() =>
    processConnect(c, cp).catch((err: unknown) => {
      throw new Error(`unable to connect: ${(err as Error).message}`);
    }),
  );
}

/** mqttProcessConnect. */
async function processConnect(c: MqttConnection, cp: ConnectProto): Promise<void> {
  c.clearAuthTimer();
  // Authentication (isClientAuthorized); a bcrypt check is asynchronous.
  const auth = c.mq.authenticator();
  if (auth !== null) {
    // MQTT's password is also the token (mqttParseConnect: c.opts.Token = c.opts.Password).
    const creds = { user: c.username !== '' ? c.username : undefined, pass: cp.hasPassword ? cp.password : undefined, auth_token: cp.hasPassword ? cp.password : undefined };
    // bcrypt waits in the main thread's fair queue until the authorization deadline (src/auth/bcrypt-queue.ts).
    const ticket: BcryptTicket = { key: `${c.ip}\0${c.username}`, deadline: c.mqttAuthDeadline, cancel: null };
    let unchecked = false;
    const bcrypt = (password: string, hash: string): Promise<boolean> => {
      c.mqttBcrypt = ticket;
      return c.shard.bcrypt(password, hash, ticket).then((v) => {
        c.mqttBcrypt = null;
        if (v === null) unchecked = true;
        return v === true;
      });
    };
    const who = await auth.check(creds, null, bcrypt);
    if (c.closed) return;
    if (who === null && unchecked) {
      // Not checked before the authorization timeout: the timeout's close (no CONNACK, as nats-server).
      c.close(CloseReason.AUTH_TIMEOUT);
      return;
    }
    if (who === null) {
      c.shard.log.warn({ cid: c.cid, ip: c.ip, user: c.username || undefined, mqtt_client: c.clientId }, 'Authorization Error');
      c.queue(connAck(ConnAck.NOT_AUTHORIZED, false));
      c.close(CloseReason.AUTH_VIOLATION);
      return;
    }
    c.creds = creds;
    c.authUser = who.user;
    c.acc = c.shard.accountByName.get(who.account) ?? c.shard.accounts[0]!;
    c.perms = who.permissions !== null ? new ConnPermissions(who.permissions) : null;
  }
  const asm = await c.mq.manager(c.acc);
  if (c.closed) return;
  const cid = c.clientId;
  // A client id that just took a session over and comes back at once is held a second, then closed.
  const flapped = asm.flappers.get(cid);
  if (flapped !== undefined) {
    if (Date.now() - flapped > SESS_JAIL_MS) asm.flappers.delete(cid);
    else {
      await new Promise((r) => setTimeout(r, SESS_JAIL_MS));
      c.close(CloseReason.DUPLICATE_CLIENT_ID);
      return;
    }
  }
  // Another connection with this id is between steps: wait a little for it, then give up.
  for (let tries = 0; asm.locked.has(cid); tries++) {
    if (tries === 9) throw new Error(`other session with client ID "${cid}" is in the process of connecting`);
    await new Promise((r) => setTimeout(r, 100));
    if (c.closed) return;
  }
  asm.locked.add(cid);
  try {
    const cleanSess = (cp.flags & ConnFlag.CLEAN_SESSION) !== 0;
    let sessp = false;
    let es = asm.sessions.get(cid);
    let exists = es !== undefined;
    if (es === undefined) {
      const r = await asm.createOrRestoreSession(cid);
      es = r.sess;
      exists = r.exists;
    }
    if (exists) {
      if (cleanSess || es.clean) {
        // [MQTT-3.1.2-6]: a clean session discards any previous one.
        try {
          await asm.clear(es, false);
        } catch (err) {
          asm.removeSession(es);
          throw err;
        }
      } else sessp = true;
      const ec = es.conn;
      es.conn = c;
      es.clean = cleanSess;
      es.pubRelSubscribed = false;
      if (ec !== null && ec !== c) {
        // The old client goes without its will.
        ec.will = null;
        asm.flappers.set(cid, Date.now());
        c.shard.log.warn({ cid: c.cid }, `Replacing old client cid:${ec.cid} since both have the same client ID "${cid}"`);
        ec.close(CloseReason.DUPLICATE_CLIENT_ID);
      }
    } else {
      es.conn = c;
      es.clean = cleanSess;
      asm.addSession(es);
    }
    try {
      await asm.save(es);
    } catch (err) {
      asm.removeSession(es);
      throw err;
    }
    if (c.closed) return;
    c.connected = true;
    c.keepAliveMs = cp.keepAliveMs;
    c.will = cp.will;
    c.asm = asm;
    c.sess = es;
    // [MQTT-3.2.0-1]: CONNACK first.
    c.queue(connAck(ConnAck.ACCEPTED, sessp));
    c.shard.log.debug({ cid: c.cid, mqtt_client: cid }, 'Client connected');
    if (es.subs.size > 0) {
      const filters: Filter[] = [...es.subs].map(([filter, qos]) => ({ filter, qos, topic: '' }));
      await processSubs(asm, es, c, filters, false);
    }
  } finally {
    asm.locked.delete(cid);
  }
}
