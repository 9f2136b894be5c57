// Opens the configured backend (config key `storage.backend`); callers depend only on the Storage contract.
import { createMemoryStorage } from './memory';
import type { Logger } from '../log';
import { openSqliteStorage } from './sqlite';
import type { Storage } from './types';

export interface StorageConfig {
  backend: 'sqlite' | 'memory';
  /** SQLite database file; required for the sqlite backend. */
  path?: string;
}

export function openStorage(config: StorageConfig, log?: Logger): Storage {
  switch (config.backend) {
    case 'memory':
      return createMemoryStorage();
    case 'sqlite':
      if (!config.path) throw new Error('storage.path is required for the sqlite backend');
      return openSqliteStorage(config.path, { log });
    default:
      throw new Error(`unknown storage backend '${(config as { backend: string }).backend}'`);
  }
}

export * from './types';
export { StorageError, type StorageErrorCode } from './errors';
export { createMemoryStorage } from './memory';
export { openSqliteStorage } from './sqlite';
export { MIGRATIONS, SchemaTooNewError, migrate, type Migration } from './migrations';
