// Connections as /connz shows them, from a small plain record: what a shard keeps of a closed
// connection (never the connection with its buffers and parser), and the server-wide ring of the
// last 10,000 closed ones (server.go saveClosedClient, ring.go closedRingBuffer). Shards send their
// closed connections' records to the main thread in batches; the main thread alone keeps them, so
// the cap is the server's, whatever the number of shards. A kept record is its JSON text: one
// string of ~300 bytes instead of a dozen objects of ~1.3 KB, and nearly nothing for the main
// thread's garbage collector to trace (10,000 of them as objects made its young generation grow).

import { goDuration, natsUptime, type ConnInfo, type ConnzQuery, type SubDetail } from './types.js';

/** nats-server's DEFAULT_MAX_CLOSED_CLIENTS. */
export const CLOSED_KEEP = 10_000;

/** What /connz needs of a connection, as plain data (structured-clone safe). */
export interface ConnRecord {
  cid: number;
  kind: ConnInfo['kind'];
  type: ConnInfo['type'];
  ip: string;
  port: number;
  /** ms since the epoch. */
  start: number;
  lastIn: number;
  /** ms since the epoch; 0 while open. */
  stop: number;
  reason: string;
  /** ms. */
  rtt: number;
  pendingBytes: number;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  numSubs: number;
  name: string;
  /** MQTT client id ('' for NATS clients). */
  mqttClient: string;
  lang: string;
  version: string;
  user: string;
  account: string;
  /** Kept for closed connections (nats-server keeps them too, shown only when asked for). */
  subs: SubDetail[];
}

/** monitor.go ConnInfo for a record, `now` being the time of the request (ms). */
export function connInfoOf(r: ConnRecord, now: number, q: ConnzQuery): ConnInfo {
  const end = r.stop > 0 ? r.stop : now;
  const info: ConnInfo = {
    cid: r.cid,
    kind: r.kind,
    type: r.type,
    ip: r.ip,
    port: r.port,
    start: new Date(r.start).toISOString(),
    last_activity: new Date(r.lastIn).toISOString(),
    rtt: goDuration(r.rtt),
    uptime: natsUptime(end - r.start),
    idle: natsUptime(end - r.lastIn),
    pending_bytes: r.stop > 0 ? 0 : r.pendingBytes,
    in_msgs: r.inMsgs,
    out_msgs: r.outMsgs,
    in_bytes: r.inBytes,
    out_bytes: r.outBytes,
    subscriptions: r.numSubs,
    _start: r.start,
    _last: r.lastIn,
    _stop: r.stop,
  };
  if (r.stop > 0) {
    info.stop = new Date(r.stop).toISOString();
    info.reason = r.reason;
  }
  if (r.name) info.name = r.name;
  if (r.mqttClient) info.mqtt_client = r.mqttClient;
  if (r.lang) info.lang = r.lang;
  if (r.version) info.version = r.version;
  if (q.auth) {
    if (r.user) info.authorized_user = r.user;
    info.account = r.account;
  }
  if (q.subs !== 'none') {
    if (q.subs === 'detail') info.subscriptions_list_detail = r.subs;
    else info.subscriptions_list = r.subs.map((s) => s.subject);
  }
  return info;
}

/** The server's last `max` closed connections, oldest first (ring.go closedRingBuffer). */
export class ClosedRing {
  /** JSON of ConnRecords. */
  private readonly conns: (string | undefined)[];
  /** Closed connections ever added. */
  total = 0;

  constructor(max = CLOSED_KEEP) {
    this.conns = new Array<string | undefined>(max);
  }

  /** Records as JSON (ClosedOutbox batches). */
  add(records: readonly string[]): void {
    const cap = this.conns.length;
    for (const r of records) this.conns[this.total++ % cap] = r;
  }

  get size(): number {
    return Math.min(this.total, this.conns.length);
  }

  /** Oldest first. */
  *records(): IterableIterator<ConnRecord> {
    const cap = this.conns.length;
    const n = this.size;
    const first = this.total <= cap ? 0 : this.total % cap;
    for (let i = 0; i < n; i++) yield JSON.parse(this.conns[(first + i) % cap]!) as ConnRecord;
  }

  /** /connz entries for the closed connections a query selects. */
  infos(q: ConnzQuery, now = Date.now()): ConnInfo[] {
    const out: ConnInfo[] = [];
    for (const r of this.records()) if (q.cid === 0 || r.cid === q.cid) out.push(connInfoOf(r, now, q));
    return out;
  }
}
