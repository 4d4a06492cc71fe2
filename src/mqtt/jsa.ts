// JetStream API requests of one account's MQTT state on one shard (mqtt.go mqttJSA): a request is an
// ordinary publish on `$JS.API...` (or a stream subject) with the reply subject
// `$MQTT.JSA.<node id>.<kind>.[<client id hash>.]<uid>`; the JetStream worker answers through the
// rings to the internal subscription on `$MQTT.JSA.<node id>.>`. Timeouts (4 s, mqttJSAPITimeout)
// are swept by the shard's MQTT timer, not one timer per request.

import { JSA_PREFIX, JSA_TIMEOUT_MS } from './constants.js';
import type { InternalClient } from './internal-client.js';
import { Nuid } from './hash.js';

export interface ApiError {
  code: number;
  err_code: number;
  description: string;
}

/** A JetStream API response (parsed JSON). */
export type JsResponse = Record<string, unknown> & { error?: ApiError };

export class JsaError extends Error {
  readonly apiError: ApiError | null;
  constructor(message: string, apiError: ApiError | null = null) {
    super(message);
    this.apiError = apiError;
  }
  is(errCode: number): boolean {
    return this.apiError !== null && this.apiError.err_code === errCode;
  }
}

/** JetStream err_codes the MQTT code tells apart (jetstream_errors_generated.go). */
export const ErrCode = {
  STREAM_NOT_FOUND: 10059,
  STREAM_NAME_EXIST: 10058,
  NO_MESSAGE_FOUND: 10037,
  CONSUMER_NOT_FOUND: 10014,
  SEQUENCE_NOT_FOUND: 10043,
  STREAM_MSG_DELETE_FAILED: 10057,
  STREAM_STORE_FAILED: 10077,
} as const;

interface Pending {
  done: (err: Error | null, r: JsResponse | null) => void;
  deadline: number;
  kind: string;
  subject: string;
  /** Only success or failure matters (a QoS 1/2 store): the acknowledgement is not parsed. */
  lean: boolean;
}

/** The response given for a lean request that succeeded. */
const STORED: JsResponse = Object.freeze({}) as JsResponse;
const ERROR_KEY = Buffer.from('"error"');

const JS_API = '$JS.API.';

export class JsaClient {
  readonly id: string;
  /** `$MQTT.JSA.<id>.` */
  readonly replyPrefix: string;
  readonly domain: string;
  private readonly c: InternalClient;
  private readonly nuid = new Nuid();
  private readonly pending = new Map<string, Pending>();
  private readonly kick: () => void;

  constructor(c: InternalClient, id: string, domain: string, kick: () => void) {
    this.c = c;
    this.id = id;
    this.domain = domain;
    this.replyPrefix = `${JSA_PREFIX}${id}.`;
    this.kick = kick;
  }

  /** `$JS.API.X` → `$JS.<domain>.API.X` (mqttJSA prefixDomain). */
  private prefixDomain(subject: string): string {
    if (this.domain !== '' && subject.startsWith(JS_API)) return `$JS.${this.domain}.API.${subject.slice(JS_API.length)}`;
    return subject;
  }

  newReply(kind: string, cidHash = ''): string {
    return `${this.replyPrefix}${kind}.${cidHash !== '' ? `${cidHash}.` : ''}${this.nuid.next()}`;
  }

  /** Registers a reply subject and returns the promise of its response. */
  expect(reply: string, kind: string, subject: string): Promise<JsResponse> {
    return new Promise<JsResponse>((resolve, reject) => {
      this.pending.set(reply, { done: (err, r) => (err !== null ? reject(err) : resolve(r!)), deadline: Date.now() + JSA_TIMEOUT_MS, kind, subject, lean: false });
    });
  }

  /**
   * The hot path's form (a QoS 1/2 publish's store): `done` gets null or the error, with no promise
   * and no JSON parsing of a successful acknowledgement.
   */
  expectStored(reply: string, kind: string, subject: string, done: (err: Error | null) => void): void {
    this.pending.set(reply, { done, deadline: Date.now() + JSA_TIMEOUT_MS, kind, subject, lean: true });
  }

  /** A request and its response; API errors come back inside the response (check with `check`). */
  request(kind: string, subject: string, body: Buffer | string | null, hdr: Buffer | null = null, cidHash = ''): Promise<JsResponse> {
    const subj = this.prefixDomain(subject);
    const reply = this.newReply(kind, cidHash);
    const p = this.expect(reply, kind, subj);
    if (this.c.publish(subj, reply, hdr, body) === 0) this.fail(reply, new JsaError(`no responders: request type "${kind}" on "${subj}"`));
    this.kick();
    return p;
  }

  /** A fire-and-forget publish (acks, deletes without waiting, notices). */
  send(subject: string, hdr: Buffer | null, body: Buffer | string | null): void {
    this.c.publish(this.prefixDomain(subject), null, hdr, body);
    this.kick();
  }

  sendAck(ackSubject: string): void {
    if (ackSubject === '') return;
    this.c.publish(ackSubject, null, null, null);
    this.kick();
  }

  /** A reply on `$MQTT.JSA.<id>.>`. */
  onReply(subject: string, payload: Buffer): void {
    const p = this.pending.get(subject);
    if (p === undefined) return;
    this.pending.delete(subject);
    if (p.lean && payload.indexOf(ERROR_KEY) < 0) return p.done(null, STORED);
    let v: unknown;
    try {
      v = JSON.parse(payload.toString('utf8'));
    } catch {
      v = { error: { code: 400, err_code: 10025, description: 'invalid JSON' } };
    }
    if (v === null || typeof v !== 'object') v = { error: { code: 400, err_code: 10025, description: 'invalid JSON' } };
    const r = v as JsResponse;
    if (p.lean) {
      const e = r.error;
      return p.done(e !== undefined && e !== null ? new JsaError(`${e.description} (${e.err_code})`, e) : null, STORED);
    }
    p.done(null, r);
  }

  fail(reply: string, err: Error): void {
    const p = this.pending.get(reply);
    if (p === undefined) return;
    this.pending.delete(reply);
    p.done(err, null);
  }

  /** Times out requests past their deadline (mqtt.go: "timeout after ...: request type ... on ..."). */
  sweep(now: number): void {
    for (const [reply, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(reply);
      p.done(new JsaError(`timeout after ${JSA_TIMEOUT_MS}ms: request type ${JSON.stringify(p.kind)} on ${JSON.stringify(p.subject)} (reply=${JSON.stringify(reply)})`), null);
    }
  }

  /** Every request fails (the shard is stopping). */
  failAll(why: string): void {
    const all = [...this.pending.entries()];
    this.pending.clear();
    for (const [, p] of all) p.done(new JsaError(why), null);
  }

  get inFlight(): number {
    return this.pending.size;
  }
}

/** Throws the response's API error (ApiError.Error(): "description (err_code)"). */
export function check(r: JsResponse): JsResponse {
  const e = r.error;
  if (e !== undefined && e !== null) throw new JsaError(`${e.description} (${e.err_code})`, e);
  return r;
}

