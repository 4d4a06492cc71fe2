// From a parsed nats.conf to ServerOptions, key by key as nats-server's opts.go processConfigFileLine
// reads them: keys are case-insensitive; unknown keys warn (they do not fail); a wrong value fails
// with the file, line and column of its key.

import { parseConfFile, type ConfMap, type ConfPos, type ConfValue, type ParsedConf } from './conf.js';
import { parseDurationMs } from './duration.js';
import { parseAccountJetStream } from './jetstream-account.js';
import { defaultClusterOptions, defaultOptions } from '../server/options.js';
import { parseMqtt, type MqttConfReader } from '../mqtt/config.js';
import type { ClusterOptions, WebsocketOptions, AccountEntry, AuthOptions, ExportEntry, ImportEntry, Permissions, ServerOptions, SubjectPermission, TlsOptions, UserEntry, NkeyEntry } from '../server/options.js';

export class ConfigError extends Error {}

export interface LoadedConfig {
  /** Only the options the file sets. */
  opts: Partial<ServerOptions>;
  warnings: string[];
}

/** Blocks of features that come in later issues or that tsnats does not have: accepted with a warning. */
const LATER_BLOCKS = new Set(['leafnodes', 'leaf', 'gateway', 'gateways', 'server_tags', 'resolver', 'operator', 'operators', 'trusted', 'trusted_keys', 'resolver_preload', 'mappings', 'https', 'syslog', 'remote_syslog']);

