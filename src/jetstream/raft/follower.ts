// The follower's side of append entries (raft.go processAppendEntry, createCatchup, catchupStalled, the
// snapshot install of a catch-up): matching the leader's log, storing and acknowledging entries only once
// they are on disk, asking to be caught up and following the catch-up stream.

import {
  type AppendEntry,
  type PeerState,
  EntryAddPeer,
  EntryLeaderTransfer,
  EntryPeerState,
  EntrySnapshot,
  decodeAppendEntry,
  decodePeerState,
  encodeAppendEntryResponse,
  encodePeerState,
} from './codec.js';
import { ID_LEN, newCatchupInbox } from './ids.js';
import type { RaftSubscription } from './transport.js';
import { RaftCore } from './core.js';
import { Follower, Leader, Candidate, Closed, type FollowerCatchup } from './types.js';

export abstract class RaftFollower extends RaftCore {

  // ---- append entries: follower side ----

  protected handleAppendEntry(msg: Buffer, reply: string, isNew: boolean, via: FollowerCatchup | null): void {
    if (this.state === Closed) return;
    // The transport's buffer is ours only for this call: keep a copy (raft.go copyBytes).
    const buf = Buffer.from(msg);
    let ae: AppendEntry;
    try {
      ae = decodeAppendEntry(buf);
    } catch {
      this.log.warn(`RAFT [${this.id} - ${this.group}] AppendEntry failed: corrupt entry`);
      return;
    }
    this.processAppendEntry(ae, buf, reply, isNew, via);
  }

  protected respond(reply: string, term: number, index: number, success: boolean, inbox = ''): void {
    if (reply === '') return;
    this.transport.send(reply, inbox, encodeAppendEntryResponse({ term, index, peer: this.id, success }));
  }

  protected processAppendEntry(ae: AppendEntry, raw: Buffer, reply: string, isNew: boolean, via: FollowerCatchup | null): void {
    if (!this.lxfer) this.resetElectionTimeout();
    if (this.werr) return;

    if (this.state === Leader) {
      if (ae.term >= this.term && isNew) {
        if (ae.term > this.term) {
          this.term = ae.term;
          this.vote = '';
        }
        this.log.debug(`RAFT [${this.id} - ${this.group}] Received append entry from another leader, stepping down to ${ae.leader}`);
        this.switchToFollower(ae.leader);
      } else if (isNew) {
        this.respond(reply, this.term, this.pindex, false);
      }
      return;
    }
    if (this.state === Candidate && isNew && ae.term >= this.term) {
      if (ae.term > this.term) this.vote = '';
      this.term = ae.term;
      this.switchToFollower(ae.leader);
    }

    if (isNew && ae.leader !== '') {
      const ps = this.peers.get(ae.leader);
      if (ps) ps.ts = Date.now();
      else this.peers.set(ae.leader, { ts: Date.now(), li: 0, kp: true });
    }
    if (isNew && ae.term < this.term) {
      this.respond(reply, this.term, this.pindex, false);
      return;
    }
    // Entries from an abandoned catch-up are ignored.
    if (!isNew && via !== this.catchup) return;

    if (this.catchup) {
      const cs = this.catchup;
      if (this.pterm >= cs.cterm && this.pindex >= cs.cindex) {
        this.cancelCatchup();
      } else if (isNew) {
        // New entries wait while we catch up; re-ask if the catch-up stalled.
        if (this.catchupStalled()) {
          this.log.debug(`RAFT [${this.id} - ${this.group}] Catchup may be stalled, will request again`);
          const inbox = this.createCatchup(ae);
          this.respond(reply, this.pterm, this.pindex, false, inbox);
        }
        return;
      }
    }
    const catchingUp = this.catchup !== null;

    if (isNew && ae.term > this.term) {
      this.term = ae.term;
      this.vote = '';
      this.writeTermVote();
    }
    if (isNew && this.leader !== ae.leader && this.state === Follower) {
      this.updateLeader(ae.leader);
      this.writeTermVote();
      this.resetElectionTimeout();
    }

    if (ae.pindex !== this.pindex || ae.pterm !== this.pterm) {
      if (ae.pindex < this.pindex || (ae.pindex === this.pindex && ae.pterm !== this.pterm)) {
        // Our log runs past the leader's previous entry or disagrees at it.
        const ours = ae.pindex === this.pindex ? this.pterm : this.termAt(ae.pindex);
        if (ours === ae.pterm && ae.pindex >= this.commit) {
          // Same history up to ae.pindex: what follows it here is not the leader's; drop it.
          this.truncateWal(ae.pindex, ae.pterm);
        } else if (ours !== -1 && ae.pindex < this.commit) {
          // An old entry (a duplicate or an abandoned catch-up's): we already have and applied it.
          if (isNew || via) this.respond(reply, this.pterm, this.pindex, false);
          return;
        } else {
          // Disagreement: keep what is committed, refetch the rest.
          const keep = Math.max(this.commit, Math.min(ae.pindex, this.pindex) - 1);
          this.truncateWal(keep, this.termAt(keep));
          if (catchingUp) this.cancelCatchup();
          if (isNew) {
            const inbox = this.createCatchup(ae);
            this.respond(reply, this.pterm, this.pindex, false, inbox);
          }
          return;
        }
      } else if (catchingUp) {
        // The leader is behind its own log start: the first catch-up entry must be its snapshot.
        const [e0, e1] = ae.entries;
        if (ae.entries.length !== 2 || e0!.type !== EntrySnapshot || e1!.type !== EntryPeerState) {
          this.log.warn(`RAFT [${this.id} - ${this.group}] Expected first catchup entry to be a snapshot and peerstate, will retry`);
          this.cancelCatchup();
          return;
        }
        this.installLeaderSnapshot(ae, e0!.data, e1!.data);
        return;
      } else {
        // We are behind: ask the leader to catch us up.
        this.log.debug(`RAFT [${this.id} - ${this.group}] AppendEntry did not match ${ae.pterm} ${ae.pindex} with ${this.pterm} ${this.pindex}`);
        if (isNew) {
          const inbox = this.createCatchup(ae);
          this.respond(reply, this.pterm, this.pindex, false, inbox);
        }
        return;
      }
    }

    if (ae.entries.length > 0) {
      if (!this.storeToWal(ae, raw)) return;
      this.pae.set(this.pindex, ae);
      for (const e of ae.entries) {
        if (e.type === EntryLeaderTransfer && isNew) {
          const target = e.data.toString('latin1');
          if (target === this.id) {
            if (!this.observer && !this.paused) {
              this.lxfer = true;
              this.resetElect(10);
            } else if (this.paused && !this.pobserver) this.lxfer = true;
          } else if (this.vote !== '') {
            this.vote = '';
            this.writeTermVote();
          }
        } else if (e.type === EntryAddPeer && e.data.length === ID_LEN) {
          const p = e.data.toString('latin1');
          const ps = this.peers.get(p);
          if (ps) ps.ts = Date.now();
          else this.peers.set(p, { ts: Date.now(), li: 0, kp: false });
        }
      }
    }

    const upTo = Math.min(ae.commit, this.pindex);
    if (upTo > this.commit) {
      if (this.paused) this.hcommit = upTo;
      else for (let i = this.commit + 1; i <= upTo; i++) if (!this.applyCommit(i)) break;
    }

    // Success is acknowledged only once everything it covers is on disk.
    const term = this.pterm;
    const index = this.pindex;
    this.wal.sync(() => {
      if (this.state === Closed) return;
      if (index > this.durable) this.durable = index;
      this.respond(reply, term, index, true);
    });
  }

