// `npm run bench -- [--peer prosody|ejabberd|both|none] [--scenario S1,S3] [--quick] [--only-peer]`
// `npm run bench -- --scenario soak [--rate N] [--duration S]`: the soak (Parley as shipped, alone)
//
// Runs the scenarios against Parley first, then against each peer, one server at a time; prints a
// side-by-side table; writes the raw results with machine facts to bench/results/<timestamp>.json
// and a summary to bench/RESULTS.md. See bench/README.md.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WorkerPool } from './lib/pool';
import { cpuPressureLine, machineFacts } from './lib/machine';
import { groupHeading, pairGroups, renderText, resultsMarkdown, runTitle, table, type RunResults, type ScenarioRun, type TargetRun } from './lib/report';
import { XmppConn, type SaslMechanism } from './lib/xmpp-conn';
import { range, closeAll, SCENARIO_BUDGET_MS, USER_PREFIX, type Scenario } from './scenarios/common';
import { s1Login } from './scenarios/s1-login';
import { s2IdleMemory, setS2Levels } from './scenarios/s2-idle-memory';
import { s3Messaging } from './scenarios/s3-messaging';
import { s4Muc } from './scenarios/s4-muc';
import { s5Presence } from './scenarios/s5-presence';
import { setSoakOptions, soak, soakSettings } from './scenarios/soak';
import { parley, parleyVariantsFor } from './targets/parley';
import { prosody } from './targets/prosody';
import { ejabberd } from './targets/ejabberd';
import type { PeerName, RunningServer, Target, Variant } from './targets/types';
import { sleep } from './lib/proc';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SCENARIOS: Scenario[] = [s1Login, s2IdleMemory, s3Messaging, s4Muc, s5Presence, soak];
const PASSWORD = 'bench-Secret-1';

const HELP = `Usage: npm run bench -- [options]

  --peer prosody|ejabberd|both|none   peers to compare with (default: both; none with --scenario soak)
  --scenario S1,S3                    scenarios to run (default: S1,S2,S3,S4,S5; soak only when named, alone)
  --quick                             smoke-test sizes (seconds per scenario, not minutes)
  --archive off|on|both               fair pairs with the message archive off in both, on in both (ejabberd
                                      mod_mam default: always, Prosody mod_mam default_archive_policy = true,
                                      Parley mam), or both pairs (default: both)
  --shipped / --no-shipped            also run Parley as shipped, every default module (default: yes)
  --only-peer                         skip Parley (run the peers only)
  --workers N                         load-generator processes (default: 2, more when sessions need it)
  --parley-workers N                  run Parley as N worker processes behind one port (cluster.workers,
                                      sharing sessions over the local Redis at 127.0.0.1:6379); default 1
  --s2-sessions 10000,19000           S2's levels of open sessions (default 10000,19000; quick 1000,2000)
  --sasl plain|scram-sha-1            one login mechanism for every scenario (default: S1 uses PLAIN, the
                                      server hashing the password at each login; S2–S5 use SCRAM-SHA-1
                                      where offered, PLAIN otherwise, the client caching its PBKDF2)
  --keep                              keep each server's temporary directory (config, data, logs)
  --summary / --no-summary            write bench/RESULTS.md (default: yes for full runs, no for --quick)
  --render FILE                       no run: print the table of a results JSON, write bench/RESULTS.md

Soak (--scenario soak: Parley with its shipped modules, message archiving on; exit status 1 on FAIL):
  --rate N                            messages/s (default: half of Parley's S3 capacity in bench/RESULTS.md)
  --duration S                        seconds of traffic (default 600; --quick 60)
  --soak-warmup S                     seconds before the RSS fit starts (default min(120, duration/4))
  --soak-sample S                     seconds between RSS samples (default 5; --quick 2)
  --soak-max-slope M                  MiB/min of RSS growth after warm-up that still passes (default 2)
  -h, --help

Scenarios:
${SCENARIOS.map((s) => `  ${s.id}  ${s.title}`).join('\n')}
`;

