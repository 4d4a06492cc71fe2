// TSNATS_HOPTRACE in the JetStream worker (see hoptrace.ts): the ring hooks (every inbound ring is
// shard→jetstream; a drain is the origin, a ring publish the output) plus timers around one
// publish's processing (Stream.process: checks, store, pub ack), the store append
// (StoreCore.storeMsg) and the file write inside it (FileStore.putBody).
import { Stream } from '../jetstream/stream.js';
import { StoreCore } from '../jetstream/store/core.js';
import { FileStore } from '../jetstream/store/filestore.js';
import type { PeerRings } from '../shard/peer.js';
import { installHopTrace, timeMethod } from './hoptrace.js';

/** Called by the JetStream worker before it builds its link and engine. */
export function installJsHopTrace(dir: string, peers: PeerRings[]): void {
  const labels = new Map<SharedArrayBuffer, string>();
  for (const p of peers) labels.set(p.in, 'shard→jetstream');
  installHopTrace(dir, 'jetstream', labels);
  timeMethod(Stream.prototype, 'process', 'jetstream: Stream.process of one publish (checks, store append, pub ack)');
  timeMethod(StoreCore.prototype, 'storeMsg', 'jetstream: store append of one message (StoreCore.storeMsg)');
  timeMethod(FileStore.prototype, 'putBody', 'jetstream: file store record encode + write (FileStore.putBody)');
}
