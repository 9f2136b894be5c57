// In-process storage for tests and throwaway servers (`storage.backend: memory`). Values are kept as JSON text,
// so callers can never alias stored state and anything the SQLite backend would reject or reshape is
// rejected or reshaped here too.
import { KeyedQueue } from '../core/keyed-queue';
import { archiveItem, checkArchiveItem, checkLimit, newArchiveId, toJson } from './common';
import { StorageError } from './errors';
import {
  AccountExistsError,
  type Account,
  type AccountStore,
  type ArchiveItem,
  type ArchiveQuery,
  type ArchiveResult,
  type ArchiveStore,
  type Credentials,
  type KeyValueStore,
  type MapStore,
  type Storage,
  type StorageRecord,
} from './types';

interface ArchiveEntry {
  seq: number;
  item: ArchiveItem;
}

interface ArchiveTable {
  byOwner: Map<string, ArchiveEntry[]>;
  /** Ids are unique within a store (types.ts), not only within one owner's archive. */
  ids: Map<string, { owner: string; seq: number }>;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function createMemoryStorage(): Storage {
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error('storage is closed');
  };

  const accounts = new Map<string, Map<string, { credentials: string; createdAt: number }>>();
  const keyvals = new Map<string, Map<string, string>>();
  const maps = new Map<string, Map<string, Map<string, string>>>();
  const archives = new Map<string, ArchiveTable>();
  // One counter for the whole storage, like SQLite's AUTOINCREMENT: order is append order, never reused.
  let seq = 0;

  const accountStore: AccountStore = {
    async get(host, username): Promise<Account | undefined> {
      open();
      const row = accounts.get(host)?.get(username);
      if (!row) return undefined;
      return { username, host, credentials: JSON.parse(row.credentials) as Credentials, createdAt: row.createdAt };
    },
    async create(host, username, credentials) {
      open();
      let users = accounts.get(host);
      if (!users) accounts.set(host, (users = new Map()));
      if (users.has(username)) throw new AccountExistsError(`account ${username}@${host} exists`);
      users.set(username, { credentials: toJson(credentials), createdAt: Date.now() });
    },
    async setCredentials(host, username, credentials, expected) {
      open();
      const row = accounts.get(host)?.get(username);
      if (!row || (expected !== undefined && row.credentials !== toJson(expected))) return false;
      row.credentials = toJson(credentials);
      return true;
    },
    async delete(host, username) {
      open();
      return accounts.get(host)?.delete(username) ?? false;
    },
    async list(host) {
      open();
      return [...(accounts.get(host)?.keys() ?? [])].sort(byCodeUnits);
    },
    async hosts() {
      open();
      return [...accounts].filter(([, users]) => users.size > 0).map(([host, users]) => ({ host, accounts: users.size })).sort((a, b) => byCodeUnits(a.host, b.host));
    },
  };

  function keyval<T>(name: string): KeyValueStore<T> {
    let rows = keyvals.get(name);
    if (!rows) keyvals.set(name, (rows = new Map()));
    const table = rows;
    return {
      async get(owner) {
        open();
        const text = table.get(owner);
        return text === undefined ? undefined : (JSON.parse(text) as T);
      },
      async set(owner, value) {
        open();
        if (value === undefined) table.delete(owner);
        else table.set(owner, toJson(value));
      },
    };
  }

  function map<T>(name: string): MapStore<T> {
    let owners = maps.get(name);
    if (!owners) maps.set(name, (owners = new Map()));
    const table = owners;
    return {
      async get(owner, key) {
        open();
        const text = table.get(owner)?.get(key);
        return text === undefined ? undefined : (JSON.parse(text) as T);
      },
      async set(owner, key, value) {
        open();
        if (value === undefined) {
          const keys = table.get(owner);
          keys?.delete(key);
          if (keys?.size === 0) table.delete(owner);
          return;
        }
        const text = toJson(value);
        let keys = table.get(owner);
        if (!keys) table.set(owner, (keys = new Map()));
        keys.set(key, text);
      },
      async getAll(owner) {
        open();
        const result = new Map<string, T>();
        const keys = table.get(owner);
        if (keys) for (const key of [...keys.keys()].sort(byCodeUnits)) result.set(key, JSON.parse(keys.get(key)!) as T);
        return result;
      },
      async deleteAll(owner) {
        open();
        table.delete(owner);
      },
      async owners() {
        open();
        return [...table.keys()].sort(byCodeUnits);
      },
    };
  }

