// Versioned SQLite schema (STYLE.md habit 8). The version lives in PRAGMA user_version: it sits in the database
// header, so it commits or rolls back together with the migration that set it. Append new migrations to the
// list; never edit one that has shipped, because existing databases have already run it.
import type { Database } from 'better-sqlite3';

export interface Migration {
  /** 1, 2, 3 ... in order; the database's user_version after this migration ran. */
  version: number;
  description: string;
  up(db: Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'accounts, keyval, map and archive tables',
    up(db) {
      db.exec(`
        CREATE TABLE accounts (
          host TEXT NOT NULL,
          username TEXT NOT NULL,
          credentials TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (host, username)
        );
        CREATE TABLE keyval (
          store TEXT NOT NULL,
          owner TEXT NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (store, owner)
        );
        CREATE TABLE map (
          store TEXT NOT NULL,
          owner TEXT NOT NULL,
          "key" TEXT NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (store, owner, "key")
        );
        -- AUTOINCREMENT: seq only ever grows, even after the newest rows are deleted, so append order stays a
        -- single order over the store's whole lifetime rather than restarting from a deleted tail.
        CREATE TABLE archive (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          store TEXT NOT NULL,
          owner TEXT NOT NULL,
          id TEXT NOT NULL,
          when_ms INTEGER NOT NULL,
          with_jid TEXT,
          payload TEXT NOT NULL
        );
        CREATE UNIQUE INDEX archive_store_id ON archive (store, id);
        CREATE INDEX archive_owner_seq ON archive (store, owner, seq);
        CREATE INDEX archive_owner_with_seq ON archive (store, owner, with_jid, seq);
      `);
    },
  },
];

export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
    where: string,
  ) {
    super(
      `${where} has schema version ${found}, but this Parley only knows versions up to ${known}; ` +
        'it was written by a newer Parley. Run that version, or restore a backup taken before the upgrade.',
    );
    this.name = 'SchemaTooNewError';
  }
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i + 1} ('${m.description}') has version ${m.version}; versions must be 1, 2, 3 ...`);
  });
}

/**
 * Brings the database up to the newest version. Returns the versions applied (empty when already current).
 * Runs as one IMMEDIATE transaction, so two processes opening the same fresh file cannot both migrate it,
 * and a failing migration leaves the database exactly as it was.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, where = db.name): number[] {
  checkOrder(migrations);
  const known = migrations.length;
  const run = db.transaction((): number[] => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > known) throw new SchemaTooNewError(current, known, where);
    const applied: number[] = [];
    for (const m of migrations.slice(current)) {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}
