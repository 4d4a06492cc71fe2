// An MQTT connection: one more connection kind in a shard (DESIGN.md). It is a ClientConnection for
// everything a shard does with connections (registration, subscriptions in the sublist, routing,
// output buffer flushed once per turn, slow consumers, /connz), with its own packet parser and
// handlers (one file per packet type in handlers/), and delivery that writes MQTT PUBLISH packets.
//
// Packets are handled in order. A handler that needs JetStream (CONNECT, SUBSCRIBE, PUBREL, a
// retained publish) holds parsing back until it is done, as nats-server's readLoop waits for its
// JetStream API requests; QoS 1/2 publishes are pipelined instead, their PUBACK/PUBREC sent in order
// as the stores are acknowledged.

import { ClientConnection, CloseReason, type CloseReasonText } from '../shard/client.js';
import type { Shard } from '../shard/shard.js';
import type { ClientTransport } from '../shard/transport.js';
import type { Subscription } from '../shard/subscription.js';
import type { MsgArgs } from '../shard/msg.js';
import { isValidSubject } from '../sublist/subject.js';
import { copyBytes } from '../protocol/wire.js';
import { ConnPermissions } from '../auth/permissions.js';
import type { BcryptTicket } from '../auth/bcrypt-queue.js';
import { MAX_PACKET_SIZE, Packet } from './constants.js';

const PACKET_NAMES: Record<number, string> = { 4: 'PUBACK', 5: 'PUBREC', 6: 'PUBREL', 7: 'PUBCOMP', 9: 'SUBACK', 11: 'UNSUBACK' };
import { MqttParser, type PacketHandler } from './parser.js';
import { MqttSub, SubKind } from './subscription.js';
import { publishSize, writePublishHead } from './writer.js';
import { topicLength, writeTopic } from './topic.js';
import { deliverPubRel, deliverQos0, deliverQos12 } from './delivery.js';
import { dispatch } from './handlers/dispatch.js';
import type { MqttShard } from './shard-mqtt.js';
import type { AccountSessionManager } from './account-manager.js';
import type { MqttSession } from './session.js';

/** A last will (mqttWill). */
export interface Will {
  topic: string;
  subject: string;
  message: Buffer;
  qos: number;
  retain: boolean;
}

export class MqttConnection extends ClientConnection implements PacketHandler {
  override readonly natsProtocol: boolean = false;
  readonly mq: MqttShard;
  readonly mparser: MqttParser;
  /** CONNECT processed and accepted. */
  connected = false;
  clientId = '';
  /** 1.5 × the keep-alive, in ms; 0: none. */
  keepAliveMs = 0;
  will: Will | null = null;
  username = '';
  asm: AccountSessionManager | null = null;
  sess: MqttSession | null = null;
  readonly isWebSocket: boolean;
  /** Packet identifiers of QoS 2 publishes with the retain flag, until their PUBREL. */
  readonly qos2Retain = new Set<number>();
  /** Asynchronous steps in progress; parsing waits while > 0. */
  private busy = 0;
  /** Input read while parsing waits. */
  private held: Buffer | null = null;
  private closePending = false;
  /** Responses in packet order: null is one still waiting for its JetStream acknowledgement. */
  private readonly responses: (Buffer | null)[] = [];
  private respHead = 0;
  private respBase = 0;

  constructor(shard: Shard, socket: ClientTransport, cid: number, mq: MqttShard, isWebSocket: boolean) {
    // No NATS authorization timer: MQTT's comes from the mqtt block or the server's (below).
    super(shard, socket, cid, true);
    this.mq = mq;
    this.isWebSocket = isWebSocket;
    this.mparser = new MqttParser(this);
    this.mparser.isWebsocket = isWebSocket;
    this.headers = true;
    this.verbose = false;
    this.pedantic = false;
    // MQTT has no NATS PINGs (createMQTTClient: "No Ping timer for MQTT clients"): keep-alive instead.
    this.nextPingAt = Infinity;
    // The authorization timeout applies when the server or the mqtt block requires authentication;
    // it runs until the CONNECT is processed (mqttProcessConnect clears it), a bcrypt check included.
    const auth = mq.authenticator();
    if (auth !== null) {
      this.mqttAuthDeadline = Date.now() + auth.opts.timeoutMs;
      this.mqttAuthTimer = setTimeout(() => {
        this.mqttAuthTimer = null;
        if (!this.closed && !this.connected) {
          this.close(CloseReason.AUTH_TIMEOUT);
          this.shard.afterRead();
        }
      }, auth.opts.timeoutMs);
      this.mqttAuthTimer.unref();
    }
  }

