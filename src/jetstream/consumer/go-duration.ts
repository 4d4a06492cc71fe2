// Go's time.Duration String() (time/time.go), for error texts that print a duration the way
// nats-server's do: "5s", "1m30s", "1h0m0s", "1.5s", "250ms", "0s".

export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1e9) {
    // Below a second: ns, µs or ms with a fraction.
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFrac(u / div)}${unit}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = `${trimFrac(u / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trimFrac(v: number): string {
  return String(Number(v.toFixed(9)));
}
