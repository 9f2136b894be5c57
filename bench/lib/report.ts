// Result files: the raw JSON of a run, the side-by-side table, and bench/RESULTS.md.

import { existsSync, readFileSync } from 'node:fs';
import type { Metric } from '../scenarios/common';
import type { MachineFacts } from './machine';
import type { StepReport } from '../scenarios/common';

export interface ScenarioRun {
  title: string;
  duration_s: number;
  metrics: Metric[];
  details: Record<string, unknown>;
  warnings: string[];
  error?: string;
}

export interface TargetRun {
  name: string;
  /** unique within a run ('parley', 'parley+mam', 'parley-shipped', 'ejabberd+mam'); older results: the name */
  id?: string;
  /** message archive on for every user (older results: off) */
  archive?: boolean;
  /** Parley: every default module loaded */
  as_shipped?: boolean;
  /** Parley: the peers whose feature set this run mirrors (older results: every peer of the run) */
  equivalent_to?: string[];
  /** what the server loads, one line */
  loads?: string;
  version?: string;
  started: boolean;
  error?: string;
  command?: string[];
  notes?: string[];
  scram_iterations?: number | null;
  setup?: Record<string, unknown>;
  generator?: { workers: number; max_core_share: number; during: string; warnings: string[] };
  scenarios: Record<string, ScenarioRun>;
}

export interface RunResults {
  started_at: string;
  finished_at?: string;
  command: string;
  argv: string[];
  options: Record<string, unknown>;
  machine: MachineFacts;
  targets: TargetRun[];
  results_file?: string;
  /** Remarks added when results of several runs are combined (see bench/README.md). */
  notes?: string[];
}

const TITLE: Record<string, string> = {
  parley: 'Parley',
  prosody: 'Prosody',
  ejabberd: 'ejabberd',
};

function avg60(line: string | null | undefined): string {
  return /avg60=([\d.]+)/.exec(line ?? '')?.[1] ?? '?';
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}

interface Row {
  scenario: string;
  label: string;
  unit: string;
  better: Metric['better'];
  values: Map<string, number | null>;
  /** Why a target has no value ('not supported'), shown in its cell. */
  notes: Map<string, string>;
}

function rows(res: RunResults, scenarioOrder: string[]): Row[] {
  const out: Row[] = [];
  const byKey = new Map<string, Row>();
  for (const sid of scenarioOrder) {
    for (const t of res.targets) {
      const sc = t.scenarios[sid];
      if (!sc) continue;
      for (const m of sc.metrics) {
        const k = `${sid}/${m.key}`;
        let row = byKey.get(k);
        if (!row) {
          row = { scenario: sid, label: m.label, unit: m.unit, better: m.better, values: new Map(), notes: new Map() };
          byKey.set(k, row);
          out.push(row);
        }
        row.values.set(runId(t), m.value);
        if (m.note !== undefined) row.notes.set(runId(t), m.note);
      }
    }
  }
  return out;
}

export function runId(t: TargetRun): string {
  return t.id ?? t.name;
}

/** A column heading: 'Parley', 'Parley +mam', 'Parley as shipped', 'ejabberd +mam'. */
export function runTitle(t: TargetRun): string {
  const base = TITLE[t.name] ?? t.name;
  if (t.as_shipped) return `${base} as shipped`;
  return t.archive ? `${base} +mam` : base;
}

/**
 * The fair pairs of a run, one group per archive setting (off, then on): the Parley runs and the peers with
 * that setting, and which Parley run each peer is compared with (the one mirroring its feature set). Parley as
 * shipped (archive on) joins the archive-on group as a column of its own, compared with nobody.
 */
export interface PairGroup {
  archive: boolean;
  runs: TargetRun[];
  pairs: Array<{ parley: TargetRun; peer: TargetRun }>;
}

export function pairGroups(res: RunResults): PairGroup[] {
  const started = res.targets;
  const out: PairGroup[] = [];
  for (const archive of [false, true]) {
    const parleys = started.filter((t) => t.name === 'parley' && !t.as_shipped && (t.archive ?? false) === archive);
    const peers = started.filter((t) => t.name !== 'parley' && (t.archive ?? false) === archive);
    const shipped = archive ? started.filter((t) => t.name === 'parley' && t.as_shipped) : [];
    if (parleys.length + peers.length === 0) continue;
    const pairs: PairGroup['pairs'] = [];
    for (const peer of peers) {
      const parley = parleys.find((p) => p.equivalent_to === undefined || p.equivalent_to.includes(peer.name));
      if (parley) pairs.push({ parley, peer });
    }
    out.push({ archive, runs: [...parleys, ...peers, ...shipped], pairs });
  }
  // Only Parley as shipped (the soak): a group of its own.
  if (out.length === 0) {
    const shipped = started.filter((t) => t.as_shipped);
    if (shipped.length) out.push({ archive: true, runs: shipped, pairs: [] });
  }
  return out;
}

