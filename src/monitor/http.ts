// Monitoring over HTTP on node:http (the uWS engine and the full endpoint set come with the
// monitoring issue): /healthz and /varz, which nats-top, health checks and test harnesses use first.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type VarzSource = () => Promise<Record<string, unknown>>;

export async function startMonitor(host: string, port: number, varz: VarzSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown): void => {
      const text = JSON.stringify(body, null, 2);
      res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    switch (url.pathname) {
      case '/healthz':
        return send(200, { status: 'ok' });
      case '/varz':
        varz().then(
          (v) => send(200, v),
          (err: unknown) => send(500, { error: String(err) }),
        );
        return;
      case '/':
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html><body><a href="/varz">varz</a><br><a href="/healthz">healthz</a></body></html>');
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port < 0 ? 0 : port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function monitorPort(s: http.Server): number {
  return (s.address() as AddressInfo).port;
}
