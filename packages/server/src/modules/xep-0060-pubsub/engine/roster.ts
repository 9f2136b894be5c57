// Roster lookups for the presence and roster access models (XEP-0060 §4.5). The roster module persists
// rosters in the map store 'roster' (owner = account bare JID, key = contact bare JID); reading the store
// directly keeps the modules independent (no import of the roster module's files).
import type { MapStore } from '../../../storage/types';
import type { RosterEntry } from './engine';

interface StoredRosterItem {
  subscription?: RosterEntry['subscription'];
  groups?: string[];
}

export function rosterReader(store: MapStore<StoredRosterItem>): (owner: string) => Promise<Map<string, RosterEntry>> {
  return async (owner) => {
    const out = new Map<string, RosterEntry>();
    for (const [contact, item] of await store.getAll(owner)) {
      out.set(contact, { subscription: item.subscription ?? 'none', groups: item.groups ?? [] });
    }
    return out;
  };
}
