// XEP-0060 on the pubsub service, end to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import { PS, PSO, errorOf, form, hasItem, isEvent, ok, subscribePresence } from './test-helpers';

const SVC = 'pubsub.localhost';
const set = (body: string, ns = PS) => `<iq type='set' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const get = (body: string, ns = PS) => `<iq type='get' to='${SVC}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`;
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';

describe('pubsub service (XEP-0060)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
    alice = await ts.client('alice');
    bob = await ts.client('bob');
    carol = await ts.client('carol');
  });
  after(() => ts.stop());

  it('creates nodes, instant nodes, and reports conflict and nodeid-required', async () => {
    const r = ok(await alice.iq(set(`<create node='news'/>`)));
    assert.equal(r.getChild('pubsub', PS)!.getChild('create')!.attrs.node, 'news');
    assert.equal(errorOf(await bob.iq(set(`<create node='news'/>`))).condition, 'conflict');
    const instant = ok(await alice.iq(set(`<create/>`)));
    assert.ok(instant.getChild('pubsub', PS)!.getChild('create')!.attrs.node);
    const e = errorOf(await alice.iq(set(`<publish><item/></publish>`)));
    assert.deepEqual([e.condition, e.app], ['bad-request', 'nodeid-required']);
    const u = errorOf(await alice.iq(set(`<frobnicate node='news'/>`)));
    assert.deepEqual([u.condition, u.app, u.feature], ['feature-not-implemented', 'unsupported', 'frobnicate']);
  });

  it('creates with a configuration form and reads and changes the configuration', async () => {
    ok(await alice.iq(set(`<create node='conf'/><configure>${form(NODE_CONFIG, { 'pubsub#title': 'Conf', 'pubsub#max_items': '2' })}</configure>`)));
    const cfg = ok(await alice.iq(get(`<configure node='conf'/>`, PSO)));
    const fields = cfg.getChild('pubsub', PSO)!.getChild('configure')!.getChild('x')!.getChildren('field');
    const value = (v: string) => fields.find((f) => f.attrs.var === v)?.getChildText('value');
    assert.equal(value('pubsub#title'), 'Conf');
    assert.equal(value('pubsub#max_items'), '2');
    assert.equal(errorOf(await bob.iq(get(`<configure node='conf'/>`, PSO))).condition, 'forbidden');
    ok(await alice.iq(set(`<configure node='conf'>${form(NODE_CONFIG, { 'pubsub#deliver_payloads': '0' })}</configure>`, PSO)));
    const bad = errorOf(await alice.iq(set(`<configure node='conf'>${form(NODE_CONFIG, { 'pubsub#access_model': 'nonsense' })}</configure>`, PSO)));
    assert.equal(bad.condition, 'not-acceptable');
    const def = ok(await alice.iq(get(`<default/>`, PSO)));
    assert.ok(def.getChild('pubsub', PSO)!.getChild('default')!.getChild('x'));
  });

  it('publishes with generated ids, evicts beyond max_items, retrieves by max and id, notifies subscribers', async () => {
    ok(await alice.iq(set(`<create node='evict'/><configure>${form(NODE_CONFIG, { 'pubsub#max_items': '2' })}</configure>`)));
    const sub = ok(await bob.iq(set(`<subscribe node='evict' jid='bob@localhost'/>`)));
    const s = sub.getChild('pubsub', PS)!.getChild('subscription')!;
    assert.equal(s.attrs.subscription, 'subscribed');
    assert.ok(s.attrs.subid);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = ok(await alice.iq(set(`<publish node='evict'><item${i === 1 ? " id='fixed'" : ''}><entry xmlns='urn:test'>${i}</entry></item></publish>`)));
      ids.push(r.getChild('pubsub', PS)!.getChild('publish')!.getChild('item')!.attrs.id!);
    }
    assert.equal(ids[1], 'fixed');
    const note = await bob.waitFor(isEvent('evict', hasItem(ids[2]!)));
    assert.equal(note.attrs.type, 'headline');
    assert.equal(note.attrs.from, SVC);
    assert.equal(note.getChild('event')!.getChild('items')!.getChild('item')!.getChild('entry')!.text(), '2');
    const all = ok(await bob.iq(get(`<items node='evict'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(all.map((i) => i.attrs.id), [ids[1], ids[2]]);
    const last = ok(await bob.iq(get(`<items node='evict' max_items='1'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
    assert.deepEqual(last.map((i) => i.attrs.id), [ids[2]]);
    const byId = ok(await bob.iq(get(`<items node='evict'><item id='fixed'/></items>`))).getChild('pubsub', PS)!.getChild('items')!;
    assert.equal(byId.getChild('item')!.getChild('entry')!.text(), '1');
    assert.equal(errorOf(await bob.iq(get(`<items node='nope'/>`))).condition, 'item-not-found');
  });

  it('rejects a publish by a non-publisher with forbidden, and accepts it after an affiliation change', async () => {
    ok(await alice.iq(set(`<create node='owned'/>`)));
    assert.equal(errorOf(await carol.iq(set(`<publish node='owned'><item><x xmlns='urn:test'/></item></publish>`))).condition, 'forbidden');
    ok(await alice.iq(set(`<affiliations node='owned'><affiliation jid='carol@localhost' affiliation='publisher'/></affiliations>`, PSO)));
    ok(await carol.iq(set(`<publish node='owned'><item><x xmlns='urn:test'/></item></publish>`)));
    const affs = ok(await alice.iq(get(`<affiliations node='owned'/>`, PSO))).getChild('pubsub', PSO)!.getChild('affiliations')!.getChildren('affiliation');
    assert.deepEqual(affs.map((a) => `${a.attrs.jid}=${a.attrs.affiliation}`).sort(), ['alice@localhost=owner', 'carol@localhost=publisher']);
    assert.equal(errorOf(await carol.iq(get(`<affiliations node='owned'/>`, PSO))).condition, 'forbidden');
    const mine = ok(await carol.iq(get(`<affiliations/>`))).getChild('pubsub', PS)!.getChild('affiliations')!;
    assert.ok(mine.getChildren('affiliation').some((a) => a.attrs.node === 'owned' && a.attrs.affiliation === 'publisher'));
  });

  it('checks publish-options as preconditions (§7.1.5)', async () => {
    ok(await alice.iq(set(`<create node='pre'/>`)));
    const PO = 'http://jabber.org/protocol/pubsub#publish-options';
    const e = errorOf(await alice.iq(set(`<publish node='pre'><item><x xmlns='urn:test'/></item></publish><publish-options>${form(PO, { 'pubsub#access_model': 'whitelist' })}</publish-options>`)));
    assert.deepEqual([e.condition, e.app], ['conflict', 'precondition-not-met']);
    ok(await alice.iq(set(`<publish node='pre'><item><x xmlns='urn:test'/></item></publish><publish-options>${form(PO, { 'pubsub#access_model': 'open' })}</publish-options>`)));
  });

  it('enforces the presence, roster and whitelist access models', async () => {
    ok(await alice.iq(set(`<create node='pres'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'presence' })}</configure>`)));
    ok(await alice.iq(set(`<create node='rost'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': 'Friends' })}</configure>`)));
    ok(await alice.iq(set(`<create node='white'/><configure>${form(NODE_CONFIG, { 'pubsub#access_model': 'whitelist' })}</configure>`)));
    const p = errorOf(await carol.iq(set(`<subscribe node='pres' jid='carol@localhost'/>`)));
    assert.deepEqual([p.condition, p.app], ['not-authorized', 'presence-subscription-required']);
    const r = errorOf(await carol.iq(get(`<items node='rost'/>`)));
    assert.deepEqual([r.condition, r.app], ['not-authorized', 'not-in-roster-group']);
    const w = errorOf(await carol.iq(set(`<subscribe node='white' jid='carol@localhost'/>`)));
    assert.deepEqual([w.condition, w.app], ['not-allowed', 'closed-node']);
    // carol gets a presence subscription to alice: presence access opens, roster access needs the group.
    await subscribePresence(carol, alice);
    ok(await carol.iq(set(`<subscribe node='pres' jid='carol@localhost'/>`)));
    assert.equal(errorOf(await carol.iq(get(`<items node='rost'/>`))).app, 'not-in-roster-group');
    ok(await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'><group>Friends</group></item></query></iq>`));
    ok(await carol.iq(get(`<items node='rost'/>`)));
    ok(await alice.iq(set(`<affiliations node='white'><affiliation jid='carol@localhost' affiliation='member'/></affiliations>`, PSO)));
    ok(await carol.iq(set(`<subscribe node='white' jid='carol@localhost'/>`)));
    const j = errorOf(await carol.iq(set(`<subscribe node='white' jid='bob@localhost'/>`)));
    assert.deepEqual([j.condition, j.app], ['bad-request', 'invalid-jid']);
  });

  it('subscription options turn delivery off; unsubscribe; subscriptions management by the owner', async () => {
    ok(await alice.iq(set(`<create node='opt'/>`)));
    const subid = ok(await bob.iq(set(`<subscribe node='opt' jid='bob@localhost'/>`))).getChild('pubsub', PS)!.getChild('subscription')!.attrs.subid!;
    const opts = ok(await bob.iq(get(`<options node='opt' jid='bob@localhost'/>`)));
    assert.ok(opts.getChild('pubsub', PS)!.getChild('options')!.getChild('x'));
    ok(await bob.iq(set(`<options node='opt' jid='bob@localhost' subid='${subid}'>${form('http://jabber.org/protocol/pubsub#subscribe_options', { 'pubsub#deliver': '0' })}</options>`)));
    ok(await alice.iq(set(`<publish node='opt'><item id='quiet'><x xmlns='urn:test'/></item></publish>`)));
    const subs = ok(await alice.iq(get(`<subscriptions node='opt'/>`, PSO))).getChild('pubsub', PSO)!.getChild('subscriptions')!.getChildren('subscription');
    assert.deepEqual(subs.map((s) => s.attrs.jid), ['bob@localhost']);
    ok(await bob.iq(set(`<unsubscribe node='opt' jid='bob@localhost'/>`)));
    const again = errorOf(await bob.iq(set(`<unsubscribe node='opt' jid='bob@localhost'/>`)));
    assert.deepEqual([again.condition, again.app], ['unexpected-request', 'not-subscribed']);
    ok(await alice.iq(set(`<subscriptions node='opt'><subscription jid='carol@localhost' subscription='subscribed'/></subscriptions>`, PSO)));
    ok(await alice.iq(set(`<publish node='opt'><item id='loud'><x xmlns='urn:test'/></item></publish>`)));
    await carol.waitFor(isEvent('opt', hasItem('loud')));
    assert.ok(!bob.received.some(isEvent('opt', hasItem('quiet'))));
  });

  it('retracts, purges and deletes with notifications; payload-less notifications', async () => {
    ok(await alice.iq(set(`<create node='life'/><configure>${form(NODE_CONFIG, { 'pubsub#deliver_payloads': '0' })}</configure>`)));
    ok(await bob.iq(set(`<subscribe node='life' jid='bob@localhost'/>`)));
    ok(await alice.iq(set(`<publish node='life'><item id='i1'><x xmlns='urn:test'>secret</x></item></publish>`)));
    const n = await bob.waitFor(isEvent('life', hasItem('i1')));
    assert.equal(n.getChild('event')!.getChild('items')!.getChild('item')!.elements().length, 0);
    ok(await alice.iq(set(`<retract node='life' notify='true'><item id='i1'/></retract>`)));
    await bob.waitFor(isEvent('life', (items) => items.getChild('retract')?.attrs.id === 'i1'));
    assert.equal(errorOf(await alice.iq(set(`<retract node='life'><item id='i1'/></retract>`))).condition, 'item-not-found');
    ok(await alice.iq(set(`<purge node='life'/>`, PSO)));
    await bob.waitFor((el) => el.name === 'message' && el.getChild('event')?.getChild('purge')?.attrs.node === 'life');
    assert.equal(errorOf(await bob.iq(set(`<delete node='life'/>`, PSO))).condition, 'forbidden');
    ok(await alice.iq(set(`<delete node='life'/>`, PSO)));
    await bob.waitFor((el) => el.name === 'message' && el.getChild('event')?.getChild('delete')?.attrs.node === 'life');
    assert.equal(errorOf(await alice.iq(get(`<items node='life'/>`))).condition, 'item-not-found');
  });

  it('answers disco#info with pubsub#meta-data and disco#items with nodes and items', async () => {
    ok(await alice.iq(set(`<create node='disco'/><configure>${form(NODE_CONFIG, { 'pubsub#title': 'Disco node' })}</configure>`)));
    ok(await alice.iq(set(`<publish node='disco'><item id='d1'><x xmlns='urn:test'/></item></publish>`)));
    const info = ok(await bob.iq(`<iq type='get' to='${SVC}'><query xmlns='http://jabber.org/protocol/disco#info' node='disco'/></iq>`)).getChild('query')!;
    assert.equal(info.getChild('identity')!.attrs.type, 'leaf');
    const meta = info.getChild('x', 'jabber:x:data')!;
    assert.equal(meta.getChildren('field').find((f) => f.attrs.var === 'pubsub#title')!.getChildText('value'), 'Disco node');
    const svc = ok(await bob.iq(`<iq type='get' to='${SVC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)).getChild('query')!;
    assert.ok(svc.getChildren('feature').some((f) => f.attrs.var === `${PS}#publish-options`));
    assert.ok(svc.getChildren('identity').some((i) => i.attrs.category === 'pubsub' && i.attrs.type === 'service'));
    const nodes = ok(await bob.iq(`<iq type='get' to='${SVC}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)).getChild('query')!;
    assert.ok(nodes.getChildren('item').some((i) => i.attrs.node === 'disco' && i.attrs.name === 'Disco node'));
    const items = ok(await bob.iq(`<iq type='get' to='${SVC}'><query xmlns='http://jabber.org/protocol/disco#items' node='disco'/></iq>`)).getChild('query')!;
    assert.deepEqual(items.getChildren('item').map((i) => i.attrs.name), ['d1']);
    const missing = await bob.iq(`<iq type='get' to='${SVC}'><query xmlns='http://jabber.org/protocol/disco#info' node='none'/></iq>`);
    assert.equal(errorOf(missing).condition, 'item-not-found');
  });
});

describe('pubsub persistence', () => {
  it('keeps nodes, configuration, affiliations, subscriptions and items across a restart (SQLite)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'parley-pubsub-'));
    const storage = { backend: 'sqlite' as const, path: join(dir, 'db.sqlite') };
    try {
      let ts = await startTestServer({ storage });
      await ts.createUser('alice');
      await ts.createUser('bob');
      let alice = await ts.client('alice');
      let bob = await ts.client('bob');
      ok(await alice.iq(set(`<create node='keep'/><configure>${form(NODE_CONFIG, { 'pubsub#title': 'Kept', 'pubsub#max_items': '5' })}</configure>`)));
      ok(await bob.iq(set(`<subscribe node='keep' jid='bob@localhost'/>`)));
      ok(await alice.iq(set(`<publish node='keep'><item id='k1'><x xmlns='urn:test'>one</x></item></publish>`)));
      await ts.stop();
      ts = await startTestServer({ storage });
      alice = await ts.client('alice');
      bob = await ts.client('bob');
      const got = ok(await bob.iq(get(`<items node='keep'/>`))).getChild('pubsub', PS)!.getChild('items')!;
      assert.equal(got.getChild('item')!.getChildText('x'), 'one');
      ok(await alice.iq(set(`<publish node='keep'><item id='k2'><x xmlns='urn:test'>two</x></item></publish>`)));
      await bob.waitFor(isEvent('keep', hasItem('k2')));
      const all = ok(await bob.iq(get(`<items node='keep'/>`))).getChild('pubsub', PS)!.getChild('items')!.getChildren('item');
      assert.deepEqual(all.map((i) => i.attrs.id), ['k1', 'k2']);
      await ts.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
