// Versioned PostgreSQL schema (STYLE.md habit 8), the counterpart of migrations.ts for SQLite. The version
// lives in the one-row table parley_schema, updated in the same transaction as the migration, so it commits or
// rolls back with it. Append new migrations; never edit one that has shipped.
import type { ClientBase } from 'pg';
import { SchemaTooNewError } from './migrations';

export interface PostgresMigration {
  /** 1, 2, 3 ... in order; parley_schema.version after this migration ran. */
  version: number;
  description: string;
  up(client: ClientBase): Promise<void>;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: 'accounts, keyval, map, archive and lock tables',
    async up(client) {
      // COLLATE "C": keys compare and index byte for byte, like SQLite's default, whatever the database's locale.
      await client.query(`
        CREATE TABLE accounts (
          host TEXT COLLATE "C" NOT NULL,
          username TEXT COLLATE "C" NOT NULL,
          credentials TEXT NOT NULL,
          created_at BIGINT NOT NULL,
          PRIMARY KEY (host, username)
        );
        CREATE TABLE keyval (
          store TEXT COLLATE "C" NOT NULL,
          owner TEXT COLLATE "C" NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (store, owner)
        );
        CREATE TABLE map (
          store TEXT COLLATE "C" NOT NULL,
          owner TEXT COLLATE "C" NOT NULL,
          "key" TEXT COLLATE "C" NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (store, owner, "key")
        );
        -- An identity column only grows (a sequence is never rolled back or reused), so append order is one order
        -- over the store's lifetime, across every node appending at once.
        CREATE TABLE archive (
          seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          store TEXT COLLATE "C" NOT NULL,
          owner TEXT COLLATE "C" NOT NULL,
          id TEXT COLLATE "C" NOT NULL,
          when_ms BIGINT NOT NULL,
          with_jid TEXT COLLATE "C",
          payload TEXT NOT NULL
        );
        CREATE UNIQUE INDEX archive_store_id ON archive (store, id);
        CREATE INDEX archive_owner_seq ON archive (store, owner, seq);
        CREATE INDEX archive_owner_with_seq ON archive (store, owner, with_jid, seq);
        -- One row per (scope, owner) that Storage.exclusive() ever ran for: the row a transaction locks with
        -- SELECT ... FOR UPDATE, so that nodes sharing the database take turns at one roster or offline queue.
        CREATE TABLE locks (
          scope TEXT COLLATE "C" NOT NULL,
          owner TEXT COLLATE "C" NOT NULL,
          PRIMARY KEY (scope, owner)
        );
      `);
    },
  },
];

/**
 * Brings the schema the client's search_path points at up to the newest version; returns the versions
 * applied. One transaction under a transaction-scoped advisory lock per schema: nodes starting together
 * against a fresh database wait for each other instead of racing to create the tables, and a failing
 * migration leaves the schema as it was.
 */
export async function migratePostgres(client: ClientBase, migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS, where = 'the PostgreSQL database'): Promise<number[]> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i + 1} ('${m.description}') has version ${m.version}; versions must be 1, 2, 3 ...`);
  });
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('parley-migrate:' || current_schema()))");
    await client.query('CREATE TABLE IF NOT EXISTS parley_schema (version INTEGER NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM parley_schema');
    if (rows.length === 0) await client.query('INSERT INTO parley_schema (version) VALUES (0)');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) throw new SchemaTooNewError(current, migrations.length, where);
    const applied: number[] = [];
    for (const m of migrations.slice(current)) {
      await m.up(client);
      await client.query('UPDATE parley_schema SET version = $1', [m.version]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
