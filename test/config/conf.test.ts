// nats.conf syntax: every form nats-server's conf/lex.go + parse.go accept, with the exact values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfError, parseConf, parseConfFile } from '../../src/config/conf.js';
import type { ConfMap } from '../../src/config/conf.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/conf/', import.meta.url));
const fx = (name: string): string => join(FIXTURES, name);
const v = (text: string): ConfMap => parseConf(text).value;

/** Runs fn with environment variables set, restoring them after. */
function withEnv<R>(vars: Record<string, string>, fn: () => R): R {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, old] of Object.entries(saved)) {
      if (old === undefined) delete process.env[k];
      else process.env[k] = old;
    }
  }
}

function confError(fn: () => unknown): ConfError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfError, `expected ConfError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfError');
}

test('key separators: colon, equals, white space', () => {
  assert.deepEqual(v('a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6\n'), { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 });
  // At the top level a value may follow its key on the next line when no separator is written.
  assert.deepEqual(v('port\n4222\n'), { port: 4222 });
});

test('blocks with and without separators, nested', () => {
  const text = 'a { x: 1 }\nb: { y: 2 }\nc = { z: 3 }\nd {\n  e {\n    f: true\n  }\n}\nempty {}\n';
  assert.deepEqual(v(text), { a: { x: 1 }, b: { y: 2 }, c: { z: 3 }, d: { e: { f: true } }, empty: {} });
});

test('optional ";" and "," terminators at the top level and in blocks', () => {
  assert.deepEqual(v('a: 1; b: 2, c: 3;\nm { x: 1; y: 2, z: 3 }\nn {\n  p: 1;\n  q: 2,\n}\n'), {
    a: 1, b: 2, c: 3, m: { x: 1, y: 2, z: 3 }, n: { p: 1, q: 2 },
  });
});

test('arrays: commas, new lines, trailing comma, nesting, maps, comments', () => {
  assert.deepEqual(v('a: [1, 2, 3]\nb: [\n  x\n  y\n]\nc: [1, 2,]\nd: []\ne: [[1, 2], [3]]\n'), {
    a: [1, 2, 3], b: ['x', 'y'], c: [1, 2], d: [], e: [[1, 2], [3]],
  });
  const users = v('users = [\n  { user: a, pass: b }  # first\n  // second\n  {user: c\n   pass: d}\n]\n');
  assert.deepEqual(users, { users: [{ user: 'a', pass: 'b' }, { user: 'c', pass: 'd' }] });
  assert.deepEqual(v('r: [nats://a:1, "nats://b:2", 1k, 1.5, true]'), { r: ['nats://a:1', 'nats://b:2', 1000, 1.5, true] });
});

test('comments: "#" and "//", whole line and trailing', () => {
  const text = '# top\n// also top\nport: 4222 # trailing\nhost: "h" // trailing\nm {\n  # inside\n  k: v // after\n}\n';
  assert.deepEqual(v(text), { port: 4222, host: 'h', m: { k: 'v' } });
  // "#" inside an unquoted value, and in quoted strings, is text
  assert.deepEqual(v('a: foo#bar\nb: "x # y"\nc: "//z"\n'), { a: 'foo#bar', b: 'x # y', c: '//z' });
});

test('booleans: true/yes/on and false/no/off, any case', () => {
  assert.deepEqual(v('a: true\nb: YES\nc: On\nd: false\ne: No\nf: OFF\ng: "true"\n'), {
    a: true, b: true, c: true, d: false, e: false, f: false, g: 'true',
  });
});

test('integers, negative numbers, floats', () => {
  assert.deepEqual(v('a: 0\nb: 4222\nc: -1\nd: 1.5\ne: -0.25\nf: 9223372036854775807\n'), {
    a: 0, b: 4222, c: -1, d: 1.5, e: -0.25, f: 9223372036854775807,
  });
});

test('sizes: k m g t p e are powers of 1000; kb/ki/kib ... powers of 1024; any case', () => {
  const K = 1024;
  const table: [string, number][] = [
    ['1k', 1e3], ['1K', 1e3], ['2kb', 2 * K], ['2KB', 2 * K], ['2Ki', 2 * K], ['2KiB', 2 * K], ['2kib', 2 * K],
    ['3m', 3e6], ['3M', 3e6], ['100MB', 104857600], ['100mb', 104857600], ['1Mi', K ** 2], ['1MiB', K ** 2],
    ['1g', 1e9], ['1G', 1e9], ['1GB', K ** 3], ['1Gi', K ** 3], ['1GiB', K ** 3],
    ['1t', 1e12], ['1T', 1e12], ['1TB', K ** 4], ['1Ti', K ** 4], ['1tib', K ** 4],
    ['1p', 1e15], ['1PB', K ** 5], ['1Pi', K ** 5], ['1e', 1e18], ['1EB', K ** 6], ['1EiB', K ** 6],
    ['500MB', 524288000], ['-5k', -5000],
  ];
  for (const [text, want] of table) assert.equal(v(`x: ${text}`)['x'], want, text);
});

test('durations are strings when they are not numbers; an unquoted 2m is the number 2000000', () => {
  assert.deepEqual(v('a: "2m"\nb: 500ms\nc: 10s\nd: 1h30m\ne: 2m\n'), { a: '2m', b: '500ms', c: '10s', d: '1h30m', e: 2000000 });
});

test('quoted strings: double quotes with escapes, single quotes raw', () => {
  const text = String.raw`a: "tab\there"
