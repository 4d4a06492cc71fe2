// JetStream API requests over a raw NATS connection, for the JetStream workers' set-up and checks
// (create a stream afresh, read its state, create and inspect a consumer). Never on the measured
// path: one request at a time, the reply parsed as JSON.
import net from 'node:net';

export type Json = Record<string, unknown>;

export class JsApi {
  private readonly sock: net.Socket;
  private buf = '';
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly inbox: string;

  private constructor(sock: net.Socket, inbox: string) {
    this.sock = sock;
    this.inbox = inbox;
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.poke();
    });
    sock.on('close', () => {
      this.closed = true;
      this.poke();
    });
    sock.on('error', () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  static async connect(host: string, port: number, name: string): Promise<JsApi> {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    const api = new JsApi(sock, `_INBOX.jsapi${process.pid}`);
    await api.line(/^INFO .*\r\n/m);
    sock.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name, lang: 'tsnats-bench', version: '0.0.1', protocol: 1, headers: true, no_responders: true })}\r\n`);
    sock.write(`SUB ${api.inbox} 1\r\nPING\r\n`);
    await api.line(/^PONG\r\n/m);
    return api;
  }

  /** Waits until `ready()` returns a value (checked on every read), at most `timeoutMs`. */
  private async until<T>(ready: () => T | null, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = ready();
      if (v !== null) return v;
      if (/^-ERR .*\r\n/m.test(this.buf)) throw new Error(`server said ${/^-ERR .*/m.exec(this.buf)![0]}`);
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs / 1000}s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Waits for a line matching `re` and consumes everything up to its end. */
  private line(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return this.until(() => {
      const m = re.exec(this.buf);
      if (m === null) return null;
      this.buf = this.buf.slice(m.index + m[0].length);
      return m;
    }, re.source, timeoutMs);
  }

  /** Sends `body` to `subject` and returns the reply's JSON (no-responders status: an error). */
  async request(subject: string, body: Json | string = ''): Promise<Json> {
    const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.sock.write(`PUB ${subject} ${this.inbox} ${data.length}\r\n`);
    this.sock.write(data);
    this.sock.write('\r\n');
    // MSG <inbox> 1 <len> or HMSG <inbox> 1 <hdr> <total> (a status, e.g. 503 no responders).
    const head = await this.line(/^(H?)MSG \S+ 1 (?:(\d+) )?(\d+)\r\n/m);
    const total = Number(head[3]);
    await this.until(() => (this.buf.length >= total + 2 ? true : null), `the ${total}-byte reply to ${subject}`);
    const payload = this.buf.slice(0, total);
    this.buf = this.buf.slice(total + 2);
    if (head[1] === 'H') throw new Error(`${subject}: status reply ${payload.split('\r\n')[0]}`);
    return JSON.parse(payload) as Json;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Throws the API error of a reply, if it has one. */
export function check(reply: Json, what: string): Json {
  const err = reply['error'] as { code?: number; err_code?: number; description?: string } | undefined;
  if (err !== undefined) throw new Error(`${what}: ${err.description ?? JSON.stringify(err)} (${err.err_code ?? err.code})`);
  return reply;
}

/** Deletes the stream if it exists and creates it again: file storage, limits retention. */
export async function freshStream(api: JsApi, name: string, subjects: string[]): Promise<void> {
  await api.request(`$JS.API.STREAM.DELETE.${name}`).catch(() => undefined);
  check(await api.request(`$JS.API.STREAM.CREATE.${name}`, { name, subjects, storage: 'file', retention: 'limits', discard: 'old', num_replicas: 1 }), `create stream ${name}`);
}

/** Messages in the stream, or -1 when it does not exist. */
export async function streamMessages(api: JsApi, name: string): Promise<number> {
  const r = await api.request(`$JS.API.STREAM.INFO.${name}`);
  if (r['error'] !== undefined) return -1;
  return Number((r['state'] as { messages?: number } | undefined)?.messages ?? -1);
}