function parse(): {
  render: string | undefined;
  sasl: SaslMechanism | undefined;
  peers: Array<'prosody' | 'ejabberd'>;
  scenarios: Scenario[];
  quick: boolean;
  onlyPeer: boolean;
  workers?: number;
  parleyWorkers: number;
  keep: boolean;
  summary: boolean;
  /** the soak: Parley with its shipped module set only */
  soakRun: boolean;
  /** archive settings of the fair pairs, in order */
  archive: boolean[];
  /** also run Parley as shipped */
  shipped: boolean;
} {
  const { values } = parseArgs({
    options: {
      peer: { type: 'string' },
      scenario: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'only-peer': { type: 'boolean', default: false },
      archive: { type: 'string' },
      shipped: { type: 'boolean' },
      'no-shipped': { type: 'boolean' },
      workers: { type: 'string' },
      'parley-workers': { type: 'string' },
      's2-sessions': { type: 'string' },
      keep: { type: 'boolean', default: false },
      sasl: { type: 'string' },
      summary: { type: 'boolean' },
      'no-summary': { type: 'boolean' },
      render: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'soak-warmup': { type: 'string' },
      'soak-sample': { type: 'string' },
      'soak-max-slope': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const wanted = (values.scenario ?? SCENARIOS.filter((s) => !s.optIn).map((s) => s.id).join(','))
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.id));
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.id === w));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  const soakRun = scenarios.includes(soak);
  // The soak runs Parley with its shipped module set (archiving on), not the peers' equivalent, and
  // lasts minutes: it runs alone, against Parley unless peers are asked for.
  if (soakRun && scenarios.length > 1) throw new Error('--scenario soak runs alone (it starts Parley as shipped, not as for S1–S5)');
  const soakFlags = ['rate', 'duration', 'soak-warmup', 'soak-sample', 'soak-max-slope'] as const;
  if (!soakRun) {
    const stray = soakFlags.filter((f) => values[f] !== undefined);
    if (stray.length) throw new Error(`--${stray.join(', --')} ${stray.length > 1 ? 'apply' : 'applies'} only to --scenario soak`);
  } else {
    const num = (flag: (typeof soakFlags)[number], min: number, integer: boolean): number | undefined => {
      const raw = values[flag];
      if (raw === undefined) return undefined;
      const v = Number(raw);
      if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
        throw new Error(`--${flag} must be ${integer ? 'an integer' : 'a number'} ≥ ${min} (got ${raw})`);
      }
      return v;
    };
    setSoakOptions({
      rate: num('rate', 1, true),
      durationS: num('duration', 10, true),
      warmupS: num('soak-warmup', 0, true),
      sampleS: num('soak-sample', 1, true),
      maxSlopeMiBPerMin: num('soak-max-slope', 0, false),
    });
    const set = soakSettings(values.quick ?? false);
    const fitted = Math.floor((set.durationS - set.warmupS) / set.sampleS);
    if (fitted < 10) {
      throw new Error(
        `the soak would take only ${Math.max(0, fitted)} RSS samples after warm-up (need 10): ` +
          `--duration ${set.durationS}, --soak-warmup ${set.warmupS}, --soak-sample ${set.sampleS}`,
      );
    }
  }
  const peerArg = values.peer ?? (soakRun ? 'none' : 'both');
  const peerChoices: Record<string, Array<'prosody' | 'ejabberd'>> = {
    both: ['prosody', 'ejabberd'],
    none: [],
    prosody: ['prosody'],
    ejabberd: ['ejabberd'],
  };
  const peers = peerChoices[peerArg];
  if (!peers) throw new Error(`--peer must be prosody, ejabberd, both or none (got ${peerArg})`);
  const quick = values.quick ?? false;
  const saslArg = values.sasl?.toUpperCase();
  if (saslArg !== undefined && saslArg !== 'PLAIN' && saslArg !== 'SCRAM-SHA-1') {
    throw new Error(`--sasl must be plain or scram-sha-1 (got ${values.sasl})`);
  }
  const sasl: SaslMechanism | undefined = saslArg;
  const parleyWorkers = Number(values['parley-workers'] ?? 1);
  if (!Number.isInteger(parleyWorkers) || parleyWorkers < 1 || parleyWorkers > 16) throw new Error(`--parley-workers must be 1 to 16 (got ${values['parley-workers']})`);
  if (values['s2-sessions'] !== undefined) {
    const levels = values['s2-sessions'].split(',').map((v) => Number(v.trim()));
    if (levels.some((n) => !Number.isInteger(n) || n < 1) || levels.some((n, i) => i > 0 && n <= levels[i - 1]!)) {
      throw new Error(`--s2-sessions must be increasing session counts, e.g. 10000,19000,50000 (got ${values['s2-sessions']})`);
    }
    setS2Levels(levels);
  }
  const archiveChoices: Record<string, boolean[]> = { off: [false], on: [true], both: [false, true] };
  const archive = archiveChoices[values.archive ?? 'both'];
  if (!archive) throw new Error(`--archive must be off, on or both (got ${values.archive})`);
  if (soakRun && (values.archive !== undefined || values.shipped !== undefined)) {
    throw new Error('--archive and --shipped do not apply to --scenario soak (it runs Parley as shipped)');
  }
  return {
    render: values.render,
    sasl,
    peers: [...peers],
    scenarios,
    quick,
    onlyPeer: values['only-peer'] ?? false,
    workers: values.workers ? Number(values.workers) : undefined,
    parleyWorkers,
    keep: values.keep ?? false,
    // bench/RESULTS.md summarises the S1–S5 comparison: a soak leaves it alone unless asked.
    summary: values['no-summary'] ? false : (values.summary ?? (!quick && !soakRun)),
    soakRun,
    archive,
    shipped: values['no-shipped'] ? false : (values.shipped ?? true),
  };
}

