// The storage contract (STYLE.md habit 8): three shapes plus accounts. Every backend (memory, sqlite,
// postgres) passes the same contract tests in storage/contract.ts. Values are JSON-serialisable.
// `owner` is whatever a module keys its data by: usually a bare JID string ("juliet@example.com"),
// a room JID, or a host name for server-wide data. Store names, owners, keys and archive text never contain
// U+0000: XML cannot carry it (XML 1.0 §2.2), and PostgreSQL's text type cannot hold it.

export interface KeyValueStore<T = unknown> {
  get(owner: string): Promise<T | undefined>;
  /** Setting undefined deletes. The promise resolves once the write is durable. */
  set(owner: string, value: T | undefined): Promise<void>;
}

export interface MapStore<T = unknown> {
  get(owner: string, key: string): Promise<T | undefined>;
  /** Setting undefined deletes the key. */
  set(owner: string, key: string, value: T | undefined): Promise<void>;
  getAll(owner: string): Promise<Map<string, T>>;
  deleteAll(owner: string): Promise<void>;
  /** Every owner with at least one key (for service-wide listings such as persistent rooms). */
  owners(): Promise<string[]>;
}

export interface ArchiveItem {
  /** Unique within the store; assigned by the store on append when absent. */
  id: string;
  /** Milliseconds since the epoch. */
  when: number;
  /** The other party (bare JID string) for per-conversation queries; optional. */
  with?: string;
  /** Serialised XML or JSON text. */
  payload: string;
}

export interface ArchiveQuery {
  with?: string;
  /** Inclusive bounds in ms since the epoch. */
  start?: number;
  end?: number;
  /** Items strictly after / before the item with this id (result set paging, XEP-0059). */
  after?: string;
  before?: string;
  limit?: number;
  /** Newest first when true (used for 'before' paging and "last N" queries). Results are always returned in that order. */
  reverse?: boolean;
}

export interface ArchiveResult {
  items: ArchiveItem[];
  /** True when the query reached the end of the matching items in its direction. */
  complete: boolean;
}

export interface ArchiveUsage {
  items: number;
  /** UTF-8 length of the payloads (ids, stamps and JIDs not included). */
  bytes: number;
}

export interface ArchiveStore {
  append(owner: string, item: Omit<ArchiveItem, 'id'> & { id?: string }): Promise<string>;
  query(owner: string, query?: ArchiveQuery): Promise<ArchiveResult>;
  /** Number of items for the owner (optionally only those matching `with`). */
  count(owner: string, query?: Pick<ArchiveQuery, 'with' | 'start' | 'end'>): Promise<number>;
  /** The owner's items and the UTF-8 bytes of their payloads together, for per-owner quotas. */
  usage(owner: string): Promise<ArchiveUsage>;
  /**
   * Replaces the payload of one item, keeping its id, time, 'with' and place in the order (a tombstone for a
   * retracted message, XEP-0424 §5 / XEP-0425). False when the owner has no such item.
   */
  replace(owner: string, id: string, payload: string): Promise<boolean>;
  /** Deletes items; with `ids`, only those; with `before`, those older than that time; otherwise all of the owner's. */
  delete(owner: string, options?: { ids?: string[]; before?: number }): Promise<number>;
}

/** RFC 5802 §3 salted keys for one hash; base64 strings. Never the password. */
export interface ScramKeys {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export interface Credentials {
  'SCRAM-SHA-1': ScramKeys;
  'SCRAM-SHA-256': ScramKeys;
}

export interface Account {
  /** Normalised localpart. */
  username: string;
  host: string;
  credentials: Credentials;
  createdAt: number;
}

export interface AccountStore {
  get(host: string, username: string): Promise<Account | undefined>;
  /** Fails with AccountExistsError when the account exists. */
  create(host: string, username: string, credentials: Credentials): Promise<void>;
  /**
   * Replaces the credentials of an existing account; with `expected`, only while the stored ones are still exactly
   * those (a compare-and-set: a key upgrade computed from an old password must not undo a password change).
   */
  setCredentials(host: string, username: string, credentials: Credentials, expected?: Credentials): Promise<boolean>;
  /** Deletes the account row only; modules remove their own data on the 'account/deleted' event. */
  delete(host: string, username: string): Promise<boolean>;
  list(host: string): Promise<string[]>;
  /** Hosts with at least one account, with how many (a data directory reused for another domain shows here). */
  hosts(): Promise<{ host: string; accounts: number }[]>;
}

export class AccountExistsError extends Error {}

/**
 * One stored record in a backend-neutral form, for `parley storage copy`. Values are the JSON values the
 * stores hold; archive items come in append order, so a copy keeps paging order (XEP-0313 / XEP-0059).
 */
export type StorageRecord =
  | { shape: 'account'; host: string; username: string; credentials: Credentials; createdAt: number }
  | { shape: 'keyval'; store: string; owner: string; value: unknown }
  | { shape: 'map'; store: string; owner: string; key: string; value: unknown }
  | { shape: 'archive'; store: string; owner: string; item: ArchiveItem };

export interface Storage {
  readonly accounts: AccountStore;
  /** Stores are namespaced by name ("roster", "offline", "muc_rooms", ...). */
  keyval<T = unknown>(name: string): KeyValueStore<T>;
  map<T = unknown>(name: string): MapStore<T>;
  archive(name: string): ArchiveStore;
  /**
   * Runs `fn` alone for (`scope`, `owner`): a second call with the same pair waits until the first has
   * finished, in this process and, on a backend shared by several nodes (postgres), in every process. On
   * postgres the reads and writes `fn` makes for `owner` (any store) form one transaction holding a row lock:
   * they commit together when `fn` resolves and roll back when it throws. Not re-entrant: `fn` must not call
   * exclusive() for the same pair again.
   */
  exclusive<T>(scope: string, owner: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Resolves once every write this process issued before the call is durable (committed), including writes whose
   * promise nobody awaits (the message archive's). XEP-0198 acknowledgements wait for it (xep-0198-sm).
   */
  settled(): Promise<void>;
  /** Resolves when the backend answers (a round trip to the database server), rejects otherwise. */
  ping(): Promise<void>;
  /** Every record, by shape: accounts, keyval, map, then archive items in append order. */
  records(): AsyncIterable<StorageRecord>;
  /** Writes records as they are (account creation times and archive ids kept); an existing key is replaced, an existing archive id skipped. */
  restore(records: StorageRecord[]): Promise<void>;
  close(): Promise<void>;
}
