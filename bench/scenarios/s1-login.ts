// S1 — login rate: N complete logins (TCP connect, stream, [STARTTLS], SASL — PLAIN by default,
// with the server checking a SCRAM-hashed password (4,096 PBKDF2 iterations) — bind) at a fixed
// concurrency; each session is closed as soon as it is bound. Without TLS first, then STARTTLS.

import { nowUs } from '../lib/histogram';
import { pressureMeter } from '../lib/proc';
import type { LoginResult } from '../lib/ipc';
import { mergeLogins, metric, range, round, saslFor, type Metric, type Scenario } from './common';

export const s1Login: Scenario = {
  id: 'S1',
  title: 'Login rate (connect + SASL + bind), without TLS and with STARTTLS',
  users: (quick) => ({ count: quick ? 500 : 5000, exclusive: false }),
  maxSessions: () => 200,

  async run(ctx) {
    const { pool, log, quick } = ctx;
    const n = Math.min(ctx.users.count, quick ? 500 : 5000);
    const concurrency = quick ? 50 : 100;
    const users = pool.split(range(ctx.users.base, n));
    const perWorker = Math.max(1, Math.round(concurrency / pool.size));
    const metrics: Metric[] = [];
    const details: Record<string, unknown> = { n, concurrency };
    const warnings: string[] = [];
    for (const starttls of [false, true]) {
      const label = starttls ? 'STARTTLS' : 'no-TLS';
      const remaining = ctx.deadline - Date.now();
      const cpu0 = ctx.server.cpuSeconds();
      const pressure = pressureMeter();
      const t0 = Date.now();
      const parts = await pool.all<LoginResult>((i) => ({
        op: 'login-burst',
        sasl: saslFor(ctx, 'PLAIN'),
        users: users[i]!,
        concurrency: perWorker,
        starttls,
        startAtUs: nowUs() + 200_000,
        deadlineMs: Math.max(5_000, Math.min(80_000, remaining / (starttls ? 1 : 2) - 5_000)),
      }));
      const m = mergeLogins(parts.map((p) => p.data));
      const serverCores = (ctx.server.cpuSeconds() - cpu0) / ((Date.now() - t0) / 1000);
      const rate = m.ok / m.wallS;
      const lat = m.hist.summary();
      const genShare = Math.max(...parts.map((p) => p.cpu.cpuUs / Math.max(1, p.cpu.wallUs)));
      log(
        `  ${label}: ${m.ok} ok, ${m.failed} failed in ${m.wallS.toFixed(1)} s → ${rate.toFixed(0)} sessions/s, ` +
          `p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms (server ${serverCores.toFixed(2)} cores, generator ${Math.round(genShare * 100)}% of a core)`,
      );
      if (m.failed) warnings.push(`${label}: ${m.failed} logins failed, first: ${m.firstError}`);
      if (m.ok + m.failed < n) warnings.push(`${label}: only ${m.ok + m.failed} of ${n} logins ran within the time budget`);
      const key = starttls ? 'tls' : 'tcp';
      metrics.push(
        metric(`${key}_sessions_per_s`, `${label} logins/s`, round(rate, 0), 'sessions/s', 'higher'),
        metric(`${key}_p50_ms`, `${label} login p50`, lat.p50_ms, 'ms', 'lower'),
        metric(`${key}_p99_ms`, `${label} login p99`, lat.p99_ms, 'ms', 'lower'),
      );
      details[key] = {
        sasl: m.mechanisms,
        ok: m.ok,
        failed: m.failed,
        wall_s: round(m.wallS, 2),
        sessions_per_s: round(rate, 1),
        latency: lat,
        first_error: m.firstError,
        generator_max_core_share: round(genShare, 2),
        server_cpu_cores: round(serverCores, 2),
        cpu_pressure_pct: pressure(),
      };
    }
    return { metrics, details, warnings };
  },
};