b: "nl\ncr\rq\"bs\\"
c: "\x41\x42"
d: "\xe2\x82\xac"
e: 'raw\t"x"'
f: "spaces and : = , ; [ ] { }"
g: "héllo 世界"
h: ""
i: "multi
line"`;
  assert.deepEqual(v(text), {
    a: 'tab\there', b: 'nl\ncr\rq"bs\\', c: 'AB', d: '€', e: 'raw\\t"x"', f: 'spaces and : = , ; [ ] { }',
    g: 'héllo 世界', h: '', i: 'multi\nline',
  });
});

test('unquoted strings: names, addresses, URLs, paths', () => {
  const text = 'user: nats\nlisten: 0.0.0.0:4222\nhost: 127.0.0.1\nroute: nats-route://u:p@host:6222\n' +
    'store_dir=/usr/local/nats/storage\nname: n1-c1\nws: localhost:8080\nescaped: a\\tb\n';
  assert.deepEqual(v(text), {
    user: 'nats', listen: '0.0.0.0:4222', host: '127.0.0.1', route: 'nats-route://u:p@host:6222',
    store_dir: '/usr/local/nats/storage', name: 'n1-c1', ws: 'localhost:8080', escaped: 'a\tb',
  });
  assert.deepEqual(v('jetstream: enabled\nx: tru\\x65\n'), { jetstream: 'enabled', x: 'true' }); // escapes: never a boolean
});

test('keys keep their spelling; quoted keys; "include" with a separator is an ordinary key', () => {
  assert.deepEqual(v('Port: 1\nMAX_payload: 2\n"my key": 3\n\'k\': 4\n$SYS { a: 1 }\ninclude: 5\n'), {
    Port: 1, MAX_payload: 2, 'my key': 3, k: 4, $SYS: { a: 1 }, include: 5,
  });
});

test('duplicate keys: the later wins, blocks are replaced (not merged)', () => {
  const r = parseConf('a: 1\nm { x: 1, y: 2 }\na: 2\nm { z: 3 }\n');
  assert.deepEqual(r.value, { a: 2, m: { z: 3 } });
  assert.deepEqual(r.positions.get('a'), { file: '<string>', line: 3, col: 1 });
  assert.equal(r.positions.has('m.x'), false);
  assert.deepEqual(r.positions.get('m.z'), { file: '<string>', line: 4, col: 5 });
});

test('a config may be wrapped in { } (JSON-like)', () => {
  assert.deepEqual(v('{\n  "port": 4222,\n  "auth": { "user": "a" }\n}\n'), { port: 4222, auth: { user: 'a' } });
  assert.deepEqual(v('{ port: 4222 }'), { port: 4222 });
});

test('ISO8601 Zulu dates are validated and kept as the string written', () => {
  assert.deepEqual(v('d: 2016-05-04T18:53:41Z'), { d: '2016-05-04T18:53:41Z' });
  const e = confError(() => parseConf('d: 2016-02-30T00:00:00Z'));
  assert.equal(e.line, 1);
  assert.equal(e.col, 4);
});

test('( ... ) blocks hold raw text up to a ")" alone on a line', () => {
  assert.deepEqual(v('text (\nline one\n  line "two"\n)\nafter: 1\n'), { text: '\nline one\n  line "two"\n', after: 1 });
});

