// The JetStream half of /healthz on a single server (monitor.go healthz, `cc == nil`): walk the
// store directory's accounts and their stream directories, and report any that is not a recovered
// stream; with `account` / `stream` / `consumer`, only that one (404 when it is not found). As in
// nats-server, memory streams have no directory and so are not found by a stream check.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AssetHealth, HealthzError, HealthzOptions } from '../monitor/healthz.js';

export interface HealthzView {
  /** `<store_dir>/jetstream` */
  storeDir: string;
  /** null when the account is not known to this server. */
  account(name: string): { stream(name: string): { consumers: Map<string, unknown> } | undefined } | null;
}

const list = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

export function assetHealth(v: HealthzView, o: HealthzOptions): AssetHealth {
  const errors: HealthzError[] = [];
  const result = (code: number, e: HealthzError | null): AssetHealth => {
    if (e !== null) {
      if (o.details) return { code, status: 'error', errors: [...errors, e] };
      return { code, status: 'unavailable', error: e.error };
    }
    return errors.length === 0 ? { code: 200, status: 'ok' } : { code: 503, status: 'error', errors };
  };
  let accFound = false;
  let streamFound = false;
  let consumerFound = false;
  for (const accName of list(v.storeDir)) {
    if (accName === '___snapshots___') continue; // snapStagingDir
    if (o.account !== '') {
      if (accName !== o.account) continue;
      accFound = true;
    }
    const acc = v.account(accName);
    if (acc === null) {
      const e: HealthzError = { type: 'ACCOUNT', account: accName, error: `JetStream account '${accName}' could not be resolved` };
      if (!o.details) return result(503, e);
      errors.push(e);
      continue;
    }
    for (const streamName of list(join(v.storeDir, accName, 'streams'))) {
      if (o.stream !== '') {
        if (streamName !== o.stream) continue;
        streamFound = true;
      }
      const s = acc.stream(streamName);
      if (s === undefined) {
        const e: HealthzError = { type: 'STREAM', account: accName, stream: streamName, error: `JetStream stream '${accName} > ${streamName}' could not be recovered` };
        if (!o.details) return result(503, e);
        errors.push(e);
        continue;
      }
      if (streamFound) {
        if (o.consumer !== '') consumerFound = s.consumers.has(o.consumer);
        break;
      }
    }
    if (accFound) break;
  }
  if (o.account !== '' && !accFound) {
    errors.length = 0;
    return result(404, { type: 'ACCOUNT', account: o.account, error: `JetStream account ${JSON.stringify(o.account)} not found` });
  }
  if (o.stream !== '' && !streamFound) {
    errors.length = 0;
    return result(404, { type: 'STREAM', account: o.account, stream: o.stream, error: `JetStream stream ${JSON.stringify(o.stream)} not found on account ${JSON.stringify(o.account)}` });
  }
  if (o.consumer !== '' && !consumerFound) {
    errors.length = 0;
    return result(404, {
      type: 'CONSUMER',
      account: o.account,
      stream: o.stream,
      consumer: o.consumer,
      error: `JetStream consumer ${JSON.stringify(o.consumer)} not found for stream ${JSON.stringify(o.stream)} on account ${JSON.stringify(o.account)}`,
    });
  }
  return result(200, null);
}
