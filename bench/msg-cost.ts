// Per-message cost of Parley's one-to-one path: server CPU time per delivered message at one fixed,
// moderate rate (S3's traffic: online users sending <message type='chat'> to random other users' bare JIDs).
// CPU time per message depends far less on what else runs on a shared machine than a saturation rate does,
// so it is the measure for profile-driven changes (bench/FINDINGS.md). This machine's VM exposes no
// hardware counters (`perf stat -e instructions` is not supported), hence CPU-seconds from /proc.
//
//   node --import tsx bench/msg-cost.ts [--rate 3000] [--seconds 10] [--reps 3] [--users 1000]
//                                      [--archive] [--shipped] [--parley-workers N] [--keep]
//   BENCH_PARLEY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node --import tsx bench/msg-cost.ts
//
// Prints, per repetition, server CPU µs per delivered message (user + system, the whole process tree, from
// the start of sending to the end of the drain), p50/p99, loss; then the median.

import { parseArgs } from 'node:util';
import { WorkerPool } from './lib/pool';
import { closeAll, range, runSteps, sessionsPerWorker, USER_PREFIX, type ScenarioContext } from './scenarios/common';
import type { LoginResult } from './lib/ipc';
import { parley } from './targets/parley';
import type { RunningServer } from './targets/types';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    users: { type: 'string', default: '1000' },
    archive: { type: 'boolean', default: false },
    shipped: { type: 'boolean', default: false },
    'parley-workers': { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const rate = Number(values.rate);
const stepMs = Number(values.seconds) * 1000;
const reps = Number(values.reps);
const userCount = Number(values.users);
const t0 = Date.now();
const log = (s: string): void => void process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`);

let server: RunningServer | undefined;
let pool: WorkerPool | undefined;
async function main(): Promise<void> {
  server = await parley.start({
    log,
    keep: values.keep,
    parleyWorkers: Number(values['parley-workers']),
    variant: values.shipped ? { archive: true, asShipped: true } : { archive: values.archive },
  });
  log(`parley pid ${server.pid}: ${server.loads}`);
  pool = await WorkerPool.start(2, { target: { host: server.host, port: server.port, domain: server.domain, mucDomain: server.mucDomain }, password: 'bench-Secret-1', userPrefix: USER_PREFIX }, log);
  const users = range(0, userCount);
  await pool.all((i) => ({ op: 'register', users: pool!.split(users)[i]!, concurrency: 50 }));
  const parts = await pool.all<LoginResult>((i) => ({
    op: 'connect', sasl: 'SCRAM-SHA-1-OR-PLAIN', users: pool!.split(users)[i]!, concurrency: 50,
    starttls: false, presence: 'plain', rosterGet: false, deadlineMs: 60_000,
  }));
  log(`${parts.reduce((a, p) => a + p.data.open, 0)} sessions online`);
  const ctx: ScenarioContext = { server, pool, quick: false, log, users: { base: 0, count: userCount }, deadline: Date.now() + 3_600_000 };
  const costs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const cpu0 = server.cpuSeconds();
    const run = await runSteps(ctx, {
      tagPrefix: `cost-${r}-`, rates: [rate], stepMs, sessionsPerWorker: sessionsPerWorker(parts.map((p) => p.data)), fanout: 1, p99LimitMs: 1e9,
      build: (tag, _rate, startAtUs) => ({ tag, mode: 'chat', durationMs: stepMs, startAtUs, recipientBase: 0, recipientCount: userCount }),
    });
    const cpuS = server.cpuSeconds() - cpu0;
    const step = run.steps[0]!;
    const us = (cpuS * 1e6) / Math.max(1, step.delivered);
    costs.push(us);
    log(`rep ${r + 1}: ${step.delivered}/${step.expected} delivered, ${us.toFixed(1)} µs server CPU per message, p50 ${step.latency.p50_ms} ms, p99 ${step.latency.p99_ms} ms, CPU pressure ${step.cpu_pressure_pct}%`);
  }
  costs.sort((a, b) => a - b);
  log(`median ${costs[Math.floor(costs.length / 2)]!.toFixed(1)} µs/msg (min ${costs[0]!.toFixed(1)}, max ${costs.at(-1)!.toFixed(1)}) at ${rate} msg/s`);
  await closeAll(pool);
}

main()
  .catch((err: unknown) => log(`failed: ${err instanceof Error ? err.stack : String(err)}`))
  .finally(async () => {
    await pool?.stop().catch(() => {});
    await server?.stop().catch(() => {});
    process.exit(0);
  });
