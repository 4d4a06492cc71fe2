// The view of one message that delivery needs: where its subject and reply are, its header length.
// The parser (a PUB from a client) and RingMsg (a MSG frame from a peer) both provide it, so one
// delivery path serves both without copying the message into an object.

export interface MsgArgs {
  paBuf: Buffer;
  paSubjectStart: number;
  paSubjectEnd: number;
  /** -1 when there is no reply subject. */
  paReplyStart: number;
  paReplyEnd: number;
  /** Header length, or -1 when the message has no headers. */
  paHdr: number;
  paSize: number;
}

/** A MSG frame read from a ring, reused for every frame (fields set before each delivery). */
export class RingMsg implements MsgArgs {
  paBuf: Buffer = Buffer.alloc(0);
  paSubjectStart = 0;
  paSubjectEnd = 0;
  paReplyStart = -1;
  paReplyEnd = -1;
  paHdr = -1;
  paSize = 0;
}
