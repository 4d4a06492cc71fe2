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
