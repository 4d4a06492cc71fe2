// One micro-benchmark case: `fn` does `perIter` operations (frames, matches) per call, so that the
// timer's own cost (tinybench reads the clock around every call) stays small next to the work.
export interface MicroCase {
  /** Component: parser, sublist, ring. */
  group: string;
  name: string;
  /** Operations per call of fn. */
  perIter: number;
  /** What one operation is (for the table's unit column). */
  unit: string;
  fn: () => void;
  /** Runs after the benchmark; returns an error text when the work done was wrong (nothing counted, ...). */
  check?: () => string | null;
}

/** Keeps results alive so the JIT cannot drop the work. */
export const sink = { n: 0 };
