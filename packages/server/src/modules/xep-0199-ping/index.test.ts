// XEP-0199 pings to the server, to one's own bare JID, to other users and to full JIDs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readStanzaError, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const condition = (iq: XmlElement) => (iq.attrs.type === 'error' ? readStanzaError(iq)?.condition : undefined);

describe('XMPP ping (XEP-0199)', () => {
  let ts: TestServer;
  let alice: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
    alice = await ts.client('alice');
  });
  after(() => ts.stop());

  it('pongs a client-to-server ping (§4.2)', async () => {
    const res = await alice.iq(`<iq type='get' to='localhost' id='c2s1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(res.toString(), `<iq type='result' id='c2s1' from='localhost' to='${alice.jid}'/>`);
  });

  it("pongs a ping to one's own bare JID or without 'to' (§4.2 note)", async () => {
    const bare = await alice.iq(`<iq type='get' to='alice@localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(bare.attrs.type, 'result');
    assert.equal(bare.attrs.from, 'alice@localhost');
    const none = await alice.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(none.attrs.type, 'result');
  });

  it("answers pings to other users' bare JIDs like pings to unknown ones: service-unavailable (§4.4, §7)", async () => {
    const other = await alice.iq(`<iq type='get' to='bob@localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const unknown = await alice.iq(`<iq type='get' to='nobody@localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(condition(other), 'service-unavailable');
    assert.equal(condition(unknown), 'service-unavailable');
    assert.equal(other.getChild('error')!.toString(), unknown.getChild('error')!.toString());
  });

  it('routes end-to-end pings to the full JID (§4.4) and answers for a missing resource', async () => {
    const bob = await ts.client('bob', { resource: 'phone' });
    const pending = alice.iq(`<iq type='get' to='${bob.jid}' id='e2e1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const req = await bob.waitFor((el) => el.name === 'iq' && el.attrs.id === 'e2e1');
    assert.equal(req.attrs.from, alice.jid);
    await bob.send(`<iq type='result' to='${alice.jid}' id='e2e1'/>`);
    assert.equal((await pending).attrs.from, bob.jid);
    // §7: no such resource → service-unavailable from the full JID.
    const gone = await alice.iq(`<iq type='get' to='bob@localhost/gone'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(condition(gone), 'service-unavailable');
    assert.equal(gone.attrs.from, 'bob@localhost/gone');
  });

  it('advertises urn:xmpp:ping on the server only (§5)', async () => {
    const host = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(host.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'urn:xmpp:ping'));
    const account = await alice.iq(`<iq type='get' to='bob@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(!account.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'urn:xmpp:ping'));
  });
});
