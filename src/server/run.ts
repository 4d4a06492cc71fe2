// What the CLI and the library share around a Server's life: starting it so that a failed start
// leaves nothing behind (the library's caller lives on; the CLI exits, but its pid file and
// listeners should not outlive the error either).

import type { Server } from './server.js';

/** Starts `server`; if start-up fails, stops whatever it had started, then rethrows. */
export async function startOrStop(server: Server): Promise<void> {
  try {
    await server.start();
  } catch (err) {
    await server.shutdown().catch(() => {});
    throw err;
  }
}
