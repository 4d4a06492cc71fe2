// 50 malformed nats.conf inputs: each is rejected with a ConfError at the exact line and column of
// the offending token. Every input is also rejected by nats-server 2.9.10 (`nats-server -t`); set
// TSNATS_VERIFY_NATS=1 to check that again against the nats-server on PATH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfError, parseConf } from '../../src/config/conf.js';

interface Case {
  text: string;
  line: number;
  col: number;
  msg: string;
}

const CASES: Case[] = [
  // strings and escapes
  { text: 'server_name: "abc', line: 1, col: 18, msg: `unterminated string: the '"' at 1:14 is never closed` },
  { text: "server_name: 'abc", line: 1, col: 18, msg: `unterminated string: the "'" at 1:14` },
  { text: 'server_name: "a\\qb"', line: 1, col: 16, msg: 'invalid escape "\\\\q"' },
  { text: 'server_name: "\\u0041"', line: 1, col: 15, msg: 'invalid escape "\\\\u"' },
  { text: 'server_name: "\\xzz"', line: 1, col: 17, msg: 'expected two hexadecimal digits after "\\x", found "zz"' },
  { text: 'server_name: "abc\\', line: 1, col: 19, msg: 'expected an escape character after "\\", found end of file' },
  { text: "server_name: foo'bar", line: 1, col: 18, msg: 'after the value of "server_name", found "b"' },
  { text: 'server_name: "héllo" x', line: 1, col: 22, msg: 'found "x"' },
  // top level
  { text: 'port: 4222 5', line: 1, col: 12, msg: 'expected a new line, ";", "," or a comment after the value of "port", found "5"' },
  { text: 'server_name: "a" "b"', line: 1, col: 18, msg: 'found "\\""' },
  { text: ': 1', line: 1, col: 1, msg: 'unexpected ":" where a key was expected' },
  { text: '/port: 1', line: 1, col: 1, msg: 'unexpected "/" where a key was expected' },
  { text: 'port:\n4222', line: 1, col: 1, msg: 'expected a value after "port:", found end of line' },
  { text: 'port: 4222\nhttp_port:', line: 2, col: 1, msg: 'expected a value after "http_port:", found end of file' },
  { text: 'port: 4222\r\nserver_name: a b\r\n', line: 2, col: 16, msg: 'found "b"' },
  { text: 'authorization { user: a } x', line: 1, col: 27, msg: 'after the value of "authorization", found "x"' },
  // blocks
  { text: 'authorization {\n  user: a\n', line: 3, col: 1, msg: 'expected "}" to close map "authorization" opened at 1:15, found end of file' },
  { text: 'authorization {\n  user', line: 2, col: 7, msg: 'unexpected end of file after key "user" in map "authorization"' },
  { text: 'authorization { : 1 }', line: 1, col: 17, msg: 'unexpected ":" where a key was expected in map "authorization"' },
  { text: 'authorization { ] }', line: 1, col: 17, msg: 'unexpected "]" in map "authorization"' },
  { text: 'authorization { user: , }', line: 1, col: 23, msg: 'expected a value after "user:", found ","' },
  { text: 'authorization {\n  user: a b\n}', line: 2, col: 11, msg: 'expected ",", ";", "}" or a new line after the value of "user", found "b"' },
  { text: 'authorization {\n\tuser: a b\n}', line: 2, col: 10, msg: 'found "b"' },
  { text: 'authorization { "user: a }', line: 1, col: 27, msg: 'unterminated quoted key opened at 1:17' },
  { text: '"server_name: 1', line: 1, col: 16, msg: 'unterminated quoted key opened at 1:1' },
  { text: 'accounts {\n  A {\n    users: [ {user: a} ]\n  }\n', line: 5, col: 1, msg: 'to close map "accounts" opened at 1:10' },
  // a value left blank (the seed document's `password:`)
  {
    text: 'authorization {\n    user: nats\n    password: \n    timeout: 10\n}\n',
    line: 3,
    col: 5,
    msg: 'expected a value after "password:", found end of line ("timeout:" on line 4 was read as its value, then "1" at 4:14 was unexpected)',
  },
  { text: 'authorization {\n  user: a\n  password:\n}\n', line: 3, col: 3, msg: 'expected a value after "password:", found "}" at 4:1' },
  // arrays
  { text: 'server_name: [1,,2]', line: 1, col: 17, msg: 'expected a value or "]" in array "server_name", found ","' },
  { text: 'server_name: [1 2]', line: 1, col: 17, msg: 'expected ",", "]" or a new line after an element of array "server_name", found "2"' },
  { text: 'server_name: [1, 2', line: 1, col: 19, msg: 'expected "]" to close array "server_name" opened at 1:14, found end of file' },
  { text: 'server_name: [ / ]', line: 1, col: 16, msg: 'unexpected "/" in array "server_name"' },
  { text: 'cluster {\n  routes = [\n    nats://a:1\n    nats://b:2 x\n  ]\n}', line: 4, col: 16, msg: 'after an element of array "routes", found "x"' },
  { text: 'authorization {\n  users = [\n    {user: a, password: b c}\n  ]\n}', line: 3, col: 27, msg: 'after the value of "password", found "c"' },
  // numbers and dates
  { text: 'server_name: .5', line: 1, col: 14, msg: 'a number cannot start with "."' },
  { text: 'server_name: -x', line: 1, col: 15, msg: 'expected a digit after "-", found "x"' },
  { text: 'server_name: 1.', line: 1, col: 16, msg: 'expected a digit after "." in a number, found end of file' },
  { text: 'server_name: 10-20', line: 1, col: 16, msg: 'dates must be in full ISO8601 Zulu form' },
  { text: 'server_name: 2016-05-04', line: 1, col: 24, msg: 'expected "T" in ISO8601 date' },
  { text: 'server_name: 2016-13-45T18:53:41Z', line: 1, col: 14, msg: 'invalid date "2016-13-45T18:53:41Z"' },
  { text: 'server_name: 1e5', line: 1, col: 16, msg: 'found "5"' },
  { text: 'max_payload: 99999999999999999999', line: 1, col: 14, msg: 'integer "99999999999999999999" is out of the 64-bit range' },
  // variables
  { text: 'server_name: $TSNATS_NOT_DEFINED', line: 1, col: 14, msg: 'variable "$TSNATS_NOT_DEFINED" is not defined' },
  { text: 'server_name: $2b$11$abc', line: 1, col: 14, msg: 'only $2a$ bcrypt hashes may be left unquoted' },
  { text: 'authorization { user: a }\nserver_name: $user', line: 2, col: 14, msg: 'variable "$user" is not defined' },
  // include
  { text: 'include "foo', line: 1, col: 13, msg: 'unterminated include file name opened at 1:9' },
  { text: 'include [a]', line: 1, col: 9, msg: 'expected a file name after "include", found the start of an array' },
  { text: 'include\n./x.conf', line: 1, col: 8, msg: 'expected a file name after "include", found end of line' },
  { text: 'include ./tsnats-does-not-exist.conf', line: 1, col: 9, msg: 'cannot read include file "./tsnats-does-not-exist.conf"' },
  { text: 'server_name: (\nabc', line: 2, col: 4, msg: 'unterminated block: the "(" at 1:14' },
];

