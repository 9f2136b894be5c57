// S4 — MUC fan-out (XEP-0045): one room on conference.<domain> with 100 occupants; random
// occupants send groupchat messages at stepped open-loop rates; every message is delivered to
// every occupant (sender included). Reports delivered stanzas/s and latency per step, and the
// highest input rate with p99 < 100 ms and no loss.

import type { LoginResult, MucJoinResult } from '../lib/ipc';
import { closeAll, mergeLogins, metric, range, runSteps, saslFor, type Metric, type Scenario } from './common';

const FULL_RATES = [10, 20, 50, 100, 200, 500, 1000];
const QUICK_RATES = [10, 50];

export const s4Muc: Scenario = {
  id: 'S4',
  title: 'MUC fan-out: one room, 100 occupants, stepped message rates',
  users: (quick) => ({ count: quick ? 20 : 100, exclusive: false }),
  maxSessions: (quick) => (quick ? 20 : 100),

  async run(ctx) {
    const { pool, server, log, quick } = ctx;
    const n = Math.min(ctx.users.count, quick ? 20 : 100);
    const users = pool.split(range(ctx.users.base, n));
    const parts = await pool.all<LoginResult>((i) => ({
      op: 'connect',
      sasl: saslFor(ctx, 'SCRAM-SHA-1-OR-PLAIN'),
      users: users[i]!,
      concurrency: 20,
      starttls: false,
      presence: 'plain',
      rosterGet: false,
      deadlineMs: 60_000,
    }));
    const login = mergeLogins(parts.map((p) => p.data));
    const warnings: string[] = [];
    if (login.failed) warnings.push(`${login.failed} logins failed, first: ${login.firstError}`);
    const room = `bench-${Date.now().toString(36)}@${server.mucDomain}`;
    // The first occupant (worker 0) creates the room as an instant room, then everyone joins.
    const first = await pool.call<MucJoinResult>(0, { op: 'muc-join', room, create: true, concurrency: 10, deadlineMs: 60_000 });
    const rest = await Promise.all(
      Array.from({ length: pool.size - 1 }, (_, k) =>
        pool.call<MucJoinResult>(k + 1, { op: 'muc-join', room, create: false, concurrency: 10, deadlineMs: 60_000 }),
      ),
    );
    const joins = [first, ...rest].map((r) => r.data);
    const joined = joins.reduce((a, j) => a + j.joined, 0);
    const joinErr = joins.find((j) => j.firstError)?.firstError;
    log(`  ${joined} occupants in ${room}${joinErr ? ` (first error: ${joinErr})` : ''}`);
    if (joined < n) warnings.push(`only ${joined} of ${n} occupants joined; first error: ${joinErr}`);
    if (joined === 0) {
      await closeAll(pool);
      return {
        metrics: [metric('max_rate_ok', 'max room msg/s with p99<100ms, no loss', null, 'msg/s', 'higher')],
        details: { error: joinErr },
        warnings,
      };
    }
    const stepMs = quick ? 3000 : 10_000;
    const run = await runSteps(ctx, {
      tagPrefix: `s4-${Date.now().toString(36)}-`,
      rates: quick ? QUICK_RATES : FULL_RATES,
      stepMs,
      sessionsPerWorker: joins.map((j) => j.joined),
      fanout: joined,
      p99LimitMs: 100,
      build: (tag, _rate, startAtUs) => ({ tag, mode: 'muc', durationMs: stepMs, startAtUs, room }),
    });
    await closeAll(pool);
    const passing = run.steps.filter((s) => s.pass);
    const best = passing.at(-1);
    const peak = Math.max(0, ...run.steps.map((s) => s.delivered_per_s));
    const metrics: Metric[] = [
      metric('max_rate_ok', 'max room msg/s with p99<100ms, no loss', best?.offered_per_s ?? 0, 'msg/s', 'higher'),
      metric('delivered_at_max_per_s', 'delivered stanzas/s at that rate', best?.delivered_per_s, 'stanzas/s', 'higher'),
      metric('p99_at_max_ms', 'p99 at that rate', best?.latency.p99_ms, 'ms', 'lower'),
      metric('peak_delivered_per_s', 'peak delivered stanzas/s (any step)', peak, 'stanzas/s', 'higher'),
    ];
    return {
      metrics,
      details: { sasl: login.mechanisms, occupants: joined, room, step_ms: stepMs, steps: run.steps, stopped_because: run.stoppedBecause },
      warnings: [...warnings, ...run.warnings],
    };
  },
};
