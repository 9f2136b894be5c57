// Parley itself, started from this work tree the way an operator would:
//   node packages/cli/bin/parley.js start --domain <d> --data-dir <tmp> --c2s-port <p> ...
// with plaintext PLAIN allowed (the peers get the same) and open in-band registration, whose rate
// limit exempts loopback.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, spawnLogged, waitForXmpp, LOOPBACK } from '../lib/proc';
import { BENCH_DOMAIN, BENCH_MUC_DOMAIN, makeTempDir, runningServer, type PeerName, type Target, type Variant } from './types';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO, 'packages', 'cli', 'bin', 'parley.js');

function parleyVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version?: string };
    return `${pkg.version ?? 'unknown'} (work tree)`;
  } catch {
    return 'unknown';
  }
}

/**
 * SCRAM's PBKDF2 iterations, as every target stores them (bench/README.md "Targets"). Parley's default (600,000)
 * would turn registration (set-up) and S1 into a benchmark of 150× more hashing than the peers do.
 */
const BENCH_SCRAM_ITERATIONS = 4096;

const MODULES_DIR = path.join(REPO, 'packages', 'server', 'src', 'modules');

/** Every module `parley start` would load (folder 'xep-0199-ping' → module 'ping', as core/module-loader.ts names them). */
function shippedModules(): string[] {
  return fs
    .readdirSync(MODULES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(MODULES_DIR, d.name, 'index.ts')))
    .map((d) => d.name.replace(/^(xep|rfc)-?\d+-/, ''))
    .sort();
}

/**
 * Like for like: for each peer, the Parley modules that do what the peer's benchmark configuration loads
 * (bench/targets/prosody.ts, ejabberd.ts), keyed by Parley module with the peer module it stands for.
 * Everything else is left out, so a module added to Parley later stays out of the fair runs until a peer
 * loads its counterpart. SASL, STARTTLS, bind, presence/message/iq routing are core on every side.
 * The message archive is added per run (`variant.archive`): Prosody mod_mam, ejabberd mod_mam.
 */
export const PEER_EQUIVALENTS: Record<PeerName, Record<string, string>> = {
  // modules_enabled + 0.12's autoload_modules (presence, message, iq, offline, c2s) + Component "muc"
  prosody: {
    routing: 'mod_presence, mod_message, mod_iq (autoloaded)',
    roster: 'mod_roster',
    disco: 'mod_disco',
    register: 'mod_register',
    ping: 'mod_ping',
    offline: 'mod_offline (autoloaded)',
    muc: 'Component "muc"',
  },
  // modules: (mod_admin_extra and mod_http_api are admin commands over ejabberdctl/HTTP, set-up only here;
  // Parley's HTTP admin API is core)
  ejabberd: {
    routing: 'ejabberd_sm / ejabberd_router (core)',
    roster: 'mod_roster',
    disco: 'mod_disco',
    register: 'mod_register',
    ping: 'mod_ping',
    offline: 'mod_offline',
    muc: 'mod_muc',
  },
};

/** Parley's module set for a variant: the modules it loads and the ones it leaves out. */
export function parleyModules(variant: Variant): { loaded: string[]; disabled: string[] } {
  const all = shippedModules();
  if (variant.asShipped) return { loaded: all, disabled: [] };
  const peers = variant.equivalentTo?.length ? variant.equivalentTo : (['prosody', 'ejabberd'] as PeerName[]);
  const wanted = new Set(peers.flatMap((p) => Object.keys(PEER_EQUIVALENTS[p])));
  if (variant.archive) wanted.add('mam');
  const unknown = [...wanted].filter((m) => !all.includes(m));
  if (unknown.length) throw new Error(`PEER_EQUIVALENTS names modules Parley does not have: ${unknown.join(', ')}`);
  return { loaded: all.filter((m) => wanted.has(m)), disabled: all.filter((m) => !wanted.has(m)) };
}

