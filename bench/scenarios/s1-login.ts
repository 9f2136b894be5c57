// S1 — login rate: N complete logins (TCP connect, stream, [STARTTLS], SASL — PLAIN by default,
// with the server checking a SCRAM-hashed password (4,096 PBKDF2 iterations) — bind) at a fixed
// concurrency; each session is closed as soon as it is bound. Without TLS first, then STARTTLS.
// Then the "FAST reconnect" variant, without TLS: every session logs in once over SASL2 (XEP-0388) with PLAIN and
// Bind 2 (XEP-0386) and asks for a XEP-0484 token (set-up, not timed), then reconnects at the same concurrency with
// HT-SHA-256-NONE + Bind 2 in one round trip, sends initial presence and does one iq round trip (timed). Servers
// without SASL2, Bind 2 or FAST get "not supported" in those rows.

import { nowUs } from '../lib/histogram';
import { pressureMeter } from '../lib/proc';
import type { FastSetupResult, LoginResult } from '../lib/ipc';
import { mergeLogins, metric, notSupported, range, round, saslFor, type Metric, type Scenario } from './common';

export const s1Login: Scenario = {
  id: 'S1',
  title: 'Login rate (connect + SASL + bind), without TLS, with STARTTLS, and FAST reconnects',
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

    /** One timed burst over every user at the scenario's concurrency; its rows and details go under `key`. */
    async function burst(variant: { label: string; key: string; starttls: boolean; fast: boolean; share: number }): Promise<void> {
      const { label, key, starttls, fast } = variant;
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
        fast,
        startAtUs: nowUs() + 200_000,
        deadlineMs: Math.max(5_000, Math.min(80_000, remaining * variant.share - 5_000)),
      }));
      const m = mergeLogins(parts.map((p) => p.data));
      const serverCores = (ctx.server.cpuSeconds() - cpu0) / ((Date.now() - t0) / 1000);
      const rate = m.ok / m.wallS;
      const lat = m.hist.summary();
      const genShare = Math.max(...parts.map((p) => p.cpu.cpuUs / Math.max(1, p.cpu.wallUs)));
      const what = fast ? 'reconnects' : 'sessions';
      log(
        `  ${label}: ${m.ok} ok, ${m.failed} failed in ${m.wallS.toFixed(1)} s → ${rate.toFixed(0)} ${what}/s, ` +
          `p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms (server ${serverCores.toFixed(2)} cores, generator ${Math.round(genShare * 100)}% of a core)`,
      );
      if (m.failed) warnings.push(`${label}: ${m.failed} logins failed, first: ${m.firstError}`);
      if (m.ok + m.failed < n) warnings.push(`${label}: only ${m.ok + m.failed} of ${n} logins ran within the time budget`);
      if (fast) {
        metrics.push(
          metric(`${key}_reconnects_per_s`, `${label}s/s`, round(rate, 0), 'reconnects/s', 'higher'),
          metric(`${key}_p50_ms`, `${label} p50`, lat.p50_ms, 'ms', 'lower'),
          metric(`${key}_p99_ms`, `${label} p99`, lat.p99_ms, 'ms', 'lower'),
        );
      } else {
        metrics.push(
          metric(`${key}_sessions_per_s`, `${label} logins/s`, round(rate, 0), 'sessions/s', 'higher'),
          metric(`${key}_p50_ms`, `${label} login p50`, lat.p50_ms, 'ms', 'lower'),
          metric(`${key}_p99_ms`, `${label} login p99`, lat.p99_ms, 'ms', 'lower'),
        );
      }
      details[key] = {
        ...(details[key] as object | undefined),
        sasl: m.mechanisms,
        ok: m.ok,
        failed: m.failed,
        wall_s: round(m.wallS, 2),
        [`${what}_per_s`]: round(rate, 1),
        latency: lat,
        first_error: m.firstError,
        generator_max_core_share: round(genShare, 2),
        server_cpu_cores: round(serverCores, 2),
        cpu_pressure_pct: pressure(),
      };
    }

    await burst({ label: 'no-TLS', key: 'tcp', starttls: false, fast: false, share: 1 / 4 });
    await burst({ label: 'STARTTLS', key: 'tls', starttls: true, fast: false, share: 1 / 3 });

    // FAST set-up, not timed: a password login per session, asking for a token the worker keeps for that session.
    const label = 'FAST reconnect';
    const setup = await pool.all<FastSetupResult>((i) => ({
      op: 'fast-setup',
      users: users[i]!,
      concurrency: perWorker,
      deadlineMs: Math.max(5_000, Math.min(60_000, (ctx.deadline - Date.now()) / 3)),
    }));
    const unsupported = setup.map((p) => p.data.unsupported).find((u) => u !== undefined);
    if (unsupported !== undefined) {
      log(`  ${label}: not supported (${unsupported})`);
      metrics.push(
        notSupported('fast_reconnects_per_s', `${label}s/s`, 'reconnects/s', 'higher'),
        notSupported('fast_p50_ms', `${label} p50`, 'ms', 'lower'),
        notSupported('fast_p99_ms', `${label} p99`, 'ms', 'lower'),
      );
      details['fast'] = { supported: false, reason: unsupported };
      return { metrics, details, warnings };
    }
    const tokens = setup.reduce((a, p) => a + p.data.ok, 0);
    const setupFailed = setup.reduce((a, p) => a + p.data.failed, 0);
    if (setupFailed) {
      warnings.push(`${label} set-up: ${setupFailed} password logins failed, first: ${setup.map((p) => p.data.firstError).find(Boolean)}`);
    }
    details['fast'] = { supported: true, mechanism: 'HT-SHA-256-NONE', tokens_issued: tokens };
    await burst({ label, key: 'fast', starttls: false, fast: true, share: 1 });
    return { metrics, details, warnings };
  },
};
