// The leader's side of catching up one follower (raft.go catchupFollower / runCatchup /
// sendSnapshotToFollower): the follower answered an append entry with failure and a catch-up inbox; the
// leader replays its stored append entries to that inbox, from the follower's last index on, with at most
// 2 MiB outstanding, paced by the follower's success responses (which arrive on the leader's normal reply
// inbox and are fed in by the node). If the follower is behind the leader's first log entry, the leader
// first sends its snapshot as one append entry [Snapshot, PeerState] with pindex = snapshot index.
// A catch-up with no response for 2 s is abandoned (the follower asks again).

/** raft.go runCatchup maxOutstanding. */
export const MAX_CATCHUP_OUTSTANDING = 2 * 1024 * 1024;

export interface CatchupHost {
  /** The stored append entry at `index` (its encoded bytes), or null. */
  loadRaw(index: number): Buffer | null;
  send(subject: string, payload: Buffer): void;
  isLeader(): boolean;
  done(peer: string): void;
}

export class CatchupSender {
  readonly peer: string;
  private readonly subject: string;
  private readonly last: number;
  private readonly host: CatchupHost;
  private next = 0;
  private total = 0;
  private readonly outstanding = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly activityMs: number;
  private finished = false;

  constructor(host: CatchupHost, peer: string, subject: string, last: number, activityMs: number) {
    this.host = host;
    this.peer = peer;
    this.subject = subject;
    this.last = last;
    this.activityMs = activityMs;
    this.arm();
  }

  /** A success response (or the starting point): `index` is now held by the follower. */
  update(index: number): void {
    if (this.finished) return;
    if (!this.host.isLeader()) {
      this.finish();
      return;
    }
    this.arm();
    const sz = this.outstanding.get(index);
    if (sz !== undefined) {
      this.total -= sz;
      this.outstanding.delete(index);
    }
    // Responses for several entries may be coalesced: everything at or below index is acknowledged.
    for (const [i, s] of this.outstanding) {
      if (i <= index) {
        this.total -= s;
        this.outstanding.delete(i);
      }
    }
    if (this.next === 0) this.next = index;
    if (index > this.last || this.sendNext()) this.finish();
  }

  /** Sends entries while under the outstanding limit; true when everything up to `last` is sent. */
  private sendNext(): boolean {
    while (this.total <= MAX_CATCHUP_OUTSTANDING) {
      const index = this.next + 1;
      if (index > this.last) return true;
      const raw = this.host.loadRaw(index);
      if (!raw) return true;
      this.next = index;
      this.outstanding.set(index, raw.length);
      this.total += raw.length;
      this.host.send(this.subject, raw);
    }
    return false;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(), this.activityMs);
    this.timer.unref?.();
  }

  /** Stops this catch-up (done, stalled, replaced, or we lost leadership). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.host.done(this.peer);
  }

  get active(): boolean {
    return !this.finished;
  }
}
