// Sublist: a match per operation against a trie of ~3,000 subscriptions, for a subject matched by a
// literal subscription, by a `*` subscription and by a `>` subscription. "cached" is matchBytes on
// a cache hit (hash of the bytes + byte compare, what the shard does per PUB); "uncached" is
// matchNoCache (split + trie walk + fresh result); "cache churn" cycles through more subjects than
// the cache holds (1,024), so every matchBytes misses, walks the trie and inserts (and sweeps).
import { Sublist } from '../../src/sublist/sublist.js';
import { sink, type MicroCase } from './types.js';

interface Sub {
  readonly subject: string;
  readonly queue: string | null;
}

const N = 1000; // matches per call

function population(): Sublist<Sub> {
  const sl = new Sublist<Sub>();
  const add = (subject: string): void => sl.insert({ subject, queue: null });
  for (let i = 0; i < 1000; i++) add(`lit.${i}`); // literal
  add('star.*'); // '*'
  add('fwc.>'); // '>'
  // Noise so the levels are not trivially small.
  for (let i = 0; i < 1000; i++) add(`app.${i}.events`);
  for (let i = 0; i < 1000; i++) add(`svc.${i % 50}.*.req`);
  return sl;
}

function matchCases(label: string, subject: string, sl: Sublist<Sub>): MicroCase[] {
  const buf = Buffer.from(`PUB ${subject} 16\r\n`, 'latin1');
  const start = 4;
  const end = 4 + subject.length;
  const want = sl.matchNoCache(subject).psubs.length;
  let got = -1;
  return [
    {
      group: 'sublist',
      name: `${label}: matchBytes, cache hit`,
      perIter: N,
      unit: 'matches',
      fn: () => {
        let n = 0;
        for (let i = 0; i < N; i++) n += sl.matchBytes(buf, start, end).psubs.length;
        got = n / N;
        sink.n += n;
      },
      check: () => (want === 1 && got === want ? null : `matched ${got} subscriptions, expected 1 (population gives ${want})`),
    },
    {
      group: 'sublist',
      name: `${label}: matchNoCache`,
      perIter: N,
      unit: 'matches',
      fn: () => {
        let n = 0;
        for (let i = 0; i < N; i++) n += sl.matchNoCache(subject).psubs.length;
        sink.n += n;
      },
    },
  ];
}

export function sublistCases(): MicroCase[] {
  const sl = population();
  const churnSubjects = Array.from({ length: 4096 }, (_, i) => Buffer.from(`lit.${i}`, 'latin1'));
  let k = 0;
  return [
    ...matchCases('literal `lit.500`', 'lit.500', sl),
    ...matchCases('`*`: `star.500` (sub `star.*`)', 'star.500', sl),
    ...matchCases('`>`: `fwc.a.b.c` (sub `fwc.>`)', 'fwc.a.b.c', sl),
    {
      group: 'sublist',
      name: 'literal, cache churn (4,096 subjects > 1,024 cache): matchBytes, miss',
      perIter: N,
      unit: 'matches',
      fn: () => {
        let n = 0;
        for (let i = 0; i < N; i++) {
          const b = churnSubjects[k]!;
          k = (k + 1) & 4095;
          n += sl.matchBytes(b, 0, b.length).psubs.length;
        }
        sink.n += n;
      },
    },
  ];
}
