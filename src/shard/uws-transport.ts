// A uWS WebSocket seen as a ClientTransport (the shard's child App owns it). Whatever a flush writes
// under cork/uncork goes out as one binary message. uWS forbids touching a closed WebSocket, so
// every call is guarded by `destroyed`.

import type { WebSocket } from 'uws-pack';
import type { ClientTransport } from './transport.js';
import type { ClientConnection } from './client.js';

export interface UwsUserData {
  transport: UwsTransport | null;
}

export class UwsTransport implements ClientTransport {
  private readonly ws: WebSocket<UwsUserData>;
  private corked = false;
  private readonly parts: Buffer[] = [];
  private closeHandlers: (() => void)[] = [];
  destroyed = false;
  /** The client connection this WebSocket carries. */
  conn: ClientConnection | null = null;
  readonly remoteAddress: string;
  readonly remotePort = 0;
  readonly compress: boolean;

  constructor(ws: WebSocket<UwsUserData>, compress: boolean) {
    this.ws = ws;
    this.compress = compress;
    this.remoteAddress = Buffer.from(ws.getRemoteAddressAsText()).toString();
  }

  get writableLength(): number {
    return this.destroyed ? 0 : this.ws.getBufferedAmount();
  }

  write(b: Buffer): boolean {
    if (this.destroyed) return false;
    if (this.corked) {
      this.parts.push(b);
      return true;
    }
    return this.ws.send(b, true, this.compress) === 1;
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    if (this.parts.length === 0 || this.destroyed) return;
    const parts = this.parts.splice(0);
    this.ws.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts), true, this.compress);
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

  once(_event: 'close', cb: () => void): this {
    if (this.destroyed) cb();
    else this.closeHandlers.push(cb);
    return this;
  }

  /** uWS reported the close (or we closed it): no further calls on the WebSocket. */
  closed(): void {
    if (this.destroyed && this.closeHandlers.length === 0) return;
    this.destroyed = true;
    const h = this.closeHandlers;
    this.closeHandlers = [];
    for (const f of h) f();
  }
}