class Reader {
  readonly parsed: ParsedConf;
  readonly file: string;
  readonly warnings: string[] = [];
  constructor(parsed: ParsedConf, file: string) {
    this.parsed = parsed;
    this.file = file;
  }
  pos(path: string): ConfPos | undefined {
    return this.parsed.positions.get(path);
  }
  fail(path: string, msg: string): never {
    const p = this.pos(path);
    throw new ConfigError(p ? `${p.file}:${p.line}:${p.col}: ${msg}` : `${this.file}: ${path}: ${msg}`);
  }
  warn(path: string, msg: string): void {
    const p = this.pos(path);
    this.warnings.push(p ? `${p.file}:${p.line}:${p.col}: ${msg}` : `${this.file}: ${msg}`);
  }
  str(path: string, v: ConfValue): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(path, `expected a string`);
  }
  int(path: string, v: ConfValue): number {
    if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
    return this.fail(path, `expected a number, got ${JSON.stringify(v)}`);
  }
  bool(path: string, v: ConfValue): boolean {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|yes|on|enabled)$/i.test(v)) return true;
    if (typeof v === 'string' && /^(false|no|off|disabled)$/i.test(v)) return false;
    return this.fail(path, `expected a boolean, got ${JSON.stringify(v)}`);
  }
  /** Go durations as strings; a bare number means seconds (opts.go parseDuration). */
  duration(path: string, v: ConfValue): number {
    try {
      if (typeof v === 'number' || typeof v === 'string') return parseDurationMs(v);
    } catch {
      // fall through
    }
    return this.fail(path, `expected a duration like "2m" or a number of seconds, got ${JSON.stringify(v)}`);
  }
  map(path: string, v: ConfValue): ConfMap {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v;
    return this.fail(path, `expected a block { ... }`);
  }
  list(path: string, v: ConfValue): ConfValue[] {
    if (Array.isArray(v)) return v;
    return [v];
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** "host:port", ":port", "port" or a number (opts.go parseListen). */
function parseListen(r: Reader, path: string, v: ConfValue): { host?: string; port: number } {
  if (typeof v === 'number') return { port: v };
  const s = r.str(path, v);
  const i = s.lastIndexOf(':');
  if (i < 0) {
    if (/^-?\d+$/.test(s)) return { port: Number(s) };
    return r.fail(path, `could not parse address string "${s}"`);
  }
  const host = s.slice(0, i).replace(/^\[|\]$/g, '');
  const port = s.slice(i + 1);
  if (!/^-?\d+$/.test(port)) return r.fail(path, `could not parse port "${port}"`);
  return host === '' ? { port: Number(port) } : { host, port: Number(port) };
}

export function loadConfigFile(file: string): LoadedConfig {
  let parsed: ParsedConf;
  try {
    parsed = parseConfFile(file);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return loadParsed(parsed, file);
}

export function loadParsed(parsed: ParsedConf, file: string): LoadedConfig {
  const r = new Reader(parsed, file);
  const o: Partial<ServerOptions> = { configFile: file };
  let authBlock: { path: string; m: ConfMap } | null = null;
  let noAuthUser: string | null = null;
  let accountsBlock: { path: string; m: ConfMap } | null = null;
  for (const [key, v] of Object.entries(parsed.value)) {
    const k = key.toLowerCase();
    const p = key;
    switch (k) {
      case 'listen': {
        const l = parseListen(r, p, v);
        if (l.host !== undefined) o.host = l.host;
        o.port = l.port;
        break;
      }
      case 'port':
        o.port = r.int(p, v);
        break;
      case 'host':
      case 'net':
        o.host = r.str(p, v);
        break;
      case 'client_advertise':
        o.clientAdvertise = r.str(p, v);
        break;
      case 'server_name':
        o.serverName = r.str(p, v);
        if (/\s/.test(o.serverName)) r.fail(p, 'server name cannot contain spaces');
        break;
      case 'http':
      case 'monitor': {
        const l = parseListen(r, p, v);
        if (l.host !== undefined) o.httpHost = l.host;
        o.httpPort = l.port;
        break;
      }
      case 'http_port':
      case 'monitor_port':
        o.httpPort = r.int(p, v);
        break;
      case 'debug':
        o.debug = r.bool(p, v);
        break;
      case 'trace':
      case 'trace_verbose':
        o.trace = r.bool(p, v);
        break;
      case 'logtime':
        o.logtime = r.bool(p, v);
        break;
      case 'log_file':
      case 'logfile':
        o.logFile = r.str(p, v);
        break;
      case 'pid_file':
      case 'pidfile':
        o.pidFile = r.str(p, v);
        break;
      case 'ports_file_dir':
        o.portsFileDir = r.str(p, v);
        break;
      case 'max_payload':
        o.maxPayload = r.int(p, v);
        if (o.maxPayload > 64 * 1024 * 1024) r.fail(p, 'max_payload cannot exceed 64MB');
        break;
      case 'max_pending':
        o.maxPending = r.int(p, v);
        break;
      case 'max_control_line':
        o.maxControlLine = r.int(p, v);
        break;
      case 'max_connections':
      case 'max_conn':
        o.maxConnections = r.int(p, v);
        break;
      case 'max_subscriptions':
      case 'max_subs':
        o.maxSubscriptions = r.int(p, v);
        break;
      case 'write_deadline':
        o.writeDeadlineMs = r.duration(p, v);
        break;
      case 'ping_interval':
        o.pingIntervalMs = r.duration(p, v);
        break;
      case 'ping_max':
        o.pingMax = r.int(p, v);
        break;
      case 'lame_duck_duration':
        o.lameDuckDurationMs = r.duration(p, v);
        break;
      case 'lame_duck_grace_period':
        o.lameDuckGracePeriodMs = r.duration(p, v);
        break;
      case 'shards':
        o.shards = Math.max(1, r.int(p, v));
        break;
      case 'authorization':
        authBlock = { path: p, m: r.map(p, v) };
        break;
      case 'no_auth_user':
        noAuthUser = r.str(p, v);
        break;
      case 'system_account':
      case 'system':
        o.systemAccount = r.str(p, v);
        break;
      case 'accounts':
        accountsBlock = { path: p, m: r.map(p, v) };
        break;
      case 'tls':
        o.tls = parseTls(r, p, r.map(p, v));
        break;
      case 'allow_non_tls':
        o.allowNonTls = r.bool(p, v);
        break;
      case 'websocket':
      case 'ws':
        o.websocket = parseWebsocket(r, p, r.map(p, v));
        break;
      case 'jetstream':
        o.jetstream = parseJetStream(r, p, v);
        break;
      case 'cluster':
        o.cluster = parseCluster(r, p, r.map(p, v));
        break;
      case 'mqtt':
        o.mqtt = parseMqtt(mqttReader(r), p, r.map(p, v));
        break;
      default:
        if (LATER_BLOCKS.has(k)) r.warn(p, `"${key}" is not supported by tsnats yet; ignored`);
        // A key used as a $variable elsewhere is not an unknown field (nats-server skips those too).
        else if (!parsed.usedVariables?.has(p)) r.warn(p, `unknown field "${key}"`);
    }
  }
  const accounts: AccountEntry[] = [];
  const users: UserEntry[] = [];
  const nkeys: NkeyEntry[] = [];
  let auth: AuthOptions | null = null;
  if (accountsBlock !== null) parseAccounts(r, accountsBlock.path, accountsBlock.m, accounts, users, nkeys);
  if (authBlock !== null) auth = parseAuthorization(r, authBlock.path, authBlock.m, users, nkeys);
  if (auth === null && (users.length > 0 || nkeys.length > 0)) auth = emptyAuth(users, nkeys);
  if (auth !== null) {
    auth.users = users;
    auth.nkeys = nkeys;
    if (noAuthUser !== null) {
      if (!users.some((u) => u.user === noAuthUser)) r.fail('no_auth_user', `no_auth_user: "${noAuthUser}" not present as user or nkey in authorization block or account configuration`);
      auth.noAuthUser = noAuthUser;
    }
  }
  o.accounts = accounts;
  o.auth = auth;
  return { opts: o, warnings: r.warnings };
}

/** The loader's reader and shared parsers, for the mqtt block's parser (src/mqtt/config.ts). */
function mqttReader(r: Reader): MqttConfReader {
  return {
    fail: (p, m) => r.fail(p, m),
    warn: (p, m) => r.warn(p, m),
    str: (p, v) => r.str(p, v),
    int: (p, v) => r.int(p, v),
    bool: (p, v) => r.bool(p, v),
    duration: (p, v) => r.duration(p, v),
    map: (p, v) => r.map(p, v),
    listen: (p, v) => parseListen(r, p, v),
    tls: (p, m) => parseTls(r, p, m),
  };
}

function emptyAuth(users: UserEntry[], nkeys: NkeyEntry[]): AuthOptions {
  return { timeoutMs: 2000, token: null, users, nkeys, noAuthUser: null, defaultPermissions: null };
}

function parseAuthorization(r: Reader, path: string, m: ConfMap, users: UserEntry[], nkeys: NkeyEntry[]): AuthOptions {
  const a = emptyAuth(users, nkeys);
  let user: string | null = null;
  let password: string | null = null;
  let listed = false;
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    switch (k) {
      case 'user':
      case 'username':
        user = r.str(p, v);
        break;
      case 'pass':
      case 'password':
        password = r.str(p, v);
        break;
      case 'token':
        a.token = r.str(p, v);
        break;
      case 'timeout':
        // opts.go: seconds as a number (float allowed) or a duration string.
        a.timeoutMs = typeof v === 'number' ? v * 1000 : r.duration(p, v);
        break;
      case 'users':
        listed = true;
        r.list(p, v).forEach((u, i) => parseUser(r, `${p}[${i}]`, r.map(`${p}[${i}]`, u), '$G', users, nkeys));
        break;
      case 'permissions':
      case 'default_permissions':
        a.defaultPermissions = parsePermissions(r, p, r.map(p, v));
        break;
      default:
        r.warn(p, `unknown field "${key}" in authorization`);
    }
  }
  if (user !== null || password !== null) {
    if (listed) r.fail(path, 'can not have a single user/pass and a users array');
    if (a.token !== null) r.fail(path, 'can not have a token and a user/pass');
    if (user === null || user === '') r.fail(join(path, 'password'), 'authorization has a password but no user');
    if (password === null || password === '') r.fail(join(path, 'user'), `authorization user "${user}" has no password`);
    users.push({ user, password, account: '$G', permissions: a.defaultPermissions });
  }
  for (const u of users) if (u.permissions === null && a.defaultPermissions !== null) u.permissions = a.defaultPermissions;
  return a;
}

function parseUser(r: Reader, path: string, m: ConfMap, account: string, users: UserEntry[], nkeys: NkeyEntry[]): void {
  let user: string | null = null;
  let password: string | null = null;
  let nkey: string | null = null;
  let permissions: Permissions | null = null;
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'user' || k === 'username') user = r.str(p, v);
    else if (k === 'pass' || k === 'password') password = r.str(p, v);
    else if (k === 'nkey') nkey = r.str(p, v);
    else if (k === 'permissions' || k === 'permission') permissions = parsePermissions(r, p, r.map(p, v));
    else if (k === 'account') account = r.str(p, v);
    else r.warn(p, `unknown field "${key}" in user`);
  }
  if (nkey !== null) {
    if (!/^U[A-Z2-7]{55}$/.test(nkey)) r.fail(join(path, 'nkey'), `not a valid public user nkey: "${nkey}"`);
    nkeys.push({ nkey, account, permissions });
    return;
  }
  if (user === null) return r.fail(path, 'user entry has no "user"');
  // A user without a password is valid (opts.go parseUsers): one named by its TLS certificate
  // (verify_and_map), the no_auth_user, or one that logs in with its name alone.
  users.push({ user, password: password ?? '', account, permissions });
}

