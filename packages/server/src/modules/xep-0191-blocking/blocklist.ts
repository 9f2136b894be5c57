// XEP-0191 storage and matching. A blocklist is a MapStore 'blocklist' (owner: the user's bare JID, key: the
// blocked JID as normalised text, value: true). Every stanza to or from a user consults it, so the lists of
// users with a session stay in memory; for everyone else the store is read on demand.
import type { Jid } from '@parley/protocol';
import type { MapStore } from '../../storage/types';
import type { SessionTable } from '../../core/sessions';

/** XEP-0191 §6 (as XEP-0016): full JID, bare JID, domain/resource, domain (which covers its subdomains). */
export function isBlocked(list: ReadonlySet<string>, jid: Jid): boolean {
  if (list.size === 0) return false;
  // An exact entry: user@domain/resource, user@domain for a bare address, or domain/resource.
  if (list.has(jid.toString())) return true;
  // user@domain covers every resource.
  if (jid.local !== undefined && list.has(jid.toBareString())) return true;
  // domain covers everything at it, and any address at one of its subdomains.
  let domain = jid.domain;
  for (;;) {
    if (list.has(domain)) return true;
    const dot = domain.indexOf('.');
    if (dot === -1) return false;
    domain = domain.slice(dot + 1);
  }
}

export class Blocklists {
  private readonly cache = new Map<string, Set<string>>();
  private readonly loading = new Map<string, Promise<Set<string>>>();

  constructor(
    private readonly store: MapStore<true>,
    private readonly sessions: SessionTable,
    /** Told after a list was written (cluster nodes caching it drop their copy). */
    private readonly changed: (owner: string) => void = () => {},
  ) {}

  /** Another node changed this list in storage: read it again on next use. */
  forget(owner: string): void {
    this.cache.delete(owner);
  }

  /** The owner's list; callers must not change it (use block/unblock). */
  get(owner: string): Promise<ReadonlySet<string>> {
    return this.load(owner);
  }

  private load(owner: string): Promise<Set<string>> {
    const cached = this.cache.get(owner);
    if (cached) return Promise.resolve(cached);
    let pending = this.loading.get(owner);
    if (!pending) {
      pending = this.store.getAll(owner).then(
        (entries) => {
          this.loading.delete(owner);
          const list = new Set(entries.keys());
          if (this.sessions.hasAccount(owner)) this.cache.set(owner, list);
          return list;
        },
        (err: unknown) => {
          this.loading.delete(owner);
          throw err;
        },
      );
      this.loading.set(owner, pending);
    }
    return pending;
  }

  /** Adds entries, each stored before it is remembered, so memory never claims more than is durable. */
  async block(owner: string, jids: string[]): Promise<void> {
    const list = await this.load(owner);
    for (const jid of jids) {
      if (list.has(jid)) continue;
      await this.store.set(owner, jid, true);
      list.add(jid);
    }
    this.changed(owner);
  }

  async unblock(owner: string, jids: string[]): Promise<void> {
    const list = await this.load(owner);
    for (const jid of jids) {
      if (!list.has(jid)) continue;
      await this.store.set(owner, jid, undefined);
      list.delete(jid);
    }
    this.changed(owner);
  }

  /** Empties the list; returns what it held. */
  async unblockAll(owner: string): Promise<string[]> {
    const list = await this.load(owner);
    const previous = [...list];
    await this.store.deleteAll(owner);
    list.clear();
    this.changed(owner);
    return previous;
  }

  /** Forgets the in-memory copy once the user has no session left. */
  evict(owner: string): void {
    if (!this.sessions.hasAccount(owner)) this.cache.delete(owner);
  }

  async deleteAll(owner: string): Promise<void> {
    this.cache.delete(owner);
    await this.store.deleteAll(owner);
    this.changed(owner);
  }
}
