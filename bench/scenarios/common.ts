// Shared scenario plumbing: the result shape, merging worker answers, stepped open-loop sending.

import { Histogram, nowUs, type HistogramSummary } from '../lib/histogram';
import type { CollectResult, LoginResult, SendStepCmd, SendStepResult } from '../lib/ipc';
import type { WorkerPool } from '../lib/pool';
import { pressureMeter, sleep } from '../lib/proc';
import type { RunningServer } from '../targets/types';
import type { SaslChoice, SaslMechanism } from '../lib/xmpp-conn';

export interface Metric {
  /** stable key, e.g. "sessions_per_s" */
  key: string;
  label: string;
  value: number | null;
  unit: string;
  better: 'higher' | 'lower' | 'none';
  /** Shown in the table instead of a missing value, e.g. 'not supported' for a peer without the feature. */
  note?: string;
}

export interface ScenarioOutcome {
  metrics: Metric[];
  details: Record<string, unknown>;
  warnings: string[];
}

export interface ScenarioContext {
  server: RunningServer;
  pool: WorkerPool;
  quick: boolean;
  log: (s: string) => void;
  /** users reserved for this scenario: indices base .. base+count-1 */
  users: { base: number; count: number };
  /** wall-clock ms by which the scenario must be finished */
  deadline: number;
  /** --sasl: one mechanism for every login; otherwise each scenario's own default */
  sasl?: SaslMechanism;
}

/**
 * S1 measures logins as briefed: SASL PLAIN, the server running PBKDF2 (4,096) per login. The other
 * scenarios are about sessions, not password hashing: they log in with SCRAM-SHA-1 where offered
 * (the client's salted password is cached, the server only checks a proof), PLAIN otherwise.
 */
export function saslFor(ctx: ScenarioContext, scenarioDefault: SaslChoice): SaslChoice {
  return ctx.sasl ?? scenarioDefault;
}

