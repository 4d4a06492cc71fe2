// MQTT topic names and filters <-> NATS subjects, exactly as nats-server's mqtt.go converts them
// (mqttToNATSSubjectConversion, natsSubjectToMQTTTopic, mqttNeedSubForLevelUp,
// isMQTTReservedSubscription):
//   '/' -> '.'; a leading '/' -> '/.'; a '/' before another '/' or at the end -> './';
//   '.' -> '//'; '+' -> '*' and '#' -> '>' (filters only); ' ' is refused.
// So `a/b` is `a.b`, `/a` is `/.a`, `a//b` is `a./.b`, `a.b` is `a//b`, and every MQTT topic has a
// NATS subject and back. The byte versions write into a caller's buffer: no string per message.

const SLASH = 0x2f;
const DOT = 0x2e;
const SPACE = 0x20;
const PLUS = 0x2b;
const HASH = 0x23;
const STAR = 0x2a;
const GT = 0x3e;

/** Conversion errors (nats-server's texts). */
export const TopicError = {
  SPACE: -1,
  WILDCARD: -2,
} as const;

export function topicErrorText(code: number, topic: string): string {
  return code === TopicError.SPACE ? "character ' ' not supported for MQTT topics" : `wildcards not allowed in publish's topic: ${JSON.stringify(topic)}`;
}

/**
 * Converts the MQTT topic (or filter, with `wildcards`) at src[s, e) into dst at `at`; returns the
 * end position in dst, or a negative TopicError. dst needs room for 2 * (e - s) + 1 bytes.
 */
export function topicToSubject(src: Buffer, s: number, e: number, dst: Buffer, at: number, wildcards: boolean): number {
  let p = at;
  const end = e - 1;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (c === SLASH) {
      if (i === s || dst[p - 1] === DOT) {
        dst[p++] = SLASH;
        dst[p++] = DOT;
      } else if (i === end || src[i + 1] === SLASH) {
        dst[p++] = DOT;
        dst[p++] = SLASH;
      } else dst[p++] = DOT;
    } else if (c === SPACE) return TopicError.SPACE;
    else if (c === DOT) {
      dst[p++] = SLASH;
      dst[p++] = SLASH;
    } else if (c === PLUS || c === HASH) {
      if (!wildcards) return TopicError.WILDCARD;
      dst[p++] = c === PLUS ? STAR : GT;
    } else dst[p++] = c;
  }
  if (p > at && dst[p - 1] === DOT) dst[p++] = SLASH;
  return p;
}

let scratch = Buffer.allocUnsafe(256);

/** A topic or filter as a NATS subject string (SUBSCRIBE, will, retained; not the publish path). */
export function topicToSubjectString(src: Buffer, s: number, e: number, wildcards: boolean): string | number {
  const need = 2 * (e - s) + 1;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(need);
  const p = topicToSubject(src, s, e, scratch, 0, wildcards);
  return p < 0 ? p : scratch.toString('latin1', 0, p);
}

/** Length of the MQTT topic for the NATS subject at buf[s, e) (natsSubjectToMQTTTopic). */
export function topicLength(buf: Buffer, s: number, e: number): number {
  let n = 0;
  const end = e - 1;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === SLASH) {
      if (i < end) {
        const d = buf[i + 1]!;
        if (d === DOT || d === SLASH) {
          n++;
          i++;
        }
      }
    } else n++;
  }
  return n;
}

/** Writes the MQTT topic of the NATS subject buf[s, e) at dst[at]; returns the end position. */
export function writeTopic(buf: Buffer, s: number, e: number, dst: Buffer, at: number): number {
  let p = at;
  const end = e - 1;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === SLASH) {
      if (i < end) {
        const d = buf[i + 1]!;
        if (d === DOT || d === SLASH) {
          dst[p++] = d === DOT ? SLASH : DOT;
          i++;
        }
      }
    } else if (c === DOT) dst[p++] = SLASH;
    else dst[p++] = c;
  }
  return p;
}

/** natsSubjectToMQTTTopic on strings. */
export function subjectToTopic(subject: string): string {
  const b = Buffer.from(subject, 'latin1');
  const out = Buffer.allocUnsafe(b.length);
  return out.toString('latin1', 0, writeTopic(b, 0, b.length, out, 0));
}

/** `foo.>` (more than one token, ending in `.>`): a `foo/#` subscription must also match `foo`. */
export function needSubForLevelUp(subject: string): boolean {
  const n = subject.length;
  return n >= 3 && subject.charCodeAt(n - 2) === DOT && subject.charCodeAt(n - 1) === GT;
}

/** `#`, `+` or `+/...`: must not match topics starting with `$` [MQTT-4.7.2-1]. */
export function isReservedSubscription(subject: string): boolean {
  if (subject.length === 1 && (subject === '>' || subject === '*')) return true;
  return subject.length > 1 && subject.charCodeAt(0) === STAR && subject.charCodeAt(1) === DOT;
}