test('CRLF line endings and a byte order mark', () => {
  assert.deepEqual(v('\ufeffport: 4222\r\nm {\r\n  a: 1\r\n}\r\n'), { port: 4222, m: { a: 1 } });
});

test('variables: earlier keys of this or an enclosing block', () => {
  const text = 'user: top\nport: 4222\nm {\n  user: inner\n  a: $user\n  b: $port\n  n { c: $user }\n}\nd: $user\n';
  assert.deepEqual(v(text), { user: 'top', port: 4222, m: { user: 'inner', a: 'inner', b: 4222, n: { c: 'inner' } }, d: 'top' });
  // keys inside another block are not visible
  const e = confError(() => parseConf('a { secret: 1 }\nb: $secret\n'));
  assert.deepEqual([e.line, e.col], [2, 4]);
  assert.match(e.message, /variable "\$secret" is not defined/);
});

test('variables: maps and arrays are copied, and used keys are reported', () => {
  const r = parseConf('PERMS: { publish: ["a"] }\nusers: [ { user: x, permissions: $PERMS } ]\n');
  assert.deepEqual(r.value['users'], [{ user: 'x', permissions: { publish: ['a'] } }]);
  assert.notEqual((r.value['users'] as ConfMap[])[0]?.['permissions'], r.value['PERMS']);
  assert.deepEqual([...(r.usedVariables ?? [])], ['PERMS']);
});

test('variables: the environment is the last scope, and its values are parsed', () => {
  withEnv({ TSNATS_T_NAME: 'nats', TSNATS_T_SIZE: '100MB', TSNATS_T_ON: 'true', TSNATS_T_Q: '"a b"', TSNATS_T_LIST: '[1, 2]' }, () => {
    assert.deepEqual(v('a: $TSNATS_T_NAME\nb: $TSNATS_T_SIZE\nc: $TSNATS_T_ON\nd: $TSNATS_T_Q\ne: $TSNATS_T_LIST\n'), {
      a: 'nats', b: 104857600, c: true, d: 'a b', e: [1, 2],
    });
    // a key of the file wins over the environment
    assert.deepEqual(v('TSNATS_T_NAME: file\na: $TSNATS_T_NAME\n'), { TSNATS_T_NAME: 'file', a: 'file' });
  });
  withEnv({ TSNATS_T_A: '$TSNATS_T_B', TSNATS_T_B: 'end' }, () => assert.deepEqual(v('x: $TSNATS_T_A'), { x: 'end' }));
});

test('variables: undefined, environment cycles, unparsable environment values', () => {
  const e = confError(() => parseConf('port: 1\nm {\n  x: $TSNATS_T_UNDEFINED_VAR\n}\n', 'n.conf'));
  assert.deepEqual([e.file, e.line, e.col], ['n.conf', 3, 6]);
  assert.match(e.message, /^n\.conf:3:6: variable "\$TSNATS_T_UNDEFINED_VAR" is not defined/);
  withEnv({ TSNATS_T_C1: '$TSNATS_T_C2', TSNATS_T_C2: '$TSNATS_T_C1', TSNATS_T_SELF: '$TSNATS_T_SELF' }, () => {
    const c = confError(() => parseConf('a: 1\nb: $TSNATS_T_C1\n'));
    assert.deepEqual([c.line, c.col], [2, 4]);
    assert.match(c.message, /cycle: \$TSNATS_T_C1 -> \$TSNATS_T_C2 -> \$TSNATS_T_C1/);
    assert.match(confError(() => parseConf('b: $TSNATS_T_SELF')).message, /cycle: \$TSNATS_T_SELF -> \$TSNATS_T_SELF/);
  });
  withEnv({ TSNATS_T_BAD: 'a b' }, () => {
    const b = confError(() => parseConf('x: $TSNATS_T_BAD'));
    assert.deepEqual([b.line, b.col], [1, 4]);
    assert.match(b.message, /cannot use environment variable TSNATS_T_BAD="a b"/);
  });
});

test('bcrypt hashes: unquoted $2a$... is a string, not a variable', () => {
  const hash = '$2a$11$DRh4C0KNbNnD8K/hb/buWe1zPxEHrLEiDmuq1Mi0rRJiH/W25Qidm';
  assert.deepEqual(v(`pass: ${hash}\nq: "${hash}"\nl: [${hash}]\n`), { pass: hash, q: hash, l: [hash] });
  // nats-server only special-cases $2a$: other bcrypt versions must be quoted
  const e = confError(() => parseConf('pass: $2b$11$abc'));
  assert.match(e.message, /quote this one/);
});