export interface Scenario {
  id: string;
  title: string;
  /** how many registered users it needs; exclusive ones are not shared with other scenarios */
  users(quick: boolean): { count: number; exclusive: boolean };
  /** most sessions open at once (sizes the worker pool: a process may hold < 20,000 files) */
  maxSessions(quick: boolean): number;
  /** time budget when not SCENARIO_BUDGET_MS (the soak runs for as long as it is told to) */
  budgetMs?(quick: boolean): number;
  /** run only when named in --scenario, never as part of "all" (the soak: 10 minutes, Parley as shipped) */
  optIn?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

export const SCENARIO_BUDGET_MS = 180_000;

/** Registered users are `${USER_PREFIX}${index}@domain`. */
export const USER_PREFIX = 'u';

export function metric(key: string, label: string, value: number | null | undefined, unit: string, better: Metric['better']): Metric {
  return { key, label, value: value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? null : value, unit, better };
}

/** A row the target cannot fill because it lacks the feature measured (recorded, not a failure). */
export function notSupported(key: string, label: string, unit: string, better: Metric['better']): Metric {
  return { key, label, value: null, unit, better, note: 'not supported' };
}

export function range(base: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => base + i);
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export interface MergedLogin {
  ok: number;
  failed: number;
  hist: Histogram;
  wallS: number;
  firstError?: string;
  open: number;
  rosterBoth: number;
  mechanisms: Record<string, number>;
}

export function mergeLogins(parts: LoginResult[]): MergedLogin {
  const hist = new Histogram();
  let ok = 0;
  let failed = 0;
  let open = 0;
  let rosterBoth = 0;
  const mechanisms: Record<string, number> = {};
  let first = Infinity;
  let last = 0;
  let firstError: string | undefined;
  for (const p of parts) {
    hist.merge(p.hist);
    ok += p.ok;
    failed += p.failed;
    open += p.open;
    rosterBoth += p.rosterBoth;
    for (const [k, v] of Object.entries(p.mechanisms ?? {})) mechanisms[k] = (mechanisms[k] ?? 0) + v;
    if (p.firstStartUs) first = Math.min(first, p.firstStartUs);
    last = Math.max(last, p.lastDoneUs);
    firstError ??= p.firstError;
  }
  return { ok, failed, hist, wallS: last > first ? (last - first) / 1e6 : NaN, firstError, open, rosterBoth, mechanisms };
}

export interface MergedCollect {
  received: number;
  errors: number;
  hist: Histogram;
  probeHist: Histogram;
  broadcastHist: Histogram;
  uniquePairs: number;
  firstRecvUs: number;
  lastRecvUs: number;
  disconnects: number;
}

export function mergeCollects(parts: CollectResult[]): MergedCollect {
  const m: MergedCollect = {
    received: 0,
    errors: 0,
    hist: new Histogram(),
    probeHist: new Histogram(),
    broadcastHist: new Histogram(),
    uniquePairs: 0,
    firstRecvUs: 0,
    lastRecvUs: 0,
    disconnects: 0,
  };
  for (const p of parts) {
    m.received += p.received;
    m.errors += p.errors;
    m.hist.merge(p.hist);
    if (p.probeHist) m.probeHist.merge(p.probeHist);
    if (p.broadcastHist) m.broadcastHist.merge(p.broadcastHist);
    m.uniquePairs += p.uniquePairs ?? 0;
    if (p.firstRecvUs && (!m.firstRecvUs || p.firstRecvUs < m.firstRecvUs)) m.firstRecvUs = p.firstRecvUs;
    m.lastRecvUs = Math.max(m.lastRecvUs, p.lastRecvUs);
    m.disconnects += p.disconnects;
  }
  return m;
}

export async function collect(pool: WorkerPool, tag: string): Promise<MergedCollect> {
  const parts = await pool.all<CollectResult>(() => ({ op: 'collect', tag }));
  return mergeCollects(parts.map((p) => p.data));
}

/** Polls until `expected` deliveries arrived, nothing new came for `quietMs`, or `maxMs` passed. */
export async function drain(
  pool: WorkerPool,
  tag: string,
  expected: number,
  opts: { quietMs?: number; maxMs?: number; unique?: boolean } = {},
): Promise<MergedCollect> {
  const quietMs = opts.quietMs ?? 2000;
  const deadline = Date.now() + (opts.maxMs ?? 10_000);
  // S5 counts distinct (receiver, contact) pairs: servers may deliver a presence twice.
  const done = (c: MergedCollect): boolean =>
    opts.unique ? c.uniquePairs >= expected : c.received + c.errors >= expected;
  let last = await collect(pool, tag);
  let lastChange = Date.now();
  while (!done(last) && Date.now() < deadline) {
    await sleep(250);
    const now = await collect(pool, tag);
    if (now.received !== last.received || now.errors !== last.errors) lastChange = Date.now();
    last = now;
    if (Date.now() - lastChange > quietMs) break;
  }
  return last;
}

/** Closes every session in every worker. */
export async function closeAll(pool: WorkerPool): Promise<void> {
  await pool.all(() => ({ op: 'close-all', graceMs: 3000 }));
}

export interface StepReport {
  offered_per_s: number;
  sent: number;
  expected: number;
  delivered: number;
  errors: number;
  loss: number;
  loss_pct: number;
  delivered_per_s: number;
  latency: HistogramSummary;
  pass: boolean;
  server_cpu_cores: number;
  /** server CPU time (whole process tree) for the step and its drain, per delivered stanza */
  server_cpu_us_per_delivery: number;
  /** machine-wide CPU pressure while sending (PSI 'some'): % of time a runnable task waited for a CPU */
  cpu_pressure_pct: number | null;
  generator_max_lag_ms: number;
  /** worst event-loop stall of a generator worker during the step */
  generator_loop_delay_max_ms: number;
  generator_max_core_share: number;
  /** this step is the one retry of a step that failed while the generator stalled */
  retry: boolean;
  disconnects: number;
}

/**
 * Stepped open-loop load (S3 chat, S4 MUC): each step sends at a fixed rate for a fixed time,
 * scheduled by the clock (never waiting for replies), then waits for deliveries to drain. Stops
 * after the first failing step (loss, or p99 ≥ p99LimitMs) or when the time budget runs short.
 */
export async function runSteps(
  ctx: ScenarioContext,
  opts: {
    tagPrefix: string;
    rates: number[];
    stepMs: number;
    /** sessions per worker, to share the rate in proportion */
    sessionsPerWorker: number[];
    fanout: number;
    p99LimitMs: number;
    build: (tag: string, rate: number, startAtUs: number) => Omit<SendStepCmd, 'rate' | 'op'>;
  },
): Promise<{ steps: StepReport[]; stoppedBecause: string; warnings: string[] }> {
  const { pool, server, log } = ctx;
  const steps: StepReport[] = [];
  const warnings: string[] = [];
  const totalSessions = opts.sessionsPerWorker.reduce((a, b) => a + b, 0);
  let stoppedBecause = 'all steps passed';
  let retried = false;
  let prevDisconnects = (await collect(pool, `${opts.tagPrefix}none`)).disconnects;
  for (let k = 0; k < opts.rates.length; k++) {
    const rate = opts.rates[k]!;
    const needMs = opts.stepMs + 15_000;
    if (Date.now() + needMs > ctx.deadline) {
      stoppedBecause = `time budget: step ${rate}/s not run`;
      break;
    }
    const tag = `${opts.tagPrefix}${k}${retried ? 'r' : ''}`;
    const startAtUs = nowUs() + 300_000;
    const cpu0 = server.cpuSeconds();
    const pressure = pressureMeter();
    const t0 = Date.now();
    const sends = await pool.all<SendStepResult>((i) => ({
      op: 'send-step',
      ...opts.build(tag, rate, startAtUs),
      rate: (rate * (opts.sessionsPerWorker[i] ?? 0)) / totalSessions,
    }));
    const sendWallS = (Date.now() - t0) / 1000;
    const cpuPressure = pressure();
    const sent = sends.reduce((a, s) => a + s.data.sent, 0);
    const expected = sent * opts.fanout;
    const got = await drain(pool, tag, expected, { quietMs: 2000, maxMs: 10_000 });
    const cpuS = server.cpuSeconds() - cpu0;
    const wallS = (Date.now() - t0) / 1000;
    const lat = got.hist.summary();
    const loss = Math.max(0, expected - got.received);
    const spanS = got.lastRecvUs > startAtUs ? (got.lastRecvUs - startAtUs) / 1e6 : NaN;
    const maxLag = Math.max(...sends.map((s) => s.data.maxLagMs));
    const loopMax = Math.max(...sends.map((s) => s.data.loopDelayMaxMs));
    const genShare = Math.max(...sends.map((s) => s.cpu.cpuUs / Math.max(1, s.cpu.wallUs)));
    const pass = loss === 0 && got.errors === 0 && lat.p99_ms < opts.p99LimitMs;
    const report: StepReport = {
      offered_per_s: rate,
      sent,
      expected,
      delivered: got.received,
      errors: got.errors,
      loss,
      loss_pct: expected ? round((100 * loss) / expected, 3) : 0,
      delivered_per_s: round(got.received / Math.max(spanS, opts.stepMs / 1000), 0),
      latency: lat,
      pass,
      server_cpu_cores: round(cpuS / wallS, 2),
      server_cpu_us_per_delivery: round((cpuS * 1e6) / Math.max(1, got.received), 1),
      cpu_pressure_pct: cpuPressure,
      generator_max_lag_ms: round(maxLag, 1),
      generator_loop_delay_max_ms: round(loopMax, 1),
      retry: retried,
      generator_max_core_share: round(genShare, 2),
      disconnects: got.disconnects - prevDisconnects,
    };
    steps.push(report);
    log(
      `  step ${rate}/s: sent ${sent} (in ${sendWallS.toFixed(1)} s), delivered ${got.received}/${expected}, ` +
        `errors ${got.errors}, p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms, server ${report.server_cpu_cores} cores (${report.server_cpu_us_per_delivery} µs/delivery), CPU pressure ${cpuPressure ?? '?'}%, ` +
        `generator lag ${report.generator_max_lag_ms} ms, loop stall ${report.generator_loop_delay_max_ms} ms, ` +
        `${Math.round(genShare * 100)}% core → ${pass ? 'pass' : 'FAIL'}${retried ? ' (retry)' : ''}`,
    );
    if (maxLag > 50) {
      warnings.push(`step ${rate}/s: the generator fell ${round(maxLag, 0)} ms behind its schedule`);
    }
    if (!server.alive()) {
      stoppedBecause = 'server process died';
      break;
    }
    const stalled = maxLag > 50 || loopMax > 50;
    const contended = (cpuPressure ?? 0) > 50;
    if (!pass && !retried && server.alive() && (stalled || contended) && got.disconnects === prevDisconnects) {
      // The generator stalled or the machine's CPU was contended (it is shared): run the step once
      // more before calling it a server failure.
      warnings.push(
        `step ${rate}/s failed while ${stalled ? `the generator stalled (${round(Math.max(maxLag, loopMax), 0)} ms)` : ''}` +
          `${stalled && contended ? ' and ' : ''}${contended ? `CPU pressure was ${cpuPressure}%` : ''}: retried once`,
      );
      retried = true;
      k--;
      await sleep(2000);
      continue;
    }
    retried = false;
    prevDisconnects = got.disconnects;
    if (!pass) {
      stoppedBecause = `step ${rate}/s failed (${loss ? `lost ${loss}` : ''}${got.errors ? ` errors ${got.errors}` : ''}${
        lat.p99_ms >= opts.p99LimitMs ? ` p99 ${lat.p99_ms} ms` : ''
      })`.replace('( ', '(');
      break;
    }
    await sleep(1000);
  }
  return { steps, stoppedBecause, warnings };
}

/** Sessions each worker got from a connect, by worker index. */
export function sessionsPerWorker(parts: LoginResult[]): number[] {
  return parts.map((p) => p.open);
}
