// Ports a test hands to a server it is about to start (cluster listen ports that peers must know in
// advance). Picked below Linux's ephemeral range (ip_local_port_range, 32768–60999 by default): a
// port that `listen(0)` returned and the test released is exactly where the kernel picks the next
// ephemeral port for anyone, and a server's own `-m -1` monitor once took a cluster port that way
// (EADDRINUSE in CI). A port is handed out once per process, and only after a bind to it worked.

import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port that was free on `host` a moment ago, outside the ephemeral range, not handed out before. */
export async function sparePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await bindable(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no spare port found in ${LOW}-${HIGH} after 200 tries`);
}

/** n distinct spare ports. */
export async function spareNPorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await sparePort(host));
  return out;
}
