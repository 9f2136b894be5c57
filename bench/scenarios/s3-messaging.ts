// S3 — one-to-one messaging: 1,000 online users send chat messages to random other users' bare
// JIDs at stepped open-loop rates, 10 s a step. Each body carries its scheduled send time
// (CLOCK_MONOTONIC µs), so latency includes any lateness of the generator (no coordinated
// omission). Reports the highest rate with p99 < 100 ms and no loss; stops after the first
// failing step.

import type { LoginResult } from '../lib/ipc';
import { closeAll, mergeLogins, metric, range, runSteps, sessionsPerWorker, saslFor, type Metric, type Scenario } from './common';

const FULL_RATES = [1000, 2000, 5000, 10_000, 20_000, 30_000, 50_000];
const QUICK_RATES = [500, 1000, 2000];

export const s3Messaging: Scenario = {
  id: 'S3',
  title: 'One-to-one messages to bare JIDs, stepped open-loop rates',
  users: (quick) => ({ count: quick ? 200 : 1000, exclusive: false }),
  maxSessions: (quick) => (quick ? 200 : 1000),

  async run(ctx) {
    const { pool, log, quick } = ctx;
    const n = Math.min(ctx.users.count, quick ? 200 : 1000);
    const users = pool.split(range(ctx.users.base, n));
    const parts = await pool.all<LoginResult>((i) => ({
      op: 'connect',
      sasl: saslFor(ctx, 'SCRAM-SHA-1-OR-PLAIN'),
      users: users[i]!,
      concurrency: Math.max(1, Math.round(100 / pool.size)),
      starttls: false,
      presence: 'plain',
      rosterGet: false,
      deadlineMs: 60_000,
    }));
    const login = mergeLogins(parts.map((p) => p.data));
    log(`  ${login.ok} sessions online (${login.failed} failed)`);
    const warnings: string[] = [];
    if (login.failed) warnings.push(`${login.failed} logins failed, first: ${login.firstError}`);
    const stepMs = quick ? 3000 : 10_000;
    const run = await runSteps(ctx, {
      tagPrefix: `s3-${Date.now().toString(36)}-`,
      rates: quick ? QUICK_RATES : FULL_RATES,
      stepMs,
      sessionsPerWorker: sessionsPerWorker(parts.map((p) => p.data)),
      fanout: 1,
      p99LimitMs: 100,
      build: (tag, _rate, startAtUs) => ({
        tag,
        mode: 'chat',
        durationMs: stepMs,
        startAtUs,
        recipientBase: ctx.users.base,
        recipientCount: n,
      }),
    });
    await closeAll(pool);
    const passing = run.steps.filter((s) => s.pass);
    const best = passing.at(-1);
    const peak = Math.max(0, ...run.steps.map((s) => s.delivered_per_s));
    const metrics: Metric[] = [
      metric('max_rate_ok', 'max msg/s with p99<100ms, no loss', best?.offered_per_s ?? 0, 'msg/s', 'higher'),
      metric('p50_at_max_ms', 'p50 at that rate', best?.latency.p50_ms, 'ms', 'lower'),
      metric('p99_at_max_ms', 'p99 at that rate', best?.latency.p99_ms, 'ms', 'lower'),
      metric('peak_delivered_per_s', 'peak delivered msg/s (any step)', peak, 'msg/s', 'higher'),
    ];
    return {
      metrics,
      details: { sasl: login.mechanisms, users: n, step_ms: stepMs, steps: run.steps, stopped_because: run.stoppedBecause },
      warnings: [...warnings, ...run.warnings],
    };
  },
};
