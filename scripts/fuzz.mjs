#!/usr/bin/env node
// Runs the fuzz targets (*.fuzz.test.ts) for longer than `npm test` does (which gives them 60 s in all).
// Usage: npm run fuzz [-- seconds]   total time, shared among the targets as in `npm test` (default 600).
// A failure prints fast-check's seed and path; PARLEY_FUZZ_SEED=<seed> npm run fuzz replays that run.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const seconds = Number(process.argv[2] ?? 600);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('usage: npm run fuzz [-- seconds]');
  process.exit(2);
}
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.fuzz.test.ts')) files.push(p);
  }
}
walk('packages');
files.sort();
// One target at a time, so each gets the machine; the test timeout leaves room for shrinking a failure.
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${Math.round(seconds * 1000 + 300_000)}`, ...files],
  { stdio: 'inherit', env: { ...process.env, PARLEY_FUZZ_SECONDS: String(seconds) } },
);
process.exit(r.status ?? 1);
