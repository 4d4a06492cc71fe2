// /jsz's query (nats-server monitor.go HandleJsz, JSzOptions): which details the JetStream worker
// adds to the totals. Parsed on the main thread; the worker builds the details (jetstream/jsz-detail.ts).

import { MonitorError } from './endpoints.js';

export interface JszQuery {
  /** `acc`: only this account's details. */
  acc: string;
  accounts: boolean;
  streams: boolean;
  consumers: boolean;
  config: boolean;
  offset: number;
  limit: number;
}

/** strconv.ParseBool, with decodeBool's error text. */
function bool(p: URLSearchParams, name: string): boolean {
  const v = p.get(name);
  if (v === null || v === '') return false;
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
  throw new MonitorError(`Error decoding boolean for '${name}': strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

function int(p: URLSearchParams, name: string): number {
  const v = p.get(name);
  if (v === null || v === '') return 0;
  if (!/^[+-]?\d+$/.test(v)) throw new MonitorError(`Error decoding int for '${name}': strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** Jsz's defaults: consumers imply streams, streams imply accounts; limit 1024. */
export function parseJszQuery(p: URLSearchParams): JszQuery {
  const q: JszQuery = { acc: p.get('acc') ?? '', accounts: bool(p, 'accounts'), streams: bool(p, 'streams'), consumers: bool(p, 'consumers'), config: bool(p, 'config'), offset: int(p, 'offset'), limit: int(p, 'limit') };
  bool(p, 'leader-only'); // validated as nats-server does; a single server is its own leader
  if (q.limit === 0) q.limit = 1024;
  if (q.consumers) q.streams = true;
  if (q.streams) q.accounts = true;
  return q;
}
