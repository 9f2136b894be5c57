// Namespace prefixes (XML-NAMES; RFC 6120 §11.2) against a running server: elements a client writes with a prefix
// of its own choosing are in their namespace like any other, so every filter that strips or refuses by namespace
// catches them. Each forged element carries a marker that must never reach the other user, whichever form the
// server would have relayed it in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestClient, type TestServer } from '../testing/harness';
import { MUC_USER, SERVICE, createRoom, joinFully, messageFrom, next, presenceFrom } from '../modules/xep-0045-muc/test-helpers';

const OCCUPANT_ID = 'urn:xmpp:occupant-id:0';
const SID = 'urn:xmpp:sid:0';
const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';

describe('namespace prefixes cannot smuggle elements past filters', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  const room = `prefixes@${SERVICE}`;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('alice');
    await ts.createUser('bob');
    alice = await ts.client('alice', { resource: 'desk' });
    bob = await ts.client('bob', { resource: 'phone' });
    await createRoom(alice, 'prefixes', 'Alice');
  });
  after(() => ts.stop());

  it("XEP-0045: a prefixed muc#user <x/> with a forged owner item in a join presence is the room's to write, not the occupant's", async () => {
    const seen = next(alice, presenceFrom(`${room}/Bob`));
    await joinFully(
      bob,
      'prefixes',
      'Bob',
      `<x xmlns='http://jabber.org/protocol/muc'/><u:x xmlns:u='${MUC_USER}'><u:item affiliation='owner' role='moderator' jid='forged-owner@localhost'/></u:x>`,
    );
    const p = await seen;
    assert.doesNotMatch(p.toString(), /forged-owner|affiliation='owner'/);
    const items = p.getChildren('x', MUC_USER).map((x) => x.getChild('item')?.attrs);
    assert.deepEqual(items.map((i) => [i?.affiliation, i?.role]), [['none', 'participant']]);
  });

  it('XEP-0421: a prefixed forged occupant-id in a groupchat message is replaced by the room', async () => {
    const got = next(alice, (el) => messageFrom(`${room}/Bob`)(el) && el.getChildText('body') === 'occupant');
    await bob.send(
      `<message to='${room}' type='groupchat'><body>occupant</body><o:occupant-id xmlns:o='${OCCUPANT_ID}' id='forged-occupant'/></message>`,
    );
    const m = await got;
    assert.doesNotMatch(m.toString(), /forged-occupant/);
    assert.equal(m.getChildren('occupant-id', OCCUPANT_ID).length, 1);
  });

  it("XEP-0359: a prefixed stanza-id 'by' the room in a groupchat message is removed", async () => {
    const got = next(alice, (el) => messageFrom(`${room}/Bob`)(el) && el.getChildText('body') === 'sid');
    await bob.send(`<message to='${room}' type='groupchat'><body>sid</body><s:stanza-id xmlns:s='${SID}' by='${room}' id='forged-room-sid'/></message>`);
    const m = await got;
    assert.doesNotMatch(m.toString(), /forged-room-sid/);
  });

  it('XEP-0045 §7.5: a prefixed muc#user <x/> in a private message is not relayed', async () => {
    const got = next(alice, (el) => messageFrom(`${room}/Bob`)(el) && el.getChildText('body') === 'pm');
    await bob.send(
      `<message to='${room}/Alice' type='chat'><body>pm</body><u:x xmlns:u='${MUC_USER}'><u:item affiliation='owner' jid='forged-pm@localhost'/></u:x></message>`,
    );
    const m = await got;
    assert.doesNotMatch(m.toString(), /forged-pm/);
  });

  it("XEP-0359: a prefixed stanza-id 'by' the recipient's archive in a chat message is removed", async () => {
    const got = next(alice, (el) => el.name === 'message' && el.getChildText('body') === 'direct sid');
    await bob.send(
      `<message to='${alice.jid}' type='chat'><body>direct sid</body><s:stanza-id xmlns:s='${SID}' by='alice@localhost' id='forged-user-sid'/></message>`,
    );
    const m = await got;
    assert.doesNotMatch(m.toString(), /forged-user-sid/);
  });

  it('XEP-0280 §11: a carbon forged with prefixes by another user is dropped', async () => {
    const start = alice.received.length;
    await bob.send(
      `<message to='alice@localhost' type='chat'><c:sent xmlns:c='${CARBONS}'><f:forwarded xmlns:f='${FORWARD}'>` +
        `<message xmlns='jabber:client' from='alice@localhost/desk' to='carol@localhost' type='chat'><body>forged-carbon</body></message>` +
        `</f:forwarded></c:sent></message>`,
    );
    await bob.send(`<message to='${alice.jid}' type='chat'><body>after carbon</body></message>`);
    await alice.waitFor((el) => el.getChildText('body') === 'after carbon');
    assert.deepEqual(alice.received.slice(start).filter((el) => el.toString().includes('forged-carbon')), []);
  });

  it('a stanza written with a prefix for jabber:client is an ordinary stanza', async () => {
    const got = next(alice, (el) => el.name === 'message' && el.getChildText('body') === 'prefixed stanza');
    await bob.send(`<cl:message xmlns:cl='jabber:client' to='${alice.jid}' type='chat'><cl:body>prefixed stanza</cl:body></cl:message>`);
    const m = await got;
    assert.equal(m.attrs.from, bob.jid);
  });

  it('RFC 6120 §4.9.3.13: an element with an unbound prefix closes the stream with not-well-formed', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'unbound');
    const start = alice.received.length;
    r.write(`<message to='${alice.jid}'><body>unbound</body><u:x><u:item affiliation='owner'/></u:x></message>`);
    await r.waitClosed();
    assert.match(r.data, /<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(alice.received.slice(start).filter((el) => el.toString().includes('unbound')), []);
  });

  it('RFC 6120 §4.9.3.13: an attribute with an unbound prefix closes the stream with not-well-formed', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'unbound-attr');
    r.write(`<message to='${alice.jid}'><body>unbound attr</body><x xmlns='urn:example' u:item='owner'/></message>`);
    await r.waitClosed();
    assert.match(r.data, /<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('RFC 6120 §4.8.2: a stream whose content namespace is not jabber:client is refused with invalid-namespace', async () => {
    // Unprefixed, the stream element's own namespace becomes the default one: stanzas would not be in jabber:client.
    const r = await ts.raw();
    r.write(`<stream xmlns='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    await r.waitClosed();
    assert.match(r.data, /<invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('RFC 6120 §4.8.5: the stream namespace may be bound to any prefix', async () => {
    const r = await ts.raw();
    r.write(`<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    await r.waitFor('</stream:features>');
    r.destroy();
  });
});
