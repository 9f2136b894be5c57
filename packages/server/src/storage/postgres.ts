// The shared backend (`storage.backend: postgres`): one PostgreSQL database that every node of a cluster uses,
// through the `pg` driver's connection pools. Same tables and JSON-text values as sqlite.ts, so the contract
// tests and `parley storage copy` see the same data whichever backend holds it.
//
// Durability: every write is its own autocommitted statement, and its promise resolves when the server has
// answered the COMMIT; with PostgreSQL's default synchronous_commit = on that answer comes after the WAL
// record reached disk. So "acknowledged" means "committed", as with SQLite's group commit. PostgreSQL groups
// the WAL flushes of commits arriving together from many connections itself (commit_delay/commit_siblings),
// which is what sqlite.ts does by hand with its per-tick batches.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { KeyedQueue } from '../core/keyed-queue';
import { archiveItem, checkArchiveItem, checkLimit, newArchiveId, toJson } from './common';
import { StorageError } from './errors';
import { migratePostgres } from './postgres-migrations';
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

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database (libpq URL syntax). */
  url: string;
  /** A schema to use instead of the connection's default (created when missing); tests use one each. */
  schema?: string;
  /** Connections for ordinary reads and writes; as many again serve exclusive() transactions. */
  poolSize?: number;
  /** Told about connections the server dropped while idle (the pool replaces them). */
  onError?: (err: Error) => void;
}

