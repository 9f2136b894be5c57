// XEP-0163 §2.2 "One Publisher Per Node": the account is the only owner and publisher of its PEP nodes. Another
// user must not create, configure, publish to, retract from, purge or delete nodes at someone else's bare JID
// (XEP-0060 §8.1.1 / §7.1.3.1 / §8.2.3.2 …: forbidden), else items go out `from` the victim. End to end with
// xmpp.js clients; each case is an attack that a review found working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import { PS, PSO, errorOf, form, hasItem, isEvent, ok, settle } from '../xep-0060-pubsub/test-helpers';

const PO = 'http://jabber.org/protocol/pubsub#publish-options';
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
const VICTIM = 'juliet@localhost';
const set = (body: string, ns = PS, to = VICTIM) => `<iq type='set' to='${to}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const get = (body: string, ns = PS, to = VICTIM) => `<iq type='get' to='${to}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const pub = (node: string, id: string, text: string) => `<publish node='${node}'><item id='${id}'><x xmlns='urn:test'>${text}</x></item></publish>`;

describe('PEP authorisation: only the account owns and publishes to its PEP (XEP-0163 §2.2)', () => {
  let ts: TestServer;
  let juliet: TestClient;
  let mallory: TestClient;
  let romeo: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['juliet', 'mallory', 'romeo']) await ts.createUser(u);
    juliet = await ts.client('juliet');
    mallory = await ts.client('mallory');
    romeo = await ts.client('romeo');
  });
  after(() => ts.stop());

  it('refuses <create/> at another account with forbidden, and creates nothing', async () => {
    const avatar = 'urn:xmpp:avatar:metadata';
    assert.equal(errorOf(await mallory.iq(set(`<create node='${avatar}'/>`))).condition, 'forbidden');
    const configured = `<create node='eu.siacs.conversations.axolotl.devicelist'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'open' })}</configure>`;
    assert.equal(errorOf(await mallory.iq(set(configured))).condition, 'forbidden');
    assert.equal(errorOf(await mallory.iq(set(`<create/>`))).condition, 'forbidden');
    // Nothing was created: the victim's PEP is empty, and she creates the node herself (no conflict).
    const nodes = ok(await juliet.iq(`<iq type='get' to='${VICTIM}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`));
    assert.deepEqual(nodes.getChild('query')!.getChildren('item'), []);
    assert.equal(errorOf(await juliet.iq(get(`<items node='${avatar}'/>`))).condition, 'item-not-found');
    ok(await juliet.iq(set(`<create node='${avatar}'/>`)));
  });

  it('refuses every owner and publisher operation on another account’s node', async () => {
    const node = 'urn:test:diary';
    ok(await juliet.iq(`<iq type='set'><pubsub xmlns='${PS}'>${pub(node, 'd1', 'mine')}<publish-options>${form(PO, { 'pubsub#access_model': 'open' })}</publish-options></pubsub></iq>`));
    // Open access: mallory may read and subscribe, nothing more.
    ok(await mallory.iq(set(`<subscribe node='${node}' jid='mallory@localhost'/>`)));
    const refused: [string, string][] = [
      ['publish', set(pub(node, 'd2', 'forged'))],
      ['publish-options auto-create', set(`${pub('urn:test:new', 'n1', 'forged')}<publish-options>${form(PO, { 'pubsub#access_model': 'open' })}</publish-options>`)],
      ['retract', set(`<retract node='${node}' notify='true'><item id='d1'/></retract>`)],
      ['configure get', get(`<configure node='${node}'/>`, PSO)],
      ['configure set', set(`<configure node='${node}'>${form(NODE_CONFIG, { 'pubsub#publish_model': 'open' })}</configure>`, PSO)],
      ['purge', set(`<purge node='${node}'/>`, PSO)],
      ['delete', set(`<delete node='${node}'/>`, PSO)],
      ['affiliations get', get(`<affiliations node='${node}'/>`, PSO)],
      ['affiliations set', set(`<affiliations node='${node}'><affiliation jid='mallory@localhost' affiliation='owner'/></affiliations>`, PSO)],
      ['subscriptions get', get(`<subscriptions node='${node}'/>`, PSO)],
      ['subscriptions set', set(`<subscriptions node='${node}'><subscription jid='romeo@localhost' subscription='subscribed'/></subscriptions>`, PSO)],
    ];
    for (const [what, stanza] of refused) assert.equal(errorOf(await mallory.iq(stanza)).condition, 'forbidden', what);
    // The node is as juliet left it, and nobody heard of a forged item.
    const items = ok(await juliet.iq(get(`<items node='${node}'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.getChildText('x')), ['mine']);
    assert.equal(errorOf(await juliet.iq(get(`<items node='urn:test:new'/>`))).condition, 'item-not-found');
    await settle(juliet);
    assert.ok(!juliet.received.some(isEvent(node, hasItem('d2'))));
  });

  it('keeps owner and publisher rights with the account: no second owner or publisher, no open publish model', async () => {
    const node = 'urn:test:shared';
    ok(await juliet.iq(set(pub(node, 's1', 'first'))));
    const publisher = errorOf(await juliet.iq(set(`<affiliations node='${node}'><affiliation jid='romeo@localhost' affiliation='publisher'/></affiliations>`, PSO)));
    assert.deepEqual([publisher.condition, publisher.app, publisher.feature], ['feature-not-implemented', 'unsupported', 'publisher-affiliation']);
    const publishOnly = errorOf(await juliet.iq(set(`<affiliations node='${node}'><affiliation jid='romeo@localhost' affiliation='publish-only'/></affiliations>`, PSO)));
    assert.deepEqual([publishOnly.condition, publishOnly.feature], ['feature-not-implemented', 'publish-only-affiliation']);
    const owner = errorOf(await juliet.iq(set(`<affiliations node='${node}'><affiliation jid='romeo@localhost' affiliation='owner'/></affiliations>`, PSO)));
    assert.equal(owner.condition, 'not-acceptable');
    const self = errorOf(await juliet.iq(set(`<affiliations node='${node}'><affiliation jid='${VICTIM}' affiliation='none'/></affiliations>`, PSO)));
    assert.equal(self.condition, 'not-acceptable');
    const open = errorOf(await juliet.iq(set(`<configure node='${node}'>${form(NODE_CONFIG, { 'pubsub#publish_model': 'open' })}</configure>`, PSO)));
    assert.equal(open.condition, 'not-acceptable');
    assert.equal(errorOf(await romeo.iq(set(pub(node, 's2', 'romeo')))).condition, 'forbidden');
    // Members (whitelist) and outcasts are still hers to manage.
    ok(await juliet.iq(set(`<affiliations node='${node}'><affiliation jid='romeo@localhost' affiliation='member'/></affiliations>`, PSO)));
    const affs = ok(await juliet.iq(get(`<affiliations node='${node}'/>`, PSO))).getChild('pubsub', PSO)!.getChild('affiliations')!.getChildren('affiliation');
    assert.deepEqual(affs.map((a) => `${a.attrs.jid}=${a.attrs.affiliation}`), [`${VICTIM}=owner`, 'romeo@localhost=member']);
    // The PEP service does not claim the publisher affiliation (XEP-0060 §10).
    const info = ok(await juliet.iq(`<iq type='get' to='${VICTIM}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`));
    const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(features.includes(`${PS}#publish`));
    assert.ok(!features.includes(`${PS}#publisher-affiliation`));
  });

  it('gives no rights to another JID stored as owner of a node (one created through the old hole)', async () => {
    const node = 'urn:xmpp:avatar:data';
    const victim = 'nurse@localhost';
    await ts.createUser('nurse');
    // A node as the old create handler stored it: mallory recorded as its owner, anyone allowed to publish, under
    // the nurse's JID (stored
    // before anything read the nurse's PEP, so the server loads it from storage).
    await ts.running.server.storage.map('pep_nodes').set(victim, node, {
      name: node,
      config: {
        title: '', description: '', type: '', access_model: 'open', publish_model: 'open', max_items: 1,
        persist_items: true, deliver_payloads: true, deliver_notifications: true, notify_retract: true, notify_delete: true,
        notify_config: false, send_last_published_item: 'on_sub_and_presence', roster_groups_allowed: [], notification_type: 'headline',
      },
      affiliations: { 'mallory@localhost': 'owner' },
      subscriptions: [],
      created: Date.now(),
      creator: 'mallory@localhost',
    });
    assert.equal(errorOf(await mallory.iq(set(pub(node, 'a1', 'forged'), PS, victim))).condition, 'forbidden');
    assert.equal(errorOf(await mallory.iq(get(`<configure node='${node}'/>`, PSO, victim))).condition, 'forbidden');
    assert.equal(errorOf(await mallory.iq(set(`<delete node='${node}'/>`, PSO, victim))).condition, 'forbidden');
    // The account owns it, and the stale entry is not reported as an affiliation.
    const nurse = await ts.client('nurse');
    const affs = ok(await nurse.iq(get(`<affiliations node='${node}'/>`, PSO, victim))).getChild('pubsub', PSO)!.getChild('affiliations')!.getChildren('affiliation');
    assert.deepEqual(affs.map((a) => `${a.attrs.jid}=${a.attrs.affiliation}`), [`${victim}=owner`]);
    // The stored publish model is inert, and does not keep the account from configuring its node.
    assert.equal(errorOf(await romeo.iq(set(pub(node, 'a2', 'forged'), PS, victim))).condition, 'forbidden');
    ok(await nurse.iq(set(`<configure node='${node}'>${form(NODE_CONFIG, { 'pubsub#title': 'Avatar' })}</configure>`, PSO, victim)));
    ok(await nurse.iq(set(`<delete node='${node}'/>`, PSO, victim)));
  });
});
