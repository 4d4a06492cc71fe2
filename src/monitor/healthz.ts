// /healthz (monitor.go HandleHealthz / healthz, nats-server 2.10): `js-enabled-only` (and the
// deprecated `js-enabled`) stop after "JetStream is running"; otherwise, on a single server, every
// stream directory in the store must belong to a recovered stream, and `account`, `stream`,
// `consumer` narrow the check to one asset (404 when it is not there). `details=true` lists errors
// as `{type, account, stream, consumer, error}` instead of one `error`. `js-server-only` only
// matters in a cluster (the meta-group checks); a single server checks its assets as without it.

export type HealthzErrorType = 'CONNECTION' | 'BAD_REQUEST' | 'JETSTREAM' | 'ACCOUNT' | 'STREAM' | 'CONSUMER';

export interface HealthzError {
  type: HealthzErrorType;
  account?: string;
  stream?: string;
  consumer?: string;
  error: string;
}

export interface HealthzOptions {
  jsEnabledOnly: boolean;
  jsServerOnly: boolean;
  account: string;
  stream: string;
  consumer: string;
  details: boolean;
}

/** What the JetStream worker answers for the asset check (HealthStatus without the flow around it). */
export interface AssetHealth {
  code: number;
  status: string;
  error?: string;
  errors?: HealthzError[];
}

export interface HealthzSource {
  /** null: JetStream not configured. */
  jetstream: null | {
    running: boolean;
    /** The asset check (the worker walks its store directory). */
    assets(o: HealthzOptions): Promise<AssetHealth | null>;
  };
}

/** strconv.ParseBool, as decodeBool reads a query flag; undefined when the value is not a bool. */
function parseBool(v: string | null): boolean | undefined {
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

export async function healthz(p: URLSearchParams, src: HealthzSource): Promise<{ code: number; body: Record<string, unknown> }> {
  const flags: Record<string, boolean> = {};
  for (const k of ['js-enabled', 'js-enabled-only', 'js-server-only', 'details']) {
    const b = parseBool(p.get(k));
    // decodeBool answers a bad flag with 400 and the parse error.
    if (b === undefined) return { code: 400, body: { status: 'error', error: `Error decoding ${k}: strconv.ParseBool: parsing ${JSON.stringify(p.get(k))}: invalid syntax` } };
    flags[k] = b;
  }
  const o: HealthzOptions = {
    jsEnabledOnly: flags['js-enabled-only']! || flags['js-enabled']!,
    jsServerOnly: flags['js-server-only']!,
    account: p.get('account') ?? '',
    stream: p.get('stream') ?? '',
    consumer: p.get('consumer') ?? '',
    details: flags['details']!,
  };
  const fail = (code: number, status: string, e: HealthzError): { code: number; body: Record<string, unknown> } => ({
    code,
    body: o.details ? { status: 'error', errors: [e] } : { status, error: e.error },
  });
  if (o.account === '' && o.stream !== '') return fail(400, 'error', { type: 'BAD_REQUEST', error: '"account" must not be empty when checking stream health' });
  if (o.stream === '' && o.consumer !== '') return fail(400, 'error', { type: 'BAD_REQUEST', error: '"stream" must not be empty when checking consumer health' });
  const js = src.jetstream;
  if (js === null) return { code: 200, body: { status: 'ok' } };
  if (!js.running) return fail(503, 'unavailable', { type: 'JETSTREAM', error: 'JetStream not enabled' });
  if (o.jsEnabledOnly) return { code: 200, body: { status: 'ok' } };
  const h = await js.assets(o);
  if (h === null) return fail(503, 'unavailable', { type: 'JETSTREAM', error: 'JetStream not enabled' });
  const body: Record<string, unknown> = { status: o.details ? (h.errors !== undefined && h.errors.length > 0 ? 'error' : 'ok') : h.status };
  if (h.error !== undefined) body['error'] = h.error;
  if (h.errors !== undefined && h.errors.length > 0) body['errors'] = h.errors;
  return { code: h.code, body };
}
