// Combines runs: the scenarios named here are taken from a re-run, everything else from the base run, and the
// result says so in its notes (RESULTS.md shows them). For re-runs of scenarios that a full run disturbed (a
// server still busy closing 19,000 sessions of S2 when S3 starts, say), never to pick the better number quietly.
//
//   node --import tsx bench/merge.ts BASE.json RERUN.json S3,S4 [parley,prosody+mam,…|all] "why"
// Runs are matched by their id (`parley`, `parley+mam`, `parley-shipped`, `ejabberd+mam`, …; older results: the
// target's name), so each side of a fair pair is replaced by the same configuration's re-run.
// writes bench/results/<base>-merged.json; then `npm run bench -- --render` that file.
import fs from 'node:fs';
import path from 'node:path';
import { runId, type RunResults } from './lib/report';

const [basePath, rerunPath, scenarioList, targetList, why] = process.argv.slice(2);
if (!basePath || !rerunPath || !scenarioList) {
  console.error('usage: merge.ts BASE.json RERUN.json S3,S4 [targets] [why]');
  process.exit(2);
}
const base = JSON.parse(fs.readFileSync(basePath, 'utf8')) as RunResults;
const rerun = JSON.parse(fs.readFileSync(rerunPath, 'utf8')) as RunResults;
const scenarios = scenarioList.split(',');
const targets = targetList && targetList !== 'all' ? targetList.split(',') : base.targets.map(runId);
for (const t of base.targets) {
  if (!targets.includes(runId(t))) continue;
  const other = rerun.targets.find((r) => runId(r) === runId(t));
  if (!other) throw new Error(`${rerunPath} has no run of ${runId(t)}`);
  for (const s of scenarios) {
    if (!other.scenarios[s]) throw new Error(`${rerunPath} has no ${s} for ${runId(t)}`);
    t.scenarios[s] = other.scenarios[s]!;
  }
}
const rerunFile = path.basename(rerunPath);
base.notes = [
  ...(base.notes ?? []),
  `${scenarios.join(', ')} of ${targets.join(', ')} re-run in ${rerunFile} and merged here${why ? `: ${why}` : ''}.`,
];
const out = basePath.replace(/(-merged)?\.json$/, '-merged.json');
base.results_file = path.relative(process.cwd(), out);
fs.writeFileSync(out, JSON.stringify(base, null, 2));
console.log(out);
