// Raw-socket helpers for wire tests, modelled on nats-server's test/test.go (send/expect).
import net from 'node:net';

export interface WireClient {
  socket: net.Socket;
  /** All bytes received so far that have not been consumed by expect(). */
  buffered(): string;
  send(s: string | Buffer): void;
  /** Wait until the unconsumed input matches `re`; consume up to the end of the match and return it. */
  expect(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Wait until exactly `s` is at the front of the unconsumed input; consume it. */
  expectExact(s: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export async function connectRaw(port: number, host = '127.0.0.1'): Promise<WireClient> {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  let buf = '';
  let isClosed = false;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  socket.on('data', (d) => {
    buf += d.toString('latin1');
    wake();
  });
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => {
      isClosed = true;
      wake();
      resolve();
    });
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const client: WireClient = {
    socket,
    buffered: () => buf,
    send: (s) => {
      socket.write(s);
    },
    expect(re, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(buf);
          if (m) {
            waiters.delete(check);
            clearTimeout(t);
            buf = buf.slice(m.index + m[0].length);
            resolve(m);
          } else if (isClosed) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`connection closed while waiting for ${re}; got ${JSON.stringify(buf)}`));
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout waiting for ${re}; got ${JSON.stringify(buf)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async expectExact(s, timeoutMs = 3000) {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (buf.length >= s.length || isClosed) {
            waiters.delete(check);
            clearTimeout(t);
            if (buf.startsWith(s)) {
              buf = buf.slice(s.length);
              resolve();
            } else reject(new Error(`expected ${JSON.stringify(s)}, got ${JSON.stringify(buf)}`));
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout waiting for ${JSON.stringify(s)}; got ${JSON.stringify(buf)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    closed,
    isClosed: () => isClosed,
    close: () => socket.destroy(),
  };
  return client;
}

/** Connects, reads INFO, sends CONNECT (merged with `connect`) and PING, waits for PONG. */
export async function connectHandshake(port: number, connect: Record<string, unknown> = {}): Promise<WireClient> {
  const c = await connectRaw(port);
  await c.expect(/^INFO (\{.*\}) ?\r\n/);
  c.send(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...connect })}\r\nPING\r\n`);
  await c.expect(/^PONG\r\n/);
  return c;
}
