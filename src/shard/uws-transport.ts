// A uWS WebSocket seen as a ClientTransport (the shard's child App owns it). Whatever a flush writes
// under cork/uncork goes out as one binary message. uWS forbids touching a closed WebSocket, so
// every call is guarded by `destroyed`.

import type { WebSocket } from 'uws-pack';
import { MessageTransport, type ClientTransport } from './transport.js';
import type { ClientConnection } from './client.js';

export interface UwsUserData {
  transport: UwsTransport | null;
  /** Upgraded on a path ending in /mqtt: an MQTT connection. */
  mqtt: boolean;
}

export class UwsTransport extends MessageTransport implements ClientTransport {
  private readonly ws: WebSocket<UwsUserData>;
  /** The client connection this WebSocket carries. */
  conn: ClientConnection | null = null;
  readonly remoteAddress: string;
  readonly remotePort = 0;
  readonly compress: boolean;

  constructor(ws: WebSocket<UwsUserData>, compress: boolean) {
    super();
    this.ws = ws;
    this.compress = compress;
    this.remoteAddress = Buffer.from(ws.getRemoteAddressAsText()).toString();
  }

  get writableLength(): number {
    return this.destroyed ? 0 : this.ws.getBufferedAmount();
  }

  protected sendMessage(b: Buffer | Buffer[]): boolean {
    return this.ws.send(Array.isArray(b) ? Buffer.concat(b) : b, true, this.compress) === 1;
  }

  end(): void {
    if (!this.destroyed) this.ws.end(1000);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.ws.close();
    this.closed();
  }

  // pause/resume exist on recent uWS WebSockets but not in uws-pack's typings; absent, back-pressure
  // still holds through the shard's stall and max_pending.
  pause(): void {
    if (!this.destroyed) (this.ws as unknown as { pause?: () => void }).pause?.();
  }

  resume(): void {
    if (!this.destroyed) (this.ws as unknown as { resume?: () => void }).resume?.();
  }
}
