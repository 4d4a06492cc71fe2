// Robustness: 10,000 random and malformed frames thrown at the server (reconnecting whenever it closes the
// fuzz connection) while a separate publisher/subscriber pair runs a steady, sequenced exchange. The steady
// subscriber must receive every message exactly once, in order; the server must stay up and keep serving;
// and whatever the server writes to the fuzz connections must itself be well-formed protocol using only
// known -ERR texts. Reproduce a failure with FUZZ_SEED=<seed printed in the failure>.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { startServer, type RunningServer } from '../helpers/server.js';
import {
  ServerStreamParser,
  assertOpen,
  connectSocket,
  handshake,
  mulberry32,
  sleep,
  waitFor,
  writeAsync,
} from './wire-util.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 0x5eed2024;
const FRAMES = 10_000;
const MIN_STEADY = 5_000;
const STEADY_SUBJECT = 'steady.data';

const KNOWN_ERRS = new Set([
  "'Unknown Protocol Operation'",
  "'Maximum Payload Violation'",
  "'Invalid Subject'",
  "'Invalid Publish Subject'",
  "'maximum control line exceeded'",
  "'invalid client protocol'",
  "'no responders requires headers support'",
  "'Stale Connection'",
]);

type Rng = () => number;

function makeFrameGen(rng: Rng): () => Buffer {
  const int = (n: number): number => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const randBytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  // Subjects the fuzzer may publish to: never anything that could match the steady subscriber.
  const pubSubjects = ['fuzz.a', 'fuzz.b.c', 'fuzz.*', 'fuzz.>', 'fuzz..x', '.fuzz', 'fuzz.', 'FUZZ.A', 'fuzz.\u00e9'];
  const subSubjects = ['fuzz.a', 'fuzz.*', 'fuzz.>', '>', '*', 'steady.*', 'foo..bar', 'a.>.b', '.x', 'x.', 'fuzz.a q'];
  const ops = ['PUB', 'pub', 'HPUB', 'SUB', 'sub', 'UNSUB', 'PING', 'PONG', 'CONNECT', 'MSG', 'HMSG', 'INFO', '+OK', '-ERR'];
  const ws = (): string => pick([' ', '  ', '\t', ' \t ']);
  const payload = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + int(95));
    return s;
  };
  const validPub = (): string => {
    const p = payload(int(40));
    const reply = rng() < 0.3 ? `${ws()}fuzz.reply.${int(100)}` : '';
    return `PUB${ws()}${pick(pubSubjects.slice(0, 2))}${reply}${ws()}${p.length}\r\n${p}\r\n`;
  };
  const validHpub = (): string => {
    const h = `NATS/1.0\r\nK${int(10)}: v${int(1000)}\r\n\r\n`;
    const p = payload(int(20));
    return `HPUB fuzz.h ${h.length} ${h.length + p.length}\r\n${h}${p}\r\n`;
  };
  const gens: Array<[number, () => string | Buffer]> = [
    // pure noise
    [10, () => randBytes(1 + int(64))],
    [5, () => Buffer.concat([randBytes(1 + int(32)), Buffer.from('\r\n')])],
    // a valid frame cut short (the rest of the stream then continues from the cut)
    [10, () => {
      const f = pick([validPub, validHpub, () => 'SUB fuzz.a 1\r\n', () => 'CONNECT {"verbose":false}\r\n'])();
      return f.slice(0, int(f.length));
    }],
    // valid frames
    [14, validPub],
    [5, validHpub],
    [6, () => `SUB${ws()}${pick(subSubjects)}${ws()}${int(50)}\r\n`],
    [4, () => `UNSUB ${int(50)}${rng() < 0.5 ? ` ${int(5)}` : ''}\r\n`],
    [6, () => pick(['PING\r\n', 'PONG\r\n', 'ping\r\n', 'PiNg\r\n'])],
    // publishes with invalid subjects (error only under pedantic)
    [3, () => `PUB ${pick(pubSubjects)} 1\r\nx\r\n`],
    // bad arguments
    [8, () =>
      pick([
        'PUB fuzz.a -1\r\n',
        'PUB fuzz.a\r\n',
        'PUB\r\n',
        'PUB fuzz.a b c d\r\n',
        'PUB fuzz.a x\r\n',
        'PUB fuzz.a 99999999999999999999999999\r\n',
        'HPUB fuzz.a 5 3\r\n',
        'HPUB fuzz.a 3\r\n',
        'SUB fuzz.a\r\n',
        'SUB\r\n',
        'SUB a b c d\r\n',
        'UNSUB\r\n',
        'UNSUB 1 2 3\r\n',
        'UNSUB x y\r\n',
        'PUB fuzz.a 3\r\nabcdef\r\n',
        'PUB fuzz.a 0\r\n\n',
        '\r\n',
        '\n',
        '\r',
        ' PUB fuzz.a 0\r\n\r\n',
      ])],
    // huge or over-limit sizes
    [4, () =>
      pick([
        'PUB fuzz.a 1048577\r\n',
        'PUB fuzz.a 4294967296\r\n',
        'PUB fuzz.a 9223372036854775807\r\n',
        'HPUB fuzz.a 10 99999999\r\n',
        'HPUB fuzz.a 2000000 2000000\r\n',
      ])],
    // a size that is valid but larger than what follows: the next frames become payload
    [1, () => `PUB fuzz.a ${200 + int(3000)}\r\n`],
    // a legitimately large payload
    [1, () => {
      const n = int(70_000);
      return `PUB fuzz.big ${n}\r\n${'z'.repeat(n)}\r\n`;
    }],
    // over-long control lines, with and without CRLF
    [2, () => `PUB ${'s'.repeat(4000 + int(3000))} 1\r\n`],
    [1, () => `SUB ${'s'.repeat(5000)}`],
    // CONNECT variants
    [4, () =>
      pick([
        'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n',
        'CONNECT {"verbose":true}\r\n',
        'CONNECT {"pedantic":true,"verbose":false}\r\n',
        'CONNECT {bad json\r\n',
        'CONNECT\r\n',
        'CONNECT []\r\n',
        'CONNECT {"protocol":2}\r\n',
        'CONNECT {"no_responders":true}\r\n',
        'CONNECT {"headers":true,"no_responders":true,"verbose":false}\r\n',
        'CONNECT {"verbose":"yes"}\r\n',
        `CONNECT {"name":"${payload(100).replace(/["\\]/g, '')}","verbose":false}\r\n`,
        'CONNECT {"verbose":false,"echo":false}\r\n',
      ])],
    // random op with random arguments
    [6, () => `${pick(ops)}${rng() < 0.8 ? ws() : ''}${randBytes(int(20)).toString('latin1')}${rng() < 0.8 ? '\r\n' : ''}`],
  ];
  const total = gens.reduce((a, [w]) => a + w, 0);
  return () => {
    let r = rng() * total;
    for (const [w, g] of gens) {
      r -= w;
      if (r < 0) {
        const f = g();
        return typeof f === 'string' ? Buffer.from(f, 'latin1') : f;
      }
    }
    return Buffer.from('PING\r\n');
  };
}

