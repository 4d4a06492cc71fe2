// 100 wrong-password clients at once against bcrypt users must not lock the right ones out: checks
// wait in a fair queue (by client IP and user), each only until its connection's authorization
// timeout, and the same wrong password is not checked twice. tsnats only: nats-server has no such
// queue (its bcrypt runs on each connection's goroutine, and its auth timer stops at CONNECT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { startServer, usingNatsServer, type RunningServer } from '../helpers/server.js';

const skip = usingNatsServer ? 'tsnats only (a property of its bcrypt queue)' : false;
const COST = 10; // ~100 ms per check here: 100 of them in a row would take ~10 s
let srv: RunningServer;

before(async () => {
  if (skip) return;
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-flood-'));
  const conf = join(dir, 'flood.conf');
  const users = ['alice', 'bob'].map((u) => `{ user: ${u}, password: "${bcrypt.hashSync(`${u}-pw`, COST)}" }`).join('\n    ');
  writeFileSync(conf, `authorization {\n  timeout: 2\n  users = [\n    ${users}\n  ]\n}\n`);
  srv = await startServer({ args: ['-c', conf], env: { TSNATS_BCRYPT_THREADS: '1' } });
});
after(async () => {
  if (!skip) await srv.stop();
});

interface Login {
  /** What the server answered: PONG (logged in), or the -ERR text. */
  result: Promise<string>;
  /** ms from sending CONNECT to the answer. */
  ms: () => number;
}

/** A raw login: INFO, then CONNECT with the credentials and PING; resolves on PONG or -ERR. */
function login(user: string, pass: string, localAddress = '127.0.0.1'): Login {
  let sentAt = 0;
  let doneAt = 0;
  const result = new Promise<string>((resolve) => {
    const s = net.connect({ port: srv.port, host: '127.0.0.1', localAddress });
    let buf = '';
    const finish = (r: string): void => {
      if (doneAt === 0) doneAt = Date.now();
      s.destroy();
      resolve(r);
    };
    s.on('error', () => finish('socket error'));
    s.on('close', () => finish(`closed: ${JSON.stringify(buf)}`));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (sentAt === 0 && /^INFO .*\r\n/.test(buf)) {
        buf = buf.replace(/^INFO .*\r\n/, '');
        sentAt = Date.now();
        s.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, user, pass })}\r\nPING\r\n`);
      }
      const m = /^(PONG|-ERR '[^']*')\r\n/.exec(buf);
      if (m) finish(m[1]!);
    });
  });
  return { result, ms: () => doneAt - sentAt };
}

async function flood(n: number, pass: (i: number) => string): Promise<Login[]> {
  const l = Array.from({ length: n }, (_, i) => login('bob', pass(i)));
  // Let every CONNECT reach the server before the right login is sent.
  await new Promise((r) => setTimeout(r, 150));
  return l;
}

async function settle(attack: Login[]): Promise<void> {
  const results = await Promise.all(attack.map((a) => a.result));
  for (const r of results) assert.match(r, /^-ERR '(Authorization Violation|Authentication Timeout)'$/);
}

test('100 different wrong passwords for bob: alice (another user, same IP) logs in within her auth timeout', { skip, timeout: 60_000 }, async () => {
  const attack = await flood(100, (i) => `guess-${i}`);
  const alice = login('alice', 'alice-pw');
  assert.equal(await alice.result, 'PONG');
  assert.ok(alice.ms() < 2000, `alice waited ${alice.ms()} ms`);
  await settle(attack);
});

test('100 different wrong passwords for bob from one address: bob from another address logs in within his auth timeout', { skip, timeout: 60_000 }, async () => {
  const attack = await flood(100, (i) => `other-guess-${i}`);
  const bob = login('bob', 'bob-pw', '127.0.0.2');
  assert.equal(await bob.result, 'PONG');
  assert.ok(bob.ms() < 2000, `bob waited ${bob.ms()} ms`);
  await settle(attack);
});

test('100 clients with the same wrong password (a misconfigured fleet): bob himself logs in at once, and nobody hangs', { skip, timeout: 60_000 }, async () => {
  const attack = await flood(100, () => 'stale-password');
  const bob = login('bob', 'bob-pw');
  assert.equal(await bob.result, 'PONG');
  assert.ok(bob.ms() < 2000, `bob waited ${bob.ms()} ms`);
  // One check answers them all: every one is refused as a wrong password, none times out.
  for (const r of await Promise.all(attack.map((a) => a.result))) assert.equal(r, "-ERR 'Authorization Violation'");
});
