// The consumer plugin of the JetStream engine (types.ts ConsumerPlugin): API requests, acks,
// flow-control answers, restore after restart, and one shared timer driving every consumer's timed
// work (ack deadlines, pull request expiry, heartbeats, push interest, inactivity) — one coarse
// timer rather than timers per consumer and request, as undici's lib/util/timers.js does.

import type { ConsumerPlugin, EngineLike, JsInbound, StreamLike } from '../types.js';
import { parseAckBody, parseAckSubject } from './ack.js';
import { consumerApi, type ConsumerRegistry } from './api.js';
import { Consumer } from './consumer.js';
import { interestCheckAfterRemoval } from './retention.js';
import { loadConsumers } from './state-store.js';

/** Granularity of timed work (ms): request expiry, redelivery and heartbeats are this precise. */
const TICK_MS = 20;

class Plugin implements ConsumerPlugin, ConsumerRegistry {
  private readonly consumers = new Set<Consumer>();
  private timer: NodeJS.Timeout | null = null;

  register(c: Consumer): void {
    this.consumers.add(c);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref?.();
    }
  }

  async remove(c: Consumer): Promise<void> {
    this.consumers.delete(c);
    const stream = c.stream;
    if (stream.consumers.get(c.name) === c) stream.consumers.delete(c.name);
    const from = c.acks.asflr + 1;
    await c.destroy();
    interestCheckAfterRemoval(stream, from);
  }

  private tick(): void {
    const now = Date.now();
    for (const c of this.consumers) {
      if (c.closed) {
        this.consumers.delete(c);
        continue;
      }
      let keep = true;
      try {
        keep = c.tick(now);
      } catch (err) {
        c.js.log.error({ err: err instanceof Error ? err.stack : String(err) }, `JetStream consumer '${c.stream.name} > ${c.name}' timer failed`);
      }
      if (!keep) {
        c.js.log.debug?.(`JetStream consumer '${c.stream.name} > ${c.name}' deleted after inactivity`);
        void this.remove(c).then(() => c.js.advisories?.consumerAction(c.stream.acc, c.stream.name, c.name, 'delete'));
      }
    }
    if (this.consumers.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  api(js: EngineLike, acc: number, tokens: string[], m: JsInbound): void {
    consumerApi(this, js, acc, tokens, m);
  }

  ack(js: EngineLike, acc: number, m: JsInbound): void {
    const info = parseAckSubject(m.subject);
    if (info === null) return;
    const c = js.stream(acc, info.stream)?.consumers.get(info.consumer);
    if (!(c instanceof Consumer)) return;
    const body = parseAckBody(m.data);
    if (body === null) return;
    c.processAck(info, body, m.reply);
  }

  flowControl(js: EngineLike, acc: number, m: JsInbound): void {
    // $JS.FC.<stream>.<consumer>.<n>
    const t = m.subject.split('.');
    if (t.length < 5) return;
    const c = js.stream(acc, t[2]!)?.consumers.get(t[3]!);
    if (c instanceof Consumer) c.processFlowControl(m.subject);
  }

  async restore(js: EngineLike, stream: StreamLike): Promise<void> {
    if (stream.dir === null) return;
    const found = loadConsumers(stream.dir, (name, why) => js.log.warn(`JetStream consumer '${stream.name} > ${name}' not restored: ${why}`));
    for (const f of found) {
      try {
        const c = new Consumer({ js, stream, name: f.name, config: f.meta.config, created: f.meta.created, dir: f.dir, state: f.state });
        stream.consumers.set(f.name, c);
        this.register(c);
        c.signal();
      } catch (err) {
        js.log.warn(`JetStream consumer '${stream.name} > ${f.name}' not restored: ${String(err)}`);
      }
    }
  }
}

export function createConsumerPlugin(): ConsumerPlugin {
  return new Plugin();
}
