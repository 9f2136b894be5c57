// SOAK — memory stays flat and nothing is lost under steady load (issue 14). 1,000 online users send
// <message type='chat'> to random other users' bare JIDs at one fixed open-loop rate (default: half of
// Parley's S3 capacity in bench/RESULTS.md) for a long time (default 10 minutes), against Parley as
// shipped (message archiving on: every message is written to the SQLite archive of both parties).
// The server's RSS (whole process tree, /proc/<pid>/status) is sampled every few seconds; after a
// warm-up, a least-squares line through the samples gives the growth in MiB/min. Every message
// carries an id `<tag>.<worker>.<seq>`; receivers record the ids they got, so loss and duplicates are
// counted message by message. Verdict and thresholds: bench/lib/soak-stats.ts.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowUs } from '../lib/histogram';
import type { CollectIdsResult, LoginResult, SendStepResult } from '../lib/ipc';
import { mainThreadCpuSeconds, sleep } from '../lib/proc';
import { DEFAULT_THRESHOLDS, IdSet, fitRss, s3CapacityFromResults, soakVerdict, type Delivery, type RssSample } from '../lib/soak-stats';
import { closeAll, collect, drain, mergeLogins, metric, range, round, saslFor, sessionsPerWorker, type Metric, type Scenario } from './common';

const RESULTS_MD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'RESULTS.md');
/** Half of the 10,000 msg/s Parley sustained in S3 in the run RESULTS.md showed when the soak was written. */
const FALLBACK_RATE = 5000;
const PROGRESS_EVERY_MS = 30_000;

export interface SoakSettings {
  /** messages per second, all workers together */
  rate: number;
  /** where the rate came from, for the report */
  rateSource: string;
  durationS: number;
  warmupS: number;
  sampleS: number;
  maxSlopeMiBPerMin: number;
}

let chosen: Partial<Omit<SoakSettings, 'rateSource'>> = {};

/** --rate, --duration, --soak-warmup, --soak-sample, --soak-max-slope. */
export function setSoakOptions(o: Partial<Omit<SoakSettings, 'rateSource'>>): void {
  chosen = o;
}

/** Half of the S3 capacity recorded for Parley in bench/RESULTS.md (fallback: 5,000 msg/s). */
export function defaultSoakRate(): { rate: number; source: string } {
  let capacity: number | undefined;
  try {
    capacity = s3CapacityFromResults(fs.readFileSync(RESULTS_MD, 'utf8'));
  } catch {
    // no RESULTS.md: the fallback below
  }
  return capacity
    ? { rate: Math.round(capacity / 2), source: `half of Parley's S3 capacity in bench/RESULTS.md (${capacity} msg/s)` }
    : { rate: FALLBACK_RATE, source: `no S3 capacity in bench/RESULTS.md: ${FALLBACK_RATE} msg/s (half of the 10,000 recorded 2026-11-24)` };
}

export function soakSettings(quick: boolean): SoakSettings {
  const durationS = chosen.durationS ?? (quick ? 60 : 600);
  const byDefault = quick ? { rate: 500, source: '--quick' } : defaultSoakRate();
  return {
    rate: chosen.rate ?? byDefault.rate,
    rateSource: chosen.rate !== undefined ? '--rate' : byDefault.source,
    durationS,
    // Long enough for the JIT, the V8 heap, SQLite's page cache and the sessions' buffers to settle.
    warmupS: chosen.warmupS ?? Math.min(120, Math.round(durationS / 4)),
    sampleS: chosen.sampleS ?? (quick ? 2 : 5),
    maxSlopeMiBPerMin: chosen.maxSlopeMiBPerMin ?? DEFAULT_THRESHOLDS.maxSlopeMiBPerMin,
  };
}

const mib = (kib: number): number => round(kib / 1024, 1);

