// Accounts (nats-server accounts.go): each has its own subject space — its own sublist in every
// shard — so a message published in one account reaches another only through an export/import.
// Account indices are the same in every shard (they come from the same options), so ring frames
// carry the index.

import { Sublist } from '../sublist/sublist.js';
import type { ServerOptions } from '../server/options.js';
import { subjectCovers } from '../sublist/subject.js';
import { importTransform } from './import-transform.js';
import type { Subscription } from './subscription.js';
import type { RemoteInterest } from './peer.js';

/** What a shard's sublists hold: a local subscription, or a peer's interest. */
export type Interest = Subscription | RemoteInterest;

export const GLOBAL_ACCOUNT = '$G';

export interface StreamImport {
  /** The account whose subscribers receive the imported messages. */
  into: Account;
  /** The exported subject pattern in the exporting account. */
  subject: string;
  /** Prefix (with its trailing '.') put before the subject in the importing account, or ''. */
  prefix: string;
}

export interface ServiceImport {
  /** The exporting account that serves the requests. */
  from: Account;
  /** Subject (pattern) the importer publishes to. */
  local: string;
  /** Subject in the exporting account. */
  remote: string;
  /** Maps a local subject to the exporter's when wildcards differ (`to: "froma.>"`), else null. */
  transform: ((subject: string) => string) | null;
  /** The export's response_type is stream (or chunked): any number of replies per request. */
  streamResponse: boolean;
}

/** Where a service-import reply token (`_R_.xxx`) leads: the requester's account and reply subject. */
export interface ResponseRoute {
  into: Account;
  reply: string;
  expires: number;
  /** Kept for every reply until it expires (response_type stream), instead of the first only. */
  stream: boolean;
}

export class Account {
  readonly idx: number;
  readonly name: string;
  readonly sublist = new Sublist<Interest>();
  /** Other accounts importing this account's streams; null when none (costs nothing). */
  streamImports: StreamImport[] | null = null;
  /** Services this account imports from others; null when none. */
  serviceImports: ServiceImport[] | null = null;
  /** Reply tokens (`_R_.xxx`) of requests this account serves for importers: where the reply goes. */
  readonly responses = new Map<string, ResponseRoute>();

  constructor(idx: number, name: string) {
    this.idx = idx;
    this.name = name;
  }
}

/** Builds the accounts of the options, in the same order in every shard: $G first. */
export function buildAccounts(opts: ServerOptions): Account[] {
  const list: Account[] = [new Account(0, GLOBAL_ACCOUNT)];
  const byName = new Map<string, Account>([[GLOBAL_ACCOUNT, list[0]!]]);
  for (const a of opts.accounts) {
    if (byName.has(a.name)) continue;
    const acc = new Account(list.length, a.name);
    list.push(acc);
    byName.set(a.name, acc);
  }
  if (!byName.has(opts.systemAccount)) {
    const sys = new Account(list.length, opts.systemAccount);
    list.push(sys);
    byName.set(sys.name, sys);
  }
  for (const a of opts.accounts) {
    const importer = byName.get(a.name)!;
    for (const im of a.imports) {
      const exporter = byName.get(im.account);
      if (exporter === undefined) continue;
      // The export of exactly this subject first (accounts.go checks its exports map), then one covering it.
      const exports = (opts.accounts.find((x) => x.name === im.account)?.exports ?? []).filter((e) => e.kind === im.kind && (e.accounts === null || e.accounts.includes(a.name)));
      const exp = exports.find((e) => e.subject === im.subject) ?? exports.find((e) => subjectCovers(e.subject, im.subject));
      if (exp === undefined) continue; // not exported to this account: the import is ignored, as nats-server warns
      if (im.kind === 'stream') {
        (exporter.streamImports ??= []).push({ into: importer, subject: im.subject, prefix: im.local ? `${im.local}.` : '' });
      } else {
        const local = im.local || im.subject;
        const streamResponse = exp.responseType === 'stream' || exp.responseType === 'chunked';
        (importer.serviceImports ??= []).push({ from: exporter, local, remote: im.subject, transform: importTransform(local, im.subject), streamResponse });
      }
    }
  }
  return list;
}
