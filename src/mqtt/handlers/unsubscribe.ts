// UNSUBSCRIBE (mqtt.go mqttProcessUnsubs): each filter's NATS subscriptions go (and the `foo` twin of
// `foo/#`), with their JetStream consumers; the session is saved; UNSUBACK.

import { FWC_SID_SUFFIX, MSGS_STREAM } from '../constants.js';
import { needSubForLevelUp } from '../topic.js';
import { unsubAck } from '../writer.js';
import { lockSession, parseFilters, updateSubs, type Filter } from './subscribe.js';
import type { MqttConnection } from '../connection.js';

export function handleUnsubscribe(c: MqttConnection, flags: number, buf: Buffer, s: number, e: number): void {
  let parsed: { pi: number; filters: Filter[] };
  try {
    parsed = parseFilters(c, flags, buf, s, e, false);
  } catch (err) {
    return c.protocolError(err);
  }
  const { pi, filters } = parsed;
  if (c.shard.tracing) c.traceMqtt('UNSUBSCRIBE', `[${filters.map((f) => `${f.topic} (${f.filter})`).join(', ')}] pi=${pi}`);
  c.run(async () => {
    const asm = c.asm!;
    const sess = c.sess!;
    lockSession(asm, sess, c);
    try {
      const remove = (sid: string): void => {
        const cc = sess.dropConsumer(sid);
        if (cc !== null) {
          asm.deleteConsumer(sess, MSGS_STREAM, cc.durable_name ?? '', cc.max_ack_pending ?? 0);
          if (cc.deliver_subject !== undefined) c.unsubscribe(cc.deliver_subject);
        }
        c.unsubscribe(sid);
      };
      for (const f of filters) {
        remove(f.filter);
        if (needSubForLevelUp(f.filter)) remove(f.filter.slice(0, -2) + FWC_SID_SUFFIX);
      }
      if (updateSubs(sess, filters, false)) await asm.save(sess);
    } finally {
      asm.locked.delete(sess.id);
    }
    c.respond(unsubAck(pi));
  });
}
