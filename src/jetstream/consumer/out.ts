// What a consumer sends: deliveries and the header-only status messages of consumer.go
// (processNextMsgRequest's sendErr, processWaiting's 408, nextWaiting's 409, sendIdleHeartbeat,
// sendFlowControl). Status blocks without variable parts are built once.

import type { JsHost } from '../types.js';
import { buildHeaders } from '../headers.js';

/** True while the host's outbound rings are backed up: deliveries should wait. */
export function hostCongested(host: JsHost): boolean {
  return host.congested();
}

export const Status = {
  NO_MESSAGES: buildHeaders('404 No Messages', []),
  EXCEEDED_MAX_WAITING: buildHeaders('409 Exceeded MaxWaiting', []),
  CONSUMER_DELETED: buildHeaders('409 Consumer Deleted', []),
  PUSH_BASED: buildHeaders('409 Consumer is push based', []),
  REQUESTS_PENDING: buildHeaders('408 Requests Pending', []),
  FLOW_CONTROL: buildHeaders('100 FlowControl Request', []),
} as const;

export const PENDING_MSGS_HDR = 'Nats-Pending-Messages';
export const PENDING_BYTES_HDR = 'Nats-Pending-Bytes';

/** `408 Request Timeout` with what the request still wanted. */
export function requestTimeout(n: number, b: number): Buffer {
  return buildHeaders('408 Request Timeout', [[PENDING_MSGS_HDR, String(n)], [PENDING_BYTES_HDR, String(b)]]);
}

/** `409 Message Size Exceeds MaxBytes`: the next message does not fit the request's max_bytes. */
export function maxBytesExceeded(n: number, b: number): Buffer {
  return buildHeaders('409 Message Size Exceeds MaxBytes', [[PENDING_MSGS_HDR, String(n)], [PENDING_BYTES_HDR, String(b)]]);
}

export function statusLine(text: string): Buffer {
  return buildHeaders(text, []);
}

/**
 * sendIdleHeartbeat: last delivered consumer and stream sequences, and the flow-control subject
 * the client still owes an answer to (`Nats-Consumer-Stalled`).
 */
export function idleHeartbeat(lastDseq: number, lastSseq: number, stalledFc: string | null): Buffer {
  const h: [string, string][] = [['Nats-Last-Consumer', String(lastDseq)], ['Nats-Last-Stream', String(lastSseq)]];
  if (stalledFc !== null) h.push(['Nats-Consumer-Stalled', stalledFc]);
  return buildHeaders('100 Idle Heartbeat', h);
}
