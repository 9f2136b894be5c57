// The roster cache holds online users only, and at most roster.cache_size of them: subscription requests and
// probes to any number of offline users (anyone may send those) must not grow memory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStorage } from '../../storage';
import { startTestServer, type TestServer } from '../../testing/harness';
import { RosterStore, type RosterItem } from './roster-store';

const ROSTER = 'jabber:iq:roster';

function storeWith(online: Set<string>, maxCached: number) {
  const storage = createMemoryStorage();
  const items = storage.map<RosterItem>('roster');
  const store = new RosterStore(items, storage.keyval<number>('roster_version'), () => {}, undefined, false, {
    maxCached,
    isOnline: (owner) => online.has(owner),
  });
  return { store, items };
}

describe('roster cache', () => {
  it('keeps nothing for users without a session, however many are probed', async () => {
    const { store, items } = storeWith(new Set(), 100);
    await items.set('juliet@example.com', 'romeo@example.com', { subscription: 'from', groups: [], visible: true });
    for (let i = 0; i < 5000; i++) await store.get(`user${i}@example.com`, 'romeo@example.com');
    assert.equal((await store.get('juliet@example.com', 'romeo@example.com'))?.subscription, 'from');
    assert.equal(store.cachedCount, 0);
  });

  it('is bounded by maxCached, evicting the least recently used roster', async () => {
    const online = new Set(Array.from({ length: 500 }, (_, i) => `user${i}@example.com`));
    const { store } = storeWith(online, 50);
    for (const owner of online) await store.load(owner);
    assert.equal(store.cachedCount, 50);

    const { store: small } = storeWith(new Set(['a@x', 'b@x', 'c@x', 'd@x']), 3);
    const a = small.load('a@x');
    const b = small.load('b@x');
    small.load('c@x');
    assert.equal(small.load('a@x'), a, 'a hit returns the cached roster');
    small.load('d@x'); // evicts b, the least recently used
    assert.equal(small.cachedCount, 3);
    assert.equal(small.load('a@x'), a);
    assert.notEqual(small.load('b@x'), b, 'b was evicted and is read again');
  });
});

describe('roster cache, end to end', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { options: { roster: { cache_size: 100 } } } } as never);
    for (const u of ['romeo', 'juliet', 'nurse']) await ts.createUser(u);
    for (let i = 0; i < 50; i++) await ts.createUser(`offline${i}`);
  });
  after(() => ts.stop());

  it('does not keep the rosters of offline users that subscription requests and probes loaded', async () => {
    const romeo = await ts.client('romeo');
    // Every request loads the offline user's roster (to record the pending request, RFC 6121 §3.1.3).
    for (let i = 0; i < 50; i++) await romeo.send(`<presence type='subscribe' to='offline${i}@localhost'/>`);
    await romeo.send(`<presence type='subscribe' to='juliet@localhost'/>`);
    await romeo.send(`<presence type='probe' to='juliet@localhost'/>`);
    await new Promise((r) => setTimeout(r, 300));
    // Something else writes juliet's roster in storage meanwhile (another process on the same database: the
    // `parley` CLI, a second worker). A cached copy kept since the request would hide it from her.
    await ts.running.server.storage.map<RosterItem>('roster').set('juliet@localhost', 'nurse@localhost', {
      subscription: 'none',
      groups: ['Household'],
      visible: true,
    });

    const juliet = await ts.client('juliet');
    const reply = await juliet.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    const jids = reply.getChild('query', ROSTER)!.getChildren('item').map((item) => item.attrs.jid);
    assert.ok(jids.includes('nurse@localhost'), `juliet's roster read from storage, got ${jids.join(', ')}`);
    // The pending request from romeo is still there, in storage: nothing was lost by not caching it.
    const stored = await ts.running.server.storage.map<RosterItem>('roster').get('offline7@localhost', 'romeo@localhost');
    assert.ok(stored?.pendingIn, 'the request is kept for offline7');
  });
});
