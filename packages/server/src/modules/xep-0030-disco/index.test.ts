// XEP-0030 service discovery end to end: the server, accounts, service domains and nodes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NS, readStanzaError, xml, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import { defineModule } from '../../core/module-api';

const features = (iq: XmlElement) => iq.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
const identities = (iq: XmlElement) => iq.getChild('query')!.getChildren('identity').map((i) => ({ ...i.attrs }));
const items = (iq: XmlElement) => iq.getChild('query')!.getChildren('item').map((i) => ({ ...i.attrs }));
const condition = (iq: XmlElement) => (iq.attrs.type === 'error' ? readStanzaError(iq)?.condition : undefined);

describe('service discovery (XEP-0030)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    // PEP answers accounts' disco#items itself; left out so the disco-items/account event is what is tested.
    ts = await startTestServer({ modules: { disabled: ['pep'] } });
    for (const u of ['alice', 'bob', 'eve']) await ts.createUser(u);
    // bob may see alice's presence (a 'from' subscription in alice's roster, the roster module's store).
    await ts.running.server.storage.map('roster').set('alice@localhost', 'bob@localhost', { subscription: 'from', groups: [], visible: true });
    alice = await ts.client('alice');
    bob = await ts.client('bob');
  });
  after(() => ts.stop());

  it('describes the server: server/im identity, its features and XEP-0128 forms', async () => {
    // A module loaded after disco contributes an extended info form (XEP-0128) to the host.
    await ts.running.server.loadModule(
      defineModule({
        name: 'test-serverinfo',
        specs: [],
        setup(ctx) {
          ctx.disco.host.forms.push(() =>
            xml('x', { xmlns: NS.DATA, type: 'result' },
              xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', null, 'http://jabber.org/network/serverinfo')),
              xml('field', { var: 'abuse-addresses' }, xml('value', null, 'mailto:abuse@localhost')),
            ),
          );
        },
      }),
    );
    const res = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.attrs.from, 'localhost');
    assert.deepEqual(identities(res), [{ category: 'server', type: 'im', name: 'Parley' }]);
    const f = features(res);
    for (const ns of [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING, NS.VERSION, NS.LAST, NS.TIME]) assert.ok(f.includes(ns), `missing ${ns}`);
    assert.deepEqual(f, [...f].sort(), 'features are sorted');
    const form = res.getChild('query')!.getChild('x', NS.DATA)!;
    assert.equal(form.toString(), `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field><field var='abuse-addresses'><value>mailto:abuse@localhost</value></field></x>`);
  });

  it("describes an account's bare JID to its owner and to contacts allowed to see its presence (§3.1)", async () => {
    const other = await bob.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(other.attrs.type, 'result');
    assert.equal(other.attrs.from, 'alice@localhost');
    assert.deepEqual(identities(other)[0], { category: 'account', type: 'registered' }, 'the primary identity');
    assert.ok(features(other).includes(NS.DISCO_INFO));
    assert.ok(features(other).includes(NS.VCARD));
    assert.ok(!features(other).includes(NS.VERSION), 'host-only features stay off accounts');
    // RFC 6120 §10.3.3: no 'to' means the sender's own bare JID.
    const own = await alice.iq(`<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(own.attrs.from, 'alice@localhost');
    assert.deepEqual(identities(own)[0], { category: 'account', type: 'registered' });
  });

  it('tells strangers nothing: the same service-unavailable for unknown accounts and unsubscribed requesters (§8)', async () => {
    const eve = await ts.client('eve');
    const stranger = await eve.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const unknown = await eve.iq(`<iq type='get' to='nobody@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const unknownNode = await alice.iq(`<iq type='get' to='nobody@localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`);
    for (const res of [stranger, unknown, unknownNode]) assert.equal(condition(res), 'service-unavailable');
    assert.equal(stranger.getChild('error')!.toString(), unknown.getChild('error')!.toString());
    assert.equal(unknown.attrs.from, 'nobody@localhost');
    // §8 rule 2: disco#items of an account that does not exist is an empty result, with or without a node.
    const items = await alice.iq(`<iq type='get' to='nobody@localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.equal(items.attrs.type, 'result');
    assert.equal(items.getChild('query')!.toString(), `<query xmlns='http://jabber.org/protocol/disco#items'/>`);
    const nodeItems = await alice.iq(`<iq type='get' to='nobody@localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='n'/></iq>`);
    assert.equal(nodeItems.getChild('query')!.toString(), `<query xmlns='http://jabber.org/protocol/disco#items' node='n'/>`);
  });

  it('lists services in the server items, including ones hosted after disco was loaded', async () => {
    const before = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(!items(before).some((i) => i.jid === 'echo.localhost'));
    await ts.running.server.loadModule(
      defineModule({
        name: 'test-echo',
        specs: [],
        setup(ctx) {
          const svc = ctx.service('echo.localhost', { category: 'component', type: 'generic', name: 'Echo' });
          svc.iq.get(NS.PING, 'ping', { to: ['host'] }, () => null);
        },
      }),
    );
    const res = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(items(res).some((i) => i.jid === 'echo.localhost' && i.name === 'Echo'));

    const info = await alice.iq(`<iq type='get' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(info.attrs.type, 'result');
    assert.equal(info.attrs.from, 'echo.localhost');
    assert.equal(
      info.getChild('query')!.toString(),
      `<query xmlns='http://jabber.org/protocol/disco#info'><identity category='component' type='generic' name='Echo'/>` +
        `<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>` +
        `<feature var='urn:xmpp:ping'/></query>`,
    );
    const svcItems = await alice.iq(`<iq type='get' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.equal(svcItems.getChild('query')!.toString(), `<query xmlns='http://jabber.org/protocol/disco#items'/>`);
    const node = await alice.iq(`<iq type='get' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>`);
    assert.equal(condition(node), 'item-not-found');
  });

  it('lets a service answer its own disco#items (a MUC listing its rooms)', async () => {
    await ts.running.server.loadModule(
      defineModule({
        name: 'test-rooms',
        specs: [],
        setup(ctx) {
          const svc = ctx.service('rooms.localhost', { category: 'conference', type: 'text', name: 'Rooms' });
          svc.iq.get(NS.DISCO_ITEMS, 'query', { to: ['host'] }, () =>
            xml('query', { xmlns: NS.DISCO_ITEMS }, xml('item', { jid: 'lobby@rooms.localhost', name: 'Lobby' })),
          );
        },
      }),
    );
    const res = await alice.iq(`<iq type='get' to='rooms.localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.deepEqual(items(res), [{ jid: 'lobby@rooms.localhost', name: 'Lobby' }]);
    // disco#info still comes from the defaults.
    const info = await alice.iq(`<iq type='get' to='rooms.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.deepEqual(identities(info), [{ category: 'conference', type: 'text', name: 'Rooms' }]);
  });

  it('answers nodes through the disco-*/node events and item-not-found for unknown nodes', async () => {
    await ts.running.server.loadModule(
      defineModule({
        name: 'test-nodes',
        specs: [],
        setup(ctx) {
          ctx.on('disco-info/node', ({ to, node, query }) => {
            if (to.toString() !== 'localhost' || node !== 'urn:test:known') return false;
            query.append(xml('identity', { category: 'hierarchy', type: 'leaf' }));
            return true;
          });
          ctx.on('disco-items/node', ({ to, node, query }) => {
            if (to.toString() !== 'alice@localhost' || node !== 'urn:test:list') return false;
            query.append(xml('item', { jid: 'alice@localhost', node: 'urn:test:one' }));
            return true;
          });
          ctx.on('disco-items/account', ({ to, query }) => {
            if (to.toString() === 'alice@localhost') query.append(xml('item', { jid: 'alice@localhost', node: 'urn:test:pep' }));
          });
        },
      }),
    );
    const known = await bob.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:test:known'/></iq>`);
    assert.equal(known.getChild('query')!.toString(), `<query xmlns='http://jabber.org/protocol/disco#info' node='urn:test:known'><identity category='hierarchy' type='leaf'/></query>`);
    const unknown = await bob.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:test:unknown'/></iq>`);
    assert.equal(condition(unknown), 'item-not-found');
    const unknownItems = await bob.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='urn:test:unknown'/></iq>`);
    assert.equal(condition(unknownItems), 'item-not-found');
    const list = await bob.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='urn:test:list'/></iq>`);
    assert.deepEqual(items(list), [{ jid: 'alice@localhost', node: 'urn:test:one' }]);
    assert.equal(list.getChild('query')!.attrs.node, 'urn:test:list');
    const account = await bob.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.deepEqual(items(account), [{ jid: 'alice@localhost', node: 'urn:test:pep' }]);
    const bobItems = await bob.iq(`<iq type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.deepEqual(items(bobItems), []);
    const accountNode = await bob.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`);
    assert.equal(condition(accountNode), 'item-not-found');
  });

  it('leaves disco to full JIDs to the client', async () => {
    const pending = alice.iq(`<iq type='get' to='${bob.jid}' id='full1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const req = await bob.waitFor((el) => el.name === 'iq' && el.attrs.id === 'full1');
    assert.equal(req.attrs.from, alice.jid);
    await bob.send(`<iq type='result' to='${alice.jid}' id='full1'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/></query></iq>`);
    assert.equal((await pending).attrs.from, bob.jid);
  });
});
