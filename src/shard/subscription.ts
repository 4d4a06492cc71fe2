import type { ClientConnection } from './client.js';

/** One SUB of one connection. Fields are all set up front (stable shape). */
export class Subscription {
  readonly conn: ClientConnection;
  readonly subject: string;
  readonly queue: string | null;
  /** The queue name as bytes, to match a peer's MSG frame that names the group. */
  readonly queueBytes: Buffer | null;
  readonly sid: string;
  /** The sid as bytes, written into every MSG line. */
  readonly sidBytes: Buffer;
  /** Auto-unsubscribe after this many deliveries (0: none). */
  max = 0;
  /** Messages delivered so far. */
  delivered = 0;
  closed = false;

  constructor(conn: ClientConnection, subject: string, queue: string | null, sid: string) {
    this.conn = conn;
    this.subject = subject;
    this.queue = queue;
    this.queueBytes = queue === null ? null : Buffer.from(queue, 'latin1');
    this.sid = sid;
    this.sidBytes = Buffer.from(sid, 'latin1');
  }
}