function parseSubjectPermission(r: Reader, path: string, v: ConfValue): SubjectPermission {
  if (typeof v === 'string' || Array.isArray(v)) return { allow: r.list(path, v).map((s, i) => r.str(`${path}[${i}]`, s)), deny: null };
  const m = r.map(path, v);
  const sp: SubjectPermission = { allow: null, deny: null };
  for (const [key, val] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'allow') sp.allow = r.list(p, val).map((s, i) => r.str(`${p}[${i}]`, s));
    else if (k === 'deny') sp.deny = r.list(p, val).map((s, i) => r.str(`${p}[${i}]`, s));
    else r.fail(p, `unknown field "${key}" in permissions, expected allow or deny`);
  }
  return sp;
}

function parsePermissions(r: Reader, path: string, m: ConfMap): Permissions {
  const perms: Permissions = { publish: null, subscribe: null, allowResponses: null };
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'publish' || k === 'pub' || k === 'import') perms.publish = parseSubjectPermission(r, p, v);
    else if (k === 'subscribe' || k === 'sub' || k === 'export') perms.subscribe = parseSubjectPermission(r, p, v);
    else if (k === 'allow_responses' || k === 'allow_response') {
      // DEFAULT_ALLOW_RESPONSE_MAX_MSGS 1, DEFAULT_ALLOW_RESPONSE_EXPIRATION 2m
      if (typeof v === 'boolean') perms.allowResponses = v ? { max: 1, expiresMs: 120_000 } : null;
      else {
        const rm = r.map(p, v);
        const rp = { max: 1, expiresMs: 120_000 };
        for (const [rk, rv] of Object.entries(rm)) {
          const rkl = rk.toLowerCase();
          if (rkl === 'max') rp.max = r.int(join(p, rk), rv);
          else if (rkl === 'expires' || rkl === 'ttl') rp.expiresMs = r.duration(join(p, rk), rv);
          else r.fail(join(p, rk), `unknown field "${rk}" in allow_responses`);
        }
        perms.allowResponses = rp;
      }
    } else r.fail(p, `unknown field "${key}" in permissions`);
  }
  // opts.go: allow_responses without publish permissions denies all other publishing.
  if (perms.allowResponses !== null && perms.publish === null) perms.publish = { allow: [], deny: null };
  return perms;
}

