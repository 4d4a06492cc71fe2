// Sync JetStream publishes over a raw socket: the server's own round trip (PUB with a reply, wait for
// the pub ack), without a client library's per-message work on top. Returns the latencies in µs.
import net from 'node:net';

export async function rawPubLatencies(port: number, subject: string, n: number, warmup = 200): Promise<number[]> {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  let buf = '';
  let wake: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const w = wake;
    wake = null;
    w?.();
  });
  const waitFor = async (re: RegExp): Promise<void> => {
    for (;;) {
      const m = re.exec(buf);
      if (m !== null) {
        buf = buf.slice(m.index + m[0].length);
        return;
      }
      await new Promise<void>((r) => (wake = r));
    }
  };
  try {
    await waitFor(/INFO .*\r\n/);
    s.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.lat 1\r\n');
    // nats-server 2.9 writes internal replies as `MSG <subj> <sid>  <len>` (two spaces).
    const ack = /MSG _INBOX\.lat 1 +\d+\r\n[^\r]*\r\n/;
    const pub = `PUB ${subject} _INBOX.lat 5\r\nhello\r\n`;
    const out: number[] = [];
    for (let i = 0; i < n + warmup; i++) {
      const t = process.hrtime.bigint();
      s.write(pub);
      await waitFor(ack);
      if (i >= warmup) out.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return out;
  } finally {
    s.destroy();
  }
}
