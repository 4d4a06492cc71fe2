// How a thread that consumes rings (a shard, the JetStream worker) waits for frames: one loop over
// all of its inbound rings, one bell word per thread (src/ring/ring.ts), and an adaptive polling
// window before it sleeps.
//
// Why polling (issue 18, bench/README.md "The doorbell"): on the reference machine (a 2-vCPU VM
// whose guest idle governor does not poll), a thread that sleeps lets its vCPU halt, and waking it
// costs the producer an IPI (~13 µs in Atomics.notify) and the sleeper ~30 µs before it runs. A
// JetStream publish crosses two rings and a cross-shard request two more, so request/reply and
// JetStream publish spent most of their round trip in wake-ups. nats-server avoids them because
// the Go scheduler's idle threads spin (and poll the network) for a while before they park. This
// does the same in user space, as the kernel's haltpoll governor does for a guest vCPU: after the
// last frame the thread keeps turning its event loop (setImmediate, so sockets, timers and I/O are
// served as usual; the loop's epoll then does not block) for up to `pollLimit` ns, checking its
// rings each turn, and only then arms the bell and sleeps in Atomics.waitAsync.
//
// The window adapts per thread exactly as haltpoll's (drivers/cpuidle/governors/haltpoll.c
// adjust_poll_limit): `block` is the idle time from the last frame to the wake-up; a block longer
// than the window but within the maximum grows the window (×2, at least `growStart`); a block past
// the maximum (the thread was really idle) halves it. A busy pipeline never sleeps anyway; a thread
// whose frames come back after a short round trip learns to wait for them awake; an idle server
// sleeps at once and costs nothing.
//
// Contention: polling only pays while the producer has a CPU of its own. When it does not (more
// runnable threads than cores: other work on the machine, or the producer waiting for the very CPU
// the poller holds), the kernel may let the poller run out its time slice first, and each round
// trip then lasts a whole window: the frame arrives right after the window runs out and the poller
// sleeps. Several such sleeps in a row (PROMPT_MS, SUSPICIOUS_MAX) stop polling and expect() for a
// cool-down (20 ms, doubling to 2 s while it keeps happening; back to 20 ms after a poll that
// caught its frame).

import { performance } from 'node:perf_hooks';
import type { RingConsumer } from './ring.js';

/** What the waiter drives: the thread's rings and what draining them means. */
export interface RingHost {
  /**
   * Drains the inbound rings (a bounded slice of each): frames handled, or -1 when the host holds
   * draining back for now and will call kick() when it may resume (a stalled subscriber).
   */
  drainRings(): number;
  /** The current inbound consumers (a replaced peer's new ring included). */
  ringConsumers(): readonly RingConsumer[];
}

export interface PollOptions {
  /** Longest polling window in µs (0: never poll, sleep at once as before). */
  maxUs: number;
  /** How long expect() keeps the thread polling for an answer, µs (0: expect() does nothing). */
  expectUs: number;
  /** First window when it starts growing, µs. */
  growStartUs: number;
}

/** Defaults; TSNATS_RING_POLL_US_<KIND> or TSNATS_RING_POLL_US override the maximum (0 turns polling off). */
export function pollOptions(defaultMaxUs: number, defaultExpectUs: number, kind: string): PollOptions {
  const num = (v: string | undefined, d: number): number => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Math.max(0, Number(v)) : d);
  const maxUs = num(process.env[`TSNATS_RING_POLL_US_${kind}`] ?? process.env['TSNATS_RING_POLL_US'], defaultMaxUs);
  const expectUs = num(process.env[`TSNATS_RING_EXPECT_US_${kind}`] ?? process.env['TSNATS_RING_EXPECT_US'], defaultExpectUs);
  return { maxUs, expectUs, growStartUs: Math.min(maxUs, 25) };
}

/** A frame this soon (ms) after a polling window ran out suggests the polling held its producer up. */
const PROMPT_MS = 0.03;
/** That many such sleeps in a row (no successful poll between) stop polling for a while. */
const SUSPICIOUS_MAX = 3;
const COOLDOWN_MIN_MS = 20;
const COOLDOWN_MAX_MS = 2000;

/** Abandoned waits allowed to pile up before expect() rings the bell to clear them. */
const MAX_ABANDONED = 8;

export class RingWaiter {
  private readonly host: RingHost;
  private readonly bell: Int32Array;
  private readonly maxPoll: number;
  private readonly growStart: number;
  private readonly expectWindow: number;
  /** Poll at least until then (expect()), performance.now() units. */
  private expectUntil = 0;
  /** Current polling window, ms (performance.now() units). */
  private pollLimit = 0;
  /** When the last frame was handled (performance.now()). */
  private lastActive = 0;
  /** A run is queued (an immediate, or the bell's wait). */
  private queued = false;
  private sleeping = false;
  /** Atomics.waitAsync calls not yet resolved (abandoned ones resolve at the next ring of the bell). */
  private pendingWaits = 0;
  private closed = false;
  private readonly runBound = (): void => this.run();
  private readonly wokeBound = (): void => this.woke();
  /** When the current sleep began, and whether a polling window (or expect()) ran out just before. */
  private sleepStart = 0;
  private polledOut = false;
  /** The run in progress follows a wake-up (its frames were not caught by polling). */
  private justWoke = false;
  /** Consecutive sleeps that ended right after a polling window ran out (see "Contention" above). */
  private suspicious = 0;
  /** No polling before then; the next back-off lasts cooldown ms. */
  private cooldownUntil = 0;
  private cooldown = COOLDOWN_MIN_MS;

