// JetStream API errors: `{"code","err_code","description"}` as nats-server's errors.json defines them
// (jetstream_errors_generated.go). Add entries here as the API grows; texts must match nats-server's,
// clients match on err_code and sometimes on the description.

import type { ApiErrorBody } from './types.js';

const e = (code: number, err_code: number, description: string): ApiErrorBody => ({ code, err_code, description });

export const JsErr = {
  badRequest: () => e(400, 10003, 'bad request'),
  invalidJson: (why = 'invalid JSON') => e(400, 10025, why),
  notEnabled: () => e(503, 10076, 'JetStream not enabled'),
  notEnabledForAccount: () => e(503, 10039, 'jetstream not enabled for account'),
  streamNotFound: () => e(404, 10059, 'stream not found'),
  streamNameInUse: () => e(400, 10058, 'stream name already in use with a different configuration'),
  noMessageFound: () => e(404, 10037, 'no message found'),
  consumerNotFound: () => e(404, 10014, 'consumer not found'),
  wrongLastSequence: (seq: number) => e(400, 10071, `wrong last sequence: ${seq}`),
  wrongLastMsgId: (id: string) => e(400, 10070, `wrong last msg ID: ${id}`),
  streamMismatch: () => e(400, 10060, 'expected stream does not match'),
  subjectOverlap: () => e(400, 10065, 'subjects overlap with an existing stream'),
} as const;

/** Wraps an error as an API response body. */
export function apiError(type: string, err: ApiErrorBody): Record<string, unknown> {
  return { type, error: err };
}
