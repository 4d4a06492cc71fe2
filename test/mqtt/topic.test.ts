// Topic <-> subject conversion: nats-server's own table (mqtt_test.go TestMQTTTopicAndSubjectConversion,
// TestMQTTFilterConversion), both directions, and the `foo/#` level-up and reserved-filter rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReservedSubscription, needSubForLevelUp, subjectToTopic, topicLength, topicToSubjectString, TopicError } from '../../src/mqtt/topic.js';

const conv = (t: string, wildcards = false): string | number => {
  const b = Buffer.from(t, 'utf8');
  return topicToSubjectString(b, 0, b.length, wildcards);
};

const TOPICS: [string, string][] = [
  ['/', '/./'],
  ['//', '/././'],
  ['///', '/./././'],
  ['////', '/././././'],
  ['foo', 'foo'],
  ['/foo', '/.foo'],
  ['//foo', '/./.foo'],
  ['///foo', '/././.foo'],
  ['///foo/', '/././.foo./'],
  ['///foo//', '/././.foo././'],
  ['///foo///', '/././.foo./././'],
  ['//.foo.//', '/././/foo//././'],
  ['foo/bar', 'foo.bar'],
  ['/foo/bar', '/.foo.bar'],
  ['/foo/bar/', '/.foo.bar./'],
  ['foo/bar/baz', 'foo.bar.baz'],
  ['/foo/bar/baz', '/.foo.bar.baz'],
  ['/foo/bar/baz/', '/.foo.bar.baz./'],
  ['bar/', 'bar./'],
  ['bar//', 'bar././'],
  ['bar///', 'bar./././'],
  ['foo//bar', 'foo./.bar'],
  ['foo///bar', 'foo././.bar'],
  ['foo////bar', 'foo./././.bar'],
  ['.', '//'],
  ['..', '////'],
  ['...', '//////'],
  ['./', '//./'],
  ['.//.', '//././/'],
  ['././.', '//.//.//'],
  ['././/.', '//.//././/'],
  ['.foo', '//foo'],
  ['foo.', 'foo//'],
  ['.foo.', '//foo//'],
  ['foo../bar/', 'foo////.bar./'],
  ['foo../bar/.', 'foo////.bar.//'],
  ['/foo/', '/.foo./'],
  ['./foo/.', '//.foo.//'],
  ['foo.bar/baz', 'foo//bar.baz'],
];

test('topic names convert to subjects and back as nats-server converts them', () => {
  for (const [topic, subject] of TOPICS) {
    assert.equal(conv(topic), subject, `topic ${topic}`);
    assert.equal(subjectToTopic(subject), topic, `subject ${subject}`);
    const sb = Buffer.from(subject, 'latin1');
    assert.equal(topicLength(sb, 0, sb.length), Buffer.byteLength(topic), `length of ${subject}`);
  }
});

test('publish topics refuse wildcards and spaces', () => {
  assert.equal(conv('foo/+'), TopicError.WILDCARD);
  assert.equal(conv('foo/#'), TopicError.WILDCARD);
  assert.equal(conv('foo bar'), TopicError.SPACE);
  assert.equal(conv('foo bar', true), TopicError.SPACE);
});

test('filters convert with wildcards', () => {
  const FILTERS: [string, string][] = [
    ['+', '*'],
    ['/+', '/.*'],
    ['+/', '*./'],
    ['/+/', '/.*./'],
    ['foo/+', 'foo.*'],
    ['foo/+/', 'foo.*./'],
    ['foo/+/bar', 'foo.*.bar'],
    ['foo/+/+', 'foo.*.*'],
    ['foo/+/+/', 'foo.*.*./'],
    ['foo/+/+/bar', 'foo.*.*.bar'],
    ['foo//+', 'foo./.*'],
    ['foo//+/', 'foo./.*./'],
    ['foo//+//', 'foo./.*././'],
    ['foo//+//bar', 'foo./.*./.bar'],
    ['foo///+///bar', 'foo././.*././.bar'],
    ['foo.bar///+///baz', 'foo//bar././.*././.baz'],
    ['#', '>'],
    ['/#', '/.>'],
    ['/foo/#', '/.foo.>'],
    ['foo/#', 'foo.>'],
    ['foo//#', 'foo./.>'],
    ['foo///#', 'foo././.>'],
    ['foo/bar/#', 'foo.bar.>'],
    ['foo/bar.baz/#', 'foo.bar//baz.>'],
  ];
  for (const [filter, subject] of FILTERS) assert.equal(conv(filter, true), subject, `filter ${filter}`);
});

test('`foo/#` also subscribes `foo`; `#`, `+` and `+/...` are reserved against `$` topics', () => {
  assert.equal(needSubForLevelUp('foo.>'), true);
  assert.equal(needSubForLevelUp('/.>'), true);
  assert.equal(needSubForLevelUp('>'), false);
  assert.equal(needSubForLevelUp('foo.*'), false);
  assert.equal(isReservedSubscription('>'), true);
  assert.equal(isReservedSubscription('*'), true);
  assert.equal(isReservedSubscription('*.foo'), true);
  assert.equal(isReservedSubscription('foo.>'), false);
  assert.equal(isReservedSubscription('$foo.>'), false);
});
