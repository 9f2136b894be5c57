// Parley itself, started from this work tree the way an operator would:
//   node packages/cli/bin/parley.js start --domain <d> --data-dir <tmp> --c2s-port <p> ...
// with plaintext PLAIN allowed (the peers get the same) and open in-band registration, whose rate
// limit exempts loopback.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, spawnLogged, waitForXmpp, LOOPBACK } from '../lib/proc';
import { BENCH_DOMAIN, BENCH_MUC_DOMAIN, makeTempDir, runningServer, type Target } from './types';

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

/** Modules with no counterpart in the peers' benchmark configurations (bench/targets/prosody.ts, ejabberd.ts). */
const PEER_EQUIVALENT_DISABLED = ['mam', 'carbons', 'blocking', 'pep', 'pubsub', 'proxy', 'adhoc', 'admin'];

export const parley: Target = {
  name: 'parley',

  prepare() {
    if (!fs.existsSync(CLI)) throw new Error(`Parley CLI not found at ${path.relative(REPO, CLI)} (not built yet?)`);
  },

  async start({ log, keep, parleyWorkers = 1, asShipped: soakAsShipped = false }) {
    // BENCH_PARLEY_DISABLED="mam" (or "" for as shipped): the shipped module set less these, in place of the
    // peers' equivalent; to price one module (e.g. the archive) under the same load.
    const disabledFromEnv = process.env['BENCH_PARLEY_DISABLED'];
    const extraDisabled = disabledFromEnv?.split(/[\s,]+/).filter(Boolean) ?? [];
    const asShipped = soakAsShipped || disabledFromEnv !== undefined;
    const dir = makeTempDir('parley');
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const [c2s, c2sTls, s2s, http] = await freePorts(4);
    // Like for like: the peers run without message archiving, carbons, blocking, PEP or pubsub (see their
    // configs), so Parley leaves out the same modules. Everything else is `parley start`'s defaults.
    const configFile = path.join(dir, 'parley.yml');
    // The soak (asShipped) runs what `parley start` ships: every default module, archiving included.
    fs.writeFileSync(configFile, [
      ...(asShipped
        ? [
            '# written by bench/targets/parley.ts: Parley as shipped (every default module; message archiving on)',
            ...(extraDisabled.length > 0 ? ['# less BENCH_PARLEY_DISABLED', 'modules:', `  disabled: [${extraDisabled.join(', ')}]`] : []),
          ]
        : [
            '# written by bench/targets/parley.ts: the features the peers also run, nothing more',
            'modules:',
            `  disabled: [${PEER_EQUIVALENT_DISABLED.join(', ')}]`,
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
        notes: [
          asShipped
            ? `as shipped${extraDisabled.length > 0 ? ` less ${extraDisabled.join(', ')}` : ''}: defaults of \`parley start\`, every default module (mam with default_policy always, carbons, …); auth.scram_iterations ${BENCH_SCRAM_ITERATIONS}; log level warn; --allow-plaintext-auth --registration open`
            : `defaults of \`parley start\` with modules the peers do not run disabled (${PEER_EQUIVALENT_DISABLED.join(', ')}); auth.scram_iterations ${BENCH_SCRAM_ITERATIONS}; --allow-plaintext-auth --registration open`,
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
