// Crossing subscription requests (both users subscribe and approve at the same moment) must end mutual:
// a lost update here left 15 of 2,000 benchmark rosters one-sided.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';

describe('roster concurrency', () => {
  let ts: TestServer;
  before(async () => {
    // SQLite, as in production: its group commit widens the window between reading and writing an item.
    ts = await startTestServer({ storage: { backend: 'sqlite' } } as never);
    for (let i = 0; i < 20; i++) await ts.createUser(`p${i}`);
  });
  after(() => ts.stop());

  it('crossing subscribe/subscribed between ten pairs all end in subscription both', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => ts.raw().then(async (r) => (await r.login(`p${i}`), r))));
    const pairs = Array.from({ length: 10 }, (_, k) => [2 * k, 2 * k + 1] as const);
    for (const [a, b] of pairs) {
      clients[a]!.write(`<presence to='p${b}@localhost' type='subscribe'/><presence to='p${b}@localhost' type='subscribed'/>`);
      clients[b]!.write(`<presence to='p${a}@localhost' type='subscribe'/><presence to='p${a}@localhost' type='subscribed'/>`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const roster = ts.running.server.storage.map<{ subscription: string }>('roster');
    for (const [a, b] of pairs) {
      assert.equal((await roster.get(`p${a}@localhost`, `p${b}@localhost`))?.subscription, 'both', `p${a} → p${b}`);
      assert.equal((await roster.get(`p${b}@localhost`, `p${a}@localhost`))?.subscription, 'both', `p${b} → p${a}`);
    }
  });
});
