// A socket on an accepted handle that reads into one buffer of the thread's own (net's `onread`
// option): no Buffer is allocated per read. Each read is handed to the connection the socket ends
// up belonging to (`reader()`, null until it exists), then `afterRead` runs (the shard's flush of
// what the read produced). Shared by the NATS client, a moved connection and MQTT.

import net from 'node:net';

export interface ReadTarget {
  onRead(data: Buffer): void;
}

export function onreadSocket(handle: unknown, buffer: Buffer, reader: () => ReadTarget | null, afterRead: () => void): net.Socket {
  return new net.Socket({
    handle,
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        const target = reader();
        if (target !== null) {
          target.onRead((buf as Buffer).subarray(0, n));
          afterRead();
        }
        return true;
      },
    },
  } as net.SocketConstructorOpts);
}