function parseAccounts(r: Reader, path: string, m: ConfMap, accounts: AccountEntry[], users: UserEntry[], nkeys: NkeyEntry[]): void {
  for (const [name, v] of Object.entries(m)) {
    const p = join(path, name);
    const acc: AccountEntry = { name, exports: [], imports: [], jetstream: false };
    accounts.push(acc);
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number' || Array.isArray(v)) continue; // `A {}` shorthand
    for (const [key, val] of Object.entries(v as ConfMap)) {
      const k = key.toLowerCase();
      const kp = join(p, key);
      if (k === 'users') r.list(kp, val).forEach((u, i) => parseUser(r, `${kp}[${i}]`, r.map(`${kp}[${i}]`, u), name, users, nkeys));
      else if (k === 'exports') r.list(kp, val).forEach((e, i) => acc.exports.push(parseExport(r, `${kp}[${i}]`, r.map(`${kp}[${i}]`, e))));
      else if (k === 'imports') r.list(kp, val).forEach((e, i) => acc.imports.push(parseImport(r, `${kp}[${i}]`, r.map(`${kp}[${i}]`, e))));
      else if (k === 'jetstream') {
        const js = parseAccountJetStream(r, kp, val);
        acc.jetstream = js.enabled;
        acc.jetstreamLimits = js.limits;
      }
      else r.warn(kp, `unknown field "${key}" in account "${name}"`);
    }
  }
  const names = new Set(accounts.map((a) => a.name));
  accounts.forEach((a, ai) =>
    a.imports.forEach((im, ii) => {
      if (!names.has(im.account)) r.fail(`${path}.${a.name}.imports[${ii}]`, `import from unknown account "${im.account}"`);
      void ai;
    }),
  );
}