/** Table columns: scenario, metric, each run of the group, then Parley/peer ratios of its fair pairs. */
export function table(res: RunResults, scenarioOrder: string[], group: PairGroup): string[][] {
  const head = ['scenario', 'metric', 'unit', 'better', ...group.runs.map(runTitle)];
  for (const { peer } of group.pairs) head.push(`Parley/${TITLE[peer.name] ?? peer.name}`);
  const wanted = new Set(group.runs.map(runId));
  const body = rows(res, scenarioOrder)
    .filter((r) => [...r.values.keys()].some((k) => wanted.has(k)))
    .map((r) => {
      const cell = (id: string): string => {
        const v = r.values.get(id) ?? null;
        return v === null ? (r.notes.get(id) ?? fmt(v)) : fmt(v);
      };
      const cells = [r.scenario, r.label, r.unit, r.better === 'higher' ? '↑' : r.better === 'lower' ? '↓' : ''];
      for (const t of group.runs) cells.push(cell(runId(t)));
      for (const { parley, peer } of group.pairs) {
        const pv = r.values.get(runId(parley)) ?? null;
        const qv = r.values.get(runId(peer)) ?? null;
        cells.push(pv !== null && qv ? `${(pv / qv).toFixed(2)}×` : '—');
      }
      return cells;
    });
  return [head, ...body];
}

export function groupHeading(group: PairGroup): string {
  return group.archive ? 'message archive on in both (XEP-0313 for every user)' : 'message archive off in both';
}

