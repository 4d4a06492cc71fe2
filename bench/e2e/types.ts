// Messages and configurations shared by the orchestrator (run.ts) and the load generator (loadgen.ts).

export interface SubSpec {
  subject: string;
  queue?: string;
}

interface Base {
  /** Connection name sent in CONNECT, shows up in server logs / connz. */
  name: string;
  host: string;
  port: number;
  /**
   * tsnats with TSNATS_DEBUG_INFO=1 only: keep opening connections (holding the ones that land
   * elsewhere, so the least-loaded choice moves on) until one lands on this shard, per the
   * `tsnats_shard` field of its INFO; then close the others.
   */
  shard?: number;
}

/** Raw-protocol publisher: writes a pre-encoded batch of PUB frames repeatedly for `durationMs`. */
export interface PubConfig extends Base {
  mode: 'pub';
  subjects: string[];
  size: number;
  durationMs: number;
  batchBytes: number;
}

/** Raw-protocol subscriber: counts MSG frames. */
export interface SubConfig extends Base {
  mode: 'sub';
  subs: SubSpec[];
  size: number;
}

/** Raw-protocol requester: keeps `inflight` requests outstanding for `durationMs`, records latencies. */
export interface RequesterConfig extends Base {
  mode: 'requester';
  subject: string;
  size: number;
  durationMs: number;
  inflight: number;
}

/** Raw-protocol replier: answers every request on `subject` with a `size`-byte payload. */
export interface ReplierConfig extends Base {
  mode: 'replier';
  subject: string;
  queue?: string;
  size: number;
}

/**
 * Raw-protocol JetStream publisher: PUB (or HPUB with a unique Nats-Msg-Id) with a reply inbox per
 * slot, `inflight` publishes outstanding, each pub ack checked (no error, no duplicate). Before
 * "ready" it creates the stream afresh; after the run it reports the stream's message count.
 */
export interface JsPubConfig extends Base {
  mode: 'js-pub';
  stream: string;
  /** Subjects of the stream (created with file storage). */
  streamSubjects: string[];
  subject: string;
  size: number;
  durationMs: number;
  inflight: number;
  msgId: boolean;
}

/**
 * Raw-protocol pull consumer: makes sure the stream holds `msgs` messages (fills it when it holds
 * fewer), creates a durable explicit-ack consumer, then on "go" fetches batches of up to `batch`
 * (never more than is left) and acks each message, until `msgs` are acked; the consumer is deleted
 * after the run.
 */
export interface JsFetchConfig extends Base {
  mode: 'js-fetch';
  stream: string;
  streamSubjects: string[];
  subject: string;
  size: number;
  msgs: number;
  batch: number;
}

/** Self-test: a node:net server that speaks just enough NATS (INFO, PONG) and discards everything. */
export interface SinkConfig {
  mode: 'sink';
}

/** Self-test: a node:net server that, on "go", blasts pre-encoded MSG frames at its one client. */
export interface BlasterConfig {
  mode: 'blaster';
  subject: string;
  size: number;
  durationMs: number;
  batchBytes: number;
}

/** The official `nats` (v2) client publishing in a loop (measures the client, not the server). */
export interface NjsPubConfig extends Base {
  mode: 'njs-pub';
  subject: string;
  size: number;
  durationMs: number;
}

/** The official `nats` (v2) client subscribing with a callback that just counts. */
export interface NjsSubConfig extends Base {
  mode: 'njs-sub';
  subject: string;
  size: number;
}

export type WorkerConfig =
  | PubConfig
  | SubConfig
  | RequesterConfig
  | ReplierConfig
  | SinkConfig
  | BlasterConfig
  | NjsPubConfig
  | NjsSubConfig
  | JsPubConfig
  | JsFetchConfig;

/** Parent -> worker. */
export type ToWorker = { t: 'go' } | { t: 'poll' } | { t: 'exit' };

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Worker -> parent. Times are CLOCK_MONOTONIC nanoseconds (comparable across processes). */
export type FromWorker =
  | {
      t: 'ready';
      port?: number;
      /** The shard the connection sits on (when the config asked for one). */
      shard?: number;
      /** Connections opened to get there (1 = the first one landed right). */
      attempts?: number;
    }
  | {
      t: 'done';
      /** Messages (or requests) sent. */
      sent: number;
      startNs: number;
      endNs: number;
      /** CPU microseconds this worker used between "go" and "done". */
      cpuUs: number;
      latency?: LatencySummary;
      error?: string;
      /** JetStream publisher: messages in the stream after the run (all acked ones must be there). */
      stored?: number;
      /** JetStream publisher: pub acks with an error or a duplicate flag. */
      badAcks?: number;
    }
  | {
      t: 'stat';
      count: number;
      badSize: number;
      firstNs: number;
      lastNs: number;
      closed: boolean;
      error?: string;
      cpuUs: number;
    }
  | { t: 'fatal'; error: string };
