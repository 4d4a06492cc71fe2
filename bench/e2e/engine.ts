// Runs one scenario once against one server port: forks the load-generator workers, starts them
// together, verifies delivery, and measures throughput, latency and the server's CPU time.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Scenario, SubProc } from './scenarios.js';
import { HOST, cpuSecondsBetween, cpuTicksOfTree, type Placement } from './servers.js';
import type { FromWorker, LatencySummary, ToWorker, WorkerConfig } from './types.js';

const loadgenJs = join(new URL('.', import.meta.url).pathname, 'loadgen.js');
const BATCH_BYTES = 64 * 1024;
const READY_TIMEOUT_MS = 20_000;
/** The JetStream rows' stream (tsnats and nats-server alike). */
const JS_STREAM = 'BENCH';
const JS_SUBJECTS = ['bench.js.>'];
/** js-fetch messages per run when the caller does not say. */
export const DEFAULT_FETCH_MSGS = 20_000;
/** Delivery check: fail when no subscriber made progress for this long. */
const STALL_MS = 5_000;

type Done = Extract<FromWorker, { t: 'done' }>;
type Stat = Extract<FromWorker, { t: 'stat' }>;

const liveWorkers = new Set<ChildProcess>();
export function killAllWorkers(): void {
  for (const w of liveWorkers) {
    try {
      w.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
}

class Worker {
  readonly proc: ChildProcess;
  private queues = new Map<string, FromWorker[]>();
  private waiters = new Map<string, Array<{ resolve: (m: FromWorker) => void; reject: (e: Error) => void }>>();
  private failure: Error | null = null;

  constructor(
    readonly label: string,
    cfg: WorkerConfig,
  ) {
    this.proc = fork(loadgenJs, [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    liveWorkers.add(this.proc);
    this.proc.on('message', (raw: unknown) => {
      const m = raw as FromWorker;
      if (m.t === 'fatal') {
        this.fail(new Error(`${label}: ${m.error.split('\n')[0]}`));
        return;
      }
      const w = this.waiters.get(m.t)?.shift();
      if (w !== undefined) w.resolve(m);
      else {
        const q = this.queues.get(m.t) ?? [];
        q.push(m);
        this.queues.set(m.t, q);
      }
    });
    this.proc.on('exit', (code, sig) => {
      liveWorkers.delete(this.proc);
      this.fail(new Error(`${label}: worker exited (${code ?? sig})`));
    });
    this.proc.on('error', (e) => this.fail(new Error(`${label}: ${e.message}`)));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const list of this.waiters.values()) for (const w of list.splice(0)) w.reject(this.failure);
  }

  next<T extends FromWorker['t']>(t: T, timeoutMs: number): Promise<Extract<FromWorker, { t: T }>> {
    const q = this.queues.get(t);
    if (q !== undefined && q.length > 0) return Promise.resolve(q.shift() as Extract<FromWorker, { t: T }>);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(t);
        const i = list?.indexOf(entry) ?? -1;
        if (i >= 0) list!.splice(i, 1);
        reject(new Error(`${this.label}: no '${t}' within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      const entry = {
        resolve: (m: FromWorker) => {
          clearTimeout(timer);
          resolve(m as Extract<FromWorker, { t: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const list = this.waiters.get(t) ?? [];
      list.push(entry);
      this.waiters.set(t, list);
    });
  }

  send(m: ToWorker): void {
    if (this.proc.connected) this.proc.send(m);
  }

  poll(timeoutMs = 5_000): Promise<Stat> {
    const p = this.next('stat', timeoutMs);
    this.send({ t: 'poll' });
    return p;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ t: 'exit' });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(t);
  }
}

export interface RunResult {
  ok: boolean;
  error?: string;
  /** The scenario's headline figure (see Scenario.metric). */
  msgsPerSec: number;
  /** Messages published per second (all publishers together). */
  pubMsgsPerSec: number;
  /** Fastest single publisher / subscriber rate, for the generator-headroom check. */
  perPubMsgsPerSec: number;
  perSubMsgsPerSec: number;
  sent: number;
  delivered: number;
  elapsedS: number;
  latency?: LatencySummary;
  /** CPU seconds of the server process tree (or the self-test sink/blaster) during the run. */
  serverCpuS: number;
  /** CPU seconds of all load-generator workers between "go" and the end of the run. */
  genCpuS: number;
  /** Placement rows: connections opened in all to get every worker onto its shard (workers + spares). */
  placementAttempts?: number;
}

export interface RunTarget {
  /** Port of the server under test; ignored by self-test scenarios. */
  port: number;
  /** PID whose process tree is charged as "server CPU"; undefined for self-tests (the sink is used). */
  pid?: number;
  /** tsnats with TSNATS_DEBUG_INFO=1: the publishers on shard 0, the subscribers on 0 (same) or 1 (different). */
  placement?: Placement;
  /** js-fetch: messages each run fetches and acks (the stream is filled to this many once). */
  fetchMsgs?: number;
  /** A cluster pair: subscribers connect here (node B) while publishers use `port` (node A). */
  subPort?: number;
  /** More processes charged as server CPU (node B of a pair). */
  extraPids?: number[];
  /** A cluster pair: resolves once node A knows of the subscribers' interest in `subject`. */
  waitInterest?: (subject: string) => Promise<void>;
}

function failed(error: string): RunResult {
  return { ok: false, error, msgsPerSec: 0, pubMsgsPerSec: 0, perPubMsgsPerSec: 0, perSubMsgsPerSec: 0, sent: 0, delivered: 0, elapsedS: 0, serverCpuS: 0, genCpuS: 0 };
}

export async function runOnce(sc: Scenario, target: RunTarget, durationMs: number): Promise<RunResult> {
  const workers: Worker[] = [];
  try {
    return await runInner(sc, target, durationMs, workers);
  } catch (e) {
    return failed((e as Error).message);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function runInner(sc: Scenario, target: RunTarget, durationMs: number, workers: Worker[]): Promise<RunResult> {
  const spawnW = (label: string, cfg: WorkerConfig): Worker => {
    const w = new Worker(label, cfg);
    workers.push(w);
    return w;
  };
  const host = HOST;
  let port = target.port;
  let cpuPid = target.pid;
  if (target.subPort !== undefined && sc.kind !== 'flow') throw new Error(`cluster pairs are only implemented for flow scenarios, not ${sc.kind}`);
  const subPort = target.subPort ?? port;
  // Shard placement (flow scenarios against tsnats --shards >= 2 with TSNATS_DEBUG_INFO=1).
  const pubShard = target.placement !== undefined ? 0 : undefined;
  const subShard = target.placement === 'same' ? 0 : target.placement === 'different' ? 1 : undefined;
  if (target.placement !== undefined && sc.kind !== 'flow' && sc.kind !== 'reqrep') throw new Error(`placement is only implemented for flow and request/reply scenarios, not ${sc.kind}`);

  // ---- self-test servers
  const sinks: Worker[] = [];
  if (sc.kind === 'self-pub') {
    for (let i = 0; i < sc.pubs; i++) sinks.push(spawnW(`sink${i}`, { mode: 'sink' }));
  } else if (sc.kind === 'self-sub') {
    sinks.push(spawnW('blaster', { mode: 'blaster', subject: sc.pubSubjects[0]!, size: sc.size, durationMs, batchBytes: BATCH_BYTES }));
  }
  const sinkPorts: number[] = [];
  for (const s of sinks) {
    const r = await s.next('ready', READY_TIMEOUT_MS);
    if (r.port === undefined) throw new Error('self-test sink did not report its port');
    sinkPorts.push(r.port);
  }
  if (sinks.length > 0) {
    port = sinkPorts[0]!;
    cpuPid = undefined;
  }

  // ---- receivers first (subscribers, replier), then senders
  const subs: Worker[] = [];
  let replier: Worker | null = null;
  if (sc.kind === 'flow' || sc.kind === 'self-sub') {
    sc.subs.forEach((s, i) =>
      subs.push(
        spawnW(`sub${i}`, {
          mode: 'sub',
          name: `bench-sub${i}`,
          host,
          port: sc.kind === 'flow' ? subPort : port,
          subs: [{ subject: s.subject, ...(s.queue !== undefined ? { queue: s.queue } : {}) }],
          size: sc.size,
          ...(subShard !== undefined ? { shard: subShard } : {}),
        }),
      ),
    );
  } else if (sc.kind === 'njs') {
    sc.subs.forEach((s, i) => subs.push(spawnW(`njs-sub${i}`, { mode: 'njs-sub', name: `bench-njs-sub${i}`, host, port, subject: s.subject, size: sc.size })));
  } else if (sc.kind === 'reqrep') {
    replier = spawnW('replier', { mode: 'replier', name: 'bench-replier', host, port, subject: sc.pubSubjects[0]!, size: sc.size, ...(subShard !== undefined ? { shard: subShard } : {}) });
  }
  const receivers = replier !== null ? [...subs, replier] : subs;
  const placementAttempts: number[] = [];
  const checkPlaced = (w: Worker, want: number | undefined, r: Extract<FromWorker, { t: 'ready' }>): void => {
    if (want === undefined) return;
    if (r.shard !== want) throw new Error(`${w.label}: wanted its connection on shard ${want}, got ${r.shard ?? 'unknown'}`);
    placementAttempts.push(r.attempts ?? 1);
  };
  await Promise.all(receivers.map(async (w) => checkPlaced(w, subShard, await w.next('ready', READY_TIMEOUT_MS))));
  if (target.waitInterest !== undefined) for (const s of new Set(sc.subs.map((x) => x.subject))) await target.waitInterest(s);

  const pubs: Worker[] = [];
  if (sc.kind === 'flow' || sc.kind === 'self-pub') {
    for (let i = 0; i < sc.pubs; i++) {
      const p = sc.kind === 'self-pub' ? sinkPorts[i]! : port;
      pubs.push(
        spawnW(`pub${i}`, {
          mode: 'pub',
          name: `bench-pub${i}`,
          host,
          port: p,
          subjects: sc.pubSubjectsPer?.[i] ?? sc.pubSubjects,
          size: sc.size,
          durationMs,
          batchBytes: BATCH_BYTES,
          ...(pubShard !== undefined && sc.kind === 'flow' ? { shard: pubShard } : {}),
        }),
      );
    }
  } else if (sc.kind === 'njs') {
    pubs.push(spawnW('njs-pub', { mode: 'njs-pub', name: 'bench-njs-pub', host, port, subject: sc.pubSubjects[0]!, size: sc.size, durationMs }));
  } else if (sc.kind === 'reqrep') {
    pubs.push(
      spawnW('requester', {
        mode: 'requester',
        name: 'bench-requester',
        host,
        port,
        subject: sc.pubSubjects[0]!,
        size: sc.size,
        durationMs,
        inflight: sc.inflight ?? 1,
        ...(pubShard !== undefined ? { shard: pubShard } : {}),
      }),
    );
  } else if (sc.kind === 'js-pub') {
    pubs.push(
      spawnW('js-pub', {
        mode: 'js-pub',
        name: 'bench-js-pub',
        host,
        port,
        stream: JS_STREAM,
        streamSubjects: JS_SUBJECTS,
        subject: sc.pubSubjects[0]!,
        size: sc.size,
        durationMs,
        inflight: sc.inflight ?? 1,
        msgId: sc.msgId === true,
      }),
    );
  } else if (sc.kind === 'js-fetch') {
    pubs.push(
      spawnW('js-fetch', {
        mode: 'js-fetch',
        name: 'bench-js-fetch',
        host,
        port,
        stream: JS_STREAM,
        streamSubjects: JS_SUBJECTS,
        subject: sc.pubSubjects[0]!,
        size: sc.size,
        msgs: target.fetchMsgs ?? DEFAULT_FETCH_MSGS,
        batch: 256,
      }),
    );
  }
  // Filling a stream for js-fetch takes a while on a slow machine: a longer wait for "ready".
  const readyMs = sc.kind === 'js-fetch' ? 120_000 : READY_TIMEOUT_MS;
  await Promise.all(pubs.map(async (w) => checkPlaced(w, sc.kind === 'flow' || sc.kind === 'reqrep' ? pubShard : undefined, await w.next('ready', readyMs))));

  // ---- measure
  const cpuTree = (): Map<number, number> => {
    if (cpuPid !== undefined) {
      const m = cpuTicksOfTree(cpuPid);
      for (const p of target.extraPids ?? []) for (const [k, v] of cpuTicksOfTree(p)) m.set(k, v);
      return m;
    }
    const m = new Map<number, number>();
    for (const s of sinks) for (const [k, v] of cpuTicksOfTree(s.proc.pid!)) m.set(k, v);
    return m;
  };
  const cpuBefore = cpuTree();
  const senders = sc.kind === 'self-sub' ? sinks : pubs;
  // js-fetch runs until its messages are acked, not for durationMs.
  const donePs = senders.map((w) => w.next('done', durationMs + (sc.kind === 'js-fetch' ? 300_000 : 60_000)));
  for (const w of senders) w.send({ t: 'go' });
  const dones: Done[] = await Promise.all(donePs);
  const errors: string[] = [];
  dones.forEach((d, i) => {
    if (d.error !== undefined) errors.push(`${senders[i]!.label}: ${d.error}`);
  });
  const sent = dones.reduce((a, d) => a + d.sent, 0);
  const startNs = Math.min(...dones.map((d) => d.startNs));
  let endNs = Math.max(...dones.map((d) => d.endNs));
  let genCpuUs = dones.reduce((a, d) => a + d.cpuUs, 0);
  let delivered = sent;
  let perSub = 0;
  let latency: LatencySummary | undefined;

  if (subs.length > 0) {
    const v = await verifyDelivery(sc.subs, subs, sent, dones.map((d) => d.sent));
    errors.push(...v.errors);
    delivered = v.delivered;
    if (v.lastNs > 0) endNs = v.lastNs;
    genCpuUs += v.cpuUs;
    const elapsed = (endNs - startNs) / 1e9;
    perSub = elapsed > 0 ? Math.max(...v.counts) / elapsed : 0;
  }
  if (sc.kind === 'self-pub') {
    // The final PONG already proves each sink read everything; check the byte counts anyway.
    const frameBytes = sc.pubSubjects.length === 1 ? Buffer.byteLength(`PUB ${sc.pubSubjects[0]!} ${sc.size}\r\n`) + sc.size + 2 : 0;
    for (const [i, sink] of sinks.entries()) {
      const st = await sink.poll();
      const want = dones[i]!.sent * frameBytes;
      if (st.count < want) errors.push(`${sink.label} received ${st.count} bytes, publisher sent at least ${want}`);
    }
  }
  if (sc.kind === 'reqrep') {
    const d = dones[0]!;
    latency = d.latency;
    const answered = latency?.count ?? 0;
    if (answered !== sent && d.error === undefined) errors.push(`requester: ${sent - answered} of ${sent} requests got no reply`);
    delivered = answered;
    if (replier !== null) {
      const st = await replier.poll();
      genCpuUs += st.cpuUs;
      if (st.error !== undefined) errors.push(`replier: ${st.error}`);
      if (st.count !== sent) errors.push(`replier saw ${st.count} requests, requester sent ${sent}`);
    }
  }
  if (sc.kind === 'js-pub') {
    const d = dones[0]!;
    latency = d.latency;
    const answered = latency?.count ?? 0;
    if (answered !== sent && d.error === undefined) errors.push(`js-pub: ${sent - answered} of ${sent} publishes got no pub ack`);
    if (d.stored !== undefined && d.stored !== answered && d.error === undefined) errors.push(`js-pub: the stream holds ${d.stored} messages after ${answered} acknowledged publishes`);
    delivered = answered;
  }
  const cpuAfter = cpuTree();
  const elapsedS = (endNs - startNs) / 1e9;
  const pubMsgsPerSec = elapsedS > 0 ? sent / elapsedS : 0;
  const result: RunResult = {
    ok: errors.length === 0,
    msgsPerSec: elapsedS > 0 ? delivered / elapsedS : 0,
    pubMsgsPerSec,
    perPubMsgsPerSec: sc.kind === 'self-sub' || sc.kind === 'reqrep' || sc.kind === 'js-pub' || sc.kind === 'js-fetch' ? 0 : Math.max(...dones.map((d) => (d.endNs > d.startNs ? (d.sent * 1e9) / (d.endNs - d.startNs) : 0))),
    perSubMsgsPerSec: perSub,
    sent,
    delivered,
    elapsedS,
    serverCpuS: cpuSecondsBetween(cpuBefore, cpuAfter),
    genCpuS: genCpuUs / 1e6,
    ...(latency !== undefined ? { latency } : {}),
    ...(placementAttempts.length > 0 ? { placementAttempts: placementAttempts.reduce((a, b) => a + b, 0) } : {}),
  };
  if (errors.length > 0) result.error = errors.join('; ');
  return result;
}

interface Verification {
  errors: string[];
  delivered: number;
  counts: number[];
  lastNs: number;
  cpuUs: number;
}

/**
 * Polls the subscribers until every one (or every queue group) has exactly what it must have. Fails on
 * too many messages, on a subscriber the server disconnected (slow consumer?), on errors, or when
 * nothing moved for STALL_MS.
 */
async function verifyDelivery(specs: SubProc[], subs: Worker[], sent: number, sentBy: number[]): Promise<Verification> {
  // Expected counts: per plain subscriber, and per queue group (sum of its members).
  const groups = new Map<string, { members: number[]; expect: number }>();
  specs.forEach((s, i) => {
    const key = s.queue !== undefined ? `q:${s.queue}:${s.subject}` : `s:${i}`;
    const from = s.fromPub !== undefined ? (sentBy[s.fromPub] ?? 0) : sent;
    const g = groups.get(key) ?? { members: [], expect: Math.round(from * (s.fraction ?? 1)) };
    g.members.push(i);
    groups.set(key, g);
  });
  let lastTotal = -1;
  let lastProgress = Date.now();
  for (;;) {
    const stats = await Promise.all(subs.map((w) => w.poll()));
    const counts = stats.map((s) => s.count);
    const total = counts.reduce((a, b) => a + b, 0);
    const errors: string[] = [];
    let complete = true;
    for (const [key, g] of groups) {
      const got = g.members.reduce((a, i) => a + counts[i]!, 0);
      const who = key.startsWith('q:') ? `queue group (${g.members.map((i) => subs[i]!.label).join(',')})` : subs[g.members[0]!]!.label;
      if (got > g.expect) errors.push(`${who} received ${got} messages, expected ${g.expect}: duplicates or misrouted`);
      if (got < g.expect) complete = false;
    }
    stats.forEach((s, i) => {
      const label = subs[i]!.label;
      if (s.error !== undefined) errors.push(`${label}: ${s.error}`);
      if (s.closed) errors.push(`${label}: server closed the connection after ${s.count} messages (slow consumer?)`);
    });
    const done = (): Verification => ({
      errors,
      delivered: total,
      counts,
      lastNs: Math.max(0, ...stats.map((s) => s.lastNs)),
      cpuUs: stats.reduce((a, s) => a + s.cpuUs, 0),
    });
    if (errors.length > 0) return done();
    if (complete) return done();
    if (total !== lastTotal) {
      lastTotal = total;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > STALL_MS) {
      const detail = [...groups.values()].map((g) => `${g.members.reduce((a, i) => a + counts[i]!, 0)}/${g.expect}`).join(', ');
      errors.push(`messages lost: delivery stalled for ${STALL_MS / 1000}s at ${detail} (received/expected per subscriber or group; ${sent} published)`);
      return done();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