function parseExport(r: Reader, path: string, m: ConfMap): ExportEntry {
  let kind: 'stream' | 'service' | null = null;
  let subject = '';
  let accounts: string[] | null = null;
  let responseType: ExportEntry['responseType'];
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'stream' || k === 'service') {
      kind = k;
      subject = r.str(p, v);
    } else if (k === 'accounts') accounts = r.list(p, v).map((s, i) => r.str(`${p}[${i}]`, s));
    else if (k === 'response_type' || k === 'response') {
      // opts.go parseExportStreamOrService: singleton (default), stream or chunked.
      const t = r.str(p, v).toLowerCase();
      if (t !== 'singleton' && t !== 'stream' && t !== 'chunked') r.fail(p, `Unknown response type: "${t}"`);
      responseType = t;
    } else if (k === 'latency' || k === 'response_threshold') r.warn(p, `"${key}" is not supported by tsnats yet; ignored`);
    else r.fail(p, `unknown field "${key}" in export`);
  }
  if (kind === null) return r.fail(path, 'export needs "stream" or "service"');
  if (responseType !== undefined && kind !== 'service') r.fail(path, 'Detected response directive on non-service');
  return responseType === undefined ? { kind, subject, accounts } : { kind, subject, accounts, responseType };
}

function parseImport(r: Reader, path: string, m: ConfMap): ImportEntry {
  let kind: 'stream' | 'service' | null = null;
  let account = '';
  let subject = '';
  let local = '';
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'stream' || k === 'service') {
      kind = k;
      const src = r.map(p, v);
      for (const [sk, sv] of Object.entries(src)) {
        const skl = sk.toLowerCase();
        if (skl === 'account') account = r.str(join(p, sk), sv);
        else if (skl === 'subject') subject = r.str(join(p, sk), sv);
        else r.fail(join(p, sk), `unknown field "${sk}" in import source`);
      }
    } else if (k === 'prefix' || k === 'to') local = r.str(p, v);
    else r.fail(p, `unknown field "${key}" in import`);
  }
  if (kind === null) return r.fail(path, 'import needs "stream" or "service"');
  if (account === '' || subject === '') return r.fail(path, 'import needs an account and a subject');
  return { kind, account, subject, local };
}

