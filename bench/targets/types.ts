// What a benchmark target (Parley or a peer server) looks like to the scenarios.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { isAlive, stopTree, tailFile, treeCpuSeconds, treeRssKiB } from '../lib/proc';

export type TargetName = 'parley' | 'prosody' | 'ejabberd';

export const BENCH_DOMAIN = 'bench.local';
export const BENCH_MUC_DOMAIN = `conference.${BENCH_DOMAIN}`;

export interface StartOptions {
  log: (s: string) => void;
  /** keep the temporary directory (config, data, logs) after stopping */
  keep: boolean;
  /** Parley only: worker processes (cluster.workers over the local Redis); 1 is a single process. */
  parleyWorkers?: number;
  /**
   * What the server loads (bench/README.md "Fair pairs"). Peers: `archive` turns their message archive on
   * (ejabberd mod_mam `default: always`, Prosody mod_mam `default_archive_policy = true`). Parley:
   * `equivalentTo` names the peers whose feature set it mirrors (one Parley run serves every peer with the
   * same equivalent set), or `asShipped` runs every default module (archiving on, as `parley start` ships).
   */
  variant?: Variant;
}

export type PeerName = Exclude<TargetName, 'parley'>;

export interface Variant {
  /** message archive (XEP-0313) on for every user */
  archive: boolean;
  /** Parley only: its shipped module set; `archive` is then true */
  asShipped?: boolean;
  /** Parley only: the peers whose configuration its module set mirrors */
  equivalentTo?: PeerName[];
}

export interface RunningServer {
  name: TargetName;
  version: string;
  domain: string;
  mucDomain: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  logFile: string;
  /** the exact command line used to start it */
  command: string[];
  /** settings worth reporting next to the numbers */
  notes: string[];
  /** what it loads, in one line (the RESULTS.md target table and the pairs' headings) */
  loads: string;
  /**
   * Optional server-side pre-provisioning of mutual ('both') rosters for users who have not
   * logged in yet (S5 set-up); without it the set-up exchanges subscriptions over the wire.
   */
  provisionRosters?(rosters: Array<{ user: string; contacts: string[] }>): Promise<void>;
  rssKiB(): number;
  cpuSeconds(): number;
  alive(): boolean;
  logTail(): string;
  stop(): Promise<void>;
}

export interface Target {
  name: TargetName;
  /** Installs what is missing (peers: Debian packages); throws when impossible. */
  prepare(log: (s: string) => void): void;
  start(opts: StartOptions): Promise<RunningServer>;
}

export function makeTempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `parley-bench-${name}-`));
}

/** A self-signed RSA-2048 certificate for the bench domain and its subdomains (crt.pem, key.pem, both.pem). */
export function makeCert(dir: string): { crt: string; key: string; both: string } {
  const crt = path.join(dir, 'crt.pem');
  const key = path.join(dir, 'key.pem');
  const both = path.join(dir, 'both.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '7',
      '-subj', `/CN=${BENCH_DOMAIN}`, '-addext', `subjectAltName=DNS:${BENCH_DOMAIN},DNS:*.${BENCH_DOMAIN}`,
    ],
    { stdio: 'ignore' },
  );
  fs.writeFileSync(both, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  return { crt, key, both };
}

export function runningServer(
  fields: Omit<RunningServer, 'rssKiB' | 'cpuSeconds' | 'alive' | 'logTail' | 'stop' | 'pid' | 'provisionRosters'>,
  child: ChildProcess,
  keep: boolean,
): RunningServer {
  const pid = child.pid ?? 0;
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  return {
    ...fields,
    pid,
    rssKiB: () => treeRssKiB(pid),
    cpuSeconds: () => treeCpuSeconds(pid),
    alive: () => !exited && isAlive(pid),
    logTail: () => tailFile(fields.logFile),
    async stop() {
      if (!exited) await stopTree(pid, 15_000);
      if (!keep) fs.rmSync(fields.dir, { recursive: true, force: true });
    },
  };
}
