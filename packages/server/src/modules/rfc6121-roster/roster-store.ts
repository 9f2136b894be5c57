// Roster items with their subscription state (RFC 6121 §2.1.2), cached for online users because every
// presence broadcast reads the roster, and persisted through the 'roster' map store (write-through).
// Only users with a session are cached: probes and subscription requests to offline users (anyone can send
// those, to any number of users) read storage each time instead of filling memory, and the cache is an LRU
// bounded by roster.cache_size, so even many online users (or cluster mirrors) cannot grow it without end.
import type { KeyValueStore, MapStore } from '../../storage/types';
import { KeyedQueue } from '../../core/keyed-queue';

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  name?: string;
  groups: string[];
  subscription: Subscription;
  /** Outbound request pending (RFC 6121 §3.1.2, "None + Pending Out"). */
  ask?: boolean;
  /** Inbound request pending, with the stanza to redeliver until answered (§3.1.3). */
  pendingIn?: string;
  /** Subscription pre-approved by the user (§3.4). */
  approved?: boolean;
  /** False for entries the user never added: only a pending inbound request (§3.1.3: not in the roster yet). */
  visible: boolean;
}

export type Roster = Map<string, RosterItem>;

export interface RosterCacheOptions {
  /** Rosters kept in memory at most; past it the least recently used one goes (read again from storage when needed). */
  maxCached: number;
  /** Whether the user (bare JID string) has a session: only their rosters are worth keeping. */
  isOnline: (owner: string) => boolean;
}

export class RosterStore {
  /** Least recently used first: a Map iterates in insertion order, and a hit re-inserts its entry. */
  private readonly cache = new Map<string, Promise<Roster>>();
  /** Writes to one roster run in order (the version counter is read, incremented and written). */
  private readonly writes = new KeyedQueue();
  /** Rosters inside an exclusive() section, and those of them written there (told to the cluster on commit). */
  private readonly sections = new Map<string, { written: boolean }>();

  constructor(
    private readonly items: MapStore<RosterItem>,
    private readonly versions: KeyValueStore<number>,
    /** Told after a roster was written (cluster nodes caching it drop their copy). */
    private readonly changed: (owner: string) => void = () => {},
    /**
     * Runs a read-modify-write of one roster alone (Storage.exclusive): in this process by default, across
     * every node sharing the database on postgres.
     */
    private readonly lock: <T>(owner: string, fn: () => Promise<T>) => Promise<T> = inProcessLock(),
    /** Other nodes write this storage too: the cache may be stale when a section starts. */
    private readonly shared = false,
    private readonly caching: RosterCacheOptions = { maxCached: Number.POSITIVE_INFINITY, isOnline: () => true },
  ) {}

  /** The whole roster of a user (bare JID string): from the cache, or read from storage (and cached if online). */
  load(owner: string): Promise<Roster> {
    const cached = this.cache.get(owner);
    if (cached) {
      this.cache.delete(owner);
      this.cache.set(owner, cached);
      return cached;
    }
    const r = this.items.getAll(owner);
    if (!this.caching.isOnline(owner)) return r;
    this.cache.set(owner, r);
    r.catch(() => {
      if (this.cache.get(owner) === r) this.cache.delete(owner);
    });
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= this.caching.maxCached) break;
      this.cache.delete(oldest);
    }
    return r;
  }

  /** How many rosters are in memory now. */
  get cachedCount(): number {
    return this.cache.size;
  }

  async get(owner: string, contact: string): Promise<RosterItem | undefined> {
    return (await this.load(owner)).get(contact);
  }

  /**
   * Saves (or, with undefined, removes) an item and bumps the roster version (XEP-0237). Changes to one roster
   * are applied one at a time: two concurrent read-increment-writes of the counter would hand two different
   * rosters the same version, and a client caching one would never learn about the other (RFC 6121 §2.6).
   */
  put(owner: string, contact: string, item: RosterItem | undefined): Promise<number> {
    return this.writes.run(owner, async () => {
      const roster = await this.load(owner);
      if (item) roster.set(contact, item);
      else roster.delete(contact);
      await this.items.set(owner, contact, item);
      const version = ((await this.versions.get(owner)) ?? 0) + 1;
      await this.versions.set(owner, version);
      const section = this.sections.get(owner);
      if (section) section.written = true;
      else this.changed(owner);
      return version;
    });
  }

  /**
   * Runs a read-modify-write of one user's roster alone: a subscription stanza and a roster set (or two
   * crossing subscription requests) interleaving at an await would otherwise lose one change.
   */
  exclusive<T>(owner: string, fn: () => Promise<T>): Promise<T> {
    const section = { written: false };
    return this.lock(owner, async () => {
      // Another node may have written this roster since we cached it, and its cache invalidation may still be
      // on its way; inside the section the database is current and nobody else changes it.
      if (this.shared) this.cache.delete(owner);
      this.sections.set(owner, section);
      try {
        return await fn();
      } catch (err) {
        // On postgres the section's writes rolled back: the cache may hold what never committed.
        this.cache.delete(owner);
        throw err;
      } finally {
        this.sections.delete(owner);
      }
    }).finally(() => {
      // Only once committed: a node told earlier could reload the roster before our commit and keep the old one.
      if (section.written) this.changed(owner);
    });
  }

  async version(owner: string): Promise<number> {
    return (await this.versions.get(owner)) ?? 0;
  }

  /** Drops the cache of a user with no sessions left, so memory follows the online population. */
  evict(owner: string): void {
    this.cache.delete(owner);
  }

  /** Another node changed this roster in storage: read it again on next use. */
  forget(owner: string): void {
    this.cache.delete(owner);
  }

  async deleteAll(owner: string): Promise<void> {
    this.cache.delete(owner);
    await this.items.deleteAll(owner);
    await this.versions.set(owner, undefined);
    this.changed(owner);
  }
}

function inProcessLock(): <T>(owner: string, fn: () => Promise<T>) => Promise<T> {
  const queue = new KeyedQueue();
  return (owner, fn) => queue.run(owner, fn);
}

/** RFC 6121 Appendix A: does the contact receive the user's presence? */
export function sendsPresenceTo(item: RosterItem | undefined): boolean {
  return item?.subscription === 'from' || item?.subscription === 'both';
}

/** Does the user receive the contact's presence? */
export function receivesPresenceFrom(item: RosterItem | undefined): boolean {
  return item?.subscription === 'to' || item?.subscription === 'both';
}
