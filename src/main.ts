#!/usr/bin/env node
// tsnats command line: `tsnats [flags]`, as nats-server. The server itself is the library's
// (src/index.ts runs the same Server); what is the CLI's alone is here: flags, the config file,
// printing, signals and the process's exit.
import { readFileSync } from 'node:fs';
import { parseArgs, mergeOptions, CliError, USAGE, type CliResult } from './cli.js';
import { loadConfigFile, ConfigError } from './config/load.js';
import { createLogger } from './log.js';
import { Server } from './server/server.js';
import { validateMqttOptions } from './mqtt/config.js';
import { startOrStop } from './server/run.js';
import type { ServerOptions } from './server/options.js';
import { NATS_SERVER_COMPAT_VERSION, TSNATS_VERSION } from './version.js';

function die(msg: string, usage = false): never {
  process.stderr.write(`${msg}\n${usage ? USAGE : ''}`);
  process.exit(1);
}

/** nats-server signal.go ProcessSignal: which signal each --signal command sends. */
const SIGNALS: Record<string, NodeJS.Signals> = {
  stop: 'SIGKILL',
  quit: 'SIGINT',
  term: 'SIGTERM',
  reopen: 'SIGUSR1',
  reload: 'SIGHUP',
  ldm: 'SIGUSR2',
};

function sendSignal(cli: CliResult, opts: ServerOptions): void {
  const [cmd, pidText] = cli.signal.split('=', 2) as [string, string | undefined];
  const sig = SIGNALS[cmd];
  if (sig === undefined) die(`unknown signal "${cmd}"`);
  let pid: number;
  if (pidText !== undefined && pidText !== '') {
    // nats-server also takes a pid file path after '='.
    pid = /^\d+$/.test(pidText) ? Number(pidText) : Number(readFileSync(pidText, 'utf8').trim());
  } else if (opts.pidFile) {
    pid = Number(readFileSync(opts.pidFile, 'utf8').trim());
  } else {
    die('no pid given: use --signal <cmd>=<pid> or -P <pid file>');
  }
  try {
    process.kill(pid, sig);
  } catch (err) {
    die(`could not send ${cmd} to ${pid}: ${(err as Error).message}`);
  }
}

function main(): void {
  let cli;
  try {
    cli = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) die(err.message, true);
    throw err;
  }
  if (cli.action === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (cli.action === 'version') {
    process.stdout.write(`tsnats: v${TSNATS_VERSION} (nats-server v${NATS_SERVER_COMPAT_VERSION} protocol)\n`);
    return;
  }
  let fileOpts: Partial<ServerOptions> = {};
  let warnings: string[] = [];
  if (cli.configFile) {
    try {
      const loaded = loadConfigFile(cli.configFile);
      fileOpts = loaded.opts;
      warnings = loaded.warnings;
    } catch (err) {
      if (err instanceof ConfigError) die(`tsnats: ${err.message}`);
      throw err;
    }
  } else if (cli.action === 'test-config') {
    die('tsnats: must specify [-c, --config] option to check configuration file syntax');
  }
  if (cli.action === 'test-config') {
    for (const w of warnings) process.stderr.write(`${w}\n`);
    process.stdout.write(`tsnats: configuration file ${cli.configFile} is valid\n`);
    return;
  }
  const opts = mergeOptions(fileOpts, cli);
  if (cli.action === 'signal') return sendSignal(cli, opts);
  // Checked when the server starts, as nats-server's validateOptions (`-t` passes such a file).
  const invalid = validateMqttOptions(opts);
  if (invalid !== null) die(`tsnats: ${invalid}`);

  const log = createLogger({ debug: opts.debug, trace: opts.trace, logtime: opts.logtime, file: opts.logFile });
  for (const w of warnings) log.warn(w);
  for (const f of cli.ignoredFlags) log.warn(`flag --${f} is not supported by tsnats yet; ignored`);
  const server = new Server(opts, log);
  server.reapplyFlags = (file) => mergeOptions(file, cli);
  const stop = (): void => {
    void server.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => server.reload());
  process.on('SIGUSR1', () => {
    log.info('Reopening log file');
    server.reopenLog();
  });
  process.on('SIGUSR2', () => {
    void server.lameDuck().then(() => process.exit(0));
  });
  startOrStop(server).catch((err: unknown) => {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'Error starting server');
    process.exit(1);
  });
}

main();