const t0 = Date.now();
function log(s: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`);
}

/** The commands a person would type to get this run again. */
function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w./,=:-]+$/.test(a) ? a : JSON.stringify(a)));
  return process.env['npm_lifecycle_event'] === 'bench'
    ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
    : `node ${process.execArgv.join(' ')} ${path.relative(process.cwd(), process.argv[1] ?? 'bench/run.ts')} ${args.join(' ')}`.trim();
}

/** Reads the PBKDF2 iteration count a server uses, from a SCRAM-SHA-1 server-first-message. */
async function probeScramIterations(server: RunningServer, user: string): Promise<number | null> {
  const conn = await XmppConn.connect({ host: server.host, port: server.port, domain: server.domain, stepTimeoutMs: 10_000 });
  try {
    const features = await conn.openStream();
    if (!features.includes('>SCRAM-SHA-1<')) return null;
    const first = `n,,n=${user},r=benchprobe${Date.now()}`;
    conn.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from(first).toString('base64')}</auth>`,
    );
    const reply = await conn.next();
    const m = />([^<]+)</.exec(reply);
    if (!reply.startsWith('<challenge') || !m) return null;
    const i = /(?:^|,)i=(\d+)/.exec(Buffer.from(m[1]!, 'base64').toString('utf8'));
    return i ? Number(i[1]) : null;
  } finally {
    conn.destroy();
  }
}

