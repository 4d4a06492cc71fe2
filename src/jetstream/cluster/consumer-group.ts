// One consumer of a replicated stream on this server (jetstream_cluster.go monitorConsumer,
// applyConsumerEntries, processConsumerLeaderChange; consumer.go updateDelivered / updateAcks). The
// leader runs the consumer (delivers, takes acks, serves pulls: the consumer plugin's Consumer) and
// proposes every delivery and ack; every member, the leader too, applies them to a replicated copy of
// the state with nats-server's semantics (consumer-ops.ts ReplicatedConsumerState), so the member that
// leads next continues from there. An R1 consumer has no group: its server runs it and keeps its state
// on disk as a single server does. The leader subscribes the consumer's ack, next and flow-control
// subjects (routes hear of them) and answers the meta leader's `$JSC.CI` info requests.

import { RaftNode, type CommittedEntry } from '../raft/node.js';
import { EntryNormal, EntrySnapshot } from '../raft/codec.js';
import { FileWal, MemoryWal } from '../raft/wal.js';
import { bootstrapGroup, readPeerStateFile } from '../raft/state-files.js';
import { updateAcksOp, type ConsumerAssignment } from './assignments.js';
import { ReplicatedConsumerState, decodeAckUpdate, encodeAckUpdate, encodeConsumerState, encodeDeliveredUpdate, type AckPolicy } from './consumer-ops.js';
import { clusterInfoOf, type ClusterInfoJson } from './cluster-info.js';
import { consumerDir, loadConsumers, type ConsumerStateFile } from '../consumer/state-store.js';
import type { ConsumerReplication } from '../consumer/consumer.js';
import type { ConsumerLike } from '../types.js';
import type { JsCluster } from './js-cluster.js';
import type { StreamGroup } from './stream-group.js';
import type { SysSub } from './sys-subs.js';

/** monitorConsumer: snapshot after this many entries, and every 2 minutes. */
const COMPACT_NUM = 8192;
const COMPACT_INTERVAL_MS = 2 * 60_000;

export class ConsumerGroup implements ConsumerReplication {
  readonly cl: JsCluster;
  readonly sg: StreamGroup;
  ca: ConsumerAssignment;
  readonly node: RaftNode | null;
  readonly state: ReplicatedConsumerState;
  private consumer: ConsumerLike | null = null;
  private leader = false;
  private recovering = true;
  private leaderSubs: (() => void)[] = [];
  private infoSub: SysSub | null = null;
  private snapTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private lastSnap: Buffer | null = null;
  private stopped = false;

  constructor(cl: JsCluster, sg: StreamGroup, ca: ConsumerAssignment) {
    this.cl = cl;
    this.sg = sg;
    this.ca = ca;
    const policy = (ca.consumer['ack_policy'] as AckPolicy | undefined) ?? 'none';
    this.state = new ReplicatedConsumerState(policy);
    if (ca.group.peers.length > 1) {
      const dir = cl.groupDir(ca.group.name);
      if (readPeerStateFile(dir) === null) bootstrapGroup(dir, ca.group.peers, true);
      this.node = new RaftNode({
        group: ca.group.name,
        dir,
        id: cl.ourId,
        wal: ca.group.store === 'memory' ? new MemoryWal() : new FileWal(dir),
        transport: cl.transport,
        timing: cl.opts.timing,
        log: cl.raftLog,
        onApply: (ce) => this.onApply(ce),
        onLeaderChange: (l) => this.onLeaderChange(l),
        isPeerOffline: (id) => cl.statsz.isOffline(id),
      });
    } else this.node = null;
  }

  get name(): string {
    return this.ca.name;
  }

  start(): void {
    this.infoSub = this.cl.subs.subscribe(this.cl.sysAcc, `$JSC.CI.${this.sg.account.name}.${this.sg.stream.name}.${this.ca.name}`, (m) => {
      if (this.leader && this.consumer !== null && m.reply !== null) this.cl.api.sendConsumerInfo(m.reply, this);
    });
    if (this.node === null) {
      this.recovering = false;
      this.onLeaderChange(true);
      return;
    }
    this.node.start();
    if (this.ca.group.preferred === this.cl.ourId && this.node.getTerm() === 0) {
      try {
        this.node.campaign();
      } catch {
        // already leader
      }
    }
    this.snapTimer = setInterval(() => this.doSnapshot(), COMPACT_INTERVAL_MS);
    this.snapTimer.unref?.();
  }

