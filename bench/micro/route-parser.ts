// RouteParser (src/cluster/route-parser.ts): RMSG frames with 16-byte payloads as a peer sends them,
// (a) in one large read, (b) in 1,500-byte reads; to set beside the ClientParser's PUB figures.
import { RouteParser, type RouteParserHandler } from '../../src/cluster/route-parser.js';
import type { MicroCase } from './types.js';

class CountingHandler implements RouteParserHandler {
  stopped = false;
  msgs = 0;
  bytes = 0;
  errors = 0;
  processInfo(): void {}
  processConnect(): void {}
  processPing(): void {}
  processPong(): void {}
  processErr(): void {}
  processRemoteSub(): void {}
  processRemoteUnsub(): void {}
  processRoutedMsg(_p: RouteParser, _buf: Buffer, start: number, end: number): void {
    this.msgs++;
    this.bytes += end - start;
  }
  parseError(): void {
    this.errors++;
  }
}

const SIZE = 16;

function rmsgStream(frames: number): Buffer {
  const one = Buffer.concat([Buffer.from(`RMSG $G bench.data ${SIZE}\r\n`, 'latin1'), Buffer.alloc(SIZE, 'a'), Buffer.from('\r\n')]);
  const out = Buffer.allocUnsafe(one.length * frames);
  for (let i = 0; i < frames; i++) one.copy(out, i * one.length);
  return out;
}

function routeCase(name: string, pieces: Buffer[], frames: number): MicroCase {
  const h = new CountingHandler();
  const p = new RouteParser(h);
  let calls = 0;
  return {
    group: 'parser',
    name,
    perIter: frames,
    unit: 'frames',
    fn: () => {
      for (let i = 0; i < pieces.length; i++) p.parse(pieces[i]!);
      calls++;
    },
    check: () => {
      if (h.errors > 0) return `${h.errors} parse errors`;
      if (h.msgs !== calls * frames) return `parsed ${h.msgs} messages, expected ${calls * frames}`;
      if (h.bytes !== h.msgs * SIZE) return `payload bytes ${h.bytes}, expected ${h.msgs * SIZE}`;
      return null;
    },
  };
}

export function routeParserCases(): MicroCase[] {
  const FRAMES = 16_384;
  const stream = rmsgStream(FRAMES);
  const mtu: Buffer[] = [];
  for (let o = 0; o < stream.length; o += 1500) mtu.push(stream.subarray(o, Math.min(stream.length, o + 1500)));
  return [
    routeCase(`RMSG 16 B (route), ${FRAMES.toLocaleString('en-US')} frames in one ${Math.round(stream.length / 1024)} KB read`, [stream], FRAMES),
    routeCase('RMSG 16 B (route), 1,500-byte reads', mtu, FRAMES),
  ];
}
