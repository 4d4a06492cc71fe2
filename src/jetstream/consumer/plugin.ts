// The consumer plugin of the JetStream engine (types.ts ConsumerPlugin): API requests, acks,
// flow-control answers, restore after restart, and one shared timer driving every consumer's timed
// work (ack deadlines, pull request expiry, heartbeats, push interest, inactivity) — one coarse
// timer rather than timers per consumer and request, as undici's lib/util/timers.js does.

import type { AdoptedConsumer, ConsumerLike, ConsumerPlugin, EngineLike, JsInbound, StreamLike } from '../types.js';
import type { ConsumerConfig } from './config.js';
import type { ConsumerStateFile } from './state-store.js';
import { isPlainAck, parseAckBody, parseAckSubject } from './ack.js';
import { consumerApi, type ConsumerRegistry } from './api.js';
import { Consumer } from './consumer.js';
import { interestCheckAfterRemoval } from './retention.js';
import { headEquals } from '../../sublist/sublist.js';
import { parseDigits } from '../../protocol/wire.js';
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

  /** The last consumer a byte-path ack went to, and its `<stream>.<consumer>` subject bytes. */
  private ackKey = Buffer.alloc(256);
  private ackKeyLen = -1;
  private ackAcc = -1;
  private ackConsumer: Consumer | null = null;

  ackBytes(js: EngineLike, acc: number, buf: Buffer, subj: number, subjLen: number, data: number, end: number): boolean {
    if (!isPlainAck(buf, data, end)) return false;
    // `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`: six dots after the prefix.
    const from = subj + 8;
    const e = subj + subjLen;
    let d0 = -1;
    let d1 = -1;
    let d2 = -1;
    let d3 = -1;
    let d4 = -1;
    let n = 0;
    for (let i = from; i < e; i++) {
      if (buf[i] !== 46) continue;
      if (n === 0) d0 = i;
      else if (n === 1) d1 = i;
      else if (n === 2) d2 = i;
      else if (n === 3) d3 = i;
      else if (n === 4) d4 = i;
      n++;
    }
    if (n !== 6) return false;
    const dc = parseDigits(buf, d1 + 1, d2, 16);
    const sseq = parseDigits(buf, d2 + 1, d3, 16);
    const dseq = parseDigits(buf, d3 + 1, d4, 16);
    if (dc < 0 || sseq < 0 || dseq < 0) return false;
    const keyLen = d1 - from;
    let c = this.ackConsumer;
    if (c === null || c.closed || acc !== this.ackAcc || keyLen !== this.ackKeyLen || !headEquals(this.ackKey, buf, from, keyLen)) {
      // Names as the general path reads them (latin1, as the link's subject strings).
      const found = js.stream(acc, buf.toString('latin1', from, d0))?.consumers.get(buf.toString('latin1', d0 + 1, d1));
      if (!(found instanceof Consumer)) return false;
      c = found;
      if (keyLen <= this.ackKey.length) {
        buf.copy(this.ackKey, 0, from, d1);
        this.ackKeyLen = keyLen;
        this.ackAcc = acc;
        this.ackConsumer = c;
      }
    }
    c.ackPlain(dc, sseq, dseq);
    return true;
  }

  flowControl(js: EngineLike, acc: number, m: JsInbound): void {
    // $JS.FC.<stream>.<consumer>.<n>
    const t = m.subject.split('.');
    if (t.length < 5) return;
    const c = js.stream(acc, t[2]!)?.consumers.get(t[3]!);
    if (c instanceof Consumer) c.processFlowControl(m.subject);
  }

  adopt(js: EngineLike, stream: StreamLike, init: AdoptedConsumer): ConsumerLike {
    const c = new Consumer({
      js,
      stream,
      name: init.name,
      config: init.config as unknown as ConsumerConfig,
      created: init.created,
      dir: init.dir,
      state: (init.state as ConsumerStateFile | null) ?? null,
    });
    stream.consumers.set(init.name, c);
    this.register(c);
    c.signal();
    return c;
  }

  async release(c: ConsumerLike): Promise<void> {
    if (!(c instanceof Consumer)) return;
    this.consumers.delete(c);
    if (c.stream.consumers.get(c.name) === c) c.stream.consumers.delete(c.name);
    await c.stop();
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
