// The default backend: one SQLite file through better-sqlite3. Its calls are synchronous; the async methods
// only wrap them so that other backends (postgres) can share the contract, and so a throw becomes a rejection.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log';
import { PRIVATE_DIR_MODE, ensurePrivateFile, tightenIfPresent } from '../private-files';
import { KeyedQueue } from '../core/keyed-queue';
import { archiveItem, checkArchiveItem, checkLimit, newArchiveId, toJson } from './common';
import { StorageError } from './errors';
import { migrate } from './migrations';
import { SqliteArchiveWriter } from './sqlite-archive-writer';
import {
  AccountExistsError,
  type Account,
  type AccountStore,
  type ArchiveQuery,
  type ArchiveStore,
  type Credentials,
  type KeyValueStore,
  type MapStore,
  type Storage,
  type StorageRecord,
} from './types';

/** How long a write waits for another process (e.g. `parley` CLI admin commands) holding the write lock. */
const BUSY_TIMEOUT_MS = 5000;

interface ArchiveRow {
  id: string;
  when_ms: number;
  with_jid: string | null;
  payload: string;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SqliteOptions {
  /** Told when an existing database file was readable by other users and has been tightened. */
  log?: Logger;
  /**
   * Archive writes from a worker thread with its own connection (sqlite-archive-writer.ts); default true for a
   * file. An in-memory database is private to its connection, so its archive is always written here.
   */
  archiveThread?: boolean;
}

export function openSqliteStorage(path: string, options: SqliteOptions = {}): Storage {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) {
    // A fresh install's data_dir may not exist yet; owner-only because the file holds SCRAM keys and FAST tokens.
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
    // SQLite would create the file with 0644 (less the umask). Created here first with 0600 instead (an empty file
    // is an empty database); SQLite gives the -wal and -shm files the database file's permissions. Files that an
    // older version created world-readable are tightened, the -wal and -shm ones too in case they outlived a crash.
    ensurePrivateFile(path, options.log);
    for (const suffix of ['-wal', '-shm', '-journal']) tightenIfPresent(path + suffix, options.log);
  }
  const db = new Database(path);
  try {
    // Before journal_mode: switching to WAL needs a lock another process may hold for a moment.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // With WAL, NORMAL does not fsync on each commit but the commit is written to the -wal file (so it sits in
    // the OS page cache) before run() returns. A crashed or kill -9'd process therefore loses nothing whose
    // promise resolved; only an OS crash or power cut can roll back the last few commits, and the database
    // stays consistent even then. FULL would add an fsync to every stanza we store.
    db.pragma('synchronous = NORMAL');
    migrate(db, undefined, inMemory ? 'the in-memory database' : path);
  } catch (err) {
    db.close();
    throw err;
  }
  // After the migrations: the thread's connection expects the current schema.
  const archiveWriter =
    !inMemory && options.archiveThread !== false
      ? new SqliteArchiveWriter(path, BUSY_TIMEOUT_MS, (err) => options.log?.error({ err }, 'the archive writer thread failed; archive writes go on in the main thread'))
      : undefined;
  return new SqliteStorage(db, archiveWriter);
}

class SqliteStorage implements Storage {
  readonly accounts: AccountStore;
  private readonly keyvals = new Map<string, KeyValueStore<unknown>>();
  private readonly maps = new Map<string, MapStore<unknown>>();
  private readonly archives = new Map<string, ArchiveStore>();
  /** Archive queries are built from the filters present; one prepared statement per distinct shape. */
  private readonly dynamic = new Map<string, Statement<unknown[], unknown>>();

  private readonly sql;
  /** Writes waiting for the next group commit, each resolved only once its batch has committed. */
  private queue: { op: () => unknown; resolve: (value: any) => void; reject: (error: unknown) => void }[] = [];
  private flushScheduled = false;
  private readonly inTransaction: (ops: () => void) => void;
  private readonly inSavepoint: (op: () => unknown) => unknown;
  /**
   * exclusive(): one process's queue. SQLite has no row locks, and holding its single write lock across the
   * awaits of a read-modify-write would stall every other write; nodes that write concurrently use postgres.
   */
  private readonly exclusives = new KeyedQueue();