interface FuzzStats {
  frames: number;
  connections: number;
  serverCloses: number;
  syncTimeouts: number;
  errs: Map<string, number>;
  protocolFaults: string[];
}

async function runFuzz(port: number, seed: number): Promise<FuzzStats> {
  const rng = mulberry32(seed);
  const gen = makeFrameGen(rng);
  const stats: FuzzStats = { frames: 0, connections: 0, serverCloses: 0, syncTimeouts: 0, errs: new Map(), protocolFaults: [] };
  let sock: net.Socket | undefined;
  let closed = true;
  let pongs = 0;
  let wake: (() => void) | undefined;

  const open = async (): Promise<void> => {
    const s = await connectSocket(port);
    stats.connections++;
    closed = false;
    pongs = 0;
    let broken = false;
    const parser = new ServerStreamParser({
      onMsg: () => {},
      onPing: () => {
        if (!closed) s.write('PONG\r\n');
      },
      onPong: () => {
        pongs++;
        wake?.();
      },
      onErr: (text) => {
        stats.errs.set(text, (stats.errs.get(text) ?? 0) + 1);
        if (!KNOWN_ERRS.has(text)) stats.protocolFaults.push(`unknown -ERR text ${text}`);
      },
    });
    s.on('data', (d: Buffer) => {
      if (broken) return;
      try {
        parser.feed(d);
      } catch (e) {
        broken = true;
        stats.protocolFaults.push(`malformed server output: ${(e as Error).message}`);
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (sock === s) {
        closed = true;
        wake?.();
      }
    });
    sock = s;
    // Mostly start with a proper CONNECT; sometimes go straight to the fuzz.
    if (rng() < 0.85) s.write(`CONNECT {"verbose":false,"pedantic":${rng() < 0.3},"headers":true}\r\n`);
  };

  while (stats.frames < FRAMES) {
    if (closed || sock === undefined) {
      if (sock !== undefined) stats.serverCloses++;
      await open();
    }
    const s = sock!;
    const n = Math.min(1 + Math.floor(rng() * 6), FRAMES - stats.frames);
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) parts.push(gen());
    stats.frames += n;
    const before = pongs;
    parts.push(Buffer.from('PING\r\n')); // pacing: wait for the server to get through this group
    try {
      await writeAsync(s, Buffer.concat(parts));
    } catch {
      continue; // closed under us
    }
    // Wait for a PONG, a close, or give up after 50 ms (e.g. the server is still reading a pending payload)
    // and start over on a fresh connection.
    const got = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve(false);
      }, 50);
      wake = () => {
        if (closed || pongs > before) {
          clearTimeout(t);
          wake = undefined;
          resolve(true);
        }
      };
      wake();
    });
    if (!got && !closed) {
      stats.syncTimeouts++;
      closed = true;
      s.destroy();
      sock = undefined;
    }
  }
  sock?.destroy();
  return stats;
}

