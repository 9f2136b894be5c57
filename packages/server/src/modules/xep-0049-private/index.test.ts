// XEP-0049 private XML storage end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readStanzaError, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const condition = (iq: XmlElement) => (iq.attrs.type === 'error' ? readStanzaError(iq)?.condition : undefined);
const query = (iq: XmlElement) => iq.getChild('query', 'jabber:iq:private')!.toString();

describe('private XML storage (XEP-0049)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
    alice = await ts.client('alice');
    bob = await ts.client('bob');
  });
  after(() => ts.stop());

  it('stores a fragment and returns it (§2.3)', async () => {
    const set = await alice.iq(`<iq type='set'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus></query></iq>`);
    assert.equal(set.attrs.type, 'result');
    const get = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`);
    assert.equal(query(get), `<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus></query>`);
    // Addressed to the own bare JID works the same.
    const bare = await alice.iq(`<iq type='get' to='alice@localhost'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`);
    assert.equal(bare.getChild('query')!.getChild('exodus')!.getChildText('defaultnick'), 'Hamlet');
  });

  it('returns the requested element empty when nothing is stored', async () => {
    const get = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`);
    assert.equal(query(get), `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>`);
  });

  it('stores several fragments in one set, keyed by element name and namespace, replacing older ones', async () => {
    const set = await alice.iq(
      `<iq type='set'><query xmlns='jabber:iq:private'>` +
        `<storage xmlns='storage:bookmarks'><conference jid='lobby@conference.localhost' autojoin='true'/></storage>` +
        `<storage xmlns='storage:rosternotes'><note jid='bob@localhost'>friend</note></storage>` +
        `<exodus xmlns='exodus:prefs'><defaultnick>Ophelia</defaultnick></exodus>` +
        `</query></iq>`,
    );
    assert.equal(set.attrs.type, 'result');
    const bookmarks = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`);
    assert.equal(query(bookmarks), `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='lobby@conference.localhost' autojoin='true'/></storage></query>`);
    const notes = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><storage xmlns='storage:rosternotes'/></query></iq>`);
    assert.equal(notes.getChild('query')!.getChild('storage')!.getChildText('note'), 'friend');
    const prefs = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`);
    assert.equal(prefs.getChild('query')!.getChild('exodus')!.getChildText('defaultnick'), 'Ophelia');
  });

  it("forbids reading or writing another user's data (§3), existing or not", async () => {
    for (const to of ['alice@localhost', 'nobody@localhost']) {
      const get = await bob.iq(`<iq type='get' to='${to}'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`);
      assert.equal(condition(get), 'forbidden');
      const set = await bob.iq(`<iq type='set' to='${to}'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Macbeth</defaultnick></exodus></query></iq>`);
      assert.equal(condition(set), 'forbidden');
    }
    const prefs = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`);
    assert.equal(prefs.getChild('query')!.getChild('exodus')!.getChildText('defaultnick'), 'Ophelia');
  });

  it('refuses reserved namespaces and fragments without a namespace with not-acceptable (§2.3)', async () => {
    for (const child of [
      `<query xmlns='jabber:iq:roster'/>`,
      `<query xmlns='jabber:iq:private'/>`,
      `<message xmlns='jabber:client'/>`,
      `<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>`,
      `<x xmlns='http://jabber.org/protocol/muc'/>`,
      `<prefs/>`,
    ]) {
      for (const type of ['get', 'set']) {
        const res = await alice.iq(`<iq type='${type}'><query xmlns='jabber:iq:private'>${child}</query></iq>`);
        assert.equal(condition(res), 'not-acceptable', `${type} ${child}`);
      }
    }
  });

  it('stores nothing from a set with one bad fragment', async () => {
    const res = await alice.iq(`<iq type='set'><query xmlns='jabber:iq:private'><a xmlns='urn:test:a'/><b xmlns='jabber:iq:last'/></query></iq>`);
    assert.equal(condition(res), 'not-acceptable');
    const a = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><a xmlns='urn:test:a'/></query></iq>`);
    assert.equal(query(a), `<query xmlns='jabber:iq:private'><a xmlns='urn:test:a'/></query>`);
  });

  it('needs exactly one child in a get (bad-request) and at least one in a set (not-acceptable)', async () => {
    assert.equal(condition(await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'/></iq>`)), 'bad-request');
    assert.equal(condition(await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>`)), 'bad-request');
    assert.equal(condition(await alice.iq(`<iq type='set'><query xmlns='jabber:iq:private'/></iq>`)), 'not-acceptable');
  });

  it("deletes the user's data with the account", async () => {
    const store = ts.running.server.storage.map('private');
    assert.ok((await store.getAll('alice@localhost')).size > 0);
    await ts.running.server.accounts.delete('alice');
    assert.equal((await store.getAll('alice@localhost')).size, 0);
  });
});
