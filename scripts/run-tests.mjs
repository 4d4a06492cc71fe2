#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's own test runner.
// Node 20's `--test` takes no globs, Node 22+ treats arguments as globs: listing the files ourselves
// works the same on both. Usage: node scripts/run-tests.mjs [substring-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error('no test files found under', root);
  process.exit(1);
}
// Two cores: run two files at a time; each test file starts its own servers on ephemeral ports.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// The core suite runs once with 1 shard (here) and once with 4 (test/shards4 wrappers set their own).
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TSNATS_TEST_SHARDS: process.env.TSNATS_TEST_SHARDS ?? '1' },
});
process.exit(r.status ?? 1);
