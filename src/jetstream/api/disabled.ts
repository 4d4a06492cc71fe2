// Accounts without JetStream on a server that has it: nats-server's API handlers answer them with
// JSNotEnabledForAccountErr (10039) in the response type of the request (jsAccountInfoRequest,
// jsStreamCreateRequest ...: `if !acc.JetStreamEnabled()`), so clients report "JetStream not enabled
// for account" instead of timing out. Direct gets and pull requests have no such answer (nats-server
// subscribes those per stream and consumer): they stay unanswered.

import { JsErr } from '../errors.js';

const PREFIX = '$JS.API.';

/** The response type for an API subject, or null when nats-server would not answer it. */
export function disabledResponseType(subject: string): string | null {
  if (!subject.startsWith(PREFIX)) return null;
  const t = subject.slice(PREFIX.length).split('.');
  if (t[0] === 'INFO') return 'io.nats.jetstream.api.v1.account_info_response';
  if (t[0] === 'STREAM') {
    if (t[1] === 'MSG') return t[2] === 'GET' || t[2] === 'DELETE' ? `io.nats.jetstream.api.v1.stream_msg_${t[2].toLowerCase()}_response` : null;
    const op = t[1]?.toLowerCase();
    return op === 'create' || op === 'update' || op === 'info' || op === 'delete' || op === 'purge' || op === 'names' || op === 'list' ? `io.nats.jetstream.api.v1.stream_${op}_response` : null;
  }
  if (t[0] === 'CONSUMER') {
    const op = t[1]?.toLowerCase();
    if (op === 'create' || op === 'durable') return 'io.nats.jetstream.api.v1.consumer_create_response';
    return op === 'info' || op === 'delete' || op === 'names' || op === 'list' ? `io.nats.jetstream.api.v1.consumer_${op}_response` : null;
  }
  return null;
}

/** The reply body for a request from an account without JetStream, or null for no reply. */
export function disabledAccountReply(subject: string): Buffer | null {
  const type = disabledResponseType(subject);
  return type === null ? null : Buffer.from(JSON.stringify({ type, error: JsErr.notEnabledForAccount() }));
}