interface Cleanup {
  pool?: WorkerPool;
  server?: RunningServer;
}
const live: Cleanup = {};
let stopping = false;
/** Stops under way: a second cleanup (the run's own, after Ctrl-C started one) waits for them before going on. */
const stopsInFlight = new Set<Promise<void>>();
async function cleanup(): Promise<void> {
  const { pool, server } = live;
  live.pool = undefined;
  live.server = undefined;
  const stop = (async () => {
    await pool?.stop().catch(() => {});
    await server?.stop().catch(() => {});
  })();
  stopsInFlight.add(stop);
  await stop.finally(() => stopsInFlight.delete(stop));
  // Otherwise the run could write its results and exit while the signal's cleanup still waits for the server to
  // end, leaving it running.
  await Promise.all([...stopsInFlight]);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping the server and the workers`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** One server run of the plan: a target and what it loads. */
interface PlannedRun {
  target: Target;
  variant: Variant;
}

/**
 * The fair pairs: for each archive setting, the Parley runs mirroring the peers' feature sets (one run serves
 * every peer whose equivalent set is the same), then the peers with that setting; Parley as shipped last.
 */
function plan(opts: ReturnType<typeof parse>): PlannedRun[] {
  if (opts.soakRun) {
    return [
      ...(opts.onlyPeer ? [] : [{ target: parley, variant: { archive: true, asShipped: true } }]),
      ...opts.peers.map((p) => ({ target: p === 'prosody' ? prosody : ejabberd, variant: { archive: false } })),
    ];
  }
  const out: PlannedRun[] = [];
  const peers: PeerName[] = opts.peers;
  for (const archive of opts.archive) {
    if (!opts.onlyPeer) {
      const variants = peers.length ? parleyVariantsFor(peers, archive) : [{ archive }];
      for (const variant of variants) out.push({ target: parley, variant });
    }
    for (const p of peers) out.push({ target: p === 'prosody' ? prosody : ejabberd, variant: { archive } });
  }
  if (!opts.onlyPeer && opts.shipped) out.push({ target: parley, variant: { archive: true, asShipped: true } });
  return out;
}

function runIdOf({ target, variant }: PlannedRun): string {
  if (variant.asShipped) return `${target.name}-shipped`;
  const base = variant.archive ? `${target.name}+mam` : target.name;
  // Two Parley runs with the same archive setting (peers whose equivalents differ) get the peers in the id.
  return target.name === 'parley' && variant.equivalentTo ? `${base}[${variant.equivalentTo.join(',')}]` : base;
}

async function runTarget(planned: PlannedRun, opts: ReturnType<typeof parse>): Promise<TargetRun> {
  const { target, variant } = planned;
  const run: TargetRun = {
    name: target.name,
    id: runIdOf(planned),
    archive: variant.archive,
    ...(variant.asShipped ? { as_shipped: true } : {}),
    ...(variant.equivalentTo ? { equivalent_to: variant.equivalentTo } : {}),
    started: false,
    scenarios: {},
  };
  try {
    target.prepare(log);
  } catch (err) {
    run.error = (err as Error).message;
    log(`${target.name}: cannot prepare: ${run.error}`);
    return run;
  }
  let server: RunningServer;
  try {
    server = await target.start({ log, keep: opts.keep, parleyWorkers: opts.parleyWorkers, variant });
  } catch (err) {
    run.error = (err as Error).message;
    log(`${target.name}: failed to start: ${run.error.split('\n')[0]}`);
    return run;
  }
  live.server = server;
  run.started = true;
  run.version = server.version;
  run.command = server.command;
  run.notes = server.notes;
  run.loads = server.loads;
  log(`${runTitle(run)} ${server.version} up: pid ${server.pid}, c2s ${server.host}:${server.port}, dir ${server.dir}`);

  // Users: scenarios share one range; exclusive ones (S5: rosters) get their own after it.
  const shared = Math.max(0, ...opts.scenarios.filter((s) => !s.users(opts.quick).exclusive).map((s) => s.users(opts.quick).count));
  const ranges = new Map<string, { base: number; count: number }>();
  let next = shared;
  for (const s of opts.scenarios) {
    const u = s.users(opts.quick);
    if (u.exclusive) {
      ranges.set(s.id, { base: next, count: u.count });
      next += u.count;
    } else {
      ranges.set(s.id, { base: 0, count: u.count });
    }
  }
  const maxSessions = Math.max(0, ...opts.scenarios.map((s) => s.maxSessions(opts.quick)));
  const workers = opts.workers ?? Math.max(2, Math.ceil(maxSessions / 9000));
  let pool: WorkerPool | undefined;
  try {
    pool = await WorkerPool.start(
      workers,
      {
        target: { host: server.host, port: server.port, domain: server.domain, mucDomain: server.mucDomain },
        password: PASSWORD,
        userPrefix: USER_PREFIX,
      },
      log,
    );
    live.pool = pool;
    const tReg = Date.now();
    log(`${target.name}: registering ${next} users (XEP-0077, ${workers} workers)`);
    const parts = await pool.all<{ created: number; exists: number; failed: number; firstError?: string }>((i) => ({
      op: 'register',
      users: pool!.split(range(0, next))[i]!,
      concurrency: Math.max(1, Math.round(100 / workers)),
    }));
    const reg = parts.reduce(
      (a, p) => ({ created: a.created + p.data.created, exists: a.exists + p.data.exists, failed: a.failed + p.data.failed }),
      { created: 0, exists: 0, failed: 0 },
    );
    const regS = (Date.now() - tReg) / 1000;
    const firstError = parts.find((p) => p.data.firstError)?.data.firstError;
    log(`${target.name}: registered ${reg.created} (+${reg.exists} existing, ${reg.failed} failed) in ${regS.toFixed(1)} s`);
    run.setup = { users: next, ...reg, register_s: Math.round(regS * 10) / 10, first_error: firstError };
    if (reg.created + reg.exists === 0) throw new Error(`in-band registration failed: ${firstError}`);
    run.scram_iterations = await probeScramIterations(server, `${USER_PREFIX}0`).catch(() => null);
    log(`${target.name}: SCRAM-SHA-1 iteration count ${run.scram_iterations ?? 'unknown'}`);

    for (const sc of opts.scenarios) {
      if (stopping) break;
      if (!server.alive()) {
        run.scenarios[sc.id] = { title: sc.title, duration_s: 0, metrics: [], details: {}, warnings: [], error: 'server not running' };
        continue;
      }
      log(`${target.name} ${sc.id}: ${sc.title}`);
      const started = Date.now();
      const budgetMs = sc.budgetMs?.(opts.quick) ?? SCENARIO_BUDGET_MS;
      const deadline = started + budgetMs;
      const result: ScenarioRun = { title: sc.title, duration_s: 0, metrics: [], details: {}, warnings: [] };
      try {
        let timer: NodeJS.Timeout | undefined;
        const out = await Promise.race([
          sc.run({ server, pool, quick: opts.quick, log, users: ranges.get(sc.id)!, deadline, sasl: opts.sasl }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('scenario exceeded its time budget')), budgetMs + 60_000);
          }),
        ]).finally(() => clearTimeout(timer));
        Object.assign(result, out);
      } catch (err) {
        result.error = (err as Error).message;
        log(`${target.name} ${sc.id}: ERROR ${result.error}`);
        await closeAll(pool).catch(() => {});
      }
      result.duration_s = Math.round((Date.now() - started) / 100) / 10;
      run.scenarios[sc.id] = result;
      await sleep(2000);
    }
  } catch (err) {
    run.error = (err as Error).message;
    log(`${target.name}: ERROR ${run.error}`);
  } finally {
    if (pool) {
      run.generator = {
        workers,
        max_core_share: Math.round(pool.cpu.maxCoreShare * 100) / 100,
        during: pool.cpu.op,
        warnings: [...new Set(pool.warnings)],
      };
    }
    if (!server.alive()) run.error ??= `server process exited; log tail:\n${server.logTail()}`;
    log(`${target.name}: stopping`);
    await cleanup();
  }
  return run;
}

function writeSummary(res: RunResults, order: string[], summary: boolean): void {
  for (const group of pairGroups(res)) {
    process.stdout.write(`\n${groupHeading(group)}:\n${renderText(table(res, order, group))}\n`);
  }
  process.stdout.write('\n');
  for (const t of res.targets) {
    if (!t.started) process.stdout.write(`${runTitle(t)}: not run — ${(t.error ?? '').split('\n')[0]}\n`);
    if (t.loads) process.stdout.write(`${runTitle(t)} loads: ${t.loads}\n`);
    for (const [sid, sc] of Object.entries(t.scenarios)) {
      if (sc.error) process.stdout.write(`${runTitle(t)} ${sid}: error — ${sc.error.split('\n')[0]}\n`);
      for (const w of sc.warnings) process.stdout.write(`${runTitle(t)} ${sid}: ${w}\n`);
    }
  }
  if (summary) {
    const titles = Object.fromEntries(SCENARIOS.map((s) => [s.id, s.title]));
    fs.writeFileSync(path.join(BENCH_DIR, 'RESULTS.md'), resultsMarkdown(res, order, titles));
    log('summary: bench/RESULTS.md');
  }
}

async function main(): Promise<number> {
  const opts = parse();
  if (opts.render) {
    const res = JSON.parse(fs.readFileSync(opts.render, 'utf8')) as RunResults;
    const order = (res.options['scenarios'] as string[] | undefined) ?? SCENARIOS.map((s) => s.id);
    writeSummary(res, order, opts.summary);
    return 0;
  }
  const targets = plan(opts);
  if (targets.length === 0) throw new Error('nothing to run (--only-peer with --peer none)');
  const startedAt = new Date();
  const res: RunResults = {
    started_at: startedAt.toISOString(),
    command: commandLine(),
    argv: process.argv,
    options: {
      peers: opts.peers,
      scenarios: opts.scenarios.map((s) => s.id),
      quick: opts.quick,
      only_peer: opts.onlyPeer,
      workers: opts.workers ?? 'auto',
      sasl: opts.sasl ?? 'S1 PLAIN, S2-S5 SCRAM-SHA-1 where offered',
      scenario_budget_s: SCENARIO_BUDGET_MS / 1000,
      ...(opts.soakRun
        ? { soak: soakSettings(opts.quick), parley_as_shipped: true }
        : { archive: opts.archive.map((a) => (a ? 'on' : 'off')), parley_as_shipped: opts.shipped && !opts.onlyPeer }),
    },
    machine: machineFacts(),
    targets: [],
  };
  log(`bench: ${res.command} — SASL ${opts.sasl ?? 'S1 PLAIN, S2–S5 SCRAM-SHA-1 where offered'}; runs ${targets.map(runIdOf).join(', ')}; scenarios ${opts.scenarios.map((s) => s.id).join(', ')}${opts.quick ? ' (quick)' : ''}`);
  for (const t of targets) {
    if (stopping) break;
    res.targets.push(await runTarget(t, opts));
  }
  res.finished_at = new Date().toISOString();
  res.machine.loadavg_end = os.loadavg().map((v) => Math.round(v * 100) / 100);
  res.machine.cpu_pressure_end = cpuPressureLine();

  const resultsDir = path.join(BENCH_DIR, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  res.results_file = path.relative(path.dirname(BENCH_DIR), file);
  fs.writeFileSync(file, JSON.stringify(res, null, 2) + '\n');

  const order = opts.scenarios.map((s) => s.id);
  log(`raw results: ${res.results_file}`);
  writeSummary(res, order, opts.summary);
  // The soak is a check as much as a measurement: a FAIL verdict (or no verdict) is exit status 1.
  const soakFailed = res.targets.some((t) => {
    const sc = t.scenarios[soak.id];
    return sc !== undefined && (sc.error !== undefined || sc.metrics.find((m) => m.key === 'verdict')?.note !== 'PASS');
  });
  return soakFailed ? 1 : 0;
}

main().then(
  (status) => process.exit(status),
  async (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
