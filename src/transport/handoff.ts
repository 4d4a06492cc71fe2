// Hands accepted TCP connections from the main thread to a shard worker, over an AF_UNIX IPC pipe
// inside this process (SCM_RIGHTS: the mechanism Node's cluster module uses between processes).
//
// Why not pass the fd number: main's handle owns the fd, and the moment main closes it the number can
// be reused by another socket; a worker that opens the number late would take over the wrong
// connection. With SCM_RIGHTS the kernel gives the worker its own descriptor, and main closes its own
// copy once the write completed; each fd has exactly one owner at all times.
//
// How the pair is made (Node exposes no socketpair): main binds an abstract-namespace pipe server,
// connects an IPC pipe to it and accepts the other end. Only IPC pipes may send or receive handles,
// and Node makes accepted pipes non-IPC, so the accepted end's fd is re-opened as an IPC pipe in the
// worker. Main keeps the accepted (non-IPC) wrap open but never reads, writes or closes it: closing it
// would close the worker's fd (same number) or, after the worker is gone, an unrelated reused fd.
// That leaves one inert wrap per shard ever started, which is the cost of having no socketpair.
//
// This uses the deprecated process.binding('pipe_wrap'/'stream_wrap') internals, present on Node 20
// through 24. `handoffSupported()` says whether they load; the caller falls back to reusePort
// listeners in each shard (Node >= 22.12) otherwise.

import net from 'node:net';

interface PipeHandle {
  fd: number;
  bind(name: string): number;
  listen(backlog: number): number;
  connect(req: unknown, name: string): number;
  open(fd: number): number;
  readStart(): number;
  readStop(): number;
  close(cb?: () => void): void;
  writeUtf8String(req: unknown, s: string, handle?: unknown): number;
  onread: ((ab: ArrayBuffer | undefined) => void) | null;
  onconnection: ((err: number, client: PipeHandle) => void) | null;
  pendingHandle: unknown;
  unref(): void;
  ref(): void;
}

interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete: (status: number) => void };
  constants: { SOCKET: number; SERVER: number; IPC: number };
}

interface StreamBinding {
  WriteWrap: new () => { handle: unknown; oncomplete: (status: number) => void; async: boolean };
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** A native handle of an accepted TCP connection (tcp_wrap TCP). */
export interface TcpHandle {
  close(cb?: () => void): void;
}

type ProcessWithBinding = NodeJS.Process & { binding(name: string): unknown };

let bindings: { pipe: PipeBinding; stream: StreamBinding } | null | undefined;

function load(): { pipe: PipeBinding; stream: StreamBinding } | null {
  if (bindings !== undefined) return bindings;
  try {
    // process.binding warns only under --pending-deprecation; silence that one warning if it appears.
    const p = process as ProcessWithBinding;
    const pipe = p.binding('pipe_wrap') as PipeBinding;
    const stream = p.binding('stream_wrap') as StreamBinding;
    bindings = typeof pipe.Pipe === 'function' && stream.streamBaseState instanceof Int32Array ? { pipe, stream } : null;
  } catch {
    bindings = null;
  }
  return bindings;
}

export function handoffSupported(): boolean {
  return process.platform === 'linux' && load() !== null;
}

let pairSeq = 0;

/** Main-thread end: sends handles. `receiverFd` goes to the worker (workerData). */
export class HandoffSender {
  readonly receiverFd: number;
  private readonly sender: PipeHandle;
  /** The accepted end, kept open and untouched (see the header comment). */
  private readonly inert: PipeHandle;
  private closed = false;
  /** Sends in flight whose handle must stay open until the write completes. */
  inFlight = 0;

  private constructor(sender: PipeHandle, inert: PipeHandle) {
    this.sender = sender;
    this.inert = inert;
    this.receiverFd = inert.fd;
  }

