// API errors of mirrors, sources, snapshots and restores (nats-server's errors.json /
// jetstream_errors_generated.go), kept beside the code that raises them.

import type { ApiErrorBody } from '../types.js';

const e = (code: number, err_code: number, description: string): ApiErrorBody => ({ code, err_code, description });

export const SourceErr = {
  mirrorConsumerSetupFailed: (why: string) => e(500, 10029, why),
  mirrorInvalidStreamName: () => e(400, 10142, 'mirrored stream name is invalid'),
  mirrorInvalidSubjectFilter: () => e(400, 10151, 'mirror subject filter is invalid'),
  mirrorMaxMessageSizeTooBig: () => e(400, 10030, 'stream mirror must have max message size >= source'),
  mirrorMultipleFiltersNotAllowed: () => e(400, 10150, 'mirror with multiple subject transforms cannot also have a single subject filter'),
  mirrorOverlappingSubjectFilters: () => e(400, 10152, 'mirror subject filters can not overlap'),
  mirrorWithFirstSeq: () => e(400, 10143, 'stream mirrors can not have first sequence configured'),
  mirrorWithSources: () => e(400, 10031, 'stream mirrors can not also contain other sources'),
  mirrorWithSubjects: () => e(400, 10034, 'stream mirrors can not contain subjects'),
  sourceConsumerSetupFailed: (why: string) => e(500, 10045, why),
  sourceDuplicateDetected: () => e(400, 10140, 'duplicate source configuration detected'),
  sourceInvalidStreamName: () => e(400, 10141, 'sourced stream name is invalid'),
  sourceInvalidSubjectFilter: () => e(400, 10145, 'source subject filter is invalid'),
  sourceInvalidTransformDestination: () => e(400, 10146, 'source transform destination is invalid'),
  sourceMaxMessageSizeTooBig: () => e(400, 10046, 'stream source must have max message size >= target'),
  sourceMultipleFiltersNotAllowed: () => e(400, 10144, 'source with multiple subject transforms cannot also have a single subject filter'),
  sourceOverlappingSubjectFilters: () => e(400, 10147, 'source filters can not overlap'),
  externalApiOverlap: (prefix: string, subject: string) => e(400, 10021, `stream external api prefix ${prefix} must not overlap with ${subject}`),
  externalDelPrefixOverlaps: (prefix: string, subject: string) => e(400, 10022, `stream external delivery prefix ${prefix} overlaps with stream subject ${subject}`),
  invalidExternalDeliverySubject: (prefix: string) => e(400, 10024, `stream external delivery prefix ${prefix} must not contain wildcards`),
  mirrorNotUpdatable: () => e(400, 10055, 'stream mirror configuration can not be updated'),
  snapshotDeliverSubjectInvalid: () => e(400, 10015, 'deliver subject not valid'),
  streamSnapshot: (why: string) => e(500, 10064, `snapshot failed: ${why}`),
  streamRestore: (why: string) => e(500, 10062, `restore failed: ${why}`),
  streamNameExistRestoreFailed: () => e(400, 10130, 'stream name already in use, cannot restore'),
  tempStorageFailed: () => e(500, 10072, 'JetStream unable to open temp storage for restore'),
  consumerDirectRequiresEphemeral: () => e(400, 10091, 'consumer direct requires an ephemeral consumer'),
  consumerDirectRequiresPush: () => e(400, 10090, 'consumer direct requires a push based consumer'),
} as const;
