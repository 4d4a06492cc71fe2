// The mirrors and sources of every stream: started when a stream is created or recovered (after all
// streams are back, so an origin recovered later is found), restarted when an update changes the
// sources, stopped when a stream goes. Stream info shows their state (`mirror`, `sources`); direct
// gets for an origin's name may be answered by its mirrors with mirror_direct (the `_sys_` queue
// group nats-server puts origin and mirrors in).

import type { Stream } from '../stream.js';
import type { StreamConfig } from '../types.js';
import { sameConfig } from '../stream-config.js';
import type { SourcingEngine } from './common.js';
import { MirrorRunner } from './mirror.js';
import { SourcesRunner } from './sources.js';

interface Runners {
  mirror: MirrorRunner | null;
  sources: SourcesRunner | null;
}

export class Sourcing {
  private readonly eng: SourcingEngine;
  private readonly runners = new Map<Stream, Runners>();

  constructor(eng: SourcingEngine) {
    this.eng = eng;
  }

  /** A stream was created or recovered: its mirror or sources start. */
  attach(s: Stream): void {
    const cfg = s.config;
    if (cfg.mirror === undefined && (cfg.sources ?? []).length === 0) return;
    if (this.runners.has(s)) return;
    const r: Runners = { mirror: null, sources: null };
    if (cfg.mirror !== undefined) {
      r.mirror = new MirrorRunner(this.eng, s);
      r.mirror.start();
    } else {
      r.sources = new SourcesRunner(this.eng, s);
      r.sources.start();
    }
    this.runners.set(s, r);
    s.sourcingInfo = () => {
      const out: Record<string, unknown> = {};
      if (r.mirror !== null) out['mirror'] = r.mirror.info();
      if (r.sources !== null) out['sources'] = r.sources.info();
      return out;
    };
  }

  /** A stream is deleted or stopping. */
  detach(s: Stream): void {
    const r = this.runners.get(s);
    if (r === undefined) return;
    this.runners.delete(s);
    r.mirror?.stop();
    r.sources?.stop();
    s.sourcingInfo = null;
  }

  /** An update changed the config (the mirror cannot change; sources may). */
  updated(s: Stream, old: StreamConfig): void {
    if (sameConfig(old.sources, s.config.sources)) return;
    this.detach(s);
    this.attach(s);
  }

  /** Mirrors of `origin` in the account that answer its direct gets (mirror_direct, caught up). */
  directMirrors(acc: number, origin: string): Stream[] {
    const out: Stream[] = [];
    for (const [s, r] of this.runners) {
      if (r.mirror !== null && r.mirror.directActive && s.acc === acc && r.mirror.si.name === origin && s.config.mirror_direct) out.push(s);
    }
    return out;
  }

  stopAll(): void {
    for (const s of [...this.runners.keys()]) this.detach(s);
  }
}
