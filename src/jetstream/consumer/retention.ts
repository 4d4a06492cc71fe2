// Interest and workqueue retention: what happens to a stream message once a consumer is done with
// it (stream.go ackMsg / noInterest, and checkInterestState after a consumer goes away).

import type { ConsumerLike, StreamLike } from '../types.js';

/** Removes a message and tells every consumer of the stream (removeMsg does not fire onRemove). */
function removeAndNotify(stream: StreamLike, seq: number): void {
  if (!stream.store.removeMsg(seq)) return;
  for (const c of stream.consumers.values()) c.onRemoved(seq);
}

/**
 * stream.go ackMsg: `self` acknowledged these sequences. Workqueue streams drop them at once;
 * interest streams drop each one no other consumer still wants.
 */
export function retentionAcked(stream: StreamLike, self: ConsumerLike, seqs: readonly number[]): void {
  const retention = stream.config.retention;
  if (retention === 'limits' || seqs.length === 0) return;
  for (const seq of seqs) {
    if (retention === 'interest' && othersWant(stream, self, seq)) continue;
    removeAndNotify(stream, seq);
  }
}

function othersWant(stream: StreamLike, self: ConsumerLike | null, seq: number): boolean {
  let subject: string | null = null;
  for (const c of stream.consumers.values()) {
    if (c === self) continue;
    if (subject === null) {
      const m = stream.store.loadMsg(seq);
      if (m === null) return true; // already gone: nothing to remove
      subject = m.subject;
    }
    if (c.wants(seq, subject)) return true;
  }
  return false;
}

/**
 * A consumer of an interest stream went away (checkInterestState): messages from `fromSeq` on that
 * no remaining consumer wants are removed.
 */
export function interestCheckAfterRemoval(stream: StreamLike, fromSeq: number): void {
  if (stream.config.retention !== 'interest') return;
  const store = stream.store;
  let seq = Math.max(fromSeq, store.state().first_seq);
  for (;;) {
    const m = store.loadNextMsg('', seq);
    if (m === null) break;
    let wanted = false;
    for (const c of stream.consumers.values()) {
      if (c.wants(m.seq, m.subject)) {
        wanted = true;
        break;
      }
    }
    if (!wanted) removeAndNotify(stream, m.seq);
    seq = m.seq + 1;
  }
}
