// `parley storage copy`: moves everything one backend holds into another (sqlite ↔ postgres, postgres →
// postgres). Generic over the storage shapes (Storage.records / restore), not over modules, so a module's
// store is copied without this file knowing it exists: accounts, rosters, offline messages, vCards, private
// XML, PEP and pubsub nodes and items, rooms and their history, archives, FAST tokens, blocklists, ...
import { existsSync } from 'node:fs';
import { openStorage, type StorageConfig } from './index';
import type { Storage, StorageRecord } from './types';

/** Records written per transaction: large enough to be quick, small enough that memory stays flat. */
const BATCH = 500;

/** `sqlite:PATH` or a `postgres://…` / `postgresql://…` URL. */
export function parseStorageLocation(spec: string): StorageConfig {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new Error(`'${spec}': expected sqlite:PATH`);
    return { backend: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(spec)) return { backend: 'postgres', url: spec };
  throw new Error(`'${spec}': expected sqlite:PATH or a postgres://user:password@host/database URL`);
}

/** What a record is counted as in the summary: accounts, or the shape and store ("map roster"). */
export function recordLabel(r: StorageRecord): string {
  return r.shape === 'account' ? 'accounts' : `${r.shape} ${r.store}`;
}

export class TargetNotEmptyError extends Error {}

export interface CopyOptions {
  /** Write into a target that already holds data (same keys replaced, archive ids already there skipped). */
  force?: boolean;
  /** Called after each batch with the records copied so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

async function isEmpty(storage: Storage): Promise<boolean> {
  for await (const _ of storage.records()) return false;
  return true;
}

/** Copies every record; returns the count per label. The source is only read. */
export async function copyStorage(from: Storage, to: Storage, options: CopyOptions = {}): Promise<Map<string, number>> {
  if (!options.force && !(await isEmpty(to))) {
    throw new TargetNotEmptyError('the target storage is not empty; copying into it would mix two servers\' data (use --force to write into it anyway)');
  }
  // A first pass counts, so the progress bar knows its end; it reads only what the copy reads again.
  let total = 0;
  for await (const _ of from.records()) total++;
  const counts = new Map<string, number>();
  let done = 0;
  let batch: StorageRecord[] = [];
  const flush = async () => {
    await to.restore(batch);
    done += batch.length;
    batch = [];
    options.onProgress?.(done, total);
  };
  options.onProgress?.(0, total);
  for await (const record of from.records()) {
    counts.set(recordLabel(record), (counts.get(recordLabel(record)) ?? 0) + 1);
    batch.push(record);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return counts;
}

/** Opens both locations, copies, closes both (also on failure). */
export async function copyStorageLocations(fromSpec: string, toSpec: string, options: CopyOptions = {}): Promise<Map<string, number>> {
  const fromConfig = parseStorageLocation(fromSpec);
  const toConfig = parseStorageLocation(toSpec);
  if (JSON.stringify(fromConfig) === JSON.stringify(toConfig)) throw new Error('--from and --to name the same storage');
  // Opening a missing SQLite file would create an empty database and "copy" nothing.
  if (fromConfig.backend === 'sqlite' && !existsSync(fromConfig.path!)) throw new Error(`--from: no SQLite database at ${fromConfig.path}`);
  const from = await openStorage(fromConfig);
  try {
    const to = await openStorage(toConfig);
    try {
      return await copyStorage(from, to, options);
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
