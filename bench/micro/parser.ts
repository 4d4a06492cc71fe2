// ClientParser: PUB frames with 16-byte payloads, (a) all in one large read, (b) cut into 1,500-byte
// reads at arbitrary points (a frame split across reads every ~40 frames, as on a real socket), and
// (c) every frame split in two inside its control line (the parser's worst case: argBuf spill).
import { ClientParser, type ParseErrorCode, type ParserHandler } from '../../src/protocol/parser.js';
import type { MicroCase } from './types.js';

/** The minimal handler: counts messages and payload bytes, nothing else. */
class CountingHandler implements ParserHandler {
  stopped = false;
  msgs = 0;
  bytes = 0;
  errors = 0;
  processConnect(): void {}
  processPing(): void {}
  processPong(): void {}
  processSub(): void {}
  processUnsub(): void {}
  processPubArgs(): boolean {
    return true;
  }
  processMsg(_p: ClientParser, _buf: Buffer, start: number, end: number): void {
    this.msgs++;
    this.bytes += end - start;
  }
  parseError(_code: ParseErrorCode): void {
    this.errors++;
  }
}

const SUBJECT = 'bench.data';
const SIZE = 16;

function pubStream(frames: number): Buffer {
  const payload = Buffer.alloc(SIZE, 'a');
  const one = Buffer.concat([Buffer.from(`PUB ${SUBJECT} ${SIZE}\r\n`, 'latin1'), payload, Buffer.from('\r\n')]);
  const out = Buffer.allocUnsafe(one.length * frames);
  for (let i = 0; i < frames; i++) one.copy(out, i * one.length);
  return out;
}

function parserCase(name: string, pieces: Buffer[], frames: number): MicroCase {
  const h = new CountingHandler();
  const p = new ClientParser(h);
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

export function parserCases(): MicroCase[] {
  const FRAMES = 16_384; // 37 bytes each: ~600 KB per call
  const stream = pubStream(FRAMES);
  const frameLen = stream.length / FRAMES;
  const mtu: Buffer[] = [];
  for (let o = 0; o < stream.length; o += 1500) mtu.push(stream.subarray(o, Math.min(stream.length, o + 1500)));
  const halves: Buffer[] = [];
  const cut = 7; // inside "PUB bench.data 16": the subject is split
  for (let f = 0; f < FRAMES; f++) {
    const o = f * frameLen;
    halves.push(stream.subarray(o, o + cut), stream.subarray(o + cut, o + frameLen));
  }
  return [
    parserCase(`PUB 16 B, ${FRAMES.toLocaleString('en-US')} frames in one ${Math.round(stream.length / 1024)} KB read`, [stream], FRAMES),
    parserCase('PUB 16 B, 1,500-byte reads (a frame split every ~40)', mtu, FRAMES),
    parserCase('PUB 16 B, every frame split in its control line', halves, FRAMES),
  ];
}
