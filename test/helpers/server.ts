// Starts a real server for a test: tsnats (the default) or, with TSNATS_TEST_SERVER=nats-server, the real
// nats-server binary, so a test's expectations can be checked against the reference implementation.
// The port is always ephemeral (`-p -1`), read back from the "Listening for client connections" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerOptions {
  /** Extra command-line arguments passed verbatim (nats-server-compatible flags only). */
  args?: string[];
  pingInterval?: string; // Go duration, e.g. "500ms"
  pingMax?: number;
  maxPayload?: number;
  maxPending?: number;
  maxControlLine?: number;
  /** Number of shards (tsnats only); defaults to $TSNATS_TEST_SHARDS when set. */
  shards?: number;
  env?: Record<string, string>;
  /** Working directory of the server process (relative paths in a config resolve from it). */
  cwd?: string;
}

export interface RunningServer {
  host: string;
  port: number;
  /** "nats://127.0.0.1:PORT" */
  url: string;
  /** "127.0.0.1:PORT", the form the official clients' `servers` option takes */
  hostport: string;
  proc: ChildProcess;
  /** Everything the server printed so far (stdout + stderr). */
  output(): string;
  /** SIGTERM, then wait for exit; resolves to the exit code (or null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  isNatsServer: boolean;
}

const repoRoot = new URL('../../../', import.meta.url).pathname; // dist/test/helpers -> repo root
export const mainJs = join(repoRoot, 'dist', 'src', 'main.js');
export const usingNatsServer = process.env.TSNATS_TEST_SERVER === 'nats-server';

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = '127.0.0.1';
  const args = ['-a', host, '-p', '-1', ...(opts.args ?? [])];
  let cmd: string;
  let argv: string[];
  if (usingNatsServer) {
    // nats-server takes these limits only from a config file.
    const lines: string[] = [];
    if (opts.pingInterval !== undefined) lines.push(`ping_interval: "${opts.pingInterval}"`);
    if (opts.pingMax !== undefined) lines.push(`ping_max: ${opts.pingMax}`);
    if (opts.maxPayload !== undefined) lines.push(`max_payload: ${opts.maxPayload}`);
    if (opts.maxPending !== undefined) lines.push(`max_pending: ${opts.maxPending}`);
    if (opts.maxControlLine !== undefined) lines.push(`max_control_line: ${opts.maxControlLine}`);
    if (lines.length > 0) {
      const dir = mkdtempSync(join(tmpdir(), 'tsnats-test-'));
      const conf = join(dir, 'nats.conf');
      writeFileSync(conf, lines.join('\n') + '\n');
      args.push('-c', conf);
    }
    cmd = process.env.NATS_SERVER_BIN ?? 'nats-server';
    argv = args;
  } else {
    if (opts.pingInterval !== undefined) args.push('--ping_interval', opts.pingInterval);
    if (opts.pingMax !== undefined) args.push('--ping_max', String(opts.pingMax));
    if (opts.maxPayload !== undefined) args.push('--max_payload', String(opts.maxPayload));
    if (opts.maxPending !== undefined) args.push('--max_pending', String(opts.maxPending));
    if (opts.maxControlLine !== undefined) args.push('--max_control_line', String(opts.maxControlLine));
    const shards = opts.shards ?? (process.env.TSNATS_TEST_SHARDS ? Number(process.env.TSNATS_TEST_SHARDS) : undefined);
    if (shards !== undefined) args.push('--shards', String(shards));
    cmd = process.execPath;
    argv = [mainJs, ...args];
  }
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 10s:\n${out}`)), 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(out);
      if (m && /Server is ready/.test(out)) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.once('exit', (code) => resolve(code));
  });
  return {
    host,
    port,
    url: `nats://${host}:${port}`,
    hostport: `${host}:${port}`,
    proc,
    output: () => out,
    isNatsServer: usingNatsServer,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
