// `parley start` with cluster.workers > 1: a primary process that owns the listening sockets (node:cluster
// hands each accepted connection to a worker, round robin) and N worker processes, each a full Parley and a
// node of the cluster (cluster/node.ts) over Redis. Both cores of a small machine serve clients, and a worker
// holds its share of the connections under the per-process file limit. The primary does nothing per stanza.
import cluster, { type Worker } from 'node:cluster';
import { hostname } from 'node:os';
import type { Config } from '../config';
import type { Logger } from '../log';
import { openStorage } from '../storage';
import { ensurePrivateDir } from '../private-files';
import { loadTlsMaterial } from '../net/dev-certificate';
import { startServer, type RunningServer } from '../main';

const INDEX_ENV = 'PARLEY_WORKER_INDEX';
/** A worker that dies this many times within a minute is not restarted again (a crash loop helps nobody). */
const MAX_RESTARTS_PER_MINUTE = 5;

export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env[INDEX_ENV] !== undefined;
}

/** The node names of a configuration's workers: "<node>.w1" … for every configured node. */
export function workerNodeIds(config: Config): { own: string[]; all: string[] } {
  const base = config.cluster.node_id ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60);
  const n = config.cluster.workers;
  const names = (node: string) => Array.from({ length: n }, (_, i) => `${node}.w${i + 1}`);
  const nodes = config.cluster.nodes.length > 0 ? config.cluster.nodes : [base];
  return { own: names(base), all: nodes.flatMap(names) };
}

/** In a worker: this worker's configuration (its node name and the members) for startServer. */
export function workerConfig(config: Config): Config {
  const index = Number(process.env[INDEX_ENV]);
  const { own, all } = workerNodeIds(config);
  return { ...config, cluster: { ...config.cluster, node_id: own[index - 1], nodes: all } };
}

export interface RunningPrimary {
  /** Resolves when every worker reported that it listens. */
  ready: Promise<void>;
  /** SIGHUP: each worker re-reads the configuration itself (they run the same command line). */
  reload(): void;
  stop(): Promise<void>;
}

/**
 * Starts the workers. What must happen once (database migrations, the development certificate) happens here
 * first, so that N workers do not race to create them.
 */
export async function startPrimary(config: Config, log: Logger): Promise<RunningPrimary> {
  ensurePrivateDir(config.data_dir, log);
  const storage = await openStorage({ ...config.storage, log });
  await storage.close();
  await loadTlsMaterial(config, log);

  let stopping = false;
  const workers = new Map<number, Worker>();
  const restarts: number[] = [];
  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const readyWorkers = new Set<number>();

  const fork = (index: number): void => {
    const worker = cluster.fork({ [INDEX_ENV]: String(index) });
    workers.set(index, worker);
    worker.on('message', (msg: { type?: string; ports?: unknown }) => {
      if (msg?.type !== 'ready') return;
      readyWorkers.add(index);
      if (readyWorkers.size === config.cluster.workers) resolveReady();
    });
    worker.on('exit', (code, signal) => {
      if (workers.get(index) === worker) workers.delete(index);
      if (stopping) return;
      const now = Date.now();
      while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
      if (!readyWorkers.has(index)) {
        rejectReady(new Error(`worker ${index} exited (code ${code}, signal ${signal}) before it was ready`));
        return;
      }
      if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        log.error({ worker: index, code, signal }, 'worker exited again: too many restarts in a minute, not restarting');
        return;
      }
      restarts.push(now);
      log.warn({ worker: index, code, signal }, 'worker exited; restarting it');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, 1000).unref();
    });
  };

  for (let i = 1; i <= config.cluster.workers; i++) fork(i);
  ready.then(
    () => log.info({ workers: config.cluster.workers, domain: config.domain, c2s: config.c2s.port }, 'Parley started'),
    () => {},
  );

  return {
    ready,
    reload() {
      for (const w of workers.values()) if (!w.isDead()) w.process.kill('SIGHUP');
    },
    async stop() {
      stopping = true;
      const exits = [...workers.values()].map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        w.process.kill('SIGTERM');
      }));
      await Promise.all(exits);
    },
  };
}

/** In a worker: runs the server and tells the primary once it listens. */
export async function startWorker(config: Config, log?: Logger): Promise<RunningServer> {
  // One control socket per data directory: the first worker answers it (sessions are mirrored on every worker).
  const index = Number(process.env[INDEX_ENV]);
  const running = await startServer(workerConfig(config), log, { control: index === 1, notes: index === 1, workerIndex: index });
  process.send?.({ type: 'ready', ports: running.ports });
  return running;
}
