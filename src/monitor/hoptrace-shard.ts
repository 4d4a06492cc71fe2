// TSNATS_HOPTRACE in a shard thread (see hoptrace.ts): the ring hooks plus the shard's origins and
// outputs: a socket read (ClientConnection.onRead, also timed: parse and route of one read), a
// connection marked for output (Shard.markDirty), and the once-per-turn socket flush (Shard.flushAll).
import { ClientConnection } from '../shard/client.js';
import { Shard } from '../shard/shard.js';
import type { PeerRings } from '../shard/peer.js';
import { Origin, Output, hist, installHopTrace, nowNs, originDone, output, work, wrapMethod } from './hoptrace.js';

/**
 * Called by the shard worker before it builds its Shard. With JetStream on, the worker's peer id
 * is the highest (after the shards'; src/server/server.ts), which names the rings it produces.
 */
export function installShardHopTrace(dir: string, shardId: number, peers: PeerRings[], jetstream: boolean): void {
  const jsPeer = jetstream ? Math.max(-1, ...peers.map((p) => p.id)) : -1;
  const labels = new Map<SharedArrayBuffer, string>();
  for (const p of peers) labels.set(p.in, p.id === jsPeer ? 'jetstream→shard' : 'shard→shard');
  installHopTrace(dir, `shard ${shardId}`, labels);
  const parse = hist(`shard ${shardId}: parse + route of one socket read`);
  wrapMethod(ClientConnection.prototype, 'onRead', (orig) =>
    function (this: unknown, chunk: unknown): unknown {
      const t0 = nowNs();
      const r0 = work.ring;
      const s0 = work.socket;
      const r = orig.call(this, chunk);
      parse.add(nowNs() - t0);
      originDone(Origin.READ, t0, r0, s0);
      return r;
    },
  );
  wrapMethod(Shard.prototype, 'markDirty', (orig) =>
    function (this: unknown, conn: unknown): unknown {
      work.socket++;
      return orig.call(this, conn);
    },
  );
  wrapMethod(Shard.prototype, 'flushAll', (orig) =>
    function (this: unknown): unknown {
      const r = orig.call(this);
      output(Output.SOCKET);
      return r;
    },
  );
}
