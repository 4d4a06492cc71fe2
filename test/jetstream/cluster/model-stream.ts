// A minimal stream that replicated stream-group entries act on, as jetstream_cluster.go
// applyStreamEntries does (sequence = lseq + 1 - clfs, skips, deletes, purges), for tests.

import { EntryNormal, EntrySnapshot, type Entry } from '../../../src/jetstream/raft/codec.js';
import { decodeMsgDelete, decodeStreamMsgEntry, decodeStreamPurge, isSkipMsg, type StreamMsg } from '../../../src/jetstream/cluster/stream-ops.js';
import { compressedStreamMsgOp, deleteMsgOp, purgeStreamOp, streamMsgOp } from '../../../src/jetstream/cluster/assignments.js';

/** A minimal stream the replicated entries act on, as jetstream_cluster.go applyStreamEntries does. */
export class ModelStream {
  msgs = new Map<number, StreamMsg>();
  last = 0;
  clfs = 0;
  apply(e: Entry): void {
    if (e.type === EntrySnapshot) return;
    if (e.type !== EntryNormal) return;
    const op = e.data[0]!;
    if (op === streamMsgOp || op === compressedStreamMsgOp) {
      const m = decodeStreamMsgEntry(e.data);
      if (m.lseq - this.clfs < this.last) return;
      if (m.lseq === 0 && this.last !== 0) return;
      const seq = m.lseq + 1 - this.clfs;
      if (isSkipMsg(m)) {
        this.last = seq;
        return;
      }
      this.msgs.set(seq, m);
      this.last = seq;
    } else if (op === deleteMsgOp) {
      this.msgs.delete(decodeMsgDelete(e.data.subarray(1)).seq);
    } else if (op === purgeStreamOp) {
      const sp = decodeStreamPurge(e.data.subarray(1));
      const filter = sp.request?.['filter'] as string | undefined;
      for (const [seq, m] of this.msgs) {
        if (seq > sp.last_seq) continue;
        if (!filter || m.subject === filter) this.msgs.delete(seq);
      }
    } else throw new Error(`unexpected stream op ${op}`);
  }
}

