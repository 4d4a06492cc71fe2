// The server's JetStream resource limits (`jetstream { max_mem_store, max_file_store }`) on a single
// server, as nats-server's jetStream keeps them (jetstream.go):
//   - usage (js.memUsed / js.storeUsed): the bytes every stream of that storage type holds, all
//     accounts together;
//   - reservations (js.memReserved / js.storeReserved, reserveStreamResources): the max_bytes of the
//     streams that set one;
//   - stream create/update: checkBytesLimits with checkServer — the reservation plus this stream's
//     max_bytes (1 when unlimited; on update only the growth) must fit, else
//     JSMemoryResourcesExceededErr / JSStorageResourcesExceededErr;
//   - publish: limitsExceeded (wouldExceedLimits(stype, 0)) — once usage is past the limit, the
//     next message is refused with JSInsufficientResourcesErr (stream.go processJetStreamMsg).
// -1 means unlimited here (nats-server sizes an unset limit from the machine instead).
// Accounts have no JetStream limits of their own (nats-server's dynamicJSAccountLimits, all -1), so
// the account-level half of checkBytesLimits / jsa.wouldExceedLimits never refuses.

import { JsErr } from './errors.js';
import type { Logger } from '../log.js';
import type { ApiErrorBody, StorageType, StreamConfig } from './types.js';

/** What the accounting reads from a stream. */
export interface ResourceStream {
  readonly config: StreamConfig;
  readonly store: { usedBytes(): number };
}

/** nats-server's resourcesExceededError: at most one log line per 10 s. */
const EXCEEDED_LOG_INTERVAL_MS = 10_000;

export class ServerResources {
  readonly maxMemory: number;
  readonly maxStore: number;
  private readonly streams: () => Iterable<ResourceStream>;
  private readonly log: Logger;
  private lastExceededLog = 0;

  constructor(maxMemory: number, maxStore: number, streams: () => Iterable<ResourceStream>, log: Logger) {
    this.maxMemory = maxMemory;
    this.maxStore = maxStore;
    this.streams = streams;
    this.log = log;
  }

  max(storage: StorageType): number {
    return storage === 'memory' ? this.maxMemory : this.maxStore;
  }

  /** js.memUsed / js.storeUsed. */
  used(storage: StorageType): number {
    let n = 0;
    for (const s of this.streams()) if (s.config.storage === storage) n += s.store.usedBytes();
    return n;
  }

  /** js.memReserved / js.storeReserved: max_bytes of the streams that set one. */
  reserved(storage: StorageType): number {
    return reservedBytes(this.streams(), storage);
  }

  /** js.limitsExceeded(stype): usage is already past the limit (checked before each store). */
  limitsExceeded(storage: StorageType): boolean {
    const max = this.max(storage);
    if (max < 0 || this.used(storage) <= max) return false;
    const now = Date.now();
    if (now - this.lastExceededLog > EXCEEDED_LOG_INTERVAL_MS) {
      this.lastExceededLog = now;
      this.log.error('JetStream resource limits exceeded for server');
    }
    return true;
  }

  /**
   * The server half of checkBytesLimits for a stream create (old null) or update: the bytes to add
   * are max_bytes (1 when unlimited) on create, the growth of max_bytes (never negative) on update
   * (stream.go configUpdateCheck's maxBytesDiff).
   */
  checkStream(cfg: StreamConfig, old: StreamConfig | null): ApiErrorBody | null {
    const max = this.max(cfg.storage);
    if (max < 0) return null;
    let add: number;
    if (old === null) add = cfg.max_bytes < 0 ? 1 : cfg.max_bytes;
    else add = Math.max(Math.max(cfg.max_bytes, 0) - Math.max(old.max_bytes, 0), 0);
    if (this.reserved(cfg.storage) + add <= max) return null;
    return cfg.storage === 'memory' ? JsErr.memoryResourcesExceeded() : JsErr.storageResourcesExceeded();
  }
}

/** Sum of max_bytes > 0 per storage type (jsAccount.reservedStorage, for one account or all). */
export function reservedBytes(streams: Iterable<ResourceStream>, storage: StorageType): number {
  let n = 0;
  for (const s of streams) if (s.config.storage === storage && s.config.max_bytes > 0) n += s.config.max_bytes;
  return n;
}
