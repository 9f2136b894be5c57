// S5 — presence storm: 2,000 users, each with a 50-contact mutual roster (a ring: user i and
// users i±1…i±25), all log in within 10 s (open loop: login k starts at k·10 s/N, whatever
// happened to earlier ones): connect, bind, roster get, initial presence. Each user should
// receive the presence of each of its 50 contacts: a broadcast when the contact comes later, a
// probe answer when the contact was there first.
//
// Latency: broadcasts are timed from the contact's own presence send time (carried in <status>);
// probe answers from the receiver's own initial presence (what triggered them).
//
// Set-up (not timed): all users online, each sends <presence type='subscribe'/> to its contacts
// and every client approves incoming requests, which gives subscription 'both' on both sides.

import { nowUs } from '../lib/histogram';
import type { LoginResult, SubscribeStatusResult } from '../lib/ipc';
import { pressureMeter, sleep } from '../lib/proc';
import { closeAll, drain, mergeLogins, metric, range, round, USER_PREFIX, saslFor, type Metric, type Scenario } from './common';

interface Size {
  users: number;
  /** contacts on each side in the ring: roster size is 2·half */
  half: number;
  windowMs: number;
}

function size(quick: boolean): Size {
  return quick ? { users: 200, half: 5, windowMs: 3000 } : { users: 2000, half: 25, windowMs: 10_000 };
}

