// Logging with pino, printed the way nats-server prints (`[pid] 2026/11/25 10:00:00.000000 [INF] text`)
// so operators' habits and log scrapers keep working. Log lines are rare (never per message), so
// each record is formatted synchronously straight to stderr's fd, from any thread.

import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BroadcastChannel } from 'node:worker_threads';
import type { Logger as PinoLogger, pino as PinoFactory } from 'pino';

/** A pino logger; `reopen` (SIGUSR1) reopens the log file when there is one. */
export type Logger = PinoLogger & { reopen?: () => void };

export interface LogOptions {
  debug?: boolean;
  trace?: boolean;
  logtime?: boolean;
  /** Shown in each line as `[name]` after the level, e.g. a shard. */
  name?: string;
  /** log_file / -l: append here instead of stderr. */
  file?: string;
  /**
   * ServerOptions.workerLog, for a worker thread: '' print as above; 'off' nothing; otherwise a
   * BroadcastChannel name: each record goes there as pino's JSON line, for `relayWorkerLogs`.
   */
  channel?: string;
}

/** Level thresholds, as pino numbers them. */
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

let pinoFactory: typeof PinoFactory | null = null;
/** pino is CommonJS: required synchronously the first time a record is actually written. */
function loadPino(): typeof PinoFactory {
  pinoFactory ??= (createRequire(import.meta.url)('pino') as { pino: typeof PinoFactory }).pino;
  return pinoFactory;
}

const LABELS: Record<number, string> = { 10: 'TRC', 20: 'DBG', 30: 'INF', 40: 'WRN', 50: 'ERR', 60: 'FTL' };

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function stamp(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`;
}

const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);

export function formatRecord(rec: Record<string, unknown>, logtime: boolean): string {
  const level = LABELS[rec['level'] as number] ?? 'INF';
  let line = `[${process.pid}] `;
  if (logtime) line += `${stamp(rec['time'] as number)} `;
  line += `[${level}] `;
  if (typeof rec['name'] === 'string') line += `[${rec['name']}] `;
  line += String(rec['msg'] ?? '');
  const extra: string[] = [];
  for (const k of Object.keys(rec)) {
    if (OMIT.has(k)) continue;
    const v = rec[k];
    if (k === 'err' && v && typeof v === 'object') extra.push(`err=${JSON.stringify((v as { message?: string }).message ?? v)}`);
    else extra.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  if (extra.length > 0) line += ` (${extra.join(' ')})`;
  return line + '\n';
}

/**
 * A logger that prints nothing (the library's default, `logger: false`), without loading pino:
 * the methods tsnats calls on a logger, as no-ops.
 */
export function silentLogger(): Logger {
  const noop = (): void => {};
  const log = {
    level: 'silent',
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    silent: noop,
    flush: noop,
    isLevelEnabled: (): boolean => false,
    bindings: (): Record<string, unknown> => ({}),
    child: (): Logger => log as unknown as Logger,
  };
  return log as unknown as Logger;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.trace ? 'trace' : opts.debug ? 'debug' : 'info';
  if (opts.channel === 'off') return silentLogger();
  const base = opts.name ? { name: opts.name } : null;
  if (opts.channel) {
    const ch = new BroadcastChannel(opts.channel);
    ch.unref();
    return lazyLogger(level, base, { write: (s: string): void => ch.postMessage(s) });
  }
  const logtime = opts.logtime !== false;
  let fd = 2;
  // -l /dev/stderr (or /dev/stdout) means the terminal: it may be a pipe or socket that open() refuses.
  const file = opts.file === '/dev/stderr' ? '' : opts.file;
  if (opts.file === '/dev/stdout') fd = 1;
  else if (file) fd = openSync(file, 'a');
  const dest = {
    write(s: string): void {
      let out: string;
      try {
        out = formatRecord(JSON.parse(s) as Record<string, unknown>, logtime);
      } catch {
        out = s;
      }
      try {
        writeSync(fd, out);
      } catch {
        // stderr gone (EPIPE): nothing useful to do.
      }
    },
  };
  const reopen =
    file && opts.file !== '/dev/stdout'
      ? (): void => {
          const old = fd;
          fd = openSync(file, 'a');
          closeSync(old);
        }
      : undefined;
  return lazyLogger(level, base, dest, reopen);
}

/**
 * Start-up time (issue 12): loading pino costs ~15 ms of CPU in every thread, and a shard at the
 * info level may never write a line. The pino logger is created on the first record that passes
 * the level (or the first use of anything else pino has); until then a disabled level is a no-op.
 */
function lazyLogger(initialLevel: string, base: Record<string, unknown> | null, dest: { write(s: string): void }, reopen?: () => void): Logger {
  let level = initialLevel;
  let real: Logger | null = null;
  const make = (): Logger => {
    if (real === null) {
      real = loadPino()({ level, base }, dest) as Logger;
      if (reopen !== undefined) real.reopen = reopen;
    }
    return real;
  };
  const noop = (): void => {};
  return new Proxy({} as Logger, {
    get(_t, prop) {
      if (real === null) {
        if (prop === 'level') return level;
        if (prop === 'reopen') return reopen;
        if (typeof prop === 'string' && LEVEL_VALUES[prop] !== undefined && prop !== 'silent' && LEVEL_VALUES[prop]! < LEVEL_VALUES[level]!) return noop;
      }
      const r = make() as unknown as Record<string | symbol, unknown>;
      const v = r[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(r) : v;
    },
    set(_t, prop, value) {
      if (real === null && prop === 'level') level = String(value);
      else (make() as unknown as Record<string | symbol, unknown>)[prop] = value;
      return true;
    },
  });
}

const METHODS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * The main thread's end of a `channel` logger: every record the worker threads send on `name` is
 * logged again on `log` (a user's pino logger, in the library), keeping its fields and its `name`.
 */
export function relayWorkerLogs(name: string, log: PinoLogger): { close(): void } {
  const ch = new BroadcastChannel(name);
  ch.onmessage = (e: unknown): void => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse((e as { data: string }).data) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = rec;
    log[METHODS[level as number] ?? 'info'](fields, typeof msg === 'string' ? msg : '');
  };
  return { close: () => ch.close() };
}