test('there are 50 malformed inputs', () => {
  assert.equal(CASES.length, 50);
});

for (const [i, c] of CASES.entries()) {
  test(`malformed #${i + 1}: ${JSON.stringify(c.text)}`, () => {
    let err: unknown;
    try {
      parseConf(c.text, 'bad.conf');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfError, `expected a ConfError, got ${String(err)}`);
    assert.equal(err.file, 'bad.conf');
    assert.deepEqual([err.line, err.col], [c.line, c.col], err.message);
    assert.ok(err.message.startsWith(`bad.conf:${c.line}:${c.col}: `), err.message);
    assert.ok(err.message.includes(c.msg), `${err.message}\n  should contain: ${c.msg}`);
  });
}

const verify = process.env['TSNATS_VERIFY_NATS'] === '1';
test('nats-server -t rejects every malformed input too', { skip: verify ? false : 'set TSNATS_VERIFY_NATS=1' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-malformed-'));
  try {
    for (const c of CASES) {
      writeFileSync(join(dir, 'bad.conf'), c.text);
      const r = spawnSync('nats-server', ['-t', '-c', 'bad.conf'], { cwd: dir, encoding: 'utf8', timeout: 5000 });
      assert.notEqual(r.status, 0, `nats-server accepted ${JSON.stringify(c.text)}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
