// Retained messages of one account as one shard knows them (mqtt.go mqttAccountSessionManager's
// retmsgs map and its sublist): per NATS subject the stream sequence of the retained record in
// $MQTT_rmsgs (and a delete "floor"), a token trie to find every retained subject a new
// subscription's filter matches (sublist ReverseMatch), and a small cache of the records
// (mqttDefaultRetainedCacheTTL); the payloads themselves stay in the stream.

import { RETAINED_CACHE_TTL_MS } from './constants.js';

/** The JSON nats-server stores for a retained message (mqttRetainedMsg; msg is base64). */
export interface RetainedMsg {
  origin?: string;
  subject?: string;
  topic?: string;
  msg?: string;
  flags?: number;
  source?: string;
}

interface Ref {
  sseq: number;
  floor: number;
  /** In the trie (false after a delete notice left only a floor). */
  indexed: boolean;
}

class Node {
  readonly children = new Map<string, Node>();
  /** A retained subject ends here. */
  terminal = false;
}

/** Literal subjects, matched against a filter with `*` and `>` (sublist.go ReverseMatch). */
export class SubjectTrie {
  private readonly root = new Node();

  insert(subject: string): void {
    let n = this.root;
    for (const t of subject.split('.')) {
      let c = n.children.get(t);
      if (c === undefined) {
        c = new Node();
        n.children.set(t, c);
      }
      n = c;
    }
    n.terminal = true;
  }

  remove(subject: string): void {
    const tokens = subject.split('.');
    const path: Node[] = [this.root];
    let n = this.root;
    for (const t of tokens) {
      const c = n.children.get(t);
      if (c === undefined) return;
      path.push(c);
      n = c;
    }
    n.terminal = false;
    for (let i = tokens.length; i > 0; i--) {
      const node = path[i]!;
      if (node.terminal || node.children.size > 0) break;
      path[i - 1]!.children.delete(tokens[i - 1]!);
    }
  }

  /** Every stored subject the filter matches. */
  match(filter: string): string[] {
    const out: string[] = [];
    const tokens = filter.split('.');
    const walk = (n: Node, i: number, prefix: string): void => {
      if (i === tokens.length) {
        if (n.terminal) out.push(prefix);
        return;
      }
      const t = tokens[i]!;
      if (t === '>') {
        for (const [k, c] of n.children) collect(c, prefix === '' ? k : `${prefix}.${k}`);
        return;
      }
      if (t === '*') {
        for (const [k, c] of n.children) walk(c, i + 1, prefix === '' ? k : `${prefix}.${k}`);
        return;
      }
      const c = n.children.get(t);
      if (c !== undefined) walk(c, i + 1, prefix === '' ? t : `${prefix}.${t}`);
    };
    const collect = (n: Node, prefix: string): void => {
      if (n.terminal) out.push(prefix);
      for (const [k, c] of n.children) collect(c, `${prefix}.${k}`);
    };
    walk(this.root, 0, '');
    return out;
  }
}

export class RetainedIndex {
  private readonly refs = new Map<string, Ref>();
  private readonly trie = new SubjectTrie();
  private readonly cache = new Map<string, { rm: RetainedMsg; expires: number }>();

  get size(): number {
    return this.refs.size;
  }

  /** handleRetainedMsg: a retained record at `sseq` for subject `key` (ours or learned). */
  add(key: string, sseq: number, rm: RetainedMsg | null, cacheIt: boolean): void {
    const e = this.refs.get(key);
    if (e !== undefined) {
      if (sseq <= e.sseq || sseq <= e.floor) return;
      e.sseq = sseq;
      e.floor = 0;
      if (!e.indexed) {
        e.indexed = true;
        this.trie.insert(key);
      }
      // Only messages already cached (recently used) are refreshed (setCachedRetainedMsg onlyReplace).
      if (rm !== null && this.cache.has(key)) this.setCached(key, rm);
      return;
    }
    this.refs.set(key, { sseq, floor: 0, indexed: true });
    this.trie.insert(key);
    if (rm !== null && cacheIt) this.setCached(key, rm);
  }

  /**
   * handleRetainedMsgDel: with seq 0 (a local empty retained publish) removes the record and returns
   * its sequence to delete from the stream; with a sequence (a notice from another node) leaves a
   * floor so an older record arriving late is ignored. Returns 0 when there is nothing to delete.
   */
  remove(key: string, seq: number): number {
    const e = this.refs.get(key);
    let toRemove = 0;
    if (e !== undefined) {
      this.cache.delete(key);
      if (e.indexed) {
        this.trie.remove(key);
        e.indexed = false;
      }
      if (seq !== 0 && seq >= e.sseq) {
        e.sseq = 0;
        e.floor = seq;
      } else if (seq === 0) {
        this.refs.delete(key);
        toRemove = e.sseq;
      }
    } else if (seq !== 0) {
      this.refs.set(key, { sseq: 0, floor: seq, indexed: false });
    }
    return toRemove;
  }

  /** Retained subjects a subscription on `filter` matches. */
  match(filter: string): string[] {
    return this.refs.size === 0 ? [] : this.trie.match(filter);
  }

  getCached(key: string, now: number): RetainedMsg | null {
    const c = this.cache.get(key);
    if (c === undefined) return null;
    if (c.expires < now) {
      this.cache.delete(key);
      return null;
    }
    return c.rm;
  }

  setCached(key: string, rm: RetainedMsg): void {
    this.cache.set(key, { rm, expires: Date.now() + RETAINED_CACHE_TTL_MS });
  }

  /** Drops expired cache entries (mqtt.go cleanupRetainedMessageCache), at most `max` looked at. */
  expire(now: number, max = 10_000): void {
    let i = 0;
    for (const [k, c] of this.cache) {
      if (c.expires < now) this.cache.delete(k);
      if (++i >= max) break;
    }
  }
}
