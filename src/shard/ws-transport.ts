// A native-free WebSocket connection seen as a ClientTransport: what a flush writes under
// cork/uncork goes out as ONE binary frame (websocket.go collects a client's pending protocol into
// frames the same way). The NATS protocol inside is not aligned with frames, so reads are plain
// byte chunks.

import type { WsConnection } from '../../native-free/ws-server.js';
import { MessageTransport, type ClientTransport } from './transport.js';

export class WsTransport extends MessageTransport implements ClientTransport {
  private readonly ws: WsConnection;

  constructor(ws: WsConnection) {
    super();
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

  protected sendMessage(b: Buffer | Buffer[]): boolean {
    return Array.isArray(b) ? this.ws.writev(b) : this.ws.write(b);
  }

  /** Graceful: a close frame (1000), then the socket ends. */
  end(): void {
    if (!this.destroyed) this.ws.close(1000, '');
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
}
