// XEP-0163 PEP end to end: auto-create, publish-options, +notify filtering through XEP-0115 caps, last items on
// presence, and what builds on PEP (avatars, nickname, bookmarks with XEP-0048 compatibility, OMEMO-style).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { PS, PSO, errorOf, form, hasItem, isEvent, ok, subscribePresence } from '../xep-0060-pubsub/test-helpers';
import { capsClient } from './test-helpers';

const PO = 'http://jabber.org/protocol/pubsub#publish-options';
const pub = (node: string, item: string, options?: Record<string, string>, to = '') =>
  `<iq type='set'${to ? ` to='${to}'` : ''}><pubsub xmlns='${PS}'><publish node='${node}'>${item}</publish>${options ? `<publish-options>${form(PO, options)}</publish-options>` : ''}</pubsub></iq>`;
const items = (to: string, node: string) => `<iq type='get' to='${to}'><pubsub xmlns='${PS}'><items node='${node}'/></pubsub></iq>`;


const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PEP (XEP-0163)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['romeo', 'juliet', 'nurse', 'tybalt', 'paris']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('auto-creates on first publish with presence access; +notify contacts get notifications, others do not', async () => {
    const juliet = await ts.client('juliet', { resource: 'balcony' });
    const romeo = await capsClient(ts, 'romeo', 'garden', ['http://jabber.org/protocol/tune']);
    const nurse = await capsClient(ts, 'nurse', 'kitchen', []);
    await subscribePresence(romeo, juliet);
    await subscribePresence(nurse, juliet);
    await pause(100);
    ok(await juliet.iq(pub('http://jabber.org/protocol/tune', `<item id='t1'><tune xmlns='http://jabber.org/protocol/tune'><title>Song</title></tune></item>`)));
    const n = await romeo.waitFor(isEvent('http://jabber.org/protocol/tune', hasItem('t1')));
    assert.equal(n.attrs.from, 'juliet@localhost');
    // The owner's own resource stays in sync.
    await juliet.waitFor(isEvent('http://jabber.org/protocol/tune', hasItem('t1')));
    await pause(100);
    assert.ok(!nurse.received.some(isEvent('http://jabber.org/protocol/tune')));
    // Presence access: a contact may retrieve, a stranger may not.
    ok(await romeo.iq(items('juliet@localhost', 'http://jabber.org/protocol/tune')));
    const tybalt = await ts.client('tybalt');
    const e = errorOf(await tybalt.iq(items('juliet@localhost', 'http://jabber.org/protocol/tune')));
    assert.deepEqual([e.condition, e.app], ['not-authorized', 'presence-subscription-required']);
    // Only the account publishes to its PEP nodes.
    assert.equal(errorOf(await romeo.iq(pub('http://jabber.org/protocol/tune', `<item><tune xmlns='http://jabber.org/protocol/tune'/></item>`, undefined, 'juliet@localhost'))).condition, 'forbidden');
    // The last item reaches a +notify contact's resource when it comes online (§4.3.4).
    const romeo2 = await capsClient(ts, 'romeo', 'orchard', ['http://jabber.org/protocol/tune']);
    const last = await romeo2.waitFor(isEvent('http://jabber.org/protocol/tune', hasItem('t1')));
    assert.ok(last.getChild('delay', 'urn:xmpp:delay'));
    // disco#items of the account lists its nodes; disco#info of a node has the meta-data form.
    const list = ok(await romeo.iq(`<iq type='get' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`));
    assert.ok(list.getChild('query')!.getChildren('item').some((i) => i.attrs.node === 'http://jabber.org/protocol/tune'));
    const info = ok(await romeo.iq(`<iq type='get' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/tune'/></iq>`));
    assert.ok(info.getChild('query')!.getChild('x', 'jabber:x:data'));
  });

  it('OMEMO-style publish with publish-options: open access, max_items, precondition-not-met on mismatch', async () => {
    const paris = await ts.client('paris', { resource: 'a' });
    const devices = 'eu.siacs.conversations.axolotl.devicelist';
    const opts = { 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' };
    ok(await paris.iq(pub(devices, `<item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='1'/></list></item>`, opts)));
    ok(await paris.iq(pub(devices, `<item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='1'/><device id='2'/></list></item>`, opts)));
    // Open access: anyone may fetch the device list.
    const tybalt = await ts.client('tybalt', { resource: 'omemo' });
    const got = ok(await tybalt.iq(items('paris@localhost', devices))).getChild('pubsub', PS)!.getChild('items')!;
    assert.equal(got.getChild('item')!.getChild('list')!.getChildren('device').length, 2);
    const e = errorOf(await paris.iq(pub(devices, `<item id='current'><list xmlns='eu.siacs.conversations.axolotl'/></item>`, { 'pubsub#access_model': 'presence' })));
    assert.deepEqual([e.condition, e.app], ['conflict', 'precondition-not-met']);
    const cfg = ok(await paris.iq(`<iq type='get'><pubsub xmlns='${PSO}'><configure node='${devices}'/></pubsub></iq>`));
    const field = cfg.getChild('pubsub', PSO)!.getChild('configure')!.getChild('x')!.getChildren('field').find((f) => f.attrs.var === 'pubsub#access_model');
    assert.equal(field!.getChildText('value'), 'open');
  });

  it('avatars (XEP-0084) and nickname (XEP-0172) sync between two resources and reach +notify contacts', async () => {
    const a = await capsClient(ts, 'tybalt', 'one', ['urn:xmpp:avatar:metadata', 'http://jabber.org/protocol/nick']);
    const b = await capsClient(ts, 'tybalt', 'two', ['urn:xmpp:avatar:metadata', 'http://jabber.org/protocol/nick']);
    await pause(100);
    ok(await a.iq(pub('urn:xmpp:avatar:data', `<item id='abc123'><data xmlns='urn:xmpp:avatar:data'>iVBORw0KGgo=</data></item>`)));
    ok(await a.iq(pub('urn:xmpp:avatar:metadata', `<item id='abc123'><metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='8' id='abc123' type='image/png'/></metadata></item>`)));
    ok(await a.iq(pub('http://jabber.org/protocol/nick', `<item><nick xmlns='http://jabber.org/protocol/nick'>Prince of Cats</nick></item>`)));
    const meta = await b.waitFor(isEvent('urn:xmpp:avatar:metadata', hasItem('abc123')));
    assert.equal(meta.getChild('event')!.getChild('items')!.getChild('item')!.getChild('metadata')!.getChild('info')!.attrs.id, 'abc123');
    const nick = await b.waitFor(isEvent('http://jabber.org/protocol/nick'));
    assert.equal(nick.getChild('event')!.getChild('items')!.getChild('item')!.getChildText('nick'), 'Prince of Cats');
    // Not interested in avatar data: no notification for that node (filtered notifications).
    await pause(100);
    assert.ok(!b.received.some(isEvent('urn:xmpp:avatar:data')));
    // The data node is fetched by id.
    const data = ok(await b.iq(`<iq type='get' to='tybalt@localhost'><pubsub xmlns='${PS}'><items node='urn:xmpp:avatar:data'><item id='abc123'/></items></pubsub></iq>`));
    assert.equal(data.getChild('pubsub', PS)!.getChild('items')!.getChild('item')!.getChildText('data'), 'iVBORw0KGgo=');
  });

  it('bookmarks (XEP-0402) are private, sync between resources, and mirror storage:bookmarks (XEP-0048)', async () => {
    const B2 = 'urn:xmpp:bookmarks:1';
    const a = await capsClient(ts, 'nurse', 'laptop', [B2, 'storage:bookmarks']);
    const b = await capsClient(ts, 'nurse', 'phone', [B2]);
    const romeo = await ts.client('romeo', { resource: 'spy' });
    await pause(100);
    const opts = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist', 'pubsub#max_items': 'max' };
    ok(await a.iq(pub(B2, `<item id='chapel@conference.localhost'><conference xmlns='${B2}' name='Chapel' autojoin='true'><nick>Nurse</nick></conference></item>`, opts)));
    const ev = await b.waitFor(isEvent(B2, hasItem('chapel@conference.localhost')));
    assert.equal(ev.getChild('event')!.getChild('items')!.getChild('item')!.getChild('conference')!.attrs.name, 'Chapel');
    // Whitelist: contacts and strangers see nothing.
    const e = errorOf(await romeo.iq(items('nurse@localhost', B2)));
    assert.deepEqual([e.condition, e.app], ['not-allowed', 'closed-node']);
    // The legacy node holds the same bookmark.
    const legacy = ok(await a.iq(items('nurse@localhost', 'storage:bookmarks'))).getChild('pubsub', PS)!.getChild('items')!;
    const storage = legacy.getChild('item')!.getChild('storage', 'storage:bookmarks')!;
    assert.equal(storage.getChild('conference')!.attrs.jid, 'chapel@conference.localhost');
    assert.equal(storage.getChild('conference')!.getChildText('nick'), 'Nurse');
    // A legacy client replaces storage:bookmarks (XEP-0048 §3 publish-options): the modern node follows (new room added, old one retracted).
    ok(await a.iq(pub('storage:bookmarks', `<item id='current'><storage xmlns='storage:bookmarks'><conference jid='crypt@conference.localhost' name='Crypt' autojoin='false'/></storage></item>`, { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' })));
    await b.waitFor(isEvent(B2, hasItem('crypt@conference.localhost')));
    await b.waitFor(isEvent(B2, (it) => it.getChild('retract')?.attrs.id === 'chapel@conference.localhost'));
    const modern = ok(await b.iq(items('nurse@localhost', B2))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(modern.map((i) => i.attrs.id), ['crypt@conference.localhost']);
  });

  it('deletes an account’s PEP data with the account', async () => {
    await ts.createUser('ghost');
    const g = await ts.client('ghost');
    ok(await g.iq(pub('urn:test:ghost', `<item id='x'><x xmlns='urn:test'/></item>`, { 'pubsub#access_model': 'open' })));
    await g.stop();
    await ts.running.server.accounts.delete('ghost');
    await ts.createUser('ghost');
    const g2 = await ts.client('ghost');
    assert.equal(errorOf(await g2.iq(items('ghost@localhost', 'urn:test:ghost'))).condition, 'item-not-found');
  });
});
