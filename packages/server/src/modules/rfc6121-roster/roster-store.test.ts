// RosterStore unit tests: roster versioning (RFC 6121 §2.6) under concurrent changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStorage } from '../../storage';
import { RosterStore, type RosterItem } from './roster-store';

test('RFC 6121 §2.6.1: concurrent changes to one roster each get their own version', async () => {
  const storage = createMemoryStorage();
  const store = new RosterStore(storage.map<RosterItem>('roster'), storage.keyval<number>('roster_version'));
  const owner = 'juliet@example.com';
  // Two contacts' subscription stanzas (or a roster set and a subscription) processed at the same time.
  const versions = await Promise.all(
    Array.from({ length: 10 }, (_, i) => store.put(owner, `c${i}@example.net`, { subscription: 'none', groups: [], visible: true })),
  );
  assert.equal(new Set(versions).size, 10, `duplicate versions: ${versions.join(',')}`);
  assert.equal(await store.version(owner), 10);
  assert.equal((await store.load(owner)).size, 10);
});
