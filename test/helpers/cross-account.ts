// Two JetStream accounts, A and B, wired as nats-server's documentation wires cross-account mirrors
// and sources: A exports the consumer-create API, flow control and B's deliver subjects; B imports
// A's API under the `JS.A.API` prefix (the `external.api` of a mirror or source) and receives the
// deliveries under `deliver.B` (its `external.deliver`). Works with tsnats and nats-server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startServer, type RunningServer } from './server.js';

export const EXTERNAL_B = { api: 'JS.A.API', deliver: 'deliver.B' };

export interface CrossAccount {
  server: RunningServer;
  dir: string;
  a: NatsConnection;
  b: NatsConnection;
  /** Stops the server (keeps the directory). */
  stop(): Promise<void>;
}

export function crossAccountDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-xacc-'));
  writeFileSync(
    join(dir, 'nats.conf'),
    `jetstream { store_dir: "${join(dir, 'store')}" }
accounts {
  A: {
    jetstream: enabled
    users: [{ user: a, password: a }]
    exports: [
      { service: "$JS.API.CONSUMER.CREATE.>" }
      { service: "$JS.FC.>" }
      { stream: "deliver.B.>" }
    ]
  }
  B: {
    jetstream: enabled
    users: [{ user: b, password: b }]
    imports: [
      { service: { account: A, subject: "$JS.API.CONSUMER.CREATE.>" }, to: "JS.A.API.CONSUMER.CREATE.>" }
      { service: { account: A, subject: "$JS.FC.>" } }
      { stream: { account: A, subject: "deliver.B.>" } }
    ]
  }
}
`,
  );
  return dir;
}

/** Starts a server on the directory's config, with a connection in each account. */
export async function startCrossAccount(dir: string): Promise<CrossAccount> {
  const server = await startServer({ args: ['-c', join(dir, 'nats.conf')] });
  const open = (user: string): Promise<NatsConnection> => connect({ servers: server.hostport, user, pass: user, reconnect: false });
  let a: NatsConnection | undefined;
  let b: NatsConnection | undefined;
  try {
    a = await open('a');
    b = await open('b');
  } catch (err) {
    await a?.close();
    await server.stop();
    throw err;
  }
  return {
    server,
    dir,
    a,
    b,
    stop: async () => {
      try {
        await Promise.all([a!.close(), b!.close()]);
      } finally {
        await server.stop();
      }
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