  constructor(
    private readonly db: Database.Database,
    /** Commits archive writes off the event loop; undefined: they join this connection's group commit. */
    private readonly archiveWriter?: SqliteArchiveWriter,
  ) {
    this.inTransaction = db.transaction((ops: () => void) => ops());
    // Called inside the batch's transaction, better-sqlite3 makes this a SAVEPOINT: one failing write
    // (a duplicate archive id) rolls back alone and rejects only its own promise.
    this.inSavepoint = db.transaction((op: () => unknown) => op());
    this.sql = {
      accountGet: db.prepare<[string, string], { credentials: string; created_at: number }>(
        'SELECT credentials, created_at FROM accounts WHERE host = ? AND username = ?',
      ),
      accountCreate: db.prepare<[string, string, string, number]>(
        'INSERT INTO accounts (host, username, credentials, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      accountSetCredentials: db.prepare<[string, string, string]>('UPDATE accounts SET credentials = ? WHERE host = ? AND username = ?'),
      accountReplaceCredentials: db.prepare<[string, string, string, string]>(
        'UPDATE accounts SET credentials = ? WHERE host = ? AND username = ? AND credentials = ?',
      ),
      accountDelete: db.prepare<[string, string]>('DELETE FROM accounts WHERE host = ? AND username = ?'),
      accountList: db.prepare<[string], string>('SELECT username FROM accounts WHERE host = ?').pluck(),
      accountHosts: db.prepare<[], { host: string; accounts: number }>('SELECT host, COUNT(*) AS accounts FROM accounts GROUP BY host'),

      keyvalGet: db.prepare<[string, string], string>('SELECT value FROM keyval WHERE store = ? AND owner = ?').pluck(),
      keyvalSet: db.prepare<[string, string, string]>(
        'INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value',
      ),
      keyvalDelete: db.prepare<[string, string]>('DELETE FROM keyval WHERE store = ? AND owner = ?'),

      mapGet: db.prepare<[string, string, string], string>('SELECT value FROM map WHERE store = ? AND owner = ? AND "key" = ?').pluck(),
      mapSet: db.prepare<[string, string, string, string]>(
        'INSERT INTO map (store, owner, "key", value) VALUES (?, ?, ?, ?) ON CONFLICT (store, owner, "key") DO UPDATE SET value = excluded.value',
      ),
      mapDelete: db.prepare<[string, string, string]>('DELETE FROM map WHERE store = ? AND owner = ? AND "key" = ?'),
      mapGetAll: db.prepare<[string, string], { key: string; value: string }>('SELECT "key", value FROM map WHERE store = ? AND owner = ?'),
      mapDeleteAll: db.prepare<[string, string]>('DELETE FROM map WHERE store = ? AND owner = ?'),
      mapOwners: db.prepare<[string], string>('SELECT DISTINCT owner FROM map WHERE store = ?').pluck(),

      archiveAppend: db.prepare<[string, string, string, number, string | null, string]>(
        'INSERT INTO archive (store, owner, id, when_ms, with_jid, payload) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      // octet_length: the stored UTF-8 length, read from the record header without decoding the text.
      archiveUsage: db.prepare<[string, string], { items: number; bytes: number }>(
        'SELECT count(*) AS items, coalesce(sum(octet_length(payload)), 0) AS bytes FROM archive WHERE store = ? AND owner = ?',
      ),
      archiveSeq: db.prepare<[string, string, string], number>('SELECT seq FROM archive WHERE store = ? AND id = ? AND owner = ?').pluck(),
    };
    this.accounts = this.accountStore();
  }

  private accountStore(): AccountStore {
    const { sql } = this;
    const read = <T>(op: () => T) => this.read(op);
    const write = <T>(op: () => T) => this.write(op);
    return {
      async get(host, username): Promise<Account | undefined> {
        const row = read(() => sql.accountGet.get(host, username));
        if (!row) return undefined;
        return { username, host, credentials: JSON.parse(row.credentials) as Credentials, createdAt: row.created_at };
      },
      async create(host, username, credentials) {
        const json = toJson(credentials);
        if ((await write(() => sql.accountCreate.run(host, username, json, Date.now()))).changes === 0) {
          throw new AccountExistsError(`account ${username}@${host} exists`);
        }
      },
      async setCredentials(host, username, credentials, expected) {
        const json = toJson(credentials);
        // The stored text is what toJson wrote and JSON.parse keeps key order, so equal credentials compare equal.
        const run = expected === undefined
          ? () => sql.accountSetCredentials.run(json, host, username)
          : () => sql.accountReplaceCredentials.run(json, host, username, toJson(expected));
        return (await write(run)).changes > 0;
      },
      async delete(host, username) {
        return (await write(() => sql.accountDelete.run(host, username))).changes > 0;
      },
      async list(host) {
        return read(() => sql.accountList.all(host)).sort(byCodeUnits);
      },
      async hosts() {
        return read(() => sql.accountHosts.all()).sort((a, b) => byCodeUnits(a.host, b.host));
      },
    };
  }

  /**
   * Group commit: writes issued in the same tick share one transaction (one WAL append instead of one per
   * write; under load hundreds of archived stanzas per commit). A write's promise resolves after its
   * batch committed, so "acknowledged" still means "survives kill -9".
   */
  private write<T>(op: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(new Error('storage is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Reads see every write issued before them: pending writes are committed first. */
  private read<T>(op: () => T): T {
    if (this.queue.length > 0) this.flush();
    return op();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0 || !this.db.open) return;
    const batch = this.queue;
    this.queue = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.inTransaction(() => {
        for (const w of batch) {
          try {
            outcomes.push({ ok: true, value: this.inSavepoint(w.op) });
          } catch (error) {
            outcomes.push({ ok: false, value: error });
          }
        }
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => (outcomes[i]!.ok ? w.resolve(outcomes[i]!.value) : w.reject(outcomes[i]!.value)));
  }

  keyval<T = unknown>(name: string): KeyValueStore<T> {
    let store = this.keyvals.get(name);
    if (!store) {
      const { sql } = this;
      const read = <T>(op: () => T) => this.read(op);
      const write = <T>(op: () => T) => this.write(op);
      store = {
        async get(owner) {
          const text = read(() => sql.keyvalGet.get(name, owner));
          return text === undefined ? undefined : JSON.parse(text);
        },
        async set(owner, value) {
          if (value === undefined) await write(() => sql.keyvalDelete.run(name, owner));
          else {
            const json = toJson(value);
            await write(() => sql.keyvalSet.run(name, owner, json));
          }
        },
      };
      this.keyvals.set(name, store);
    }
    return store as KeyValueStore<T>;
  }

  map<T = unknown>(name: string): MapStore<T> {
    let store = this.maps.get(name);
    if (!store) {
      const { sql } = this;
      const read = <T>(op: () => T) => this.read(op);
      const write = <T>(op: () => T) => this.write(op);
      store = {
        async get(owner, key) {
          const text = read(() => sql.mapGet.get(name, owner, key));
          return text === undefined ? undefined : JSON.parse(text);
        },
        async set(owner, key, value) {
          if (value === undefined) await write(() => sql.mapDelete.run(name, owner, key));
          else {
            const json = toJson(value);
            await write(() => sql.mapSet.run(name, owner, key, json));
          }
        },
        async getAll(owner) {
          const rows = read(() => sql.mapGetAll.all(name, owner)).sort((a, b) => byCodeUnits(a.key, b.key));
          return new Map(rows.map((r) => [r.key, JSON.parse(r.value)]));
        },
        async deleteAll(owner) {
          await write(() => sql.mapDeleteAll.run(name, owner));
        },
        async owners() {
          return read(() => sql.mapOwners.all(name)).sort(byCodeUnits);
        },
      };
      this.maps.set(name, store);
    }
    return store as MapStore<T>;
  }

  archive(name: string): ArchiveStore {
    let store = this.archives.get(name);
    if (!store) {
      store = this.archiveStore(name);
      this.archives.set(name, store);
    }
    return store;
  }

  private prepared(source: string): Statement<unknown[], unknown> {
    let stmt = this.dynamic.get(source);
    if (!stmt) {
      stmt = this.db.prepare(source);
      this.dynamic.set(source, stmt);
    }
    return stmt;
  }

  private archiveStore(name: string): ArchiveStore {
    const { sql } = this;

    /** WHERE clause and parameters for the filters present; store and owner come first to use the indexes. */
    const where = (owner: string, q: ArchiveQuery & { afterSeq?: number; beforeSeq?: number }): [string, unknown[]] => {
      const clauses = ['store = ?', 'owner = ?'];
      const params: unknown[] = [name, owner];
      const add = (clause: string, value: unknown): void => {
        if (value === undefined) return;
        clauses.push(clause);
        params.push(value);
      };
      add('with_jid = ?', q.with);
      add('when_ms >= ?', q.start);
      add('when_ms <= ?', q.end);
      add('seq > ?', q.afterSeq);
      add('seq < ?', q.beforeSeq);
      return [clauses.join(' AND '), params];
    };

    const writer = this.archiveWriter;
    /** Archive reads see every archive write issued before them (a MAM query after delivery finds the message). */
    const writesSettled = async (): Promise<void> => {
      if (writer) await writer.settled();
    };

    const seqOf = (owner: string, id: string): number => {
      const seq = this.read(() => sql.archiveSeq.get(name, id, owner));
      if (seq === undefined) throw new StorageError('item-not-found', `no archived item '${id}'`);
      return seq;
    };

    return {
      append: async (owner, item) => {
        checkArchiveItem(item);
        const withJid = item.with ?? null;
        const { when, payload } = item;
        const given = item.id;
        if (writer?.usable) return writer.append(name, owner, given ?? newArchiveId(), given === undefined, when, withJid, payload);
        if (given !== undefined) {
          return this.write(() => {
            if (sql.archiveAppend.run(name, owner, given, when, withJid, payload).changes === 0) {
              throw new StorageError('conflict', `archived item '${given}' exists`);
            }
            return given;
          });
        }
        // 72 random bits make a collision all but impossible; retrying costs nothing if one happens.
        return this.write(() => {
          for (;;) {
            const id = newArchiveId();
            if (sql.archiveAppend.run(name, owner, id, when, withJid, payload).changes > 0) return id;
          }
        });
      },

      query: async (owner, query = {}) => {
        checkLimit(query);
        await writesSettled();
        const afterSeq = query.after === undefined ? undefined : seqOf(owner, query.after);
        const beforeSeq = query.before === undefined ? undefined : seqOf(owner, query.before);
        const [clause, params] = where(owner, { ...query, afterSeq, beforeSeq });
        const order = query.reverse ? 'DESC' : 'ASC';
        // One row past the page tells whether more match in this direction (`complete`) without a COUNT.
        const fetch = query.limit === undefined ? -1 : query.limit + 1;
        const rows = this.read(() =>
          this.prepared(`SELECT id, when_ms, with_jid, payload FROM archive WHERE ${clause} ORDER BY seq ${order} LIMIT ?`).all(...params, fetch),
        ) as ArchiveRow[];
        const complete = query.limit === undefined || rows.length <= query.limit;
        const page = complete ? rows : rows.slice(0, query.limit);
        return { items: page.map((r) => archiveItem(r.id, r.when_ms, r.with_jid, r.payload)), complete };
      },

      count: async (owner, query = {}) => {
        await writesSettled();
        const [clause, params] = where(owner, { with: query.with, start: query.start, end: query.end });
        return this.read(() => this.prepared(`SELECT count(*) FROM archive WHERE ${clause}`).pluck().get(...params)) as number;
      },

      usage: async (owner) => {
        await writesSettled();
        return this.read(() => sql.archiveUsage.get(name, owner))!;
      },
      replace: async (owner, id, payload) => {
        if (writer?.usable) return (await writer.replace(name, owner, id, payload)) > 0;
        const update = 'UPDATE archive SET payload = ? WHERE store = ? AND owner = ? AND id = ?';
        return (await this.write(() => this.prepared(update).run(payload, name, owner, id))).changes > 0;
      },

      delete: async (owner, options = {}) => {
        if (writer?.usable) return writer.delete(name, owner, options.ids === undefined ? null : JSON.stringify(options.ids), options.before ?? null);
        const clauses = ['store = ?', 'owner = ?'];
        const params: unknown[] = [name, owner];
        if (options.ids !== undefined) {
          // One bound JSON array instead of one placeholder per id: no SQLITE_MAX_VARIABLE_NUMBER limit.
          clauses.push('id IN (SELECT value FROM json_each(?))');
          params.push(JSON.stringify(options.ids));
        }
        if (options.before !== undefined) {
          clauses.push('when_ms < ?');
          params.push(options.before);
        }
        return (await this.write(() => this.prepared(`DELETE FROM archive WHERE ${clauses.join(' AND ')}`).run(...params))).changes;
      },
    };
  }

  exclusive<T>(scope: string, owner: string, fn: () => Promise<T>): Promise<T> {
    return this.exclusives.run(`${scope}\0${owner}`, async () => {
      if (!this.db.open) throw new Error('storage is closed');
      return fn();
    });
  }

  async settled(): Promise<void> {
    if (this.queue.length > 0) this.flush();
    await this.archiveWriter?.settled();
  }

  async ping(): Promise<void> {
    this.read(() => this.db.prepare('SELECT 1').get());
  }

  async *records(): AsyncIterable<StorageRecord> {
    await this.archiveWriter?.settled();
    const rows = <T>(source: string, ...params: unknown[]): T[] => this.read(() => this.prepared(source).all(...params)) as T[];
    type AccountRow = { host: string; username: string; credentials: string; created_at: number };
    for (const r of rows<AccountRow>('SELECT host, username, credentials, created_at FROM accounts ORDER BY host, username')) {
      yield { shape: 'account', host: r.host, username: r.username, credentials: JSON.parse(r.credentials) as Credentials, createdAt: r.created_at };
    }
    for (const r of rows<{ store: string; owner: string; value: string }>('SELECT store, owner, value FROM keyval ORDER BY store, owner')) {
      yield { shape: 'keyval', store: r.store, owner: r.owner, value: JSON.parse(r.value) };
    }
    for (const r of rows<{ store: string; owner: string; key: string; value: string }>('SELECT store, owner, "key", value FROM map ORDER BY store, owner, "key"')) {
      yield { shape: 'map', store: r.store, owner: r.owner, key: r.key, value: JSON.parse(r.value) };
    }
    // Archives can be large: pages in append order, so memory stays bounded and the copy keeps that order.
    for (let after = 0; ; ) {
      const page = rows<ArchiveRow & { seq: number; store: string; owner: string }>(
        'SELECT seq, store, owner, id, when_ms, with_jid, payload FROM archive WHERE seq > ? ORDER BY seq LIMIT 1000',
        after,
      );
      for (const r of page) yield { shape: 'archive', store: r.store, owner: r.owner, item: archiveItem(r.id, r.when_ms, r.with_jid, r.payload) };
      if (page.length < 1000) break;
      after = page.at(-1)!.seq;
    }
  }

  async restore(batch: StorageRecord[]): Promise<void> {
    // Restored archive rows are written on this connection: after every archive write issued before them.
    await this.archiveWriter?.settled();
    const statements = batch.map((r): [string, unknown[]] => {
      switch (r.shape) {
        case 'account':
          return [
            'INSERT INTO accounts (host, username, credentials, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (host, username) DO UPDATE SET credentials = excluded.credentials, created_at = excluded.created_at',
            [r.host, r.username, toJson(r.credentials), r.createdAt],
          ];
        case 'keyval':
          return ['INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value', [r.store, r.owner, toJson(r.value)]];
        case 'map':
          return [
            'INSERT INTO map (store, owner, "key", value) VALUES (?, ?, ?, ?) ON CONFLICT (store, owner, "key") DO UPDATE SET value = excluded.value',
            [r.store, r.owner, r.key, toJson(r.value)],
          ];
        case 'archive':
          checkArchiveItem(r.item);
          return [
            'INSERT INTO archive (store, owner, id, when_ms, with_jid, payload) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
            [r.store, r.owner, r.item.id, r.item.when, r.item.with ?? null, r.item.payload],
          ];
      }
    });
    await this.write(() => {
      for (const [source, params] of statements) this.prepared(source).run(...params);
    });
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    await this.archiveWriter?.close();
    if (!this.db.open) return;
    this.flush();
    // Lets SQLite refresh the query planner's statistics for the indexes the session actually used.
    this.db.pragma('optimize');
    this.db.close();
  }
}
