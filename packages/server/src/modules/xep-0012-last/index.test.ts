// XEP-0012 last activity: server uptime, and logout time and status of users for those allowed to see them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readStanzaError, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const condition = (iq: XmlElement) => (iq.attrs.type === 'error' ? readStanzaError(iq)?.condition : undefined);
const lastQuery = (to: string) => `<iq type='get' to='${to}'><query xmlns='jabber:iq:last'/></iq>`;

describe('last activity (XEP-0012)', () => {
  let ts: TestServer;
  let bob: TestClient;
  const roster = () => ts.running.server.storage.map<{ subscription: string; groups: string[]; visible: boolean }>('roster');
  const store = () => ts.running.server.storage.keyval<{ at: number; status: string }>('last_activity');

  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.createUser(u);
    // Written straight into the roster store the roster module keeps: bob may see alice's and carol's
    // presence ('from' and 'both' from their side), dave only has a 'to' entry with alice.
    await roster().set('alice@localhost', 'bob@localhost', { subscription: 'from', groups: [], visible: true });
    await roster().set('carol@localhost', 'bob@localhost', { subscription: 'both', groups: [], visible: true });
    await roster().set('alice@localhost', 'dave@localhost', { subscription: 'to', groups: [], visible: true });
    bob = await ts.client('bob');
  });
  after(() => ts.stop());

  it('answers the server uptime in seconds, without text (§5)', async () => {
    const res = await bob.iq(lastQuery('localhost'));
    const q = res.getChild('query', 'jabber:iq:last')!;
    assert.match(q.attrs.seconds!, /^\d+$/);
    // The reply was computed a moment before this line runs: it may be one second behind, never ahead.
    const now = Math.floor((Date.now() - ts.running.server.startedAt) / 1000);
    assert.ok(Number(q.attrs.seconds) <= now && Number(q.attrs.seconds) >= now - 1, `${q.attrs.seconds} vs ${now}`);
    assert.equal(q.text(), '');
  });

  it("answers seconds='0' while the user has an available resource (§3)", async () => {
    const alice = await ts.client('alice', { resource: 'online' });
    const res = await bob.iq(lastQuery('alice@localhost'));
    assert.equal(res.getChild('query')!.toString(), `<query xmlns='jabber:iq:last' seconds='0'/>`);
    const own = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:last'/></iq>`);
    assert.equal(own.getChild('query')!.attrs.seconds, '0');
    await alice.stop();
  });

  it('records the logout and the status of the last unavailable presence (§3)', async () => {
    const alice = await ts.client('alice', { resource: 'leaving' });
    await alice.send(`<presence type='unavailable'><status>Heading Home</status></presence>`);
    await alice.stop();
    let res: XmlElement;
    for (let i = 0; ; i++) {
      res = await bob.iq(lastQuery('alice@localhost'));
      if (res.getChild('query')?.text() === 'Heading Home' || i === 50) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const q = res.getChild('query')!;
    assert.equal(q.text(), 'Heading Home');
    assert.ok(Number(q.attrs.seconds) <= 1);
    // The seconds count from the recorded logout.
    await store().set('alice@localhost', { at: Date.now() - 903_000, status: 'Heading Home' });
    const later = await bob.iq(lastQuery('alice@localhost'));
    assert.equal(later.getChild('query')!.toString(), `<query xmlns='jabber:iq:last' seconds='903'>Heading Home</query>`);
  });

  it('forgets the status when the user came back available before leaving', async () => {
    const alice = await ts.client('alice', { resource: 'again' });
    await alice.send(`<presence type='unavailable'><status>brb</status></presence>`);
    await alice.send(`<presence/>`);
    await alice.stop();
    let recorded: { at: number; status: string } | undefined;
    for (let i = 0; i < 50; i++) {
      recorded = await store().get('alice@localhost');
      if (recorded && Date.now() - recorded.at < 60_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(recorded?.status, '');
    const res = await bob.iq(lastQuery('alice@localhost'));
    assert.equal(res.getChild('query')!.toString(), `<query xmlns='jabber:iq:last' seconds='0'/>`);
  });

  it("is forbidden to those who may not see the user's presence, existing user or not (§3, §8)", async () => {
    const dave = await ts.client('dave');
    const toAlice = await dave.iq(lastQuery('alice@localhost'));
    assert.equal(condition(toAlice), 'forbidden');
    const toNobody = await dave.iq(lastQuery('nobody@localhost'));
    assert.equal(condition(toNobody), 'forbidden');
    assert.equal(toAlice.getChild('error')!.toString(), toNobody.getChild('error')!.toString());
  });

  it('answers item-not-found to an allowed requester when no logout was ever recorded', async () => {
    const res = await bob.iq(lastQuery('carol@localhost'));
    assert.equal(condition(res), 'item-not-found');
  });

  it('deletes the record with the account', async () => {
    await store().set('dave@localhost', { at: Date.now(), status: '' });
    await ts.running.server.accounts.delete('dave');
    assert.equal(await store().get('dave@localhost'), undefined);
  });
});
