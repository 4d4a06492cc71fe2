#!/usr/bin/env node
// tsnats command line: `tsnats [flags]`, as nats-server.
import { parseArgs, CliError, USAGE } from './cli.js';
import { createLogger } from './log.js';
import { Server } from './server/server.js';
import { NATS_SERVER_COMPAT_VERSION, TSNATS_VERSION } from './version.js';

function main(): void {
  let cli;
  try {
    cli = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${err.message}\n${USAGE}`);
      process.exit(1);
    }
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
  const log = createLogger(cli.opts);
  const server = new Server(cli.opts, log);
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
  server.start().catch((err: unknown) => {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'Error listening on port');
    process.exit(1);
  });
}

main();
