// JetStream test setup in one place: a server with a fresh store directory, a client on it, and the
// teardown that undoes both. Works with tsnats and, through startServer(), with nats-server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect as connectV2, NatsError, type JetStreamClient as JetStreamClientV2, type JetStreamManager as JetStreamManagerV2, type NatsConnection as NatsConnectionV2 } from 'nats';
import { startServer, type RunningServer } from './server.js';

/** A fresh, empty store directory under the system temp dir. */
export function jsStoreDir(prefix = 'tsnats-js-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface JetStreamServerOptions {
  /** Temp-dir prefix for a fresh store directory (ignored when `dir` is given). */
  prefix?: string;
  /** An existing store directory: it is kept on stop(), so a later server can reopen it. */
  dir?: string;
  /** The server's arguments for the store directory; `-js -sd <dir>` unless given. */
  args?: (dir: string) => string[];
}

export interface JetStreamServer {
  server: RunningServer;
  dir: string;
  /** Stops the server and removes the store directory when this helper made it. */
  stop(): Promise<void>;
}

export async function startJetStreamServer(opts: JetStreamServerOptions = {}): Promise<JetStreamServer> {
  const dir = opts.dir ?? jsStoreDir(opts.prefix);
  const cleanUp = (): void => {
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  let server: RunningServer;
  try {
    server = await startServer({ args: opts.args ? opts.args(dir) : ['-js', '-sd', dir] });
  } catch (err) {
    cleanUp();
    throw err;
  }
  return {
    server,
    dir,
    stop: async () => {
      try {
        await server.stop();
      } finally {
        cleanUp();
      }
    },
  };
}

/** A v3 (`@nats-io/transport-node`) connection to the server. */
export async function openNc(server: RunningServer): Promise<{ nc: NatsConnection }> {
  return { nc: await connect({ servers: server.hostport, reconnect: false }) };
}

export interface JsClient {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
}

export interface JsClientV2 {
  nc: NatsConnectionV2;
  jsm: JetStreamManagerV2;
  js: JetStreamClientV2;
}

/** A v3 connection with its JetStream manager and client. */
export async function openJs(server: RunningServer): Promise<JsClient> {
  const nc = await connect({ servers: server.hostport, reconnect: false });
  return { nc, jsm: await jetstreamManager(nc), js: jetstream(nc) };
}

/** A `nats` v2 connection with its JetStream manager and client. */
export async function openJsV2(server: RunningServer): Promise<JsClientV2> {
  const nc = await connectV2({ servers: server.hostport, reconnect: false });
  return { nc, jsm: await nc.jetstreamManager(), js: nc.jetstream() };
}

export type JetStreamEnv<T> = JetStreamServer & T & { close(): Promise<void> };

/**
 * A JetStream server plus what `open` connects to it (openNc, openJs, openJsV2); close() closes the
 * connection, stops the server and removes the store directory. When `open` fails the server is stopped.
 */
export async function startJetStream<T extends { nc: { close(): Promise<void> } }>(
  open: (server: RunningServer) => Promise<T>,
  opts: JetStreamServerOptions = {},
): Promise<JetStreamEnv<T>> {
  const srv = await startJetStreamServer(opts);
  let client: T;
  try {
    client = await open(srv.server);
  } catch (err) {
    await srv.stop();
    throw err;
  }
  return {
    ...srv,
    ...client,
    close: async () => {
      try {
        await client.nc.close();
      } finally {
        await srv.stop();
      }
    },
  };
}

/** The API error a rejected v3 call (or error pub ack) carries: its err_code and description. */
export async function apiError(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof JetStreamApiError) return { code: err.code, message: err.message };
    throw err;
  }
  assert.fail('expected an API error');
}

/** The err_code of a rejected v3 API call. */
export async function errCode(p: Promise<unknown>): Promise<number> {
  return (await apiError(p)).code;
}

/** The err_code of a rejected nats v2 API call. */
export async function errCodeV2(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NatsError && err.api_error) return err.api_error.err_code ?? 0;
    throw err;
  }
  assert.fail('expected an API error');
}

/**
 * A server started from a config file written into a fresh store directory: `conf(dir)` gives the
 * file's text (its `jetstream { store_dir }` should point into dir). Works with nats-server too.
 */
export async function startConfServer(conf: (dir: string) => string, opts: { prefix?: string; dir?: string } = {}): Promise<JetStreamServer> {
  return startJetStreamServer({
    prefix: opts.prefix ?? 'tsnats-js-conf-',
    ...(opts.dir !== undefined ? { dir: opts.dir } : {}),
    args: (dir) => {
      const file = join(dir, 'nats.conf');
      writeFileSync(file, conf(dir));
      return ['-c', file];
    },
  });
}