describe('bad input', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
  });

  test(`${FRAMES} fuzz frames (seed ${SEED}) do not disturb a steady pub/sub exchange`, { timeout: 120_000 }, async () => {
    // Steady subscriber: verifies every message in order, byte for byte.
    const subSock = await connectSocket(srv.port);
    const pubSock = await connectSocket(srv.port);
    let expected = 0;
    const faults: string[] = [];
    let subPongs = 0;
    let pubPongs = 0;
    const subParser = new ServerStreamParser({
      onMsg: (m) => {
        const want = `seq:${expected}`;
        if (m.subject !== STEADY_SUBJECT || m.sid !== '1' || m.reply !== undefined || m.headers !== undefined || m.payload.toString('latin1') !== want) {
          if (faults.length < 5) faults.push(`message #${expected}: got ${m.subject} ${m.sid} ${m.reply} ${JSON.stringify(m.payload.toString('latin1'))}`);
        }
        expected++;
      },
      onPing: () => subSock.write('PONG\r\n'),
      onPong: () => subPongs++,
      onInfo: () => {},
      onErr: (t) => faults.push(`steady subscriber got -ERR ${t}`),
    });
    const pubParser = new ServerStreamParser({
      onMsg: (m) => faults.push(`publisher got a message on ${m.subject}`),
      onPing: () => pubSock.write('PONG\r\n'),
      onPong: () => pubPongs++,
      onInfo: () => {},
      onErr: (t) => faults.push(`steady publisher got -ERR ${t}`),
    });
    const feed = (p: ServerStreamParser, what: string) => (d: Buffer) => {
      try {
        p.feed(d);
      } catch (e) {
        faults.push(`${what}: ${(e as Error).message}`);
      }
    };
    subSock.on('data', feed(subParser, 'steady subscriber'));
    pubSock.on('data', feed(pubParser, 'steady publisher'));
    let steadyClosed = false;
    for (const s of [subSock, pubSock]) {
      s.on('error', () => {});
      s.on('close', () => {
        steadyClosed = true;
      });
    }
    subSock.write(`CONNECT {"verbose":false,"pedantic":false}\r\nSUB ${STEADY_SUBJECT} 1\r\nPING\r\n`);
    pubSock.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
    await waitFor(() => subPongs === 1 && pubPongs === 1, 5000, 'steady handshakes');

    let fuzzDone = false;
    let sent = 0;
    const steady = (async () => {
      // Keep publishing (in batches of 50, flushed with PING/PONG) until the fuzz is over and at least
      // MIN_STEADY messages went out, so the exchange overlaps the whole fuzz run.
      while (!fuzzDone || sent < MIN_STEADY) {
        let batch = '';
        for (let i = 0; i < 50; i++) {
          const p = `seq:${sent++}`;
          batch += `PUB ${STEADY_SUBJECT} ${p.length}\r\n${p}\r\n`;
        }
        const want = pubPongs + 1;
        await writeAsync(pubSock, batch + 'PING\r\n');
        await waitFor(() => pubPongs >= want || steadyClosed, 10_000, 'steady publisher PONG');
        if (steadyClosed) throw new Error('a steady connection was closed by the server');
        await sleep(4);
      }
    })();

    const t0 = Date.now();
    let stats: FuzzStats;
    try {
      stats = await runFuzz(srv.port, SEED);
    } finally {
      fuzzDone = true;
    }
    await steady;
    const fuzzMs = Date.now() - t0;

    await waitFor(() => expected >= sent || steadyClosed || faults.length > 0, 15_000, `steady messages (${expected}/${sent})`);
    await sleep(100); // nothing extra may arrive
    const summary = `seed=${SEED} frames=${stats.frames} conns=${stats.connections} serverCloses=${stats.serverCloses} syncTimeouts=${stats.syncTimeouts} fuzzMs=${fuzzMs} steady=${sent} errs=${JSON.stringify([...stats.errs])}`;
    console.log(`# bad-input: ${summary}`);
    assert.deepEqual(faults, [], summary);
    assert.equal(steadyClosed, false, 'steady connections must survive');
    assert.equal(expected, sent, `steady subscriber received ${expected} of ${sent}; ${summary}`);
    assert.ok(sent >= MIN_STEADY);
    assert.equal(stats.frames, FRAMES);
    // The fuzz must actually have exercised the error paths.
    assert.ok(stats.serverCloses > 100, `expected many server-side closes; ${summary}`);

    subSock.destroy();
    pubSock.destroy();

    // The server is still alive and accepts a fresh connection.
    assert.equal(srv.proc.exitCode, null, 'server process must still be running');
    const c = await handshake(srv.port);
    c.send('SUB after 1\r\nPUB after 2\r\nok\r\n');
    await assertOpen(c, 'MSG after 1 2\r\nok\r\n');
    c.close();

    // Last (so a failure here means everything above held): what the server wrote to the fuzz
    // connections was well-formed protocol, with only nats-server's -ERR texts.
    assert.deepEqual([...new Set(stats.protocolFaults)], [], summary);
  });
});