/** Peers whose equivalent Parley module sets are identical share one Parley run. */
export function parleyVariantsFor(peers: PeerName[], archive: boolean): Variant[] {
  const groups = new Map<string, PeerName[]>();
  for (const p of peers) {
    const key = parleyModules({ archive, equivalentTo: [p] }).loaded.join(',');
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((equivalentTo) => ({ archive, equivalentTo }));
}

export const parley: Target = {
  name: 'parley',

  prepare() {
    if (!fs.existsSync(CLI)) throw new Error(`Parley CLI not found at ${path.relative(REPO, CLI)} (not built yet?)`);
  },

  async start({ log, keep, parleyWorkers = 1, variant = { archive: false } }) {
    // BENCH_PARLEY_DISABLED="mam" (or "" for as shipped): the shipped module set less these, in place of the
    // peers' equivalent; to price one module (e.g. the archive) under the same load.
    const disabledFromEnv = process.env['BENCH_PARLEY_DISABLED'];
    const extraDisabled = disabledFromEnv?.split(/[\s,]+/).filter(Boolean) ?? [];
    const asShipped = (variant.asShipped ?? false) || disabledFromEnv !== undefined;
    const { loaded: modules, disabled } = parleyModules(variant);
    const loaded = asShipped ? modules.filter((m) => !extraDisabled.includes(m)) : modules;
    const dir = makeTempDir('parley');
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const [c2s, c2sTls, s2s, http, https] = await freePorts(5);
    // Like for like (PEER_EQUIVALENTS): Parley loads what the peer loads, nothing more. Everything else is
    // `parley start`'s defaults.
    const configFile = path.join(dir, 'parley.yml');
    // The soak (asShipped) runs what `parley start` ships: every default module, archiving included.
    fs.writeFileSync(configFile, [
      ...(asShipped
        ? [
            '# written by bench/targets/parley.ts: Parley as shipped (every default module; message archiving on)',
            ...(extraDisabled.length > 0 ? ['# less BENCH_PARLEY_DISABLED', 'modules:', `  disabled: [${extraDisabled.join(', ')}]`] : []),
          ]
        : [
            `# written by bench/targets/parley.ts: the features ${variant.equivalentTo?.join(' and ') ?? 'the peers'} also run${variant.archive ? ' (message archive on)' : ''}, nothing more`,
            'modules:',
            `  disabled: [${disabled.join(', ')}]`,
          ]),
      'c2s:',
      '  max_connections: 100000 # S2 holds 19,000 sessions; the default (10,000) would refuse the rest',
      'auth:',
      `  scram_iterations: ${BENCH_SCRAM_ITERATIONS} # the peers' count (README "Targets"); the default, 600,000, makes set-up hours long`,
      'log:',
      '  level: warn',
      ...(parleyWorkers > 1
        ? [
            '# --parley-workers: worker processes behind the same ports, sharing sessions over the local Redis',
            'cluster:',
            '  backend: redis',
            '  redis_url: redis://127.0.0.1:6379',
            `  name: bench-${path.basename(dir)}`,
            `  workers: ${parleyWorkers}`,
          ]
        : []),
      '',
    ].join('\n'));
    // BENCH_PARLEY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile the server under load (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = (process.env['BENCH_PARLEY_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const command = [
      process.execPath, ...nodeArgs, CLI, 'start',
      '--config', configFile,
      '--domain', BENCH_DOMAIN,
      '--data-dir', dataDir,
      '--c2s-port', String(c2s),
      '--c2s-tls-port', String(c2sTls),
      '--s2s-port', String(s2s),
      '--http-port', String(http),
      // a free one too: the default (5281) may be taken by another server on the machine
      '--https-port', String(https),
      '--allow-plaintext-auth',
      '--registration', 'open',
    ];
    const logFile = path.join(dir, 'parley.log');
    log(`starting ${command.slice(1).join(' ')}`);
    const child = spawnLogged(command[0]!, command.slice(1), logFile, { cwd: REPO });
    const server = runningServer(
      {
        name: 'parley',
        version: parleyVersion(),
        domain: BENCH_DOMAIN,
        mucDomain: BENCH_MUC_DOMAIN,
        host: LOOPBACK,
        port: c2s!,
        dir,
        logFile,
        command: ['node', ...command.slice(1)],
        loads: asShipped
          ? `as shipped${extraDisabled.length > 0 ? ` less ${extraDisabled.join(', ')}` : ''}: every module (${loaded.join(', ')})${loaded.includes('mam') ? '; mam default_policy always' : ''}`
          : `${variant.equivalentTo?.join(' / ') ?? 'peer'}-equivalent: ${loaded.join(', ')}${variant.archive ? ' (mam default_policy always)' : ''}`,
        notes: [
          asShipped
            ? `as shipped${extraDisabled.length > 0 ? ` less ${extraDisabled.join(', ')}` : ''}: defaults of \`parley start\`, every default module (mam with default_policy always, carbons, …); auth.scram_iterations ${BENCH_SCRAM_ITERATIONS}; log level warn; --allow-plaintext-auth --registration open`
            : `defaults of \`parley start\` with only the modules ${variant.equivalentTo?.join(' and ') ?? 'the peers'} also run${variant.archive ? ' plus mam' : ''} (disabled: ${disabled.join(', ')}); auth.scram_iterations ${BENCH_SCRAM_ITERATIONS}; --allow-plaintext-auth --registration open`,
          ...(parleyWorkers > 1 ? [`${parleyWorkers} worker processes (cluster.workers) sharing sessions over Redis pub/sub; Redis's own memory and CPU are not counted`] : []),
        ],
      },
      child,
      keep,
    );
    try {
      await waitForXmpp(c2s!, BENCH_DOMAIN, 60_000, server.alive);
    } catch (err) {
      const tail = server.logTail();
      await server.stop();
      throw new Error(`${(err as Error).message}\n${tail}`);
    }
    return server;
  },
};
