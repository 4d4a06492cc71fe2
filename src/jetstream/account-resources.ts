// What a stream checks before it stores a message (stream.go processJetStreamMsg): the server's
// limits (js.limitsExceeded → 10023), then its account's (jsa.wouldExceedLimits → 10002, "resource
// limits exceeded for account"), counting the message itself as nats-server 2.10 does.

import { JsErr } from './errors.js';
import { hasByteLimits, wouldExceed, type LimitedStreamUsage, type TieredLimits } from './account-limits.js';
import type { ApiErrorBody, StorageType, StreamConfig } from './types.js';

/** The stream's hook (Stream.resources). */
export interface PublishLimits {
  /** null when a message of `size` bytes may be stored in a stream of this config. */
  check(cfg: StreamConfig, size: number): ApiErrorBody | null;
}

interface Server {
  limitsExceeded(storage: StorageType): boolean;
}

interface Account {
  readonly limits: TieredLimits;
  readonly streams: Map<string, { readonly config: StreamConfig; readonly store: { usedBytes(): number }; publicConsumerCount(): number }>;
}

/** Stored bytes per stream of an account, as the limits module reads them. */
export function* streamUsage(a: Account): IterableIterator<LimitedStreamUsage> {
  for (const s of a.streams.values()) {
    const c = s.config;
    yield { name: c.name, storage: c.storage, max_bytes: c.max_bytes, num_replicas: c.num_replicas, bytes: s.store.usedBytes(), consumers: s.publicConsumerCount() };
  }
}

export function accountResources(server: Server, a: Account): PublishLimits {
  // Whether any byte limit applies, worked out once per limits object (the worker sets an account's
  // limits when it starts; Object.values on every publish was ~2% of its time on async publish).
  let limitsSeen: TieredLimits | null = null;
  let limited = false;
  return {
    check(cfg: StreamConfig, size: number): ApiErrorBody | null {
      if (server.limitsExceeded(cfg.storage)) return JsErr.insufficientResources();
      if (a.limits !== limitsSeen) {
        limitsSeen = a.limits;
        limited = hasByteLimits(a.limits);
      }
      if (!limited) return null;
      // fileStoreMsgSize / memStoreMsgSize: nats-server adds its record overhead; ours is the
      // store's own accounting, so the message is counted by its bytes.
      if (wouldExceed(a.limits, streamUsage(a), cfg.storage, cfg.num_replicas, size)) return JsErr.accountResourcesExceeded();
      return null;
    },
  };
}
