// Persistence of pubsub data, write-through with in-memory caches for the hot paths (publish, notify).
// Nodes (config, affiliations, subscriptions) live in the map store `<prefix>_nodes`, owner = the service
// address (the pubsub domain, or the account's bare JID for PEP), key = node name. Items live in the map
// store `<prefix>_items`, owner = "<service> <node>" (a space cannot occur in a JID), key = item id; each
// item carries a publish sequence number, so a node's items load in publish order and max_items eviction
// drops the oldest entry of an insertion-ordered Map: O(1) per publish, no scan of the store.
import type { MapStore } from '../../../storage/types';
import type { NodeRecord, StoredItem } from './types';

export class NodeStore {
  private readonly cache = new Map<string, Promise<Map<string, NodeRecord>>>();

  constructor(private readonly store: MapStore<NodeRecord>) {}

  /** All nodes of a service, loaded once. */
  all(service: string): Promise<Map<string, NodeRecord>> {
    let p = this.cache.get(service);
    if (!p) {
      p = this.store.getAll(service);
      this.cache.set(service, p);
      p.catch(() => this.cache.delete(service));
    }
    return p;
  }

  async get(service: string, node: string): Promise<NodeRecord | undefined> {
    return (await this.all(service)).get(node);
  }

  async save(service: string, node: NodeRecord): Promise<void> {
    (await this.all(service)).set(node.name, node);
    await this.store.set(service, node.name, node);
  }

  async delete(service: string, node: string): Promise<void> {
    (await this.all(service)).delete(node);
    await this.store.set(service, node, undefined);
  }

  async deleteAll(service: string): Promise<void> {
    this.cache.delete(service);
    await this.store.deleteAll(service);
  }

  /** Drops the cache of a service (an account that went offline), so memory follows the online population. */
  evict(service: string): void {
    this.cache.delete(service);
  }

  /** Another cluster node wrote this service's nodes: read them again on next use. */
  forget(service: string): void {
    this.cache.delete(service);
  }
}

export class ItemStore {
  /** "<service> <node>" → items in publish order, oldest first. */
  private readonly cache = new Map<string, Promise<Map<string, StoredItem>>>();
  private seq = Date.now() * 1000;

  constructor(private readonly store: MapStore<StoredItem>) {}

  private static key(service: string, node: string): string {
    return `${service} ${node}`;
  }

  /** A node's items in publish order (oldest first). */
  items(service: string, node: string): Promise<Map<string, StoredItem>> {
    const key = ItemStore.key(service, node);
    let p = this.cache.get(key);
    if (!p) {
      p = this.store.getAll(key).then((all) => new Map([...all.values()].sort((a, b) => a.seq - b.seq).map((i) => [i.id, i])));
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  async last(service: string, node: string): Promise<StoredItem | undefined> {
    let last: StoredItem | undefined;
    for (const item of (await this.items(service, node)).values()) last = item;
    return last;
  }

  /** Stores an item (replacing one with the same id, §7.1.2) and evicts the oldest beyond max; returns the evicted ids. */
  async put(service: string, node: string, item: Omit<StoredItem, 'seq'>, max: number, persist: boolean): Promise<string[]> {
    const items = await this.items(service, node);
    const key = ItemStore.key(service, node);
    const stored: StoredItem = { ...item, seq: ++this.seq };
    items.delete(item.id);
    items.set(item.id, stored);
    const evicted: string[] = [];
    // §7.1.2 / §16.4.4: a transient node (persist_items false) keeps only the last item for send_last_published_item.
    const limit = persist ? Math.max(max, 0) : 1;
    for (const id of items.keys()) {
      if (items.size <= limit) break;
      items.delete(id);
      evicted.push(id);
    }
    if (items.has(item.id)) await this.store.set(key, item.id, stored);
    for (const id of evicted) await this.store.set(key, id, undefined);
    return evicted;
  }

  /** Trims a node after max_items was lowered (§8.2). */
  async trim(service: string, node: string, max: number): Promise<void> {
    const items = await this.items(service, node);
    for (const id of [...items.keys()]) {
      if (items.size <= max) break;
      items.delete(id);
      await this.store.set(ItemStore.key(service, node), id, undefined);
    }
  }

  async retract(service: string, node: string, id: string): Promise<boolean> {
    const items = await this.items(service, node);
    if (!items.delete(id)) return false;
    await this.store.set(ItemStore.key(service, node), id, undefined);
    return true;
  }

  async purge(service: string, node: string): Promise<void> {
    (await this.items(service, node)).clear();
    await this.store.deleteAll(ItemStore.key(service, node));
  }

  async drop(service: string, node: string): Promise<void> {
    this.cache.delete(ItemStore.key(service, node));
    await this.store.deleteAll(ItemStore.key(service, node));
  }

  evict(service: string, node: string): void {
    this.cache.delete(ItemStore.key(service, node));
  }

  /** Another cluster node wrote items under this store owner ("<service> <node>"): read them again on next use. */
  forget(owner: string): void {
    this.cache.delete(owner);
  }
}