/** How long opening a connection may take before the operation fails (the database is down or unreachable). */
const CONNECT_TIMEOUT_MS = 10_000;
/** Rows per page when reading an archive for `storage copy`. */
const PAGE = 1000;

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const { url, schema, poolSize = 10 } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name '${schema}': lower-case letters, digits and _`);
  const config: pg.PoolConfig = {
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Every connection of the pool starts in the schema, so no statement needs to name it.
    options: schema === undefined ? undefined : `-c search_path=${schema}`,
  };
  const pool = new pg.Pool(config);
  const txPool = new pg.Pool(config);
  // An idle connection the server closed (restart, failover) is an 'error' event; unhandled it would end the
  // process. The pool drops that client and opens a new one on the next query.
  const onError = options.onError ?? (() => {});
  pool.on('error', onError);
  txPool.on('error', onError);
  const where = `PostgreSQL at ${redactUrl(url)}${schema === undefined ? '' : ` (schema ${schema})`}`;
  try {
    const client = await pool.connect().catch((err: Error) => {
      throw new Error(`cannot connect to ${where}: ${err.message}`);
    });
    try {
      if (schema !== undefined) await createSchema(client, schema);
      await migratePostgres(client, undefined, where);
    } finally {
      client.release();
    }
  } catch (err) {
    await Promise.all([pool.end(), txPool.end()]);
    throw err;
  }
  return new PostgresStorage(pool, txPool);
}

/** CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent creator: nodes starting together take turns. */
async function createSchema(client: pg.PoolClient, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('parley-schema:' || $1))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** An exclusive() section: the connection holding its transaction, and the owner whose operations join it. */
interface Transaction {
  owner: string;
  client: pg.PoolClient;
  active: boolean;
}

interface ArchiveRow {
  seq: string;
  store: string;
  owner: string;
  id: string;
  when_ms: string;
  with_jid: string | null;
  payload: string;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

class PostgresStorage implements Storage {
  readonly accounts: AccountStore;
  private closed = false;
  /** The transaction of the exclusive() section the current async call chain runs in, if any. */
  private readonly transaction = new AsyncLocalStorage<Transaction>();
  /**
   * Per row key, the last pooled write: writes to one key run in the order issued and a read waits for the
   * writes issued before it, as with SQLite's single connection (a pool would otherwise reorder them).
   */
  private readonly tails = new Map<string, Promise<void>>();
  /** exclusive() sections of this process queue here first, so they hold at most one connection per key. */
  private readonly local = new KeyedQueue();

  constructor(
    private readonly pool: pg.Pool,
    private readonly txPool: pg.Pool,
  ) {
    this.accounts = this.accountStore();
  }

  /** Runs one statement: inside an exclusive() section for `owner` on its transaction, otherwise on the pool. */
  private run<R extends pg.QueryResultRow>(key: string, owner: string, kind: 'read' | 'write', text: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const tx = this.transaction.getStore();
    // The transaction's connection runs its statements in the order issued; no tail needed there.
    if (tx?.active && tx.owner === owner) return tx.client.query<R>(text, params);
    const previous = this.tails.get(key);
    if (kind === 'read') return (previous ?? Promise.resolve()).then(() => this.pooled<R>(text, params));
    const result = (previous ?? Promise.resolve()).then(() => this.pooled<R>(text, params));
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  private pooled<R extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    return this.pool.query<R>(text, params);
  }

  /** Waits until every pooled write issued so far has finished (Storage.settled; listings across owners). */
  async settled(): Promise<void> {
    await Promise.all(this.tails.values());
    if (this.closed) throw new Error('storage is closed');
  }

  private accountStore(): AccountStore {
    const key = (host: string, username: string) => `u\0${host}\0${username}`;
    const owner = (host: string, username: string) => `${username}@${host}`;
    return {
      get: async (host, username): Promise<Account | undefined> => {
        const { rows } = await this.run<{ credentials: string; created_at: string }>(
          key(host, username),
          owner(host, username),
          'read',
          'SELECT credentials, created_at FROM accounts WHERE host = $1 AND username = $2',
          [host, username],
        );
        const row = rows[0];
        if (!row) return undefined;
        return { username, host, credentials: JSON.parse(row.credentials) as Credentials, createdAt: Number(row.created_at) };
      },
      create: async (host, username, credentials) => {
        const json = toJson(credentials);
        const { rowCount } = await this.run(
          key(host, username),
          owner(host, username),
          'write',
          'INSERT INTO accounts (host, username, credentials, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
          [host, username, json, Date.now()],
        );
        if (rowCount === 0) throw new AccountExistsError(`account ${username}@${host} exists`);
      },
      setCredentials: async (host, username, credentials, expected) => {
        const json = toJson(credentials);
        // With `expected`, only if the stored keys are still those (an upgrade must not undo a concurrent change): the
        // stored text is what toJson wrote, so equal credentials compare equal.
        const { rowCount } =
          expected === undefined
            ? await this.run(key(host, username), owner(host, username), 'write', 'UPDATE accounts SET credentials = $3 WHERE host = $1 AND username = $2', [host, username, json])
            : await this.run(
                key(host, username),
                owner(host, username),
                'write',
                'UPDATE accounts SET credentials = $3 WHERE host = $1 AND username = $2 AND credentials = $4',
                [host, username, json, toJson(expected)],
              );
        return (rowCount ?? 0) > 0;
      },
      delete: async (host, username) => {
        const { rowCount } = await this.run(key(host, username), owner(host, username), 'write', 'DELETE FROM accounts WHERE host = $1 AND username = $2', [host, username]);
        return (rowCount ?? 0) > 0;
      },
      list: async (host) => {
        await this.settled();
        const { rows } = await this.pooled<{ username: string }>('SELECT username FROM accounts WHERE host = $1', [host]);
        return rows.map((r) => r.username).sort(byCodeUnits);
      },
      hosts: async () => {
        await this.settled();
        const { rows } = await this.pooled<{ host: string; accounts: number }>('SELECT host, count(*)::int AS accounts FROM accounts GROUP BY host', []);
        return rows.sort((a, b) => byCodeUnits(a.host, b.host));
      },
    };
  }

  keyval<T = unknown>(name: string): KeyValueStore<T> {
    const key = (owner: string) => `k\0${name}\0${owner}`;
    return {
      get: async (owner) => {
        const { rows } = await this.run<{ value: string }>(key(owner), owner, 'read', 'SELECT value FROM keyval WHERE store = $1 AND owner = $2', [name, owner]);
        return rows[0] === undefined ? undefined : (JSON.parse(rows[0].value) as T);
      },
      set: async (owner, value) => {
        if (value === undefined) {
          await this.run(key(owner), owner, 'write', 'DELETE FROM keyval WHERE store = $1 AND owner = $2', [name, owner]);
          return;
        }
        const json = toJson(value);
        await this.run(
          key(owner),
          owner,
          'write',
          'INSERT INTO keyval (store, owner, value) VALUES ($1, $2, $3) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value',
          [name, owner, json],
        );
      },
    };
  }

  map<T = unknown>(name: string): MapStore<T> {
    // Keyed by owner, not by (owner, key): getAll and deleteAll must order against single-key writes.
    const key = (owner: string) => `m\0${name}\0${owner}`;
    return {
      get: async (owner, k) => {
        const { rows } = await this.run<{ value: string }>(key(owner), owner, 'read', 'SELECT value FROM map WHERE store = $1 AND owner = $2 AND "key" = $3', [name, owner, k]);
        return rows[0] === undefined ? undefined : (JSON.parse(rows[0].value) as T);
      },
      set: async (owner, k, value) => {
        if (value === undefined) {
          await this.run(key(owner), owner, 'write', 'DELETE FROM map WHERE store = $1 AND owner = $2 AND "key" = $3', [name, owner, k]);
          return;
        }
        const json = toJson(value);
        await this.run(
          key(owner),
          owner,
          'write',
          'INSERT INTO map (store, owner, "key", value) VALUES ($1, $2, $3, $4) ON CONFLICT (store, owner, "key") DO UPDATE SET value = excluded.value',
          [name, owner, k, json],
        );
      },
      getAll: async (owner) => {
        const { rows } = await this.run<{ key: string; value: string }>(key(owner), owner, 'read', 'SELECT "key", value FROM map WHERE store = $1 AND owner = $2', [name, owner]);
        rows.sort((a, b) => byCodeUnits(a.key, b.key));
        return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
      },
      deleteAll: async (owner) => {
        await this.run(key(owner), owner, 'write', 'DELETE FROM map WHERE store = $1 AND owner = $2', [name, owner]);
      },
      owners: async () => {
        await this.settled();
        const { rows } = await this.pooled<{ owner: string }>('SELECT DISTINCT owner FROM map WHERE store = $1', [name]);
        return rows.map((r) => r.owner).sort(byCodeUnits);
      },
    };
  }

  archive(name: string): ArchiveStore {
    const key = (owner: string) => `a\0${name}\0${owner}`;

    /** WHERE clause and parameters for the filters present; store and owner first, to use the indexes. */
    const where = (owner: string, q: ArchiveQuery & { afterSeq?: string; beforeSeq?: string }): [string, unknown[]] => {
      const clauses = ['store = $1', 'owner = $2'];
      const params: unknown[] = [name, owner];
      const add = (clause: string, value: unknown): void => {
        if (value === undefined) return;
        params.push(value);
        clauses.push(clause.replace('?', `$${params.length}`));
      };
      add('with_jid = ?', q.with);
      add('when_ms >= ?', q.start);
      add('when_ms <= ?', q.end);
      add('seq > ?', q.afterSeq);
      add('seq < ?', q.beforeSeq);
      return [clauses.join(' AND '), params];
    };

    const seqOf = async (owner: string, id: string): Promise<string> => {
      const { rows } = await this.run<{ seq: string }>(key(owner), owner, 'read', 'SELECT seq FROM archive WHERE store = $1 AND id = $2 AND owner = $3', [name, id, owner]);
      if (rows[0] === undefined) throw new StorageError('item-not-found', `no archived item '${id}'`);
      return rows[0].seq;
    };

    const insert = (owner: string, id: string, when: number, withJid: string | null, payload: string) =>
      this.run(
        key(owner),
        owner,
        'write',
        'INSERT INTO archive (store, owner, id, when_ms, with_jid, payload) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
        [name, owner, id, when, withJid, payload],
      );

    return {
      append: async (owner, item) => {
        checkArchiveItem(item);
        const withJid = item.with ?? null;
        if (item.id !== undefined) {
          const { rowCount } = await insert(owner, item.id, item.when, withJid, item.payload);
          if (rowCount === 0) throw new StorageError('conflict', `archived item '${item.id}' exists`);
          return item.id;
        }
        // 72 random bits make a collision all but impossible; retrying costs nothing if one happens.
        for (;;) {
          const id = newArchiveId();
          if ((await insert(owner, id, item.when, withJid, item.payload)).rowCount! > 0) return id;
        }
      },

      query: async (owner, query = {}) => {
        checkLimit(query);
        const afterSeq = query.after === undefined ? undefined : await seqOf(owner, query.after);
        const beforeSeq = query.before === undefined ? undefined : await seqOf(owner, query.before);
        const [clause, params] = where(owner, { ...query, afterSeq, beforeSeq });
        const order = query.reverse ? 'DESC' : 'ASC';
        // One row past the page tells whether more match in this direction (`complete`) without a COUNT.
        let limit = '';
        if (query.limit !== undefined) {
          params.push(query.limit + 1);
          limit = ` LIMIT $${params.length}`;
        }
        const { rows } = await this.run<ArchiveRow>(key(owner), owner, 'read', `SELECT id, when_ms, with_jid, payload FROM archive WHERE ${clause} ORDER BY seq ${order}${limit}`, params);
        const complete = query.limit === undefined || rows.length <= query.limit;
        const page = complete ? rows : rows.slice(0, query.limit);
        return { items: page.map((r) => archiveItem(r.id, Number(r.when_ms), r.with_jid, r.payload)), complete };
      },

      count: async (owner, query = {}) => {
        const [clause, params] = where(owner, { with: query.with, start: query.start, end: query.end });
        const { rows } = await this.run<{ n: number }>(key(owner), owner, 'read', `SELECT count(*)::int AS n FROM archive WHERE ${clause}`, params);
        return rows[0]!.n;
      },

      usage: async (owner) => {
        // octet_length: the stored UTF-8 length, as the quota counts it.
        const { rows } = await this.run<{ items: number; bytes: string }>(
          key(owner),
          owner,
          'read',
          'SELECT count(*)::int AS items, coalesce(sum(octet_length(payload)), 0) AS bytes FROM archive WHERE store = $1 AND owner = $2',
          [name, owner],
        );
        return { items: rows[0]!.items, bytes: Number(rows[0]!.bytes) };
      },

      replace: async (owner, id, payload) => {
        const { rowCount } = await this.run(key(owner), owner, 'write', 'UPDATE archive SET payload = $4 WHERE store = $1 AND owner = $2 AND id = $3', [
          name,
          owner,
          id,
          payload,
        ]);
        return (rowCount ?? 0) > 0;
      },

      delete: async (owner, options = {}) => {
        const clauses = ['store = $1', 'owner = $2'];
        const params: unknown[] = [name, owner];
        if (options.ids !== undefined) {
          params.push(options.ids);
          clauses.push(`id = ANY($${params.length}::text[])`);
        }
        if (options.before !== undefined) {
          params.push(options.before);
          clauses.push(`when_ms < $${params.length}`);
        }
        const { rowCount } = await this.run(key(owner), owner, 'write', `DELETE FROM archive WHERE ${clauses.join(' AND ')}`, params);
        return rowCount ?? 0;
      },
    };
  }

  /**
   * One transaction on a connection of its own that first locks the row (scope, owner) of the locks table
   * with SELECT ... FOR UPDATE: a node running the same section waits on that row until we commit or roll
   * back, and a node that dies mid-section loses its connection, so PostgreSQL rolls back and frees the row.
   * The separate pool means a section waiting for a connection never holds one that ordinary statements need.
   */
  exclusive<T>(scope: string, owner: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(`${scope}\0${owner}`, async () => {
      if (this.closed) throw new Error('storage is closed');
      const client = await this.txPool.connect();
      const tx: Transaction = { owner, client, active: false };
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        // The row must exist to be locked; inserting it is a no-op once it does.
        await client.query('INSERT INTO locks (scope, owner) VALUES ($1, $2) ON CONFLICT DO NOTHING', [scope, owner]);
        await client.query('SELECT 1 FROM locks WHERE scope = $1 AND owner = $2 FOR UPDATE', [scope, owner]);
        tx.active = true;
        const result = await this.transaction.run(tx, fn);
        tx.active = false;
        await client.query('COMMIT');
        return result;
      } catch (err) {
        tx.active = false;
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  async ping(): Promise<void> {
    await this.pooled('SELECT 1', []);
  }

  async *records(): AsyncIterable<StorageRecord> {
    await this.settled();
    const accounts = await this.pooled<{ host: string; username: string; credentials: string; created_at: string }>(
      'SELECT host, username, credentials, created_at FROM accounts ORDER BY host, username',
      [],
    );
    for (const r of accounts.rows) {
      yield { shape: 'account', host: r.host, username: r.username, credentials: JSON.parse(r.credentials) as Credentials, createdAt: Number(r.created_at) };
    }
    const keyvals = await this.pooled<{ store: string; owner: string; value: string }>('SELECT store, owner, value FROM keyval ORDER BY store, owner', []);
    for (const r of keyvals.rows) yield { shape: 'keyval', store: r.store, owner: r.owner, value: JSON.parse(r.value) };
    const maps = await this.pooled<{ store: string; owner: string; key: string; value: string }>('SELECT store, owner, "key", value FROM map ORDER BY store, owner, "key"', []);
    for (const r of maps.rows) yield { shape: 'map', store: r.store, owner: r.owner, key: r.key, value: JSON.parse(r.value) };
    // Archives can be large: pages in append order, so memory stays bounded and the copy keeps that order.
    for (let after = '0'; ; ) {
      const { rows } = await this.pooled<ArchiveRow>(
        'SELECT seq, store, owner, id, when_ms, with_jid, payload FROM archive WHERE seq > $1 ORDER BY seq LIMIT $2',
        [after, PAGE],
      );
      for (const r of rows) yield { shape: 'archive', store: r.store, owner: r.owner, item: archiveItem(r.id, Number(r.when_ms), r.with_jid, r.payload) };
      if (rows.length < PAGE) break;
      after = rows.at(-1)!.seq;
    }
  }

  async restore(batch: StorageRecord[]): Promise<void> {
    if (this.closed) throw new Error('storage is closed');
    await this.settled();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      for (const r of batch) {
        switch (r.shape) {
          case 'account':
            await client.query(
              'INSERT INTO accounts (host, username, credentials, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (host, username) DO UPDATE SET credentials = excluded.credentials, created_at = excluded.created_at',
              [r.host, r.username, toJson(r.credentials), r.createdAt],
            );
            break;
          case 'keyval':
            await client.query('INSERT INTO keyval (store, owner, value) VALUES ($1, $2, $3) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value', [
              r.store,
              r.owner,
              toJson(r.value),
            ]);
            break;
          case 'map':
            await client.query(
              'INSERT INTO map (store, owner, "key", value) VALUES ($1, $2, $3, $4) ON CONFLICT (store, owner, "key") DO UPDATE SET value = excluded.value',
              [r.store, r.owner, r.key, toJson(r.value)],
            );
            break;
          case 'archive':
            checkArchiveItem(r.item);
            await client.query('INSERT INTO archive (store, owner, id, when_ms, with_jid, payload) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [
              r.store,
              r.owner,
              r.item.id,
              r.item.when,
              r.item.with ?? null,
              r.item.payload,
            ]);
            break;
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes already issued finish (their callers are waiting for the commit); nothing new starts.
    await Promise.all(this.tails.values());
    this.closed = true;
    await Promise.all([this.pool.end(), this.txPool.end()]);
  }
}
