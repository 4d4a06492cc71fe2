// The package as a user installs it: `npm pack`'s tarball holds what a user needs and nothing of
// the tests; installed into an empty project, `npx tsnats -p 0` serves, a script there imports
// `startServer` and round-trips a message, and a TypeScript file type-checks against its typings.
//
// Offline by design: the temporary project gets a lockfile made of this repository's locked
// production dependencies (same versions as package-lock.json) and `npm ci --offline` takes them
// from the npm cache, which `npm ci` filled. No registry, so no flakiness from the network; a cache
// that lacks a dependency skips the test saying so.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Runs a process until `done(output)` says so or it exits; stopped by its pid (its process group) either way. */
async function runUntil(child: ChildProcess, done: (out: string) => boolean, timeoutMs: number): Promise<string> {
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (done(out)) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(t);
        if (done(out)) resolve();
        else reject(new Error(`exited with ${code}:\n${out}`));
      });
    });
  } catch (err) {
    stopGroup(child);
    throw err;
  }
  return out;
}

function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // npx and the server it runs: one process group (detached)
  } catch {
    // already gone
  }
}

const hasNpm = run(npm, ['--version'], repoRoot, 30_000).code === 0;

describe('npm package', { timeout: 300_000, skip: hasNpm ? false : 'npm is not on PATH' }, () => {
  let dir = '';
  let tarball = '';
  let project = '';
  let files: string[] = [];
  let skipInstall: string | false = false;

  before(() => {
    assert.ok(existsSync(join(repoRoot, 'dist', 'src', 'index.d.ts')), 'build first (npm test builds with declarations)');
    dir = mkdtempSync(join(tmpdir(), 'tsnats-pack-'));
    // --ignore-scripts: the suite's build is the one packed (prepare would rebuild under running tests).
    const p = run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot);
    assert.equal(p.code, 0, p.out);
    const res = (JSON.parse(p.out.slice(p.out.indexOf('['))) as PackResult[])[0]!;
    tarball = join(dir, res.filename);
    files = res.files.map((f) => f.path).sort();

    project = join(dir, 'project');
    mkdirSync(project);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, any>;
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
    const spec = `file:../${res.filename}`;
    const packages: Record<string, unknown> = {
      '': { name: 'tsnats-user', dependencies: { tsnats: spec } },
      'node_modules/tsnats': {
        version: pkg['version'],
        resolved: spec,
        integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
        license: pkg['license'],
        dependencies: pkg['dependencies'],
        ...(pkg['optionalDependencies'] ? { optionalDependencies: pkg['optionalDependencies'] } : {}),
        bin: pkg['bin'],
        engines: pkg['engines'],
      },
    };
    for (const [k, v] of Object.entries(lock.packages)) if (k !== '' && v['dev'] !== true) packages[k] = v;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'tsnats-user', private: true, type: 'module', dependencies: { tsnats: spec } }, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'tsnats-user', lockfileVersion: 3, requires: true, packages }, null, 2));
    const i = run(npm, ['ci', '--offline', '--no-audit', '--no-fund'], project, 180_000);
    if (i.code !== 0 && /ENOTCACHED/.test(i.out)) skipInstall = `a dependency is not in the npm cache (run \`npm ci\` in the repository first): ${/request to (\S+)/.exec(i.out)?.[1] ?? ''}`;
    else assert.equal(i.code, 0, i.out);
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds the runtime, its typings, README and LICENSE, and nothing of the tests', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/main.js', 'dist/src/shard/worker.js', 'dist/src/jetstream/worker.js', 'dist/src/auth/bcrypt-worker.js', 'dist/native-free/ws-server.js']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    const stray = files.filter((f) => /^(test|bench|scripts|flamegraphs|src|native-free)\//.test(f) || f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(stray, []);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, any>;
    // Every file the manifest points at is packed.
    for (const f of [pkg['main'], pkg['types'], pkg['exports']['.']['types'], pkg['exports']['.']['default'], ...Object.values(pkg['bin'] as Record<string, string>)]) {
      assert.ok(files.includes(String(f).replace(/^\.\//, '')), `${f} (from package.json) is in the tarball`);
    }
    assert.match(String(pkg['engines']['node']), /^>=20/);
  });

  test('installed into an empty project: `npx tsnats -p 0` serves', async (t) => {
    if (skipInstall) return t.skip(skipInstall);
    const child = spawn(npm, ['exec', '--offline', '--no', '--', 'tsnats', '-a', '127.0.0.1', '-p', '0'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
      const out = await runUntil(child, (o) => /Server is ready/.test(o), 30_000);
      const port = Number(/Listening for client connections on [^\s]*:(\d+)/.exec(out)?.[1]);
      assert.ok(port > 0, out);
      const nc = await connect({ servers: `127.0.0.1:${port}` });
      const sub = nc.subscribe('hello', { max: 1 });
      nc.publish('hello', 'from the installed CLI');
      for await (const m of sub) assert.equal(m.string(), 'from the installed CLI');
      await nc.close();
    } finally {
      stopGroup(child);
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => {
          stopGroup(child, 'SIGKILL');
          resolve();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  });

  test('installed into an empty project: a script imports startServer and round-trips a message', async (t) => {
    if (skipInstall) return t.skip(skipInstall);
    // No client library in that project: the script speaks the protocol itself.
    writeFileSync(
      join(project, 'roundtrip.mjs'),
      `import { startServer } from 'tsnats';
import net from 'node:net';
const server = await startServer({ jetstream: true });
const got = await new Promise((resolve, reject) => {
  const s = net.connect(server.port, '127.0.0.1', () => s.write('CONNECT {"verbose":false}\\r\\nSUB greet 1\\r\\nPUB greet 5\\r\\nhello\\r\\n'));
  let buf = '';
  s.on('data', (d) => { buf += d; const m = /MSG greet 1 5\\r\\n(.{5})/.exec(buf); if (m) { s.destroy(); resolve(m[1]); } });
  s.on('error', reject);
  setTimeout(() => reject(new Error('no MSG: ' + buf)), 10000).unref();
});
await server.stop();
console.log(JSON.stringify({ got, url: server.url, storeDir: server.storeDir }));
`,
    );
    const child = spawn(process.execPath, ['roundtrip.mjs'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = await runUntil(child, (o) => o.includes('}\n'), 30_000);
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    assert.equal(child.exitCode, 0, out);
    const r = JSON.parse(out.trim()) as { got: string; url: string; storeDir: string };
    assert.equal(r.got, 'hello');
    assert.match(r.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(existsSync(r.storeDir), false, 'the temporary JetStream store is removed by stop()');
  });

  test('installed into an empty project: TypeScript code type-checks against the package typings', (t) => {
    if (skipInstall) return t.skip(skipInstall);
    writeFileSync(
      join(project, 'use.ts'),
      `import { startServer, type ServerHandle, type StartOptions } from 'tsnats';
const opts: StartOptions = { jetstream: true, maxPayload: 1024, httpPort: 0, logger: { level: 'warn' } };
const s: ServerHandle = await startServer(opts);
const url: string = s.url;
const monitor: string | undefined = s.monitorUrl;
await s.stop();
// @ts-expect-error not a config key
await startServer({ maxPayloadz: 1 });
export { url, monitor };
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(repoRoot, 'node_modules', '@types')] }, files: ['use.ts'] }),
    );
    const r = run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], project);
    assert.equal(r.code, 0, r.out);
  });
});
