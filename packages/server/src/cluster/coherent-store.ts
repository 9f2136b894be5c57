// A map store whose writes tell the other cluster nodes which owner changed, for modules that cache what they
// read (pubsub nodes and items of PEP services): the cache on other nodes drops that owner and reads again.
import type { MapStore } from '../storage/types';
import type { Cluster } from './types';

export function coherentMapStore<T>(cluster: Cluster, topic: string, store: MapStore<T>): MapStore<T> {
  if (!cluster.enabled) return store;
  return {
    get: (owner, key) => store.get(owner, key),
    getAll: (owner) => store.getAll(owner),
    owners: () => store.owners(),
    async set(owner, key, value) {
      await store.set(owner, key, value);
      cluster.invalidate(topic, owner);
    },
    async deleteAll(owner) {
      await store.deleteAll(owner);
      cluster.invalidate(topic, owner);
    },
  };
}