  /** A catch-up that began with the leader's snapshot: adopt it as ours and hand it to the upper layer. */
  protected installLeaderSnapshot(ae: AppendEntry, data: Buffer, peerState: Buffer): void {
    let ps: PeerState;
    try {
      ps = decodePeerState(peerState);
    } catch {
      this.log.warn(`RAFT [${this.id} - ${this.group}] Could not parse snapshot peerstate correctly`);
      this.cancelCatchup();
      return;
    }
    this.processPeerState(ps);
    const snapData = data;
    this.pindex = ae.pindex;
    this.pterm = ae.pterm;
    this.commit = ae.pindex;
    this.durable = ae.pindex;
    this.pae.clear();
    this.wal.compact(this.pindex + 1);
    try {
      this.doInstallSnapshot({ lastTerm: this.pterm, lastIndex: this.pindex, peerState: encodePeerState(this.currentPeerState()), data: snapData }, false);
    } catch (err) {
      this.setWriteErr(err as Error);
      return;
    }
    this.pushApply({ index: this.commit, entries: [{ type: EntrySnapshot, data: snapData }] });
  }

  protected createCatchup(ae: AppendEntry): string {
    if (this.catchup) this.catchup.sub.unsubscribe();
    const inbox = newCatchupInbox();
    const cs: FollowerCatchup = {
      sub: null as unknown as RaftSubscription,
      inbox,
      cterm: ae.pterm,
      cindex: ae.pindex,
      pindex: this.pindex,
      active: Date.now(),
    };
    cs.sub = this.transport.subscribe(inbox, (_s, r, m) => this.handleAppendEntry(m, r, false, cs));
    this.catchup = cs;
    return inbox;
  }

  protected cancelCatchup(): void {
    if (this.catchup) this.catchup.sub.unsubscribe();
    this.catchup = null;
  }

  /** raft.go catchupStalled: no progress for the catch-up activity interval. */
  protected catchupStalled(): boolean {
    const cs = this.catchup;
    if (!cs) return false;
    if (cs.pindex === this.pindex) return Date.now() - cs.active > this.timing.catchupActivity;
    cs.pindex = this.pindex;
    cs.active = Date.now();
    return false;
  }
}
