// XEP-0060 §15.3: the access model decides whether a notification is sent, at the time it is sent. When the
// model changes (§8.2), a member leaves the whitelist (§8.9.2), a contact leaves an allowed roster group or loses
// its presence subscription (§4.5), subscribers that no longer qualify stop receiving, and their subscription is
// cancelled with a §13.14 notification. End to end with xmpp.js clients on the pubsub service.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import {
  PS, PSO, errorOf, form, hasItem, isEvent, isSubscriptionEvent, ok, revokePresence, settle, subscribePresence,
} from './test-helpers';

const SVC = 'pubsub.localhost';
const set = (body: string, ns = PS) => `<iq type='set' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const get = (body: string, ns = PS) => `<iq type='get' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
const pub = (node: string, id: string) => set(`<publish node='${node}'><item id='${id}'><x xmlns='urn:test'>${id}</x></item></publish>`);
const subscribers = async (owner: TestClient, node: string) =>
  ok(await owner.iq(get(`<subscriptions node='${node}'/>`, PSO))).getChild('pubsub', PSO)!.getChild('subscriptions')!.getChildren('subscription').map((s) => s.attrs.jid);

/** `sub` got `id` of `node` before the change, and after the change gets the cancellation and not `after`. */
async function assertCutOff(owner: TestClient, sub: TestClient, node: string, change: () => Promise<void>): Promise<void> {
  ok(await owner.iq(pub(node, 'before')));
  await sub.waitFor(isEvent(node, hasItem('before')));
  await change();
  ok(await owner.iq(pub(node, 'after')));
  await sub.waitFor(isSubscriptionEvent(node, 'none'));
  await settle(sub);
  assert.ok(!sub.received.some(isEvent(node, hasItem('after'))), `${sub.jid} still received ${node} items`);
  assert.deepEqual(await subscribers(owner, node), []);
  // Nor does it read the items any more.
  const refused = errorOf(await sub.iq(get(`<items node='${node}'/>`)));
  assert.ok(['not-allowed', 'not-authorized'].includes(refused.condition!), refused.condition);
}

describe('pubsub access re-checked for existing subscribers (XEP-0060 §4.5, §15.3)', () => {
  let ts: TestServer;
  let alice: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await ts.createUser(u);
    alice = await ts.client('alice');
  });
  after(() => ts.stop());

  it('open → whitelist: the old subscriber is cancelled at once and gets nothing more', async () => {
    const bob = await ts.client('bob');
    ok(await alice.iq(set(`<create node='news'/>`)));
    ok(await bob.iq(set(`<subscribe node='news' jid='bob@localhost'/>`)));
    await assertCutOff(alice, bob, 'news', async () => {
      ok(await alice.iq(set(`<configure node='news'>${form(NODE_CONFIG, { 'pubsub#access_model': 'whitelist' })}</configure>`, PSO)));
      // §8.2: cancelled with the configuration change, before anything is published.
      await bob.waitFor(isSubscriptionEvent('news', 'none'));
      assert.deepEqual(await subscribers(alice, 'news'), []);
    });
  });

  it('refuses an owner-set subscription the access model does not allow (§8.8.2.4), and delivers nothing to it', async () => {
    const bob = await ts.client('bob', { resource: 'owner-set' });
    ok(await alice.iq(set(`<create node='private'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'whitelist' })}</configure>`)));
    const e = errorOf(await alice.iq(set(`<subscriptions node='private'><subscription jid='bob@localhost' subscription='subscribed'/></subscriptions>`, PSO)));
    assert.equal(e.condition, 'not-acceptable');
    assert.deepEqual(await subscribers(alice, 'private'), []);
    ok(await alice.iq(pub('private', 'secret')));
    await settle(bob);
    assert.ok(!bob.received.some(isEvent('private', hasItem('secret'))));
    // Once on the whitelist, the owner may subscribe him.
    ok(await alice.iq(set(`<affiliations node='private'><affiliation jid='bob@localhost' affiliation='member'/></affiliations>`, PSO)));
    ok(await alice.iq(set(`<subscriptions node='private'><subscription jid='bob@localhost' subscription='subscribed'/></subscriptions>`, PSO)));
    assert.deepEqual(await subscribers(alice, 'private'), ['bob@localhost']);
  });

  it('whitelist: a member whose affiliation is removed stops receiving', async () => {
    const carol = await ts.client('carol');
    ok(await alice.iq(set(`<create node='club'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'whitelist' })}</configure>`)));
    ok(await alice.iq(set(`<affiliations node='club'><affiliation jid='carol@localhost' affiliation='member'/></affiliations>`, PSO)));
    ok(await carol.iq(set(`<subscribe node='club' jid='carol@localhost'/>`)));
    await assertCutOff(alice, carol, 'club', async () => {
      ok(await alice.iq(set(`<affiliations node='club'><affiliation jid='carol@localhost' affiliation='none'/></affiliations>`, PSO)));
    });
  });

  it('roster access: a contact moved out of the allowed group stops receiving', async () => {
    const dave = await ts.client('dave');
    ok(await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='dave@localhost'><group>Friends</group></item></query></iq>`));
    ok(await alice.iq(set(`<create node='friends'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': 'Friends' })}</configure>`)));
    ok(await dave.iq(set(`<subscribe node='friends' jid='dave@localhost'/>`)));
    await assertCutOff(alice, dave, 'friends', async () => {
      ok(await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='dave@localhost'><group>Colleagues</group></item></query></iq>`));
    });
  });

  it('presence access: a contact whose presence subscription is cancelled stops receiving', async () => {
    const erin = await ts.client('erin');
    await subscribePresence(erin, alice);
    ok(await alice.iq(set(`<create node='status'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'presence' })}</configure>`)));
    ok(await erin.iq(set(`<subscribe node='status' jid='erin@localhost'/>`)));
    await assertCutOff(alice, erin, 'status', () => revokePresence(alice, erin));
  });
});
