// JetStream API errors: `{"code","err_code","description"}` as nats-server's errors.json defines them
// (jetstream_errors_generated.go). Add entries here as the API grows; texts must match nats-server's,
// clients match on err_code and sometimes on the description.

import type { ApiErrorBody } from './types.js';

const e = (code: number, err_code: number, description: string): ApiErrorBody => ({ code, err_code, description });

export const JsErr = {
  badRequest: () => e(400, 10003, 'bad request'),
  invalidJson: (why = 'invalid JSON') => e(400, 10025, why),
  notEnabled: () => e(503, 10076, 'JetStream not enabled'),
  notEnabledForAccount: () => e(503, 10039, 'JetStream not enabled for account'),
  streamNotFound: () => e(404, 10059, 'stream not found'),
  streamNameInUse: () => e(400, 10058, 'stream name already in use with a different configuration'),
  noMessageFound: () => e(404, 10037, 'no message found'),
  consumerNotFound: () => e(404, 10014, 'consumer not found'),
  wrongLastSequence: (seq: number) => e(400, 10071, `wrong last sequence: ${seq}`),
  wrongLastMsgId: (id: string) => e(400, 10070, `wrong last msg ID: ${id}`),
  streamMismatch: () => e(400, 10060, 'expected stream does not match'),
  subjectOverlap: () => e(400, 10065, 'subjects overlap with an existing stream'),
  notEmptyRequest: () => e(400, 10038, 'expected an empty request payload'),
  streamNameMismatch: () => e(400, 10056, 'stream name in subject does not match request'),
  /** JSStreamInvalidConfigF: every checkStreamCfg / configUpdateCheck failure. */
  streamInvalidConfig: (why: string) => e(500, 10052, why),
  streamNameContainsPathSeparators: () => e(400, 10128, 'Stream name can not contain path separators'),
  replicasCountCannotBeNegative: () => e(400, 10133, 'replicas count cannot be negative'),
  streamCreate: (why: string) => e(500, 10049, why),
  streamUpdate: (why: string) => e(500, 10069, why),
  streamDelete: (why: string) => e(500, 10050, why),
  streamGeneral: (why: string) => e(500, 10051, why),
  streamSealed: () => e(400, 10109, 'invalid operation on sealed stream'),
  streamPurgeFailed: (why: string) => e(500, 10110, why),
  streamMsgDeleteFailed: (why: string) => e(500, 10057, why),
  sequenceNotFound: (seq: number) => e(400, 10043, `sequence ${seq} not found`),
  streamRollupFailed: (why: string) => e(500, 10111, why),
  /** JSStreamStoreFailedF: a store refused the message (discard new limits). */
  streamStoreFailed: (why: string) => e(503, 10077, why),
  streamMessageExceedsMaximum: () => e(400, 10054, 'message size exceeds maximum allowed'),
  streamHeaderExceedsMaximum: () => e(400, 10097, 'header size exceeds maximum allowed of 64k'),
  maximumStreamsLimit: () => e(400, 10027, 'maximum number of streams reached'),
  maximumConsumersLimit: () => e(400, 10026, 'maximum consumers limit reached'),
  insufficientResources: () => e(503, 10023, 'insufficient resources'),
  memoryResourcesExceeded: () => e(500, 10028, 'insufficient memory resources available'),
  storageResourcesExceeded: () => e(500, 10047, 'insufficient storage resources available'),
  accountResourcesExceeded: () => e(400, 10002, 'resource limits exceeded for account'),
  streamLimits: (why: string) => e(500, 10053, why),
  noLimits: () => e(400, 10120, 'no JetStream default or applicable tiered limit present'),
  streamMaxBytesRequired: () => e(400, 10113, 'account requires a stream config to have max bytes set'),
  streamMaxStreamBytesExceeded: () => e(400, 10122, 'stream max bytes exceeds account limit max stream bytes'),
  replicasNotSupported: () => e(500, 10074, 'replicas > 1 not supported in non-clustered mode'),
} as const;

/** Wraps an error as an API response body. */
export function apiError(type: string, err: ApiErrorBody): Record<string, unknown> {
  return { type, error: err };
}
