// Monitoring over HTTP on node:http (the native-free engine; uWS comes with the WebSocket work):
// nats-server's endpoints, each a thin wrapper over the data builders in endpoints.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MonitorError } from './endpoints.js';

type Json = Record<string, unknown>;

export interface MonitorSource {
  varz(p: URLSearchParams): Promise<Json>;
  connz(p: URLSearchParams): Promise<Json>;
  subsz(p: URLSearchParams): Promise<Json>;
  routez(p: URLSearchParams): Promise<Json>;
  accountz(p: URLSearchParams): Promise<Json>;
  jsz(p: URLSearchParams): Promise<Json>;
  metrics(): Promise<string>;
}

const JSON_ROUTES: Record<string, keyof Omit<MonitorSource, 'metrics'>> = {
  '/varz': 'varz',
  '/connz': 'connz',
  '/subsz': 'subsz',
  '/subscriptionsz': 'subsz',
  '/routez': 'routez',
  '/accountz': 'accountz',
  '/jsz': 'jsz',
};

export async function startMonitor(host: string, port: number, src: MonitorSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const send = (code: number, body: string, type = 'application/json'): void => {
      res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Access-Control-Allow-Origin': '*' });
      res.end(body);
    };
    const fail = (err: unknown): void => {
      if (err instanceof MonitorError) send(400, err.message, 'text/plain');
      else send(500, String(err), 'text/plain');
    };
    const route = JSON_ROUTES[path];
    if (route !== undefined) {
      src[route](url.searchParams).then((v) => send(200, JSON.stringify(v, null, 2)), fail);
      return;
    }
    if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
    if (path === '/metrics') {
      src.metrics().then((t) => send(200, t, 'text/plain; version=0.0.4; charset=utf-8'), fail);
      return;
    }
    if (path === '/') {
      const links = [...Object.keys(JSON_ROUTES), '/healthz', '/metrics'].map((r) => `<a href="${r}">${r.slice(1)}</a>`).join('<br>');
      return send(200, `<html><body>${links}</body></html>`, 'text/html');
    }
    send(404, 'not found', 'text/plain');
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
