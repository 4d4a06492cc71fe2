// Test hook (TSNATS_DEBUG_HOOKS=1 only): a full garbage collection of the calling thread's heap, so a
// memory test reads RSS after what is garbage has gone rather than whenever V8 got to it. Node
// exposes gc() only with --expose-gc; setting the flag at run time and taking `gc` from a fresh
// context gives the same function without a command-line flag.
//
// gc() frees garbage but leaves V8's heap at the size it grew to: a young generation grown to
// 2 x 16 MB per thread under a burst of connections, old-space pages with nothing live on them.
// V8 gives those back on its own (its memory reducer, some seconds after allocation goes quiet),
// but when is a heuristic of the machine (seen: never within 30 s on one CI machine). The heap
// profiler's queryObjects() starts with Heap::CollectAllAvailableGarbage, the memory-reducing GC
// that LowMemoryNotification runs (shrinks the new space, frees empty pages), so after it RSS shows
// what the thread really holds. Each call returns a one-line summary of the thread's heap for
// the test's failure message.

import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null = null;

/** A class with no instances: queryObjects only for its collection, it finds nothing. */
class NoInstances {}

export function collectGarbage(): string {
  if (gc === null) {
    v8.setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  const query = (v8 as { queryObjects?: (ctor: unknown, opts: { format: 'count' }) => number }).queryObjects;
  if (typeof query === 'function') {
    // Experimental in Node 20-24: without this, each call would print an ExperimentalWarning.
    const emit = process.emitWarning;
    process.emitWarning = () => {};
    try {
      query(NoInstances, { format: 'count' });
    } finally {
      process.emitWarning = emit;
    }
  }
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  const h = v8.getHeapStatistics();
  const spaces = v8
    .getHeapSpaceStatistics()
    .filter((s) => s.physical_space_size > 1048576)
    .map((s) => `${s.space_name.replace(/_space$/, '')} ${mb(s.physical_space_size)}`)
    .join(', ');
  return `heap after gc: physical ${mb(h.total_physical_size)} MB, used ${mb(h.used_heap_size)}, external ${mb(h.external_memory)} (${spaces})`;
}