export const s5Presence: Scenario = {
  id: 'S5',
  title: 'Presence storm: 2,000 users with 50 mutual contacts log in within 10 s',
  users: (quick) => ({ count: size(quick).users, exclusive: true }),
  maxSessions: (quick) => size(quick).users,

  async run(ctx) {
    const { pool, log, quick } = ctx;
    const sz = size(quick);
    const n = Math.min(sz.users, ctx.users.count);
    const base = ctx.users.base;
    const warnings: string[] = [];
    const all = range(base, n);
    const split = pool.split(all);

    const contactsOf = (u: number): number[] => {
      const k = u - base;
      const out: number[] = [];
      for (let d = 1; d <= sz.half; d++) out.push(base + ((k + d) % n), base + ((k - d + n) % n));
      return out;
    };
    const tSetup = Date.now();
    const setupCpu0 = ctx.server.cpuSeconds();
    let setupMethod: string;
    if (ctx.server.provisionRosters) {
      // --- set-up: rosters written by the target itself (no login has happened for these users) ---
      setupMethod = 'server-side pre-provisioning';
      await ctx.server.provisionRosters(
        all.map((u) => ({
          user: `${USER_PREFIX}${u}`,
          contacts: contactsOf(u).map((c) => `${USER_PREFIX}${c}@${ctx.server.domain}`),
        })),
      );
      log(`  set-up: ${n} rosters pre-provisioned on the server side in ${((Date.now() - tSetup) / 1000).toFixed(1)} s`);
    } else {
      setupMethod = 'subscription exchange over the wire';
      await subscribeOverTheWire();
    }
    const setupS = (Date.now() - tSetup) / 1000;

    async function subscribeOverTheWire(): Promise<void> {
      const setupLogin = await pool.all<LoginResult>((i) => ({
        op: 'connect',
        sasl: saslFor(ctx, 'SCRAM-SHA-1-OR-PLAIN'),
        users: split[i]!,
        concurrency: Math.max(1, Math.round(100 / pool.size)),
        starttls: false,
        presence: 'plain',
        // RFC 6121 §2.1.6: only "interested" resources (that asked for the roster) get roster
        // pushes and subscription approvals (Prosody enforces this).
        rosterGet: true,
        deadlineMs: 60_000,
      }));
      const sl = mergeLogins(setupLogin.map((p) => p.data));
      if (sl.failed) warnings.push(`set-up: ${sl.failed} logins failed, first: ${sl.firstError}`);
      // Let the server finish processing the initial presences: a subscription request to a user
      // not yet available is stored rather than delivered.
      await sleep(2000);
      const before = (await pool.all<SubscribeStatusResult>(() => ({ op: 'subscribe-status' }))).reduce(
        (a, r) => a + r.data.subscribedReceived,
        0,
      );
      await pool.all((i) => ({
        op: 'subscribe',
        contacts: Object.fromEntries(split[i]!.map((u) => [u, contactsOf(u)])),
        ratePerSec: Math.round((quick ? 2000 : 5000) / pool.size),
      }));
      const expectedSubscribed = n * 2 * sz.half;
      const setupDeadline = Math.min(ctx.deadline - 60_000, Date.now() + 120_000);
      let got = 0;
      let lastGot = -1;
      let lastChange = Date.now();
      let status: SubscribeStatusResult = { subscribedReceived: 0, subscribeReceived: 0, rosterPushes: 0, sent: 0 };
      while (Date.now() < setupDeadline) {
        const st = await pool.all<SubscribeStatusResult>(() => ({ op: 'subscribe-status' }));
        status = {
          subscribedReceived: st.reduce((a, r) => a + r.data.subscribedReceived, 0),
          subscribeReceived: st.reduce((a, r) => a + r.data.subscribeReceived, 0),
          rosterPushes: st.reduce((a, r) => a + r.data.rosterPushes, 0),
          sent: st.reduce((a, r) => a + r.data.sent, 0),
        };
        got = status.subscribedReceived - before;
        if (got >= expectedSubscribed) break;
        if (got !== lastGot) {
          lastGot = got;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > 15_000) break;
        await sleep(500);
      }
      log(
        `  set-up: ${got}/${expectedSubscribed} subscription approvals in ${((Date.now() - tSetup) / 1000).toFixed(1)} s ` +
          `(server CPU ${(ctx.server.cpuSeconds() - setupCpu0).toFixed(1)} s; totals: ${JSON.stringify(status)})`,
      );
      if (got < expectedSubscribed) warnings.push(`set-up incomplete: ${got}/${expectedSubscribed} approvals received`);
      await sleep(1000);
      await closeAll(pool);
      await sleep(3000);
    }

    // --- the storm ---
    const tag = `s5-${Date.now().toString(36)}`;
    const startAtUs = nowUs() + 500_000;
    const stepUs = (sz.windowMs * 1000) / n;
    const cpu0 = ctx.server.cpuSeconds();
    const pressure = pressureMeter();
    const t0 = Date.now();
    const storm = await pool.all<LoginResult>((i) => ({
      op: 'connect',
      sasl: saslFor(ctx, 'SCRAM-SHA-1-OR-PLAIN'),
      users: split[i]!,
      concurrency: 0,
      starttls: false,
      presence: 'stamped',
      rosterGet: true,
      tag,
      schedule: { startAtUs, offsetsUs: split[i]!.map((u) => Math.round((u - base) * stepUs)) },
      deadlineMs: sz.windowMs + 60_000,
    }));
    const logins = mergeLogins(storm.map((p) => p.data));
    const expected = n * 2 * sz.half;
    if (logins.rosterBoth < expected) {
      warnings.push(`rosters incomplete: ${logins.rosterBoth}/${expected} items with subscription 'both' at login`);
    }
    const pres = await drain(pool, tag, expected, { quietMs: 3000, maxMs: 20_000, unique: true });
    const cpuS = ctx.server.cpuSeconds() - cpu0;
    const wallS = (Date.now() - t0) / 1000;
    const spanS = pres.lastRecvUs > startAtUs ? (pres.lastRecvUs - startAtUs) / 1e6 : NaN;
    const lat = pres.hist.summary();
    const genShare = Math.max(...storm.map((p) => p.cpu.cpuUs / Math.max(1, p.cpu.wallUs)));
    log(
      `  storm: rosters ${logins.rosterBoth}/${expected} 'both'; ${logins.ok} logins (${logins.failed} failed, p99 ${logins.hist.summary().p99_ms} ms); presence ` +
        `${pres.received} delivered (${pres.uniquePairs}/${expected} unique pairs) in ${spanS.toFixed(1)} s, ` +
        `p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms; server ${(cpuS / wallS).toFixed(2)} cores`,
    );
    if (logins.failed) warnings.push(`storm: ${logins.failed} logins failed, first: ${logins.firstError}`);
    if (pres.uniquePairs < expected) warnings.push(`storm: ${expected - pres.uniquePairs} expected presences never arrived`);
    await closeAll(pool);
    const metrics: Metric[] = [
      metric('presence_per_s', 'presence delivered/s', round(pres.received / spanS, 0), 'stanzas/s', 'higher'),
      metric('presence_p50_ms', 'presence p50', lat.p50_ms, 'ms', 'lower'),
      metric('presence_p99_ms', 'presence p99', lat.p99_ms, 'ms', 'lower'),
      metric('complete_pct', 'expected presences delivered', round((100 * pres.uniquePairs) / expected, 2), '%', 'higher'),
      metric('login_p99_ms', 'login p99 during storm', logins.hist.summary().p99_ms, 'ms', 'lower'),
    ];
    return {
      metrics,
      details: {
        users: n,
        roster_size: 2 * sz.half,
        window_ms: sz.windowMs,
        setup_s: round(setupS, 1),
        setup_method: setupMethod,
        roster_items_both: logins.rosterBoth,
        logins: { sasl: logins.mechanisms, ok: logins.ok, failed: logins.failed, latency: logins.hist.summary() },
        presence: {
          delivered: pres.received,
          unique_pairs: pres.uniquePairs,
          expected_pairs: expected,
          span_s: round(spanS, 2),
          latency: lat,
          broadcast_latency: pres.broadcastHist.summary(),
          probe_reply_latency: pres.probeHist.summary(),
        },
        server_cpu_cores: round(cpuS / wallS, 2),
        cpu_pressure_pct: pressure(),
        generator_max_core_share: round(genShare, 2),
      },
      warnings,
    };
  },
};
