// Test hook (TSNATS_DEBUG_HOOKS=1 only): a full garbage collection of the calling thread's heap, so a
// memory test reads RSS after what is garbage has gone rather than whenever V8 got to it. Node
// exposes gc() only with --expose-gc; setting the flag at run time and taking `gc` from a fresh
// context gives the same function without a command-line flag.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null = null;

export function collectGarbage(): void {
  if (gc === null) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
