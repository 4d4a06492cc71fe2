// /metrics per route (tsnats's Prometheus text, beside monitor/endpoints.ts buildMetrics): the
// /routez counters of every route, labelled with the remote server's id and name.

import type { RoutezEntry } from './messages.js';

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function routeMetrics(routez: Record<string, unknown>): string {
  const routes = (routez['routes'] as RoutezEntry[] | undefined) ?? [];
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, pick: (r: RoutezEntry) => number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const r of routes) lines.push(`${name}{rid="${r.rid}",remote_id="${label(r.remote_id)}",remote_name="${label(r.remote_name)}"} ${pick(r)}`);
  };
  lines.push('# HELP tsnats_routes Routes to other cluster nodes.', '# TYPE tsnats_routes gauge', `tsnats_routes ${routes.length}`);
  metric('tsnats_route_in_msgs_total', 'counter', 'Messages received over each route.', (r) => r.in_msgs);
  metric('tsnats_route_out_msgs_total', 'counter', 'Messages sent over each route.', (r) => r.out_msgs);
  metric('tsnats_route_in_bytes_total', 'counter', 'Payload bytes received over each route.', (r) => r.in_bytes);
  metric('tsnats_route_out_bytes_total', 'counter', 'Payload bytes sent over each route.', (r) => r.out_bytes);
  metric('tsnats_route_pending_bytes', 'gauge', 'Bytes waiting to be written to each route.', (r) => r.pending_size);
  metric('tsnats_route_subscriptions', 'gauge', 'Interest each route told this server about.', (r) => r.subscriptions);
  return lines.join('\n') + '\n';
}