export function renderText(t: string[][]): string {
  const widths = t[0]!.map((_, c) => Math.max(...t.map((r) => (r[c] ?? '').length)));
  return t
    .map((r, i) => {
      const line = r.map((cell, c) => (c <= 3 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

export function renderMarkdown(t: string[][]): string {
  const [head, ...body] = t;
  const align = head!.map((_, c) => (c <= 3 ? '---' : '---:'));
  return [head!, align, ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function stepTable(steps: StepReport[]): string {
  const head = ['offered/s', 'sent', 'delivered', 'loss', 'delivered/s', 'p50 ms', 'p99 ms', 'max ms', 'server cores', 'CPU pressure %', 'gen. lag ms', 'gen. stall ms', 'gen. core', 'pass'];
  const lines = steps.map((s) =>
    [
      fmt(s.offered_per_s), fmt(s.sent), fmt(s.delivered), `${fmt(s.loss)} (${s.loss_pct}%)`, fmt(s.delivered_per_s),
      fmt(s.latency.p50_ms), fmt(s.latency.p99_ms), fmt(s.latency.max_ms), fmt(s.server_cpu_cores), fmt(s.cpu_pressure_pct),
      fmt(s.generator_max_lag_ms), fmt(s.generator_loop_delay_max_ms), fmt(s.generator_max_core_share),
      (s.pass ? 'yes' : '**no**') + (s.retry ? ' (retry)' : ''),
    ].join(' | '),
  );
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---:').join('|')}|`, ...lines.map((l) => `| ${l} |`)].join('\n');
}

export function resultsMarkdown(res: RunResults, scenarioOrder: string[], scenarioTitles: Record<string, string>): string {
  const m = res.machine;
  const out: string[] = [];
  out.push('# Parley benchmark results (latest run)');
  out.push('');
  out.push('Generated by `npm run bench` (bench/run.ts); overwritten by every full run. How to reproduce:');
  out.push('');
  out.push('```sh');
  out.push('npm run bench -- --peer both                      # all scenarios; both fair pairs (archive off, on) and Parley as shipped');
  out.push('npm run bench -- --archive off --no-shipped        # the archive-off pair only');
  out.push('npm run bench -- --peer both --scenario S3,S4     # some scenarios only');
  out.push('npm run bench -- --peer both --quick --only-peer  # smoke test of the tool against the peers');
  out.push('```');
  out.push('');
  out.push(
    '`CPU pressure %` is Linux PSI for the whole machine while a step was sending (share of time some runnable task ' +
      'waited for a CPU). It counts the bench\'s own processes too: at the top steps a multi-core server and the ' +
      'generator compete for the two cores; high values at low load mean other work on the machine.',
  );
  out.push('');
  out.push('What each scenario measures and all the knobs: [bench/README.md](README.md). Raw numbers, with the machine');
  out.push(`facts and exact settings: \`${res.results_file ?? 'bench/results/'}\`.`);
  out.push('');
  out.push(
    `> **Preliminary.** ${m.nproc}-core machine (${m.cpu_model}, ${m.mem_total_gib} GiB) shared with other work while ` +
      `this ran (load average ${m.loadavg_start.join(' / ')} at start, ${(m.loadavg_end ?? []).join(' / ')} at end; ` +
      `CPU pressure avg60 ${avg60(m.cpu_pressure_start)}% at start, ${avg60(m.cpu_pressure_end)}% at end); the ` +
      'load generator runs on the same two cores as the server. Compare servers within one run, not across runs.',
  );
  out.push('');
  out.push(
    `Run: ${res.started_at} → ${res.finished_at ?? '?'}; command \`${res.command}\`; client SASL mechanism ` +
      `${String(res.options['sasl'] ?? 'PLAIN')}.`,
  );
  out.push('');
  out.push('| target | version | started | SCRAM iterations | loads | notes |');
  out.push('|---|---|---|---|---|---|');
  for (const t of res.targets) {
    out.push(
      `| ${runTitle(t)} | ${t.version ?? '—'} | ${t.started ? 'yes' : `no: ${(t.error ?? '').split('\n')[0]}`} | ` +
        `${t.scram_iterations ?? '—'} | ${t.loads ?? '—'} | ${(t.notes ?? []).join('; ')} |`,
    );
  }
  out.push('');
  out.push(`Machine: ${m.os}, ${m.kernel}, Node ${m.node}; packages ${Object.entries(m.packages).map(([k, v]) => `${k} ${v ?? '—'}`).join(', ')}.`);
  out.push('');
  out.push(
    'Fair pairs: each peer is compared with a Parley run loading the equivalent modules (the `loads` column above; ' +
      '`PEER_EQUIVALENTS` in bench/targets/parley.ts), first with the message archive off in both, then on in both. ' +
      '"Parley as shipped" runs every default module (archive, carbons, PEP, pubsub, stream management, …) and is ' +
      'compared with nobody.',
  );
  for (const group of pairGroups(res)) {
    out.push('');
    out.push(`## Side by side — ${groupHeading(group)}`);
    out.push('');
    out.push(renderMarkdown(table(res, scenarioOrder, group)));
  }
  out.push('');
  out.push('↑ higher is better, ↓ lower is better; the ratio columns are the equivalent Parley run ÷ peer (— where Parley has no number).');
  for (const sid of scenarioOrder) {
    const withSteps = res.targets.filter((t) => Array.isArray(t.scenarios[sid]?.details['steps']));
    if (withSteps.length === 0) continue;
    out.push('');
    out.push(`## ${sid} per step — ${scenarioTitles[sid] ?? ''}`);
    for (const t of withSteps) {
      const d = t.scenarios[sid]!.details;
      out.push('');
      out.push(`### ${runTitle(t)} (${d['stopped_because'] ?? ''})`);
      out.push('');
      out.push(stepTable(d['steps'] as StepReport[]));
    }
  }
  const warn: string[] = [];
  for (const t of res.targets) {
    for (const [sid, sc] of Object.entries(t.scenarios)) {
      if (sc.error) warn.push(`${runTitle(t)} ${sid}: error: ${sc.error.split('\n')[0]}`);
      for (const w of sc.warnings) warn.push(`${runTitle(t)} ${sid}: ${w}`);
    }
    for (const w of t.generator?.warnings ?? []) warn.push(`${runTitle(t)}: ${w}`);
    if (t.generator) {
      warn.push(
        `${runTitle(t)}: busiest load-generator worker used ${Math.round(t.generator.max_core_share * 100)}% ` +
          `of a core (during ${t.generator.during || '—'}; ${t.generator.workers} workers)`,
      );
    }
  }
  if (warn.length) {
    out.push('');
    out.push('## Warnings and generator load');
    out.push('');
    for (const w of warn) out.push(`- ${w}`);
  }
  for (const note of res.notes ?? []) out.push('', `> ${note}`);
  // Hand-written analysis (profiles, what moved the numbers) survives regeneration in bench/FINDINGS.md.
  const findings = new URL('../FINDINGS.md', import.meta.url);
  if (existsSync(findings)) out.push('', readFileSync(findings, 'utf8').trim());
  out.push('');
  return out.join('\n');
}
