// Delivery of a message that came in from a route (client.go processInboundRoutedMsg →
// processMsgResults for a ROUTER connection): to this server's subscribers only, never to another
// route (full mesh, one hop). Plain subscribers all get it; queue groups only when the sender named
// them in RMSG, and then one member of this server (here or on another shard, weighted by member
// count). Other shards get one MSG frame each, flagged FROM_ROUTE so that they do not route it on.
// No allocation per message: the parser is the message view, targets are preallocated.

import type { Shard } from '../shard/shard.js';
import type { Account } from '../shard/account.js';
import { MsgFlags } from '../shard/peer.js';
import type { RouteParser } from './route-parser.js';

export function deliverFromRoute(shard: Shard, acc: Account, p: RouteParser, buf: Buffer, start: number, end: number): void {
  // Matched by the RMSG subject. A JetStream delivery comes as `RMSG <deliver subject> $JS.ACK...@<stream
  // subject>` (client.go processMsgResults "remapped"): shown with the stream subject, acked on the rest.
  const rs = p.paSubjectStart;
  const re = p.paSubjectEnd;
  let remapped = false;
  if (p.paReplyEnd - p.paReplyStart > JS_ACK.length && hasPrefix(p.paBuf, p.paReplyStart, JS_ACK)) {
    const li = p.paBuf.lastIndexOf(AT, p.paReplyEnd - 1);
    if (li > p.paReplyStart && li < p.paReplyEnd - 1) {
      p.paSubjectStart = li + 1;
      p.paSubjectEnd = p.paReplyEnd;
      p.paReplyEnd = li;
      remapped = true;
    }
  }
  const r = acc.sublist.matchBytes(p.paBuf, rs, re);
  const touched = shard.touched;
  let nt = 0;
  const psubs = r.psubs;
  for (let i = 0; i < psubs.length; i++) {
    const sub = psubs[i]!;
    if (sub.conn !== null) {
      sub.conn.writeMsg(sub, p, buf, start, end);
      continue;
    }
    // Another shard, for its own subscribers (not for the routes it hosts).
    const t = sub.target;
    if (t.peer === null || sub.localWeight <= 0) continue;
    t.plain = true;
    if (!t.touched) {
      t.touched = true;
      touched[nt++] = t;
    }
  }
  const qs = p.paQueuesStart;
  const qe = p.paQueuesEnd;
  if (qe > qs) {
    const qsubs = r.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const members = qsubs[g]!;
      const qb = members[0]!.queueBytes!;
      if (!listed(p.paBuf, qs, qe, qb)) continue;
      // nats-server prefers this server's members for a message from a route: routes are not candidates.
      let total = 0;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn !== null) total++;
        else if (q.target.peer !== null) total += q.localWeight;
      }
      if (total === 0) continue; // the members left meanwhile: dropped
      let pick = Math.random() * total;
      for (let k = 0; k < members.length; k++) {
        const q = members[k]!;
        if (q.conn !== null) {
          if ((pick -= 1) < 0) {
            q.conn.writeMsg(q, p, buf, start, end);
            break;
          }
        } else if (q.target.peer !== null && q.localWeight > 0) {
          if ((pick -= q.localWeight) < 0) {
            const t = q.target;
            t.groups[t.ngroups++] = qb;
            if (!t.touched) {
              t.touched = true;
              touched[nt++] = t;
            }
            break;
          }
        }
      }
    }
  }
  for (let i = 0; i < nt; i++) {
    const t = touched[i]!;
    if (remapped) shard.forward(t.peer!, t, p, buf, start, end, acc.idx, MsgFlags.FROM_ROUTE, rs, re);
    else shard.forward(t.peer!, t, p, buf, start, end, acc.idx, MsgFlags.FROM_ROUTE);
    t.touched = false;
    t.plain = false;
    t.ngroups = 0;
  }
}

const JS_ACK = Buffer.from('$JS.ACK.');
const AT = 0x40;

function hasPrefix(buf: Buffer, s: number, prefix: Buffer): boolean {
  for (let i = 0; i < prefix.length; i++) if (buf[s + i] !== prefix[i]) return false;
  return true;
}

/** Is `qb` one of the blank-separated queue names in buf[s, e)? */
function listed(buf: Buffer, s: number, e: number, qb: Buffer): boolean {
  const n = qb.length;
  let i = s;
  while (i < e) {
    while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
    const ts = i;
    while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
    if (i - ts === n) {
      let k = 0;
      while (k < n && buf[ts + k] === qb[k]) k++;
      if (k === n) return true;
    }
  }
  return false;
}
