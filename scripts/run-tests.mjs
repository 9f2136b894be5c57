#!/usr/bin/env node
// Runs every *.test.ts under packages/, test/ and bench/ (unit tests of its arithmetic only: no load) with Node's test runner (TypeScript through tsx).
// Usage: npm test [-- substring ...]   only files whose path contains one of the substrings.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['packages', 'test', 'bench'];
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
}
for (const r of roots) {
  try { walk(r); } catch { /* root absent */ }
}
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
selected.sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...selected],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