function parseTls(r: Reader, path: string, m: ConfMap): TlsOptions {
  const t: TlsOptions = { certFile: '', keyFile: '', caFile: null, verify: false, timeoutMs: 2000, handshakeFirst: false };
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'cert_file') t.certFile = r.str(p, v);
    else if (k === 'key_file') t.keyFile = r.str(p, v);
    else if (k === 'ca_file') t.caFile = r.str(p, v);
    else if (k === 'verify') t.verify = r.bool(p, v);
    else if (k === 'verify_and_map') t.verify = t.map = r.bool(p, v);
    else if (k === 'timeout') t.timeoutMs = typeof v === 'number' ? v * 1000 : r.duration(p, v);
    else if (k === 'handshake_first' || k === 'first' || k === 'immediate') parseHandshakeFirst(r, p, v, t);
    else r.warn(p, `unknown field "${key}" in tls`);
  }
  if (t.certFile === '' || t.keyFile === '') r.fail(path, 'tls needs cert_file and key_file');
  return t;
}

/** opts.go parseTLS handshake_first: a boolean, "auto" (fallback after 50 ms) or a fallback duration. */
function parseHandshakeFirst(r: Reader, path: string, v: ConfValue, t: TlsOptions): void {
  if (typeof v === 'boolean') {
    t.handshakeFirst = v;
    return;
  }
  const s = r.str(path, v).toLowerCase();
  if (s === 'true' || s === 'on' || s === 'false' || s === 'off') t.handshakeFirst = s === 'true' || s === 'on';
  else if (s === 'auto' || s === 'auto_fallback') {
    t.handshakeFirst = true;
    t.handshakeFirstFallbackMs = 50;
  } else {
    t.handshakeFirst = true;
    t.handshakeFirstFallbackMs = r.duration(path, v);
  }
}

function parseWebsocket(r: Reader, path: string, m: ConfMap): WebsocketOptions {
  const w: WebsocketOptions = { host: '0.0.0.0', port: 0, noTls: false, tls: null, compression: false, sameOrigin: false, allowedOrigins: [], handshakeTimeoutMs: 2000 };
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'listen') {
      const l = parseListen(r, p, v);
      if (l.host !== undefined) w.host = l.host;
      w.port = l.port;
    } else if (k === 'port') w.port = r.int(p, v);
    else if (k === 'host' || k === 'net') w.host = r.str(p, v);
    else if (k === 'no_tls') w.noTls = r.bool(p, v);
    else if (k === 'tls') w.tls = parseTls(r, p, r.map(p, v));
    else if (k === 'compression') w.compression = r.bool(p, v);
    else if (k === 'same_origin') w.sameOrigin = r.bool(p, v);
    else if (k === 'allowed_origins' || k === 'allowed_origin' || k === 'allow_origins' || k === 'allow_origin' || k === 'origins' || k === 'origin')
      w.allowedOrigins = r.list(p, v).map((x, i) => r.str(`${p}[${i}]`, x));
    else if (k === 'handshake_timeout') w.handshakeTimeoutMs = typeof v === 'number' ? v * 1000 : r.duration(p, v);
    else if (k === 'authorization' || k === 'jwt_cookie' || k === 'no_auth_user' || k === 'advertise' || k === 'headers') r.warn(p, `websocket "${key}" is not supported by tsnats yet; ignored`);
    else r.warn(p, `unknown field "${key}" in websocket`);
  }
  // websocket.go validateWebsocketOptions: TLS is required unless no_tls is set.
  if (!w.noTls && w.tls === null) r.fail(path, 'websocket requires TLS configuration');
  return w;
}

function parseJetStream(r: Reader, path: string, v: ConfValue): ServerOptions['jetstream'] {
  const js = { ...defaultOptions().jetstream, enabled: true };
  if (typeof v === 'boolean' || typeof v === 'string') {
    js.enabled = r.bool(path, v);
    return js;
  }
  const m = r.map(path, v);
  for (const [key, val] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    if (k === 'enabled' || k === 'enable') js.enabled = r.bool(p, val);
    else if (k === 'store_dir' || k === 'storedir') js.storeDir = r.str(p, val);
    else if (k === 'max_mem_store' || k === 'max_memory_store' || k === 'max_mem') js.maxMemory = r.int(p, val);
    else if (k === 'max_file_store' || k === 'max_file') js.maxStore = r.int(p, val);
    else if (k === 'sync_interval' || k === 'sync') {
      if (typeof val === 'string' && val.toLowerCase() === 'always') js.syncAlways = true;
      else js.syncIntervalMs = r.duration(p, val);
    } else if (k === 'domain') {
      // validateOptions: the domain becomes a subject token ($JS.<domain>.API).
      const d = r.str(p, val);
      if (d !== '' && /[ \t\r\n\f.*>]/.test(d)) r.fail(p, 'invalid domain name: may not contain ., * or >');
      js.domain = d;
    } else if (k === 'unique_tag' || k === 'max_outstanding_catchup' || k === 'strict') {
      // Accepted: they matter for clustering.
    } else r.warn(p, `unknown field "${key}" in jetstream`);
  }
  return js;
}

