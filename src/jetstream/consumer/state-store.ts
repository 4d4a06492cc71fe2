// Durable consumer persistence in the stream's directory, as nats-server keeps `obs/<consumer>/`
// (filestore.go consumerFileStore: meta.inf with the config, o.dat with the state). Ours are JSON:
//   <stream dir>/obs/<consumer>/meta.json   {created (ns), config}
//   <stream dir>/obs/<consumer>/state.json  {delivered, ack_floor, pending, redelivered}
// The state is written after changes, at most once per flush interval (and at stop), through a
// temporary file and a rename so a crash leaves the previous state whole.

import { mkdirSync, writeFileSync, renameSync, rmSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConsumerConfig } from './config.js';

export interface ConsumerMeta {
  created: number;
  config: ConsumerConfig;
}

export interface SeqPair {
  consumer_seq: number;
  stream_seq: number;
}

export interface ConsumerStateFile {
  delivered: SeqPair;
  ack_floor: SeqPair;
  /** `[sseq, dseq, ts_ms]`. */
  pending: [number, number, number][];
  /** `[sseq, deliveries]`. */
  redelivered: [number, number][];
}

export function consumerDir(streamDir: string, name: string): string {
  return join(streamDir, 'obs', name);
}

function writeAtomicSync(file: string, body: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, file);
}

export function writeMeta(dir: string, meta: ConsumerMeta): void {
  mkdirSync(dir, { recursive: true });
  writeAtomicSync(join(dir, 'meta.json'), JSON.stringify(meta));
}

export function removeConsumerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Persisted consumers of a stream directory (unreadable entries are skipped and reported). */
export function loadConsumers(streamDir: string, warn: (name: string, why: string) => void): { name: string; dir: string; meta: ConsumerMeta; state: ConsumerStateFile | null }[] {
  const obs = join(streamDir, 'obs');
  if (!existsSync(obs)) return [];
  const out: { name: string; dir: string; meta: ConsumerMeta; state: ConsumerStateFile | null }[] = [];
  for (const name of readdirSync(obs).sort()) {
    const dir = join(obs, name);
    try {
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as ConsumerMeta;
      let state: ConsumerStateFile | null = null;
      const sf = join(dir, 'state.json');
      if (existsSync(sf)) {
        try {
          state = JSON.parse(readFileSync(sf, 'utf8')) as ConsumerStateFile;
        } catch (err) {
          warn(name, `state unreadable: ${String(err)}`);
        }
      }
      out.push({ name, dir, meta, state });
    } catch (err) {
      warn(name, String(err));
    }
  }
  return out;
}

/** Coalesces state writes: `mark()` after a change, `flush()` from a timer, `flushSync()` at stop. */
export class StateWriter {
  private readonly file: string;
  private readonly snapshot: () => ConsumerStateFile;
  private dirty = false;
  private writing: Promise<void> | null = null;
  private stopped = false;

  constructor(dir: string, snapshot: () => ConsumerStateFile) {
    this.file = join(dir, 'state.json');
    this.snapshot = snapshot;
  }

  mark(): void {
    this.dirty = true;
  }

  get isDirty(): boolean {
    return this.dirty;
  }

  /** Writes the current state if it changed and no write is under way. */
  flush(): void {
    if (!this.dirty || this.writing !== null || this.stopped) return;
    this.dirty = false;
    const body = JSON.stringify(this.snapshot());
    const tmp = `${this.file}.tmp`;
    this.writing = writeFile(tmp, body)
      .then(() => rename(tmp, this.file))
      .catch(() => {
        this.dirty = true; // try again on the next flush (the directory may be going away)
      })
      .finally(() => {
        this.writing = null;
      });
  }

  /** Final write (stop): waits for a write under way, then writes synchronously. */
  async flushFinal(): Promise<void> {
    if (this.writing !== null) await this.writing;
    this.stopped = true;
    try {
      writeAtomicSync(this.file, JSON.stringify(this.snapshot()));
    } catch {
      // the stream directory was removed under us: nothing to keep
    }
    this.dirty = false;
  }

  /** Deleted: no more writes. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.writing !== null) await this.writing;
  }
}