  constructor(host: RingHost, bell: SharedArrayBuffer, poll: PollOptions) {
    this.host = host;
    this.bell = new Int32Array(bell, 0, 1);
    this.maxPoll = poll.maxUs / 1000;
    this.growStart = poll.growStartUs / 1000;
    this.expectWindow = poll.expectUs / 1000;
  }

  /**
   * The host just sent something that will be answered through a ring (a request, a JetStream
   * publish, a pull): stay awake for the answer for a while instead of sleeping.
   */
  expect(): void {
    if (this.expectWindow === 0 || this.closed) return;
    const now = performance.now();
    if (now < this.cooldownUntil) return;
    this.expectUntil = now + this.expectWindow;
    if (this.sleeping && this.pendingWaits < MAX_ABANDONED) {
      // Leave the wait pending (it resolves, ignored, at the bell's next ring) rather than ring
      // our own bell: no system call. Disarmed rings are not rung, so run() must poll them.
      this.sleeping = false;
      const consumers = this.host.ringConsumers();
      for (let i = 0; i < consumers.length; i++) consumers[i]!.disarm();
      setImmediate(this.runBound);
      return;
    }
    this.kick();
  }

  /** Starts the loop (or makes a sleeping one look again: a new ring, the end of a stall). */
  kick(): void {
    if (this.closed) return;
    if (this.sleeping) {
      // Our own bell: the pending wait resolves and the next run arms the current rings.
      Atomics.store(this.bell, 0, 1);
      Atomics.notify(this.bell, 0);
      return;
    }
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.runBound);
    }
  }

  /** Stops the loop; a pending wait resolves and does nothing. */
  close(): void {
    this.closed = true;
    Atomics.store(this.bell, 0, 1);
    Atomics.notify(this.bell, 0);
  }

  /** The polling window now, µs (for tests and metrics). */
  get pollWindowUs(): number {
    return this.pollLimit * 1000;
  }

  private run(): void {
    this.queued = false;
    if (this.closed) return;
    const n = this.host.drainRings();
    if (n < 0) return; // held back; the host kicks
    if (this.queued) return; // kicked meanwhile: that run comes next
    const now = performance.now();
    if (n > 0) {
      // Caught while polling (not right after a wake): polling pays here.
      if (!this.justWoke && (this.expectUntil > 0 || this.pollLimit > 0)) {
        this.suspicious = 0;
        this.cooldown = COOLDOWN_MIN_MS;
      }
      this.lastActive = now;
      this.expectUntil = 0;
    }
    this.justWoke = false;
    const consumers = this.host.ringConsumers();
    let more = false;
    for (let i = 0; i < consumers.length; i++) if (consumers[i]!.hasData()) more = true;
    if (more || now - this.lastActive < this.pollLimit || now < this.expectUntil) {
      this.queued = true;
      setImmediate(this.runBound);
      return;
    }
    this.polledOut = this.expectUntil > 0 || (this.pollLimit > 0 && this.lastActive > 0);
    this.expectUntil = 0;
    this.sleepStart = now;
    this.sleep(consumers);
  }

  private sleep(consumers: readonly RingConsumer[]): void {
    const bell = this.bell;
    Atomics.store(bell, 0, 0);
    let ready = false;
    for (let i = 0; i < consumers.length; i++) if (consumers[i]!.arm()) ready = true;
    if (ready) {
      for (let i = 0; i < consumers.length; i++) consumers[i]!.disarm();
      this.queued = true;
      setImmediate(this.runBound);
      return;
    }
    const r = Atomics.waitAsync(bell, 0, 0);
    this.queued = true;
    this.sleeping = true;
    this.pendingWaits++;
    if (!r.async) {
      this.woke();
      return;
    }
    void r.value.then(this.wokeBound);
  }

  private woke(): void {
    this.pendingWaits--;
    if (!this.sleeping) return; // an abandoned wait (expect()): the loop already runs
    this.sleeping = false;
    const consumers = this.host.ringConsumers();
    for (let i = 0; i < consumers.length; i++) consumers[i]!.disarm();
    const now = performance.now();
    if (this.polledOut && now - this.sleepStart < PROMPT_MS) {
      if (++this.suspicious >= SUSPICIOUS_MAX) {
        this.suspicious = 0;
        this.pollLimit = 0;
        this.cooldownUntil = now + this.cooldown;
        this.cooldown = Math.min(COOLDOWN_MAX_MS, this.cooldown * 2);
      }
    }
    if (this.maxPoll > 0 && now >= this.cooldownUntil) {
      // haltpoll's adjust_poll_limit, with block = idle time from the last frame to this wake-up.
      const block = now - this.lastActive;
      if (block > this.pollLimit && block <= this.maxPoll) this.pollLimit = Math.min(this.maxPoll, Math.max(this.pollLimit * 2, this.growStart));
      else if (block > this.maxPoll) this.pollLimit = this.pollLimit / 2 < this.growStart / 4 ? 0 : this.pollLimit / 2;
    }
    this.justWoke = true;
    this.run();
  }
}
