// The main thread's side of MQTT (mqtt.go startMQTT): the listener on the mqtt block's port, bound
// with the other listeners; accepted sockets are handed to a shard like client connections (the
// hand-off tag marks them MQTT). The ports file gets an "mqtt" entry (a tsnats addition: tests and
// tools need the real port of `port: -1`).

import net from 'node:net';
import type { ServerOptions } from '../server/options.js';

/** Hand-off tag prefix of an MQTT connection (after the '!' of an over-limit one). */
export const MQTT_TAG = 'q';

export interface MqttListener {
  server: net.Server;
  port: number;
}

/**
 * Binds the MQTT port with its connection handler attached from the start, so no socket accepted is
 * ever left without an owner (DESIGN.md, start-up order): call it once the shards can take sockets.
 */
export async function bindMqttListener(opts: ServerOptions, onConnection: (socket: net.Socket) => void): Promise<MqttListener | null> {
  const mo = opts.mqtt;
  if (mo === null || mo.port === 0) return null;
  const server = net.createServer({ pauseOnConnect: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => reject(new Error(`Unable to listen for MQTT connections: ${err.message}`));
    server.once('error', fail);
    server.listen({ host: mo.host, port: mo.port < 0 ? 0 : mo.port, backlog: 4096 }, () => {
      server.off('error', fail);
      resolve();
    });
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** "Listening for MQTT clients on mqtt://host:port" (tls:// with TLS), as nats-server logs it. */
export function mqttListenUrl(opts: ServerOptions, port: number): string {
  return `${opts.mqtt!.tls !== null ? 'tls' : 'mqtt'}://${opts.mqtt!.host}:${port}`;
}

/** The ports file's "mqtt" URLs, for the hosts the listener answers on. */
export function mqttPortsUrls(opts: ServerOptions, port: number, hosts: (h: string) => string[]): string[] {
  const scheme = opts.mqtt!.tls !== null ? 'tls' : 'mqtt';
  return hosts(opts.mqtt!.host).map((h) => `${scheme}://${h}:${port}`);
}