test('include: relative to the including file, nested, merged into the current block', () => {
  const r = parseConfFile(fx('main.conf'));
  assert.deepEqual(r.value, {
    port: 4222,
    authorization: { user: 'a', password: 'b' },
    max_connections: 100,
    from_include: 2097152,
    cluster: { name: 'c1', routes: ['nats://a:6222', 'nats://b:6222'] },
    max_payload: 2097152,
  });
  assert.deepEqual(r.positions.get('authorization.password'), { file: fx('inc/auth.conf'), line: 3, col: 3 });
  assert.deepEqual(r.positions.get('max_connections'), { file: fx('inc/nested/limits.conf'), line: 1, col: 1 });
  assert.deepEqual(r.positions.get('cluster.routes[1]'), { file: fx('inc/cluster-routes.conf'), line: 3, col: 3 });
  assert.deepEqual(r.positions.get('cluster.name'), { file: fx('main.conf'), line: 6, col: 3 });
  // parseConf: relative to the named file's directory, or to the current directory
  assert.deepEqual(parseConf('include inc/nested/limits.conf', fx('virtual.conf')).value, { max_connections: 100, from_include: 2097152 });
  const rel = relative(process.cwd(), fx('inc/nested/limits.conf'));
  assert.deepEqual(parseConf(`INCLUDE '${rel}'`).value, { max_connections: 100, from_include: 2097152 });
});

test('include errors: missing file, error inside the included file, cycles, no access to the includer\'s keys', () => {
  const m = confError(() => parseConfFile(fx('include-missing.conf')));
  assert.deepEqual([m.file, m.line, m.col], [fx('include-missing.conf'), 2, 9]);
  assert.match(m.message, /cannot read include file "\.\/nope\/missing\.conf".*ENOENT/);
  const b = confError(() => parseConfFile(fx('include-broken.conf')));
  assert.deepEqual([b.file, b.line, b.col], [fx('inc/broken.conf'), 2, 13]);
  assert.match(b.message, /found "2" \(in a file included from .*include-broken\.conf:3:11\)/);
  const c = confError(() => parseConfFile(fx('cycle-a.conf')));
  assert.deepEqual([c.file, c.line, c.col], [fx('cycle-b.conf'), 2, 11]);
  assert.match(c.message, /include cycle/);
  const n = confError(() => parseConfFile(fx('include-novars.conf')));
  assert.deepEqual([n.file, n.line, n.col], [fx('inc/uses-var.conf'), 1, 14]);
});

test('positions: dotted paths of keys as written, array elements, 1-based columns in code points', () => {
  const text = 'accounts {\n  $SYS {\n    users = [\n      { user: "admin", pass: x }\n    ]\n  }\n}\n\tTab: 1\n"é": 2\nk: "é", z: 3\n';
  const r = parseConf(text, 'p.conf');
  const at = (p: string): [number, number] | undefined => {
    const pos = r.positions.get(p);
    return pos === undefined ? undefined : [pos.line, pos.col];
  };
  assert.deepEqual(at('accounts'), [1, 1]);
  assert.deepEqual(at('accounts.$SYS'), [2, 3]);
  assert.deepEqual(at('accounts.$SYS.users'), [3, 5]);
  assert.deepEqual(at('accounts.$SYS.users[0]'), [4, 7]);
  assert.deepEqual(at('accounts.$SYS.users[0].user'), [4, 9]);
  assert.deepEqual(at('accounts.$SYS.users[0].pass'), [4, 24]);
  assert.deepEqual(at('Tab'), [8, 2]);
  assert.deepEqual(at('é'), [9, 1]);
  assert.deepEqual(at('z'), [10, 9]);
  assert.equal(r.positions.get('k')?.file, 'p.conf');
});

test('ConfError: fields and message format; a file that cannot be read', () => {
  const e = confError(() => parseConf('a {\n  b: 1 2\n}\n'));
  assert.equal(e.name, 'ConfError');
  assert.deepEqual([e.file, e.line, e.col], ['<string>', 2, 8]);
  assert.equal(e.message, `<string>:2:8: ${e.reason}`);
  const f = confError(() => parseConfFile(fx('does-not-exist.conf')));
  assert.deepEqual([f.line, f.col], [0, 0]);
  assert.match(f.message, /does-not-exist\.conf: cannot read config file: ENOENT/);
});
