// Monitoring over HTTP: nats-server's endpoints, each a thin wrapper over the data builders in
// endpoints.ts. One request handler (`answer`) serves both engines: uWS where it loads, node:http
// (native-free) elsewhere.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MonitorError } from './endpoints.js';
import { DASHBOARD_CSP, dashboardHtml } from './dashboard.js';
import type { Uws } from '../transport/uws.js';

type Json = Record<string, unknown>;

export interface MonitorSource {
  varz(p: URLSearchParams): Promise<Json>;
  connz(p: URLSearchParams): Promise<Json>;
  subsz(p: URLSearchParams): Promise<Json>;
  routez(p: URLSearchParams): Promise<Json>;
  accountz(p: URLSearchParams): Promise<Json>;
  jsz(p: URLSearchParams): Promise<Json>;
  metrics(): Promise<string>;
  /** /healthz (monitor.go healthz): 200 `{"status":"ok"}` or 503 with the reason. */
  healthz?(p: URLSearchParams): Promise<{ code: number; body: Json }>;
}

const JSON_ROUTES: Record<string, keyof Omit<MonitorSource, 'metrics' | 'healthz'>> = {
  '/varz': 'varz',
  '/connz': 'connz',
  '/subsz': 'subsz',
  '/subscriptionsz': 'subsz',
  '/routez': 'routez',
  '/accountz': 'accountz',
  '/jsz': 'jsz',
};

export interface Answer {
  code: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

/** The dashboard page, built on first request (the same for every server). */
let dashboard: string | null = null;

const STATUS: Record<number, string> = { 200: '200 OK', 400: '400 Bad Request', 404: '404 Not Found', 500: '500 Internal Server Error', 503: '503 Service Unavailable' };

/** The answer to one monitoring request, whatever the HTTP engine. */
export async function answer(src: MonitorSource, rawPath: string, params: URLSearchParams): Promise<Answer> {
  const path = rawPath.replace(/\/+$/, '') || '/';
  try {
    const route = JSON_ROUTES[path];
    if (route !== undefined) return { code: 200, type: 'application/json', body: JSON.stringify(await src[route](params), null, 2) };
    if (path === '/healthz') {
      const h = src.healthz !== undefined ? await src.healthz(params) : { code: 200, body: { status: 'ok' } };
      return { code: h.code, type: 'application/json', body: JSON.stringify(h.body) };
    }
    if (path === '/metrics') return { code: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: await src.metrics() };
    if (path === '/') {
      // nats-server's `/` is a page of links to the endpoints; ours is a live dashboard that keeps them.
      dashboard ??= dashboardHtml([...Object.keys(JSON_ROUTES).filter((r) => r !== '/subscriptionsz'), '/healthz', '/metrics']);
      return { code: 200, type: 'text/html; charset=utf-8', body: dashboard, headers: { 'Content-Security-Policy': DASHBOARD_CSP, 'Cache-Control': 'no-cache' } };
    }
    return { code: 404, type: 'text/plain', body: 'not found' };
  } catch (err) {
    return err instanceof MonitorError ? { code: 400, type: 'text/plain', body: err.message } : { code: 500, type: 'text/plain', body: String(err) };
  }
}

export interface MonitorServer {
  port: number;
  close(): Promise<void>;
}

/** node:http (native-free). */
export async function startMonitor(host: string, port: number, src: MonitorSource): Promise<MonitorServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    void answer(src, url.pathname, url.searchParams).then((a) => {
      res.writeHead(a.code, { 'Content-Type': a.type, 'Content-Length': Buffer.byteLength(a.body), 'Access-Control-Allow-Origin': '*', ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port < 0 ? 0 : port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** uWebSockets.js: the request is answered asynchronously, so aborts are tracked and writes corked. */
export async function startUwsMonitor(uws: Uws, host: string, port: number, src: MonitorSource): Promise<MonitorServer> {
  const app = uws.App().any('/*', (res, req) => {
    const path = req.getUrl();
    const params = new URLSearchParams(req.getQuery() ?? '');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void answer(src, path, params).then((a) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(STATUS[a.code] ?? String(a.code));
        res.writeHeader('Content-Type', a.type);
        res.writeHeader('Access-Control-Allow-Origin', '*');
        for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v);
        res.end(a.body);
      });
    });
  });
  const listenSocket = await new Promise<unknown>((resolve, reject) => {
    app.listen(host, port < 0 ? 0 : port, (ls) => (ls ? resolve(ls) : reject(new Error(`could not listen on ${host}:${port} for monitoring`))));
  });
  return {
    port: uws.us_socket_local_port(listenSocket as Parameters<Uws['us_socket_local_port']>[0]),
    close: () => {
      app.close();
      return Promise.resolve();
    },
  };
}