  static async create(): Promise<HandoffSender> {
    const b = load();
    if (b === null) throw new Error('SCM_RIGHTS hand-off is not available on this Node');
    const { Pipe, PipeConnectWrap, constants } = b.pipe;
    const name = `\0tsnats-handoff-${process.pid}-${++pairSeq}-${Math.random().toString(36).slice(2)}`;
    const server = new Pipe(constants.SERVER);
    let err = server.bind(name);
    if (err !== 0) throw new Error(`handoff bind failed: ${err}`);
    const accepted = new Promise<PipeHandle>((resolve, reject) => {
      server.onconnection = (status, client) => (status === 0 ? resolve(client) : reject(new Error(`handoff accept failed: ${status}`)));
    });
    err = server.listen(1);
    if (err !== 0) throw new Error(`handoff listen failed: ${err}`);
    const sender = new Pipe(constants.IPC);
    const connected = new Promise<void>((resolve, reject) => {
      const req = new PipeConnectWrap();
      req.oncomplete = (status) => (status === 0 ? resolve() : reject(new Error(`handoff connect failed: ${status}`)));
      const e = sender.connect(req, name);
      if (e !== 0) reject(new Error(`handoff connect failed: ${e}`));
    });
    const [inert] = await Promise.all([accepted, connected]);
    server.close();
    // The sender needs no reads; unref so an idle hand-off pipe never keeps the process alive.
    sender.unref();
    // The inert end does no I/O either; unref'd, it is not one of the process's active resources
    // (a library user checking process.getActiveResourcesInfo() after stop() sees nothing left).
    inert.unref();
    return new HandoffSender(sender, inert);
  }

  /**
   * Sends `handle` with a tag (the connection id and kind; no newline). `done` runs once main may close its copy;
   * it receives false when the send failed (the receiver is gone), and then the caller still owns it.
   */
  send(handle: TcpHandle, tag: number | string, done: (ok: boolean) => void): void {
    if (this.closed) return done(false);
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = load()!.stream;
    const req = new WriteWrap();
    req.handle = this.sender;
    req.async = false;
    req.oncomplete = (status: number) => {
      this.inFlight--;
      done(status === 0);
    };
    this.inFlight++;
    const err = this.sender.writeUtf8String(req, `${tag}\n`, handle);
    if (err !== 0) {
      this.inFlight--;
      return done(false);
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      // Written synchronously: the kernel holds its own reference to the descriptor now.
      this.inFlight--;
      done(true);
    }
  }

  /** Closes the sending end; the inert accepted end is deliberately left alone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sender.close();
    void this.inert;
  }
}

/** Worker end: opens the fd from the sender and calls `onHandle` with each received handle and tag. */
export class HandoffReceiver {
  private readonly pipe: PipeHandle;
  private text = '';
  private readonly handles: unknown[] = [];

  constructor(fd: number, onHandle: (handle: unknown, tag: string) => void) {
    const b = load();
    if (b === null) throw new Error('SCM_RIGHTS hand-off is not available on this Node');
    const { streamBaseState, kReadBytesOrError, kArrayBufferOffset } = b.stream;
    this.pipe = new b.pipe.Pipe(b.pipe.constants.IPC);
    const err = this.pipe.open(fd);
    if (err !== 0) throw new Error(`handoff open failed: ${err}`);
    this.pipe.onread = (ab) => {
      const h = this.pipe.pendingHandle;
      this.pipe.pendingHandle = null;
      if (h) this.handles.push(h);
      const nread = streamBaseState[kReadBytesOrError]!;
      if (nread < 0) return; // EOF or error: the sender is gone
      if (ab !== undefined && nread > 0) {
        const offset = streamBaseState[kArrayBufferOffset]!;
        this.text += Buffer.from(ab, offset, nread).toString('latin1');
      }
      // Tags and handles arrive in the same order, one handle per tag: pair them FIFO.
      let nl: number;
      while ((nl = this.text.indexOf('\n')) >= 0 && this.handles.length > 0) {
        const tag = this.text.slice(0, nl);
        this.text = this.text.slice(nl + 1);
        onHandle(this.handles.shift(), tag);
      }
    };
    this.pipe.readStart();
  }

  /** Lets the worker's event loop end while the pipe is still open. */
  unref(): void {
    this.pipe.unref();
  }

  close(): void {
    this.pipe.close();
  }
}

/** Wraps a received TCP handle in a net.Socket. */
export function socketFromHandle(handle: unknown, options: Omit<net.SocketConstructorOpts, 'handle' | 'fd'> = {}): net.Socket {
  return new net.Socket({ ...options, handle, readable: true, writable: true } as net.SocketConstructorOpts);
}