export const soak: Scenario = {
  id: 'SOAK',
  title: 'Soak: one-to-one messages at a fixed rate, archiving on, server RSS sampled',
  optIn: true,
  users: (quick) => ({ count: quick ? 200 : 1000, exclusive: false }),
  maxSessions: (quick) => (quick ? 200 : 1000),
  // Logins, the run itself, draining (≤ 60 s) and closing.
  budgetMs: (quick) => soakSettings(quick).durationS * 1000 + 240_000,

  async run(ctx) {
    const { pool, server, log, quick } = ctx;
    const set = soakSettings(quick);
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
    const warnings: string[] = [];
    if (login.failed) warnings.push(`${login.failed} logins failed, first: ${login.firstError}`);
    const perWorker = sessionsPerWorker(parts.map((p) => p.data));
    const online = perWorker.reduce((a, b) => a + b, 0);
    await sleep(2000);
    const baselineKiB = server.rssKiB();
    log(
      `  ${online} sessions online; ${set.rate} msg/s (${set.rateSource}) for ${set.durationS} s, warm-up ${set.warmupS} s, ` +
        `RSS every ${set.sampleS} s; baseline RSS ${mib(baselineKiB)} MiB`,
    );

    const tag = `soak-${Date.now().toString(36)}`;
    const startAtUs = nowUs() + 500_000;
    const sinceStartS = (): number => (nowUs() - startAtUs) / 1e6;
    const samples: RssSample[] = [];
    let sendEndS = Infinity;
    const sampler = setInterval(() => {
      const t = sinceStartS();
      if (t >= 0 && server.alive()) samples.push({ t_s: round(t, 2), rss_kib: server.rssKiB() });
    }, set.sampleS * 1000);
    const progress = setInterval(() => {
      void collect(pool, tag).then(
        (c) => log(`  t=${Math.round(sinceStartS())} s: RSS ${mib(samples.at(-1)?.rss_kib ?? 0)} MiB, received ${c.received}, errors ${c.errors}, p99 so far ${c.hist.summary().p99_ms} ms`),
        () => {},
      );
    }, PROGRESS_EVERY_MS);
    const cpu0 = server.cpuSeconds();
    const mainCpu0 = mainThreadCpuSeconds(server.pid);
    let sends: Array<{ data: SendStepResult }>;
    try {
      sends = await pool.all<SendStepResult>((i) => ({
        op: 'send-step',
        tag,
        mode: 'chat',
        rate: (set.rate * (perWorker[i] ?? 0)) / Math.max(1, online),
        durationMs: set.durationS * 1000,
        startAtUs,
        recipientBase: ctx.users.base,
        recipientCount: n,
        trackIds: true,
      }));
    } finally {
      sendEndS = sinceStartS();
      clearInterval(progress);
    }
    const cpuS = server.cpuSeconds() - cpu0;
    const mainCpuS = mainThreadCpuSeconds(server.pid) - mainCpu0;
    const sent = sends.reduce((a, s) => a + s.data.sent, 0);
    const got = await drain(pool, tag, sent, { quietMs: 5000, maxMs: 60_000 });
    clearInterval(sampler);

    // Loss and duplicates by id: OR every receiver's bitset per sending worker.
    const idParts = await pool.all<CollectIdsResult>(() => ({ op: 'collect-ids', tag }));
    const missingExamples: string[] = [];
    let received = 0;
    let duplicates = 0;
    sends.forEach((s, w) => {
      const merged = new IdSet();
      for (const p of idParts) {
        const part = p.data.bySender[w];
        if (part) merged.merge(IdSet.fromBase64(part.bits, part.duplicates));
      }
      received += merged.countBelow(s.data.sent);
      duplicates += merged.duplicates;
      for (const seq of merged.missingBelow(s.data.sent, 10 - missingExamples.length)) missingExamples.push(`${tag}.${w}.${seq}`);
    });
    const delivery: Delivery = { sent, received, lost: sent - received, duplicates, errors: got.errors };

    const steady = samples.filter((x) => x.t_s >= set.warmupS && x.t_s <= sendEndS);
    const fit = fitRss(steady);
    const verdict = soakVerdict(fit, delivery, server.alive(), { maxSlopeMiBPerMin: set.maxSlopeMiBPerMin, minSamples: DEFAULT_THRESHOLDS.minSamples });
    const steadyKiB = steady.map((x) => x.rss_kib);
    const warmKiB = steady[0]?.rss_kib;
    const lat = got.hist.summary();
    const maxLag = Math.max(...sends.map((s) => s.data.maxLagMs));
    if (maxLag > 50) warnings.push(`the generator fell ${round(maxLag, 0)} ms behind its schedule at worst`);
    if (!verdict.pass) warnings.push(`soak FAIL: ${verdict.reasons.join('; ')}`);

    log(
      `  sent ${sent}, received ${received} (by id), lost ${delivery.lost}, duplicates ${duplicates}, errors ${got.errors}; ` +
        `p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms; server ${round(cpuS / Math.max(1, sendEndS), 2)} cores, ${round((cpuS * 1e6) / Math.max(1, received), 1)} µs CPU per message (main thread ${round((mainCpuS * 1e6) / Math.max(1, received), 1)} µs)`,
    );
    log(
      `  RSS: baseline ${mib(baselineKiB)} MiB, after warm-up ${warmKiB === undefined ? '—' : mib(warmKiB)} MiB, ` +
        `min ${steadyKiB.length ? mib(Math.min(...steadyKiB)) : '—'} / max ${steadyKiB.length ? mib(Math.max(...steadyKiB)) : '—'} MiB, ` +
        `slope ${fit ? round(fit.slope, 2) : '—'} MiB/min (R² ${fit ? round(fit.r2, 2) : '—'}, ${steady.length} samples)`,
    );
    log(`  verdict: ${verdict.pass ? 'PASS' : 'FAIL'}${verdict.pass ? '' : ` (${verdict.reasons.join('; ')})`}`);
    for (const c of verdict.criteria) log(`    PASS needs: ${c}`);

    const metrics: Metric[] = [
      { ...metric('verdict', 'verdict', null, '', 'none'), note: verdict.pass ? 'PASS' : 'FAIL' },
      metric('rate', 'offered rate', set.rate, 'msg/s', 'none'),
      metric('baseline_rss_mib', 'server RSS before traffic', mib(baselineKiB), 'MiB', 'lower'),
      metric('warm_rss_mib', 'server RSS after warm-up', warmKiB === undefined ? null : mib(warmKiB), 'MiB', 'lower'),
      metric('rss_slope_mib_per_min', 'RSS slope after warm-up', fit ? round(fit.slope, 2) : null, 'MiB/min', 'lower'),
      metric('rss_min_mib', 'RSS min after warm-up', steadyKiB.length ? mib(Math.min(...steadyKiB)) : null, 'MiB', 'lower'),
      metric('rss_max_mib', 'RSS max after warm-up', steadyKiB.length ? mib(Math.max(...steadyKiB)) : null, 'MiB', 'lower'),
      metric('sent', 'messages sent', sent, 'msgs', 'none'),
      metric('received', 'messages received (distinct ids)', received, 'msgs', 'higher'),
      metric('lost', 'messages lost', delivery.lost, 'msgs', 'lower'),
      metric('duplicates', 'messages received twice', duplicates, 'msgs', 'lower'),
      metric('p99_ms', 'delivery p99', lat.p99_ms, 'ms', 'lower'),
      // Server CPU (whole process tree, traffic and drain) over messages received: comparable across a loaded machine.
      metric('server_cpu_us_per_msg', 'server CPU per message', round((cpuS * 1e6) / Math.max(1, received), 1), 'µs', 'lower'),
      // The event loop's share: what bounds the rate a single process delivers at.
      metric('server_main_thread_us_per_msg', 'server main-thread CPU per message', round((mainCpuS * 1e6) / Math.max(1, received), 1), 'µs', 'lower'),
    ];
    await closeAll(pool);
    return {
      metrics,
      details: {
        sasl: login.mechanisms,
        users: n,
        sessions_online: online,
        settings: set,
        thresholds: { max_slope_mib_per_min: set.maxSlopeMiBPerMin, min_samples: DEFAULT_THRESHOLDS.minSamples },
        verdict,
        delivery: { ...delivery, missing_examples: missingExamples, deliveries_counted: got.received },
        send_wall_s: round(sendEndS, 1),
        server_cpu_cores: round(cpuS / Math.max(1, sendEndS), 2),
        generator_max_lag_ms: round(maxLag, 1),
        generator_loop_delay_max_ms: round(Math.max(...sends.map((s) => s.data.loopDelayMaxMs)), 1),
        latency: lat,
        rss: {
          baseline_kib: baselineKiB,
          warm_kib: warmKiB ?? null,
          fit: fit ? { slope_mib_per_min: round(fit.slope, 3), intercept_mib: round(fit.intercept, 1), r2: round(fit.r2, 3), samples: fit.n } : null,
          // every sample, drain included (t_s > send_wall_s): for a plot
          samples,
        },
      },
      warnings,
    };
  },
};
