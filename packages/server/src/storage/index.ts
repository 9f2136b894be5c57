// Opens the configured backend (config key `storage.backend`); callers depend only on the Storage contract.
// Async because postgres connects and migrates over the network before the server may use it.
import { createMemoryStorage } from './memory';
import type { Logger } from '../log';
import { openPostgresStorage } from './postgres';
import { openSqliteStorage } from './sqlite';
import type { Storage } from './types';

export interface StorageConfig {
  backend: 'sqlite' | 'memory' | 'postgres';
  /** SQLite database file; required for the sqlite backend. */
  path?: string;
  /** postgres://… URL; required for the postgres backend. */
  url?: string;
  /** Connections per pool for the postgres backend. */
  pool_size?: number;
  /** Told about dropped idle database connections (postgres). */
  onError?: (err: Error) => void;
  /** Warnings about the database files (sqlite: permissions tightened). */
  log?: Logger;
}

export async function openStorage(config: StorageConfig): Promise<Storage> {
  switch (config.backend) {
    case 'memory':
      return createMemoryStorage();
    case 'sqlite':
      if (!config.path) throw new Error('storage.path is required for the sqlite backend');
      return openSqliteStorage(config.path, { log: config.log });
    case 'postgres':
      if (!config.url) throw new Error('storage.url is required for the postgres backend');
      return openPostgresStorage({ url: config.url, poolSize: config.pool_size, onError: config.onError });
    default:
      throw new Error(`unknown storage backend '${(config as { backend: string }).backend}'`);
  }
}

export * from './types';
export { StorageError, type StorageErrorCode } from './errors';
export { createMemoryStorage } from './memory';
export { openSqliteStorage } from './sqlite';
export { openPostgresStorage, redactUrl } from './postgres';
export { MIGRATIONS, SchemaTooNewError, migrate, type Migration } from './migrations';
export { POSTGRES_MIGRATIONS, migratePostgres, type PostgresMigration } from './postgres-migrations';
