// S2 — idle memory: RSS of all the server's processes (from /proc) before and after opening
// 10,000 and then 19,000 idle authenticated sessions (bound, initial presence sent, no roster),
// reported as KiB per session. Sessions are spread over several generator processes since one
// process may hold at most 20,000 files.

import type { LoginResult } from '../lib/ipc';
import { sleep } from '../lib/proc';
import { closeAll, mergeLogins, metric, range, round, saslFor, type Metric, type Scenario } from './common';

const SETTLE_MS = 5000;

let chosen: number[] | undefined;

/** `--s2-sessions`: other levels (e.g. 50,000 for Parley with several worker processes). */
export function setS2Levels(levels: number[]): void {
  chosen = levels;
}

function levels(quick: boolean): number[] {
  return chosen ?? (quick ? [1000, 2000] : [10_000, 19_000]);
}

export const s2IdleMemory: Scenario = {
  id: 'S2',
  title: 'Idle memory per authenticated session (server RSS, all processes)',
  users: (quick) => ({ count: levels(quick).at(-1)!, exclusive: false }),
  maxSessions: (quick) => levels(quick).at(-1)!,

  async run(ctx) {
    const { pool, server, log, quick } = ctx;
    const metrics: Metric[] = [];
    const warnings: string[] = [];
    await sleep(2000);
    const baseKiB = server.rssKiB();
    log(`  baseline RSS ${(baseKiB / 1024).toFixed(1)} MiB`);
    const details: Record<string, unknown> = { baseline_rss_kib: baseKiB, settle_ms: SETTLE_MS };
    let open = 0;
    const all = levels(quick);
    const last = Math.min(all.at(-1)!, ctx.users.count);
    let prevCount = 0;
    for (const [li, level] of all.entries()) {
      const want = Math.min(level, ctx.users.count);
      const adding = want - prevCount;
      const users = pool.split(range(ctx.users.base + prevCount, adding));
      // Time for this level in proportion to the logins it adds, keeping 15 s per level to settle.
      const share = adding / Math.max(1, last - prevCount);
      prevCount = want;
      const remaining = ctx.deadline - Date.now() - 15_000 * (all.length - li);
      const parts = await pool.all<LoginResult>((i) => ({
        op: 'connect',
        sasl: saslFor(ctx, 'SCRAM-SHA-1-OR-PLAIN'),
        users: users[i]!,
        concurrency: Math.max(1, Math.round(200 / pool.size)),
        starttls: false,
        presence: 'plain',
        rosterGet: false,
        deadlineMs: Math.max(10_000, remaining * Math.min(1, share)),
      }));
      const m = mergeLogins(parts.map((p) => p.data));
      open = parts.reduce((a, p) => a + p.data.open, 0);
      if (m.failed) warnings.push(`${level}: ${m.failed} logins failed, first: ${m.firstError}`);
      await sleep(SETTLE_MS);
      const rss = server.rssKiB();
      const perSession = (rss - baseKiB) / Math.max(1, open);
      log(
        `  ${open} sessions open (${m.ok} new in ${m.wallS.toFixed(1)} s): RSS ${(rss / 1024).toFixed(1)} MiB → ` +
          `${perSession.toFixed(1)} KiB/session`,
      );
      const k = `${Math.round(level / 1000)}k`;
      metrics.push(
        metric(`kib_per_session_${k}`, `KiB/session at ${k}`, round(perSession, 1), 'KiB', 'lower'),
        metric(`rss_mib_${k}`, `server RSS at ${k}`, round(rss / 1024, 1), 'MiB', 'lower'),
      );
      details[k] = {
        target_sessions: level,
        sasl: m.mechanisms,
        open_sessions: open,
        new_logins_ok: m.ok,
        failed: m.failed,
        login_wall_s: round(m.wallS, 2),
        rss_kib: rss,
        kib_per_session: round(perSession, 2),
        first_error: m.firstError,
      };
      if (!server.alive()) {
        warnings.push('server process died');
        break;
      }
    }
    metrics.unshift(metric('baseline_rss_mib', 'server RSS before', round(baseKiB / 1024, 1), 'MiB', 'lower'));
    await closeAll(pool);
    return { metrics, details, warnings };
  },
};
