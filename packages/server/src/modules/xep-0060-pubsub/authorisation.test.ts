// XEP-0060 owner and publisher operations on the pubsub service, each refused end to end to those without the
// right (§8.1.1, §7.1.3.1, §7.2.3.1, §8.2.3.2, §8.4.3.1, §8.5.3.2, §8.8.1.3, §8.8.2.3, §8.9.1.3, §8.9.2.3: forbidden).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import { PS, PSO, errorOf, form, ok } from './test-helpers';

const SVC = 'pubsub.localhost';
const set = (body: string, ns = PS) => `<iq type='set' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const get = (body: string, ns = PS) => `<iq type='get' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
const PO = 'http://jabber.org/protocol/pubsub#publish-options';
const pub = (node: string, id: string, text = '') => `<publish node='${node}'><item id='${id}'><x xmlns='urn:test'>${text}</x></item></publish>`;
const retract = (node: string, id: string) => `<retract node='${node}'><item id='${id}'/></retract>`;
const affiliate = (node: string, jid: string, affiliation: string) =>
  set(`<affiliations node='${node}'><affiliation jid='${jid}' affiliation='${affiliation}'/></affiliations>`, PSO);

describe('pubsub service authorisation (XEP-0060 §7, §8)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  before(async () => {
    ts = await startTestServer({ admins: ['alice@localhost'], modules: { options: { pubsub: { creators: 'admins' } } } });
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
    alice = await ts.client('alice');
    bob = await ts.client('bob');
    carol = await ts.client('carol');
  });
  after(() => ts.stop());

  it('refuses every owner and publisher operation to a non-owner', async () => {
    ok(await alice.iq(set(`<create node='board'/>`)));
    ok(await alice.iq(set(pub('board', 'b1', 'notice'))));
    const refused: [string, string][] = [
      ['create (creators: admins)', set(`<create node='other'/>`)],
      ['instant create', set(`<create/>`)],
      ['publish', set(pub('board', 'b2'))],
      ['publish with publish-options', set(`${pub('board', 'b3')}<publish-options>${form(PO, { 'pubsub#access_model': 'open' })}</publish-options>`)],
      ['retract', set(retract('board', 'b1'))],
      ['retract of an unknown item', set(retract('board', 'nothing'))],
      ['configure get', get(`<configure node='board'/>`, PSO)],
      ['configure set', set(`<configure node='board'>${form(NODE_CONFIG, { 'pubsub#publish_model': 'open' })}</configure>`, PSO)],
      ['purge', set(`<purge node='board'/>`, PSO)],
      ['delete', set(`<delete node='board'/>`, PSO)],
      ['affiliations get', get(`<affiliations node='board'/>`, PSO)],
      ['affiliations set', affiliate('board', 'bob@localhost', 'owner')],
      ['subscriptions get', get(`<subscriptions node='board'/>`, PSO)],
      ['subscriptions set', set(`<subscriptions node='board'><subscription jid='carol@localhost' subscription='subscribed'/></subscriptions>`, PSO)],
    ];
    for (const [what, stanza] of refused) assert.equal(errorOf(await bob.iq(stanza)).condition, 'forbidden', what);
    const items = ok(await alice.iq(get(`<items node='board'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.attrs.id), ['b1']);
  });

  it('lets only those who may still publish retract: a former publisher or an outcast retracts nothing', async () => {
    ok(await alice.iq(set(`<create node='desk'/>`)));
    ok(await alice.iq(affiliate('desk', 'carol@localhost', 'publisher')));
    ok(await alice.iq(affiliate('desk', 'bob@localhost', 'publish-only')));
    ok(await carol.iq(set(pub('desk', 'c1', 'carol'))));
    ok(await carol.iq(set(pub('desk', 'c2', 'carol'))));
    ok(await bob.iq(set(pub('desk', 'p1', 'bob'))));
    ok(await alice.iq(set(pub('desk', 'a1', 'alice'))));
    // publish-only retracts its own items only (§4.1).
    assert.equal(errorOf(await bob.iq(set(retract('desk', 'a1')))).condition, 'forbidden');
    ok(await bob.iq(set(retract('desk', 'p1'))));
    // Affiliation removed: carol published c1 and c2, but may no longer touch them.
    ok(await alice.iq(affiliate('desk', 'carol@localhost', 'none')));
    assert.equal(errorOf(await carol.iq(set(retract('desk', 'c1')))).condition, 'forbidden');
    ok(await alice.iq(affiliate('desk', 'carol@localhost', 'outcast')));
    assert.equal(errorOf(await carol.iq(set(retract('desk', 'c2')))).condition, 'forbidden');
    const items = ok(await alice.iq(get(`<items node='desk'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.attrs.id), ['c1', 'c2', 'a1']);
  });

  it('keeps a node with an owner (§8.9.2.4)', async () => {
    ok(await alice.iq(set(`<create node='kept'/>`)));
    assert.equal(errorOf(await alice.iq(affiliate('kept', 'alice@localhost', 'none'))).condition, 'not-acceptable');
    ok(await alice.iq(set(`<affiliations node='kept'><affiliation jid='bob@localhost' affiliation='owner'/><affiliation jid='alice@localhost' affiliation='none'/></affiliations>`, PSO)));
    assert.equal(errorOf(await alice.iq(get(`<configure node='kept'/>`, PSO))).condition, 'forbidden');
    ok(await bob.iq(get(`<configure node='kept'/>`, PSO)));
  });
});
