// The subject a service import forwards to, when its subjects have wildcards (accounts.go
// addServiceImport with a transform): `{ service: { account: A, subject: "$JS.API.>" }, to: "froma.>" }`
// maps `froma.STREAM.INFO.x` to `$JS.API.STREAM.INFO.x` — each wildcard of the local subject gives
// its token(s) to the wildcard in the same place among the exported subject's wildcards.

/** A function mapping a matching local subject to the exporter's subject, or null when none is needed. */
export function importTransform(local: string, remote: string): ((subject: string) => string) | null {
  if (local === remote) return null;
  const lt = local.split('.');
  const rt = remote.split('.');
  const lw = lt.filter((t) => t === '*' || t === '>');
  const rw = rt.filter((t) => t === '*' || t === '>');
  if (rw.length === 0) return null; // a literal exported subject: every request goes there
  // Each wildcard of the export needs one of the same kind, in the same order, on the local side.
  if (rw.length > lw.length || rw.some((w, i) => w !== lw[i])) return null;
  return (subject: string): string => {
    const st = subject.split('.');
    const caught: string[] = [];
    for (let i = 0; i < lt.length && i < st.length; i++) {
      if (lt[i] === '*') caught.push(st[i]!);
      else if (lt[i] === '>') {
        caught.push(st.slice(i).join('.'));
        break;
      }
    }
    let w = 0;
    const out: string[] = [];
    for (const t of rt) out.push(t === '*' || t === '>' ? caught[w++] ?? t : t);
    return out.join('.');
  };
}
