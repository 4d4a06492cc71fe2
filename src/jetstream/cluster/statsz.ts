// Server statistics in the system account, as much of events.go as clustered JetStream needs: every
// server sends `$SYS.SERVER.<id>.STATSZ` (ServerStatsMsg JSON: `server` ServerInfo, `statsz` with
// the jetstream {config, stats, meta} block) at start and then periodically, answers
// `$SYS.REQ.SERVER.PING[.STATSZ]`, and keeps what its peers send in a NodeInfo table keyed by peer id
// (events.go remoteServerUpdate → nodeToInfo). The meta leader places streams by that table, and
// nats-server transfers leadership only to a peer it has statsz for, so a tsnats node sends them in
// nats-server's JSON. A peer that says it shuts down, or falls silent, is offline.

import { peerId } from '../raft/ids.js';
import { randomToken } from '../raft/ids.js';
import type { NodeInfo } from './placement.js';
import type { SysSubs } from './sys-subs.js';
import type { JsHost, JsInbound } from '../types.js';
import { goTimeNow } from './assignments.js';

/** events.go: serverStatsSubj, shutdownEventSubj, serverStatsPingReqSubj, serverPingReqSubj. */
export const statszSubject = (id: string): string => `$SYS.SERVER.${id}.STATSZ`;
const STATSZ_ALL = '$SYS.SERVER.*.STATSZ';
const SHUTDOWN_ALL = '$SYS.SERVER.*.SHUTDOWN';
const PING = '$SYS.REQ.SERVER.PING';
const PING_STATSZ = '$SYS.REQ.SERVER.PING.STATSZ';

/** statsz every 10 s once started (events.go statsHBInterval), faster at first (cstatsz from 250 ms). */
const STATSZ_INTERVAL_MS = 10_000;
/** A peer silent this long is considered offline (events.go orphMax, shortened). */
const ORPHAN_MS = 35_000;

export interface StatszSelf {
  name: string;
  id: string;
  host: string;
  cluster: string;
  version: string;
  tags: string[];
}

export interface JetStreamStatsz {
  config: { max_memory: number; max_storage: number; store_dir: string };
  stats: { memory: number; storage: number; reserved_memory: number; reserved_storage: number; accounts: number; ha_assets: number; api: { total: number; errors: number } };
  meta?: { name: string; leader: string; peer: string; cluster_size: number };
}

interface Seen {
  serverId: string;
  seq: number;
  at: number;
}

export class Statsz {
  /** Peer id → what that server's statsz said (ourselves included). */
  readonly nodes = new Map<string, NodeInfo>();
  private readonly seen = new Map<string, Seen>();
  private readonly host: JsHost;
  private readonly subs: SysSubs;
  private readonly sysAcc: number;
  private readonly self: StatszSelf;
  private readonly js: () => JetStreamStatsz;
  private readonly started = goTimeNow();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private delay = 250;
  private readonly inbox: string;
  /** A server we had not heard of (the meta layer may have assets to place there). */
  onNewNode: (id: string) => void = () => {};

  constructor(host: JsHost, subs: SysSubs, sysAcc: number, self: StatszSelf, js: () => JetStreamStatsz) {
    this.host = host;
    this.subs = subs;
    this.sysAcc = sysAcc;
    this.self = self;
    this.js = js;
    this.inbox = `$SYS._INBOX.${peerId(self.name)}.${randomToken()}`;
  }

