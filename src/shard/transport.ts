// What a client connection needs from its byte stream. A net.Socket (TCP, or TLS) is one as it is;
// a WebSocket connection is wrapped to look like one (each flush becomes one binary frame).

export interface ClientTransport {
  write(b: Buffer): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  readonly destroyed: boolean;
  readonly writableLength: number;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  once(event: 'close', cb: () => void): unknown;
}

/**
 * Base of the WebSocket transports: what a flush writes under cork/uncork is gathered and sent as one
 * message (`sendMessage`), and 'close' listeners run once when the underlying socket is gone.
 */
export abstract class MessageTransport {
  private corked = false;
  private readonly parts: Buffer[] = [];
  private closeHandlers: (() => void)[] = [];
  destroyed = false;

  /** Sends bytes as one WebSocket message; true when nothing had to be queued. */
  protected abstract sendMessage(b: Buffer | Buffer[]): boolean;

  write(b: Buffer): boolean {
    if (this.destroyed) return false;
    if (this.corked) {
      this.parts.push(b);
      return true;
    }
    return this.sendMessage(b);
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    if (this.parts.length === 0 || this.destroyed) return;
    const parts = this.parts.splice(0);
    this.sendMessage(parts.length === 1 ? parts[0]! : parts);
  }

  once(_event: 'close', cb: () => void): this {
    if (this.destroyed) cb();
    else this.closeHandlers.push(cb);
    return this;
  }

  /** The connection is gone: no further calls reach the WebSocket; 'close' listeners run. */
  closed(): void {
    if (this.destroyed && this.closeHandlers.length === 0) return;
    this.destroyed = true;
    const h = this.closeHandlers;
    this.closeHandlers = [];
    for (const f of h) f();
  }
}
