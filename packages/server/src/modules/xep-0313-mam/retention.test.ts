// XEP-0313 §3.2 retention: mam.max_age_days removes old items from user and room archives.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStorage } from '../../storage';
import { silentLogger } from '../../log';
import type { ModuleContext } from '../../core/module-api';
import { sweep } from './retention';

const DAY = 24 * 60 * 60 * 1000;

describe('XEP-0313 archive retention', () => {
  it('deletes items older than max_age_days from user and room archives', async () => {
    const storage = createMemoryStorage();
    const users = storage.archive('mam');
    const rooms = storage.archive('muc_history');
    const roomList = storage.map<unknown>('muc_rooms');
    await roomList.set('lobby@conference.localhost', 'state', {});
    const now = Date.UTC(2025, 0, 31);
    await users.append('alice@localhost', { when: now - 40 * DAY, with: 'bob@localhost', payload: '<message/>' });
    const keep = await users.append('alice@localhost', { when: now - 10 * DAY, with: 'bob@localhost', payload: '<message/>' });
    await rooms.append('lobby@conference.localhost', { when: now - 31 * DAY, payload: '<message/>' });
    const keepRoom = await rooms.append('lobby@conference.localhost', { when: now - DAY, payload: '<message/>' });
    const ctx = {
      log: silentLogger(),
      server: { domain: 'localhost', accounts: { list: async () => ['alice'] } },
    } as unknown as ModuleContext<unknown>;
    assert.equal(await sweep(ctx, { users, rooms, roomList }, 0, now), 0);
    assert.equal(await sweep(ctx, { users, rooms, roomList }, 30, now), 2);
    assert.deepEqual((await users.query('alice@localhost')).items.map((i) => i.id), [keep]);
    assert.deepEqual((await rooms.query('lobby@conference.localhost')).items.map((i) => i.id), [keepRoom]);
  });
});
