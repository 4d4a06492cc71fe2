// A stream's `republish { src, dest, headers_only }` (nats-server's processJetStreamMsg, 2.10): once a
// message is stored, a copy goes to the transformed subject with the stream's headers appended —
// `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Last-Sequence` (the
// previous sequence on the same subject, 0 if none) and, with headers_only, `Nats-Msg-Size` and no
// payload. The original headers stay first.

import { appendHeaders } from './headers.js';
import { SubjectTransform } from './transform.js';
import { nsToRfc3339 } from './types.js';
import type { RePublishConfig } from './types.js';

export class Republisher {
  private readonly tr: SubjectTransform | null;
  readonly headersOnly: boolean;

  constructor(cfg: RePublishConfig) {
    let tr: SubjectTransform | null = null;
    try {
      tr = SubjectTransform.create(cfg.src || '>', cfg.dest || '>');
    } catch {
      tr = null; // refused by checkRepublish before a stream gets here
    }
    this.tr = tr;
    this.headersOnly = cfg.headers_only === true;
  }

  /** Where a message stored on subject is republished, or null when the source does not match. */
  target(subject: string): string | null {
    return this.tr === null ? null : this.tr.match(subject);
  }

  /** The republished message's header block. */
  headers(stream: string, subject: string, seq: number, ts: number, lastSeq: number, hdr: Buffer | null, size: number): Buffer {
    const entries: [string, string][] = [
      ['Nats-Stream', stream],
      ['Nats-Subject', subject],
      ['Nats-Sequence', String(seq)],
      ['Nats-Time-Stamp', nsToRfc3339(ts)],
      ['Nats-Last-Sequence', String(lastSeq)],
    ];
    if (this.headersOnly) entries.push(['Nats-Msg-Size', String(size)]);
    return appendHeaders(hdr, entries);
  }
}
