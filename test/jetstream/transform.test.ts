// Subject transforms (src/jetstream/transform.ts) against nats-server's subject_transform.go cases:
// placeholders, the mapping functions, '>' pass-through, no match, and the destination errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubjectTransform, TransformError, validateMappingDestination } from '../../src/jetstream/transform.js';

const tr = (src: string, dest: string): SubjectTransform => {
  const t = SubjectTransform.create(src, dest);
  assert.ok(t !== null, `${src} -> ${dest}`);
  return t;
};

test('placeholders and pass-through', () => {
  assert.equal(tr('foo.*.*', 'bar.$2.$1').match('foo.a.b'), 'bar.b.a');
  assert.equal(tr('foo.*.*', 'bar.{{wildcard(2)}}.{{ Wildcard(1) }}').match('foo.a.b'), 'bar.b.a');
  assert.equal(tr('o.>', 'x.>').match('o.a.b.c'), 'x.a.b.c');
  assert.equal(tr('o.*.>', 'x.$1.y.>').match('o.a.b.c'), 'x.a.y.b.c');
  assert.equal(tr('>', '>').match('any.thing'), 'any.thing');
  assert.equal(tr('', 'x.>') === null, false);
  assert.equal(tr('foo', 'bar').match('foo'), 'bar');
  // Not matching the source: no transform.
  assert.equal(tr('foo.*', 'bar.$1').match('baz.a'), null);
  assert.equal(tr('foo.*', 'bar.$1').match('foo.a.b'), null);
  // `$KV`-style tokens are literals, not placeholders.
  assert.equal(tr('a.*', '$KV.b.$1').match('a.k'), '$KV.b.k');
  assert.equal(SubjectTransform.create('foo', ''), null, 'no destination: no transform');
});

test('mapping functions', () => {
  assert.equal(tr('a.*', 'p.{{partition(10,1)}}.$1').match('a.key'), `p.${(() => {
    // FNV-1a 32 of "key" mod 10, computed independently.
    let h = 0x811c9dc5;
    for (const c of Buffer.from('key')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
    return h % 10;
  })()}.key`);
  assert.equal(tr('a.*', 'b.{{splitfromleft(1,2)}}').match('a.abcdef'), 'b.ab.cdef');
  assert.equal(tr('a.*', 'b.{{SplitFromRight(1,2)}}').match('a.abcdef'), 'b.abcd.ef');
  assert.equal(tr('a.*', 'b.{{SliceFromLeft(1,2)}}').match('a.abcde'), 'b.ab.cd.e');
  assert.equal(tr('a.*', 'b.{{SliceFromRight(1,2)}}').match('a.abcde'), 'b.a.bc.de');
  assert.equal(tr('a.*', 'b.{{split(1,-)}}').match('a.-x--y-'), 'b.x.y');
  assert.equal(tr('a.*', 'b.{{left(1,2)}}').match('a.abcde'), 'b.ab');
  assert.equal(tr('a.*', 'b.{{right(1,2)}}').match('a.abcde'), 'b.de');
  assert.equal(tr('a.*', 'b.{{left(1,9)}}').match('a.abc'), 'b.abc', 'too short: unchanged');
});

test('invalid pairs throw with nats-server texts', () => {
  const fails = (src: string, dest: string, re: RegExp): void => {
    assert.throws(() => SubjectTransform.create(src, dest), (e: unknown) => e instanceof TransformError && re.test((e as Error).message), `${src} -> ${dest}`);
  };
  fails('foo.*', 'bar.*', /invalid subject/); // wildcards in the destination
  fails('foo.>', 'bar', /invalid subject/); // '>' on one side only
  fails('foo.*', 'bar.$2', /wildcard index out of range/);
  fails('foo', 'bar.$1', /wildcard index out of range/);
  fails('foo.*', 'bar.{{nope(1)}}', /unknown function/);
  fails('foo.*', 'bar.{{wildcard()}}', /not enough arguments/);
  fails('foo.*', 'bar.{{partition(3)}}', /not enough arguments/);
  fails('foo.*', 'bar.{{split(1,a,b)}}', /too many arguments/);
  fails('foo.*', 'bar.{{left(x,1)}}', /function argument is invalid/);
  assert.throws(() => SubjectTransform.create('foo.*', 'bar.{{partition(2,1)}}', true), /only mapping function allowed for import/);
  assert.throws(() => SubjectTransform.create('foo.*.*', 'bar.$1', true), /not using all of the token wildcard/);
});

test('validateMappingDestination', () => {
  assert.equal(validateMappingDestination(''), null);
  assert.equal(validateMappingDestination('a.{{wildcard(1)}}.>'), null);
  assert.match(validateMappingDestination('a..b') ?? '', /invalid subject/);
  assert.match(validateMappingDestination('a.>.b') ?? '', /invalid subject/);
  assert.match(validateMappingDestination('a.{{bogus(1)}}') ?? '', /unknown function/);
});