  private mqttAuthTimer: NodeJS.Timeout | null = null;
  /** When the authorization timeout runs out (epoch ms): a bcrypt check still waiting then is dropped. */
  mqttAuthDeadline = Infinity;
  /** The bcrypt check the CONNECT waits for, cancelled if the connection goes first. */
  mqttBcrypt: BcryptTicket | null = null;

  override get mqttClientId(): string {
    return this.clientId;
  }

  get maxPacket(): number {
    return Math.min(MAX_PACKET_SIZE, Math.max(this.shard.opts.maxPending, this.shard.opts.maxPayload + 65536));
  }

  clearAuthTimer(): void {
    if (this.mqttAuthTimer !== null) clearTimeout(this.mqttAuthTimer);
    this.mqttAuthTimer = null;
  }

  // ---- input ---------------------------------------------------------------------------------

  override onRead(chunk: Buffer): void {
    if (this.closed) return;
    // The keep-alive clock: exact, not the shard's turn clock.
    this.lastIn = Date.now();
    if (this.stopped) {
      this.held = this.held === null ? Buffer.from(chunk) : Buffer.concat([this.held, chunk]);
      return;
    }
    const rest = this.mparser.parse(chunk);
    if (rest !== null && !this.closed) this.held = Buffer.from(rest);
  }

  onPacket(type: number, flags: number, buf: Buffer, s: number, e: number): void {
    try {
      dispatch(this, type, flags, buf, s, e);
    } catch (err) {
      // Whatever a packet makes a handler throw ends this connection, never the shard.
      this.protocolError(err);
    }
  }

  onParseError(text: string): void {
    this.protocolError(text);
  }

  /** A protocol error: logged, the connection closed (readLoop: c.Error(err); ProtocolViolation). */
  protocolError(err: unknown): void {
    if (this.closed) return;
    const text = err instanceof Error ? err.message : String(err);
    this.shard.log.error({ cid: this.cid, mqtt_client: this.clientId || undefined }, text);
    this.close(CloseReason.PROTOCOL_VIOLATION);
  }

  /** -V: nats-server's trace line for an MQTT packet received (client.go traceInOp). */
  traceMqtt(op: string, arg: string, dir = '<<-'): void {
    this.shard.log.trace(`${this.ip}:${this.port} - mid:${this.cid}${this.clientId !== '' ? ` - "${this.clientId}"` : ''} - ${dir} [${arg === '' ? op : `${op} ${arg}`}]`);
  }

  /** -V: the trace line of a packet sent (traceOutOp), read back from its bytes. */
  private traceOut(b: Buffer): void {
    const type = b[0]! & 0xf0;
    const pi = (o: number): string => `pi=${(b[o]! << 8) | b[o + 1]!}`;
    if (type === Packet.CONNACK) this.traceMqtt('CONNACK', `sp=${b[2] === 1} rc=${b[3]}`, '->>');
    else if (type === Packet.PINGRESP) this.traceMqtt('PINGRESP', '', '->>');
    else if (type === Packet.PUBLISH) {
      let p = 1;
      while ((b[p++]! & 0x80) !== 0);
      const tl = (b[p]! << 8) | b[p + 1]!;
      const qos = (b[0]! >> 1) & 3;
      const ps = p + 2 + tl + (qos > 0 ? 2 : 0);
      this.traceMqtt('PUBLISH', `${b.toString('utf8', p + 2, p + 2 + tl)} dup=${(b[0]! & 0x08) !== 0} QoS=${qos} retain=${(b[0]! & 1) !== 0} size=${b.length - ps}${qos > 0 ? ` ${pi(p + 2 + tl)}` : ''}`, '->>');
    } else {
      const name = PACKET_NAMES[type >> 4] ?? '(???)';
      let p = 1;
      while ((b[p++]! & 0x80) !== 0);
      this.traceMqtt(name, pi(p), '->>');
    }
  }