/** cluster { ... } as opts.go parseCluster reads it. */
function parseCluster(r: Reader, path: string, m: ConfMap): ClusterOptions {
  const c = defaultClusterOptions();
  for (const [key, v] of Object.entries(m)) {
    const k = key.toLowerCase();
    const p = join(path, key);
    switch (k) {
      case 'name':
        c.name = r.str(p, v);
        if (/\s/.test(c.name)) r.fail(p, 'cluster name cannot contain spaces or new lines');
        break;
      case 'listen': {
        const l = parseListen(r, p, v);
        if (l.host !== undefined) c.host = l.host;
        c.port = l.port;
        break;
      }
      case 'port':
        c.port = r.int(p, v);
        break;
      case 'host':
      case 'net':
        c.host = r.str(p, v);
        break;
      case 'authorization': {
        const am = r.map(p, v);
        for (const [ak, av] of Object.entries(am)) {
          const akl = ak.toLowerCase();
          const ap = join(p, ak);
          if (akl === 'user' || akl === 'username') c.username = r.str(ap, av);
          else if (akl === 'pass' || akl === 'password') c.password = r.str(ap, av);
          else if (akl === 'timeout') c.authTimeoutMs = typeof av === 'number' ? av * 1000 : r.duration(ap, av);
          else if (akl === 'users') r.fail(ap, 'Cluster authorization does not allow multiple users');
          else if (akl === 'token') r.fail(ap, 'Cluster authorization does not support tokens');
          else if (akl === 'permissions') {
            r.warn(ap, 'setting "permissions" within cluster authorization block is deprecated');
            const perms = parsePermissions(r, ap, r.map(ap, av));
            c.permissions ??= { import: perms.publish, export: perms.subscribe };
          } else r.warn(ap, `unknown field "${ak}" in cluster authorization`);
        }
        break;
      }
      case 'routes':
        c.routes = r.list(p, v).map((u, i) => {
          const s = r.str(`${p}[${i}]`, u);
          try {
            new URL(s);
          } catch {
            r.fail(`${p}[${i}]`, `error parsing route url ["${s}"]`);
          }
          return s;
        });
        break;
      case 'cluster_advertise':
      case 'advertise':
        c.advertise = r.str(p, v);
        break;
      case 'no_advertise':
        c.noAdvertise = r.bool(p, v);
        break;
      case 'connect_retries':
        c.connectRetries = r.int(p, v);
        break;
      case 'connect_backoff':
        c.connectBackoff = r.bool(p, v);
        break;
      case 'pool_size':
        c.poolSize = r.int(p, v);
        break;
      case 'permissions': {
        const perms = parsePermissions(r, p, r.map(p, v));
        if (perms.allowResponses !== null) r.fail(p, 'Cluster permissions do not support dynamic responses');
        c.permissions = { import: perms.publish, export: perms.subscribe };
        break;
      }
      case 'ping_interval':
        c.pingIntervalMs = r.duration(p, v);
        if (c.pingIntervalMs > 30_000) r.warn(p, "Cluster 'ping_interval' will reset to 30s which is the max for routes");
        break;
      case 'ping_max':
        c.pingMax = r.int(p, v);
        break;
      case 'tls':
      case 'compression':
      case 'accounts':
        r.warn(p, `cluster "${key}" is not supported by tsnats yet; ignored`);
        break;
      default:
        r.warn(p, `unknown field "${key}" in cluster`);
    }
  }
  return c;
}