  start(): void {
    const onStatsz = (m: JsInbound): void => this.onStatsz(m.data);
    this.subs.subscribe(this.sysAcc, STATSZ_ALL, onStatsz);
    this.subs.subscribe(this.sysAcc, this.inbox, onStatsz);
    this.subs.subscribe(this.sysAcc, SHUTDOWN_ALL, (m) => this.onShutdown(m.subject, m.data));
    const answer = (m: JsInbound): void => {
      if (m.reply !== null) this.host.publish(this.sysAcc, m.reply, null, null, this.message());
    };
    this.subs.subscribe(this.sysAcc, PING, answer);
    this.subs.subscribe(this.sysAcc, PING_STATSZ, answer);
    this.subs.subscribe(this.sysAcc, `$SYS.REQ.SERVER.${this.self.id}.STATSZ`, answer);
    this.updateSelf();
    this.send();
    // Ask everyone once: the meta leader can place on servers that started before us at once.
    this.host.publish(this.sysAcc, PING_STATSZ, this.inbox, null, Buffer.alloc(0));
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** events.go sendShutdownEvent: peers mark us offline at once. */
  sendShutdown(): void {
    const si = this.serverInfo();
    this.host.publish(this.sysAcc, `$SYS.SERVER.${this.self.id}.SHUTDOWN`, null, null, Buffer.from(JSON.stringify(si)));
  }

  /** Sends our statsz now (after a change the meta leader should know of). */
  send(): void {
    this.updateSelf();
    this.host.publish(this.sysAcc, statszSubject(this.self.id), null, null, this.message());
  }

  isOffline(id: string): boolean {
    const ni = this.nodes.get(id);
    return ni === undefined || ni.offline;
  }

  /** The server name of a peer id, when known. */
  name(id: string): string | undefined {
    return this.nodes.get(id)?.name;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.send();
      this.sweep();
      this.delay = Math.min(STATSZ_INTERVAL_MS, this.delay * 2);
      this.schedule();
    }, this.delay);
    this.timer.unref?.();
  }

  /** events.go checkRemoteServers: a server silent too long is offline. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.seen) {
      if (now - s.at <= ORPHAN_MS) continue;
      const ni = this.nodes.get(id);
      if (ni !== undefined) ni.offline = true;
      this.seen.delete(id);
    }
  }

  private serverInfo(): Record<string, unknown> {
    const si: Record<string, unknown> = {
      name: this.self.name,
      host: this.self.host,
      id: this.self.id,
      cluster: this.self.cluster,
      ver: this.self.version,
    };
    if (this.self.tags.length > 0) si['tags'] = this.self.tags;
    si['seq'] = ++this.seq;
    si['jetstream'] = true;
    si['time'] = goTimeNow();
    return si;
  }

  /** ServerStatsMsg. */
  private message(): Buffer {
    const mem = process.memoryUsage();
    const msg = {
      server: this.serverInfo(),
      statsz: {
        start: this.started,
        mem: mem.rss,
        cores: 1,
        cpu: 0,
        connections: 0,
        total_connections: 0,
        active_accounts: 0,
        subscriptions: 0,
        sent: { msgs: 0, bytes: 0 },
        received: { msgs: 0, bytes: 0 },
        slow_consumers: 0,
        active_servers: 1 + [...this.nodes.values()].filter((n) => !n.offline && n.name !== this.self.name).length,
        jetstream: this.js(),
      },
    };
    return Buffer.from(JSON.stringify(msg));
  }

  private updateSelf(): void {
    const j = this.js();
    this.nodes.set(peerId(this.self.name), {
      name: this.self.name,
      cluster: this.self.cluster,
      tags: this.self.tags,
      offline: false,
      js: true,
      cfg: { maxMemory: j.config.max_memory, maxStore: j.config.max_storage },
      stats: { memory: j.stats.memory, store: j.stats.storage, reservedMemory: j.stats.reserved_memory, reservedStore: j.stats.reserved_storage, haAssets: j.stats.ha_assets },
    });
  }

  /** events.go remoteServerUpdate. */
  private onStatsz(data: Buffer): void {
    let ssm: { server?: Record<string, unknown>; statsz?: { jetstream?: { config?: Record<string, unknown>; stats?: Record<string, unknown> } } };
    try {
      ssm = JSON.parse(data.toString('utf8')) as typeof ssm;
    } catch {
      return;
    }
    const si = ssm.server;
    if (si === undefined || typeof si['name'] !== 'string' || typeof si['id'] !== 'string') return;
    const name = si['name'];
    if (name === this.self.name) return;
    const id = peerId(name);
    const jsb = ssm.statsz?.jetstream;
    const num = (o: Record<string, unknown> | undefined, k: string): number => (typeof o?.[k] === 'number' ? (o[k] as number) : 0);
    const isNew = !this.nodes.has(id) || this.nodes.get(id)!.offline;
    this.nodes.set(id, {
      name,
      cluster: typeof si['cluster'] === 'string' ? si['cluster'] : '',
      tags: Array.isArray(si['tags']) ? (si['tags'] as string[]) : [],
      offline: false,
      js: si['jetstream'] === true,
      cfg: jsb?.config !== undefined ? { maxMemory: num(jsb.config, 'max_memory'), maxStore: num(jsb.config, 'max_storage') } : null,
      stats:
        jsb?.stats !== undefined
          ? { memory: num(jsb.stats, 'memory'), store: num(jsb.stats, 'storage'), reservedMemory: num(jsb.stats, 'reserved_memory'), reservedStore: num(jsb.stats, 'reserved_storage'), haAssets: num(jsb.stats, 'ha_assets') }
          : null,
    });
    this.seen.set(id, { serverId: si['id'], seq: typeof si['seq'] === 'number' ? si['seq'] : 0, at: Date.now() });
    if (isNew) {
      // events.go processNewServer: announce ourselves to the newcomer.
      this.send();
      this.onNewNode(id);
    }
  }

  private onShutdown(subject: string, data: Buffer): void {
    let name = '';
    try {
      const si = JSON.parse(data.toString('utf8')) as { name?: unknown };
      if (typeof si.name === 'string') name = si.name;
    } catch {
      // fall back to the server id in the subject
    }
    const sid = subject.split('.')[2] ?? '';
    for (const [id, ni] of this.nodes) {
      if (ni.name === this.self.name) continue;
      if ((name !== '' && ni.name === name) || this.seen.get(id)?.serverId === sid) {
        ni.offline = true;
        this.seen.delete(id);
      }
    }
  }
}