  override queue(b: Buffer): void {
    if (this.shard.tracing && !this.closed) this.traceOut(b);
    super.queue(b);
  }

  /** Runs an asynchronous step with parsing held back until it ends; a failure closes the connection. */
  run(step: () => Promise<void>): void {
    this.busy++;
    this.stopped = true;
    step().then(
      () => this.release(),
      (err: unknown) => {
        this.protocolError(err);
        this.release();
      },
    );
  }

  private release(): void {
    if (--this.busy > 0) return;
    if (this.closed) {
      if (this.closePending) {
        this.closePending = false;
        this.afterClose();
      }
      this.shard.afterRead();
      return;
    }
    this.stopped = false;
    const h = this.held;
    this.held = null;
    if (h !== null) {
      const rest = this.mparser.parse(h);
      if (rest !== null && !this.closed) this.held = rest;
    }
    this.shard.afterRead();
  }

  // ---- responses, in packet order ------------------------------------------------------------

  /** Sends a response now, or after the responses still waiting for JetStream. */
  respond(b: Buffer): void {
    if (this.respHead === this.responses.length) this.queue(b);
    else this.responses.push(b);
  }

  /** A place for a response that comes later (a PUBACK/PUBREC once the store is acknowledged). */
  reserveResponse(): number {
    this.responses.push(null);
    return this.respBase + this.responses.length - 1;
  }

  fulfil(ticket: number, b: Buffer): void {
    const i = ticket - this.respBase;
    if (i < this.respHead || i >= this.responses.length) return;
    this.responses[i] = b;
    const r = this.responses;
    while (this.respHead < r.length && r[this.respHead] !== null) this.queue(r[this.respHead++]!);
    if (this.respHead === r.length) {
      this.respBase += r.length;
      r.length = 0;
      this.respHead = 0;
    } else if (this.respHead > 1024) {
      r.splice(0, this.respHead);
      this.respBase += this.respHead;
      this.respHead = 0;
    }
    if (!this.dirty && !this.closed) this.shard.markDirty(this);
  }

  // ---- NATS protocol the shard would send: none for MQTT -------------------------------------

  /** MQTT clients get no -ERR (client.go sendErr skips them). */
  override sendErr(_text: string): void {}

  override sendPing(): void {}

