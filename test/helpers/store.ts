// Stream store test helpers shared by the memory/file store suites.
import type { StoreLimits } from '../../src/jetstream/types.js';

/** Store limits with nothing limited (nats-server's defaults for a stream without limits). */
export const UNLIMITED: StoreLimits = {
  max_msgs: -1,
  max_bytes: -1,
  max_age: 0,
  max_msgs_per_subject: -1,
  max_msg_size: -1,
  discard: 'old',
  discard_new_per_subject: false,
};
