// Subject validation, as nats-server's sublist.go IsValidSubject / IsValidLiteralSubject.
// Tokens are separated by '.', none may be empty; '*' and '>' are wildcards only as whole tokens and
// '>' only as the last token. Whitespace never appears in a valid subject.

const DOT = 46;
const STAR = 42;
const GT = 62;

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12;
}

/** A subscription subject: wildcards allowed. */
export function isValidSubject(s: string): boolean {
  return checkSubject(s, true);
}

/** A publish subject: no wildcards (pedantic mode). */
export function isValidLiteralSubject(s: string): boolean {
  return checkSubject(s, false);
}

function checkSubject(s: string, wildcards: boolean): boolean {
  const n = s.length;
  if (n === 0) return false;
  let tokenStart = 0;
  let sawFwc = false;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : DOT;
    if (c === DOT) {
      const len = i - tokenStart;
      if (len === 0) return false;
      if (sawFwc) return false; // '>' must be the last token
      if (len === 1) {
        const t = s.charCodeAt(tokenStart);
        if (t === STAR || t === GT) {
          if (!wildcards) return false;
          if (t === GT) sawFwc = true;
        }
      }
      tokenStart = i + 1;
    } else if (isBlank(c)) {
      return false;
    }
  }
  return true;
}

/** True when the subject holds a wildcard token. */
export function hasWildcard(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c === STAR || c === GT) && (i === 0 || s.charCodeAt(i - 1) === DOT) && (i === n - 1 || s.charCodeAt(i + 1) === DOT)) {
      return true;
    }
  }
  return false;
}

/** Does literal subject `subject` match pattern `pattern` (which may hold wildcards)? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]!;
    if (pt === '>') return t.length > i;
    if (i >= t.length) return false;
    if (pt !== '*' && pt !== t[i]) return false;
  }
  return p.length === t.length;
}

/** Does pattern `e` cover pattern `s`, i.e. is every subject matching `s` matched by `e`? */
export function subjectCovers(e: string, s: string): boolean {
  const et = e.split('.');
  const st = s.split('.');
  for (let i = 0; i < et.length; i++) {
    const t = et[i]!;
    if (t === '>') return st.length > i;
    if (i >= st.length) return false;
    if (t !== '*' && t !== st[i]) return false;
    if (t === '*' && st[i] === '>') return false;
  }
  return et.length === st.length;
}