  function archive(name: string): ArchiveStore {
    let existing = archives.get(name);
    if (!existing) archives.set(name, (existing = { byOwner: new Map(), ids: new Map() }));
    const table = existing;

    const matches = (item: ArchiveItem, q: Pick<ArchiveQuery, 'with' | 'start' | 'end'>): boolean =>
      (q.with === undefined || item.with === q.with) &&
      (q.start === undefined || item.when >= q.start) &&
      (q.end === undefined || item.when <= q.end);

    const seqOf = (owner: string, id: string): number => {
      const found = table.ids.get(id);
      if (!found || found.owner !== owner) throw new StorageError('item-not-found', `no archived item '${id}'`);
      return found.seq;
    };

    return {
      async append(owner, item) {
        open();
        checkArchiveItem(item);
        let id = item.id;
        if (id === undefined) {
          do id = newArchiveId();
          while (table.ids.has(id));
        } else if (table.ids.has(id)) {
          throw new StorageError('conflict', `archived item '${id}' exists`);
        }
        const entry = { seq: ++seq, item: archiveItem(id, item.when, item.with, item.payload) };
        let list = table.byOwner.get(owner);
        if (!list) table.byOwner.set(owner, (list = []));
        list.push(entry);
        table.ids.set(id, { owner, seq: entry.seq });
        return id;
      },
      async query(owner, query = {}): Promise<ArchiveResult> {
        open();
        checkLimit(query);
        const afterSeq = query.after === undefined ? -Infinity : seqOf(owner, query.after);
        const beforeSeq = query.before === undefined ? Infinity : seqOf(owner, query.before);
        const found = (table.byOwner.get(owner) ?? []).filter((e) => e.seq > afterSeq && e.seq < beforeSeq && matches(e.item, query));
        if (query.reverse) found.reverse();
        const page = query.limit === undefined ? found : found.slice(0, query.limit);
        return { items: page.map((e) => ({ ...e.item })), complete: page.length === found.length };
      },
      async count(owner, query = {}) {
        open();
        return (table.byOwner.get(owner) ?? []).filter((e) => matches(e.item, query)).length;
      },
      async usage(owner) {
        open();
        const list = table.byOwner.get(owner) ?? [];
        return { items: list.length, bytes: list.reduce((sum, e) => sum + Buffer.byteLength(e.item.payload, 'utf8'), 0) };
      },
      async replace(owner, id, payload) {
        open();
        const found = table.ids.get(id);
        if (!found || found.owner !== owner) return false;
        const entry = table.byOwner.get(owner)?.find((e) => e.seq === found.seq);
        if (!entry) return false;
        entry.item = archiveItem(id, entry.item.when, entry.item.with, payload);
        return true;
      },
      async delete(owner, options = {}) {
        open();
        const list = table.byOwner.get(owner);
        if (!list) return 0;
        const ids = options.ids && new Set(options.ids);
        const doomed = (e: ArchiveEntry): boolean =>
          (ids === undefined || ids.has(e.item.id)) && (options.before === undefined || e.item.when < options.before);
        const kept = list.filter((e) => !doomed(e));
        for (const e of list) if (doomed(e)) table.ids.delete(e.item.id);
        if (kept.length === 0) table.byOwner.delete(owner);
        else table.byOwner.set(owner, kept);
        return list.length - kept.length;
      },
    };
  }

  // One process holds the data: an in-process queue is all exclusive() needs.
  const exclusive = new KeyedQueue();

  async function* records(): AsyncIterable<StorageRecord> {
    open();
    for (const [host, users] of accounts) {
      for (const [username, row] of users) {
        yield { shape: 'account', host, username, credentials: JSON.parse(row.credentials) as Credentials, createdAt: row.createdAt };
      }
    }
    for (const [store, rows] of keyvals) for (const [owner, text] of rows) yield { shape: 'keyval', store, owner, value: JSON.parse(text) };
    for (const [store, owners] of maps) {
      for (const [owner, keys] of owners) for (const [key, text] of keys) yield { shape: 'map', store, owner, key, value: JSON.parse(text) };
    }
    // One order over all archives, like the other backends' single table.
    const all = [...archives].flatMap(([store, table]) => [...table.byOwner].flatMap(([owner, list]) => list.map((e) => ({ store, owner, e }))));
    all.sort((a, b) => a.e.seq - b.e.seq);
    for (const { store, owner, e } of all) yield { shape: 'archive', store, owner, item: { ...e.item } };
  }

  async function restore(batch: StorageRecord[]): Promise<void> {
    open();
    for (const r of batch) {
      switch (r.shape) {
        case 'account': {
          let users = accounts.get(r.host);
          if (!users) accounts.set(r.host, (users = new Map()));
          users.set(r.username, { credentials: toJson(r.credentials), createdAt: r.createdAt });
          break;
        }
        case 'keyval':
          await keyval(r.store).set(r.owner, r.value);
          break;
        case 'map':
          await map(r.store).set(r.owner, r.key, r.value);
          break;
        case 'archive':
          if (!archives.get(r.store)?.ids.has(r.item.id)) await archive(r.store).append(r.owner, r.item);
          break;
      }
    }
  }

  return {
    accounts: accountStore,
    keyval,
    map,
    archive,
    exclusive: (scope, owner, fn) =>
      exclusive.run(`${scope}\0${owner}`, async () => {
        open();
        return fn();
      }),
    // Nothing here outlives the process: every write is as settled as it will ever be once made.
    async settled() {},
    async ping() {
      open();
    },
    records,
    restore,
    async close() {
      closed = true;
    },
  };
}
