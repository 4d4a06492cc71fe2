// A WebSocket connection seen as a ClientTransport: what a flush writes under cork/uncork goes out
// as ONE binary frame (websocket.go collects a client's pending protocol into frames the same way).
// The NATS protocol inside is not aligned with frames, so reads are plain byte chunks.

import type { WsConnection } from '../../native-free/ws-server.js';
import type { ClientTransport } from './transport.js';

export class WsTransport implements ClientTransport {
  private readonly ws: WsConnection;
  private corked = false;
  private readonly parts: Buffer[] = [];
  private closeHandlers: (() => void)[] = [];
  destroyed = false;

  constructor(ws: WsConnection) {
    this.ws = ws;
  }

  get writableLength(): number {
    return this.ws.writableLength;
  }
  get remoteAddress(): string {
    return this.ws.remoteAddress;
  }
  get remotePort(): number {
    return this.ws.remotePort;
  }

  write(b: Buffer): boolean {
    if (this.destroyed) return false;
    if (this.corked) {
      this.parts.push(b);
      return true;
    }
    return this.ws.write(b);
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    if (this.parts.length === 0 || this.destroyed) return;
    const parts = this.parts.splice(0);
    if (parts.length === 1) this.ws.write(parts[0]!);
    else this.ws.writev(parts);
  }

  /** Graceful: a close frame (1000), then the socket ends. */
  end(): void {
    if (this.destroyed) return;
    this.ws.close(1000, '');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.ws.destroy();
    this.closed();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  once(_event: 'close', cb: () => void): this {
    if (this.destroyed) cb();
    else this.closeHandlers.push(cb);
    return this;
  }

  /** The WebSocket (or its socket) closed. */
  closed(): void {
    if (this.destroyed && this.closeHandlers.length === 0) return;
    this.destroyed = true;
    const h = this.closeHandlers;
    this.closeHandlers = [];
    for (const f of h) f();
  }
}
