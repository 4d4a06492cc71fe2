// Child process of library.test.ts: starts servers with every listener, serves a client and
// monitoring requests, stops. It must print nothing (the library's default logger is silent).
import net from 'node:net';
import { startServer } from 'tsnats';

// The default (a shard on this thread) and worker shards (the hand-off's internals, uWS child Apps).
for (const shards of [0, 2]) {
  const s = await startServer({ jetstream: true, httpPort: 0, websocket: { port: 0, noTls: true }, shards });
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(s.port, '127.0.0.1', () => c.write('CONNECT {}\r\nPING\r\n'));
    c.on('data', (d: Buffer) => {
      if (d.toString().includes('PONG')) {
        c.destroy();
        resolve();
      }
    });
    c.on('error', reject);
  });
  await fetch(`${s.monitorUrl}/varz`);
  await fetch(`${s.monitorUrl}/`);
  await s.stop();
}