  /** After a config reload: authenticate again with the CONNECT credentials; new permissions. */
  override async reauthorize(): Promise<void> {
    if (this.creds === null) return;
    const auth = this.mq.authenticator();
    if (auth === null) {
      this.perms = null;
      return;
    }
    let unchecked = false;
    const ticket: BcryptTicket = { key: `${this.ip}\0reload`, deadline: Infinity, cancel: null };
    const bcrypt = (password: string, hash: string): Promise<boolean> =>
      this.shard.bcrypt(password, hash, ticket).then((v) => {
        if (v === null) unchecked = true;
        return v === true;
      });
    const who = await auth.check(this.creds, null, bcrypt);
    if (this.closed || (who === null && unchecked)) return;
    if (who === null || who.account !== this.acc.name) {
      this.close(CloseReason.AUTH_VIOLATION);
      this.shard.afterRead();
      return;
    }
    this.perms = who.permissions !== null ? new ConnPermissions(who.permissions) : null;
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /**
   * client.go processSub for an MQTT subscription: the existing one when the sid is known (its QoS is
   * updated), else a new one, checked for validity, permissions and max_subscriptions.
   */
  subscribe(subject: string, sid: string, kind: number, reserved: boolean, qos: number, jsDur: string): MqttSub {
    let sub = this.subs.get(sid) as MqttSub | undefined;
    if (sub === undefined) {
      if (!isValidSubject(subject)) throw new Error(`invalid subject "${subject}"`);
      if (this.perms !== null && !this.perms.canSubscribe(subject)) {
        this.shard.log.warn({ cid: this.cid, user: this.authUser, subject }, 'Subscription Violation');
        throw new Error(`permissions violation for subscription to "${subject}"`);
      }
      const max = this.shard.opts.maxSubscriptions;
      if (max > 0 && this.subs.size >= max) throw new Error('maximum subscriptions exceeded');
      sub = new MqttSub(this, subject, sid, kind, reserved);
      this.subs.set(sid, sub);
      this.shard.addSubscription(sub);
    }
    sub.qos = qos;
    sub.jsDur = jsDur;
    return sub;
  }

  unsubscribe(sid: string): boolean {
    const sub = this.subs.get(sid);
    if (sub === undefined) return false;
    this.removeSubscription(sub);
    return true;
  }

  // ---- delivery ------------------------------------------------------------------------------

  override writeMsg(sub: Subscription, m: MsgArgs, buf: Buffer, start: number, end: number): boolean {
    if (this.closed) return false;
    const s = sub as MqttSub;
    if (s.kind === SubKind.QOS0) return deliverQos0(this, s, m, buf, start, end);
    if (s.kind === SubKind.QOS12) return deliverQos12(this, s, m, buf, start, end);
    return deliverPubRel(this, s, m, buf, start, end);
  }

  /**
   * Appends a PUBLISH for `sub`: topic from the NATS subject subj[ss, se), payload buf[ps, pe)
   * (mqttEnqueuePublishMsgTo). Retained messages serialized for the subscription go first.
   */
  writePublish(sub: MqttSub, subj: Buffer, ss: number, se: number, buf: Buffer, ps: number, pe: number, pi: number, qos: number, dup: boolean): void {
    if (sub.prm !== null) this.flushRetained(sub);
    const tl = topicLength(subj, ss, se);
    const ml = pe - ps;
    const need = publishSize(qos, tl, ml);
    if (this.out.length - this.outPos < need) this.grow(need);
    if (this.closed) return;
    const o = this.out;
    let p = writePublishHead(o, this.outPos, qos, dup, false, tl, ml);
    p = writeTopic(subj, ss, se, o, p);
    if (qos > 0) {
      o[p++] = pi >> 8;
      o[p++] = pi & 0xff;
    }
    if (this.shard.tracing) this.traceMqtt('PUBLISH', `${o.toString('utf8', p - (qos > 0 ? 2 : 0) - tl, p - (qos > 0 ? 2 : 0))} dup=${dup} QoS=${qos} retain=false size=${ml}${qos > 0 ? ` pi=${pi}` : ''}`, '->>');
    this.outPos = copyBytes(o, p, buf, ps, pe);
    sub.delivered++;
    this.outMsgs++;
    this.outBytes += ml;
    if (!this.dirty) this.shard.markDirty(this);
  }

  /** Queues a subscription's pending retained messages (mqttSendRetainedMsgsToNewSubs). */
  flushRetained(sub: MqttSub): void {
    const prm = sub.prm;
    sub.prm = null;
    if (prm === null) return;
    for (const b of prm) {
      this.queue(b);
      this.outMsgs++;
      this.outBytes += b.length;
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  override close(reason: CloseReasonText, abort = false): void {
    if (this.closed) return;
    super.close(reason, abort);
    this.clearAuthTimer();
    this.mqttBcrypt?.cancel?.();
    this.mqttBcrypt = null;
    this.mparser.reset();
    this.held = null;
    this.responses.length = 0;
    this.respHead = 0;
    this.mq.connectionClosed(this);
    if (this.busy > 0) this.closePending = true;
    else this.afterClose();
  }

  /** mqttHandleClosedClient: session bookkeeping and the will, once no step is in progress. */
  private afterClose(): void {
    this.asm?.handleClosed(this);
    // What outlives the connection (a /connz closed record) keeps no session state.
    this.sess = null;
  }
}