  /** `del`: the consumer was deleted (its state and group go); otherwise the server stops. */
  async stop(del: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.snapTimer !== null) clearInterval(this.snapTimer);
    if (this.readyTimer !== null) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    if (!del && this.node !== null && !this.recovering) this.doSnapshot();
    this.infoSub?.unsubscribe();
    for (const u of this.leaderSubs) u();
    this.leaderSubs = [];
    this.leader = false;
    const c = this.consumer;
    this.consumer = null;
    const plugin = this.cl.js.plugin;
    if (c !== null && plugin !== null) {
      if (del) await plugin.remove?.(c);
      else await plugin.release?.(c);
    }
    if (this.node !== null) {
      if (del) this.node.delete();
      else this.node.stop();
    }
  }

  isLeader(): boolean {
    return this.leader;
  }

  hasLeader(): boolean {
    return this.node === null || this.node.groupLeader() !== '';
  }

  isCurrent(): boolean {
    return this.node === null || this.node.current();
  }

  /** The consumer this server runs (its leader), or null. */
  running(): ConsumerLike | null {
    return this.consumer;
  }

  clusterInfo(): ClusterInfoJson {
    return clusterInfoOf(this.cl, this.node, this.ca.group.peers);
  }

  /** The same group assigned again: a config update, or a create of an existing consumer. */
  reassign(ca: ConsumerAssignment): void {
    this.ca = ca;
    const c = this.consumer as (ConsumerLike & { updateConfig?(cfg: unknown): void; cfg?: unknown }) | null;
    if (c !== null && JSON.stringify(c.cfg) !== JSON.stringify(ca.consumer)) c.updateConfig?.({ ...ca.consumer, name: ca.name });
    if (this.leader && ca.reply !== '' && !(ca as { responded?: boolean }).responded) {
      (ca as { responded?: boolean }).responded = true;
      this.cl.api.answerConsumerInfo(this.sg.account, ca.reply, this);
    }
  }

  // ---- leadership --------------------------------------------------------------------------------

  private onLeaderChange(isLeader: boolean): void {
    if (this.stopped || isLeader === this.leader) return;
    this.leader = isLeader;
    for (const u of this.leaderSubs) u();
    this.leaderSubs = [];
    if (this.readyTimer !== null) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    if (!isLeader) {
      const c = this.consumer;
      this.consumer = null;
      if (c !== null) void this.cl.js.plugin?.release?.(c);
      return;
    }
    this.waitReady();
  }

  /**
   * A new leader runs the consumer only once every entry of earlier terms is applied here (its first
   * entry, the peer state, commits them): it starts from the replicated state with every delivery and
   * ack the previous leader had replicated, not from a state a few entries behind (stream-group.ts
   * waitReady does the same for a stream's sequences).
   */
  private waitReady(): void {
    const node = this.node;
    if (node === null) {
      this.run();
      return;
    }
    const target = node.progressInfo().index;
    const check = (): void => {
      this.readyTimer = null;
      if (!this.leader || this.stopped) return;
      if (node.progressInfo().commit >= target) {
        // Committed entries are applied in a microtask: run after them.
        this.readyTimer = setTimeout(() => {
          this.readyTimer = null;
          if (this.leader && !this.stopped && this.consumer === null) this.run();
        }, 0);
        return;
      }
      this.readyTimer = setTimeout(check, 5);
    };
    check();
  }

  /** processConsumerLeaderChange: the leader runs the consumer and subscribes its subjects. */
  private run(): void {
    const plugin = this.cl.js.plugin;
    if (plugin === null || plugin.adopt === undefined) return;
    const s = this.sg.stream;
    const cfg: Record<string, unknown> = { ...this.ca.consumer, name: this.ca.name };
    let dir: string | null = null;
    let state: ConsumerStateFile | null = null;
    if (this.node === null) {
      // R1: kept on disk as on a single server (a file stream's consumer, unless it asks for memory).
      if (s.dir !== null && cfg['mem_storage'] !== true) {
        dir = consumerDir(s.dir, this.ca.name);
        state = loadConsumers(s.dir, () => {}).find((f) => f.name === this.ca.name)?.state ?? null;
      }
    } else state = this.replicatedState();
    this.consumer = plugin.adopt(this.cl.js, s, { name: this.ca.name, config: cfg, created: createdNs(this.ca.created), dir, state });
    const r = this.consumer as ConsumerLike & { replicate?: ConsumerReplication | null };
    if (this.node !== null) r.replicate = this;
    this.cl.js.log.info(`JetStream cluster new consumer leader for '${this.sg.account.name} > ${s.name} > ${this.ca.name}'`);
    const acc = this.sg.account.idx;
    const sn = s.name;
    const cn = this.ca.name;
    this.leaderSubs.push(this.cl.subscribeAnnounced(acc, `$JS.ACK.${sn}.${cn}.*.*.*.*.*`));
    if (cfg['deliver_subject'] === undefined) this.leaderSubs.push(this.cl.subscribeAnnounced(acc, `$JS.API.CONSUMER.MSG.NEXT.${sn}.${cn}`));
    else this.leaderSubs.push(this.cl.subscribeAnnounced(acc, `$JS.FC.${sn}.${cn}.*`));
    const ca = this.ca as { responded?: boolean };
    if (this.ca.reply !== '' && !ca.responded) {
      ca.responded = true;
      this.cl.api.answerConsumerInfo(this.sg.account, this.ca.reply, this);
    }
  }

  /** The replicated state as the plugin's state file (null: nothing delivered yet, start afresh). */
  private replicatedState(): ConsumerStateFile | null {
    const st = this.state.state;
    if (st.delivered.consumer === 0 && st.delivered.stream === 0 && st.ackFloor.stream === 0) return null;
    const pending: [number, number, number][] = [];
    for (const [sseq, p] of st.pending) pending.push([sseq, p.sequence, Math.floor(p.timestamp / 1e6)]);
    const redelivered: [number, number][] = [];
    for (const [sseq, n] of st.redelivered) redelivered.push([sseq, n + 1]);
    return {
      delivered: { consumer_seq: st.delivered.consumer, stream_seq: st.delivered.stream },
      ack_floor: { consumer_seq: st.ackFloor.consumer, stream_seq: st.ackFloor.stream },
      pending,
      redelivered,
    };
  }

  // ---- replication (ConsumerReplication, called by the leader's consumer) --------------------------

  delivered(dseq: number, sseq: number, dc: number, tsNs: number): void {
    if (!this.leader || this.node === null) return;
    try {
      this.node.propose(encodeDeliveredUpdate(dseq, sseq, dc, BigInt(Math.floor(tsNs))));
    } catch {
      // lost leadership meanwhile
    }
  }

  acked(dseq: number, sseq: number): void {
    if (!this.leader || this.node === null) return;
    try {
      this.node.propose(encodeAckUpdate(dseq, sseq));
    } catch {
      // lost leadership meanwhile
    }
  }

  // ---- applying ------------------------------------------------------------------------------------

  private onApply(ce: CommittedEntry | null): void {
    if (this.stopped || this.node === null) return;
    if (ce === null) {
      this.recovering = false;
      return;
    }
    if (!this.leader) (this.ca as { responded?: boolean }).responded = true;
    const wq = this.sg.stream.config.retention === 'workqueue';
    for (const e of ce.entries) {
      try {
        if (e.type === EntrySnapshot) this.state.applySnapshot(e.data);
        else if (e.type === EntryNormal) {
          this.state.apply(e.data);
          // processReplicatedAck: a work queue's replicas drop what the consumer acknowledged.
          if (wq && !this.leader && e.data[0] === updateAcksOp) {
            const { sseq } = decodeAckUpdate(e.data.subarray(1));
            if (this.state.ackPolicy !== 'all') this.sg.stream.deleteMsg(sseq);
          }
        }
      } catch (err) {
        this.cl.js.log.warn(`JetStream cluster could not apply a consumer entry of '${this.sg.stream.name} > ${this.ca.name}': ${String(err)}`);
      }
    }
    const { entries } = this.node.appliedTo(ce.index);
    if (entries >= COMPACT_NUM) this.doSnapshot();
  }

  private doSnapshot(): void {
    const node = this.node;
    if (node === null || this.recovering || this.stopped) return;
    const snap = encodeConsumerState(this.state.state);
    if (this.lastSnap !== null && snap.equals(this.lastSnap)) return;
    try {
      node.installSnapshot(snap);
      this.lastSnap = snap;
    } catch {
      // nothing applied yet, or catch-ups running
    }
  }
}

function createdNs(created: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(created);
  if (m === null) return Date.now() * 1e6;
  return Date.parse(`${m[1]}Z`) * 1e6 + Number((m[2] ?? '').padEnd(9, '0') || '0');
}
