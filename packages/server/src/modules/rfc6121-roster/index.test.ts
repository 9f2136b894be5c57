// RFC 6121 rosters, subscriptions and presence, end to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';

const ROSTER = 'jabber:iq:roster';
const isPush = (jid: string, sub?: string) => (el: XmlElement) =>
  el.name === 'iq' && el.attrs.type === 'set' &&
  el.getChild('query', ROSTER)?.getChild('item')?.attrs.jid === jid &&
  (sub === undefined || el.getChild('query', ROSTER)?.getChild('item')?.attrs.subscription === sub);
const isPresence = (from: string, type?: string) => (el: XmlElement) =>
  el.name === 'presence' && el.attrs.from?.startsWith(from) === true && el.attrs.type === type;

async function rosterGet(c: TestClient): Promise<XmlElement> {
  const r = await c.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
  assert.equal(r.attrs.type, 'result');
  return r.getChild('query', ROSTER)!;
}

describe('roster and presence (RFC 6121)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['romeo', 'juliet', 'nurse', 'tybalt', 'mercutio']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('sets, pushes, versions and removes roster items', async () => {
    const a = await ts.client('tybalt', { resource: 'a' });
    const b = await ts.client('tybalt', { resource: 'b' });
    const empty = await rosterGet(a);
    await rosterGet(b);
    assert.equal(empty.elements().length, 0);
    const ver0 = empty.attrs.ver;
    const set = await a.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='mercutio@localhost' name='Merc'><group>Friends</group></item></query></iq>`);
    assert.equal(set.attrs.type, 'result');
    // RFC 6121 §2.3.2: every interested resource gets the push.
    for (const c of [a, b]) {
      const push = await c.waitFor(isPush('mercutio@localhost', 'none'));
      assert.equal(push.getChild('query')!.getChild('item')!.attrs.name, 'Merc');
      assert.equal(push.getChild('query')!.getChild('item')!.getChildText('group'), 'Friends');
    }
    const full = await rosterGet(a);
    assert.notEqual(full.attrs.ver, ver0);
    assert.equal(full.getChild('item')!.attrs.jid, 'mercutio@localhost');
    // XEP-0237: the current version gets an empty result.
    const same = await a.iq(`<iq type='get'><query xmlns='${ROSTER}' ver='${full.attrs.ver}'/></iq>`);
    assert.equal(same.attrs.type, 'result');
    assert.equal(same.elements().length, 0);
    // Errors the RFC names.
    const dup = await a.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='x@localhost'><group>G</group><group>G</group></item></query></iq>`);
    assert.equal(dup.getChild('error')!.elements()[0]!.name, 'bad-request');
    const two = await a.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='x@localhost'/><item jid='y@localhost'/></query></iq>`);
    assert.equal(two.getChild('error')!.elements()[0]!.name, 'bad-request');
    const missing = await a.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='nobody@localhost' subscription='remove'/></query></iq>`);
    assert.equal(missing.getChild('error')!.elements()[0]!.name, 'item-not-found');
    const removed = await a.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='mercutio@localhost' subscription='remove'/></query></iq>`);
    assert.equal(removed.attrs.type, 'result');
    await b.waitFor(isPush('mercutio@localhost', 'remove'));
    const other = await a.iq(`<iq type='get' to='mercutio@localhost'><query xmlns='${ROSTER}'/></iq>`);
    assert.equal(other.attrs.type, 'error');
  });

  it('runs the subscription handshake, exchanges presence and sends unavailable on disconnect', async () => {
    const romeo = await ts.client('romeo');
    const juliet = await ts.client('juliet');
    await rosterGet(romeo);
    await rosterGet(juliet);
    await romeo.send(`<presence to='juliet@localhost' type='subscribe'/>`);
    // §3.1.2: the requester's roster shows the pending request.
    const pending = await romeo.waitFor(isPush('juliet@localhost', 'none'));
    assert.equal(pending.getChild('query')!.getChild('item')!.attrs.ask, 'subscribe');
    const req = await juliet.waitFor(isPresence('romeo@localhost', 'subscribe'));
    assert.equal(req.attrs.from, 'romeo@localhost'); // stamped with the bare JID
    await juliet.send(`<presence to='romeo@localhost' type='subscribed'/>`);
    await juliet.waitFor(isPush('romeo@localhost', 'from'));
    await romeo.waitFor(isPush('juliet@localhost', 'to'));
    await romeo.waitFor(isPresence('romeo@localhost', 'subscribed') as never).catch(() => undefined);
    // §3.1.5: after approval Romeo gets Juliet's current presence.
    await romeo.waitFor(isPresence('juliet@localhost/'));
    // And the other direction.
    await juliet.send(`<presence to='romeo@localhost' type='subscribe'/>`);
    await romeo.waitFor(isPresence('juliet@localhost', 'subscribe'));
    await romeo.send(`<presence to='juliet@localhost' type='subscribed'/>`);
    await romeo.waitFor(isPush('juliet@localhost', 'both'));
    await juliet.waitFor(isPush('romeo@localhost', 'both'));
    // Presence updates reach the contact.
    await juliet.send(`<presence><show>away</show><status>on the balcony</status></presence>`);
    const away = await romeo.waitFor((el) => isPresence('juliet@localhost/')(el) && el.getChildText('show') === 'away');
    assert.equal(away.getChildText('status'), 'on the balcony');
    // A second resource of Romeo logging in gets Juliet's presence through the probe.
    const romeo2 = await ts.client('romeo', { resource: 'second' });
    await romeo2.waitFor((el) => isPresence('juliet@localhost/')(el) && el.getChildText('show') === 'away');
    // §4.5.2: disconnecting sends unavailable to contacts.
    await juliet.stop();
    await romeo.waitFor(isPresence('juliet@localhost/', 'unavailable'));
  });

  it('keeps a subscription request for an offline user and delivers it at login; denial clears it', async () => {
    const nurse = await ts.client('nurse');
    await rosterGet(nurse);
    await nurse.send(`<presence to='mercutio@localhost' type='subscribe'/>`);
    await nurse.waitFor(isPush('mercutio@localhost', 'none'));
    const merc = await ts.client('mercutio', { resource: 'late' });
    const req = await merc.waitFor(isPresence('nurse@localhost', 'subscribe'));
    assert.ok(req);
    await merc.send(`<presence to='nurse@localhost' type='unsubscribed'/>`);
    const denied = await nurse.waitFor((el) => isPush('mercutio@localhost', 'none')(el) && el.getChild('query')!.getChild('item')!.attrs.ask === undefined);
    assert.ok(denied);
  });

  it('routes directed presence and sends unavailable to its recipients on logout', async () => {
    const tybalt = await ts.client('tybalt', { resource: 'dp' });
    const nurse = await ts.client('nurse', { resource: 'dp' });
    await tybalt.send(`<presence to='${nurse.jid}'><status>hello</status></presence>`);
    await nurse.waitFor((el) => isPresence(tybalt.jid)(el) && el.getChildText('status') === 'hello');
    await tybalt.stop();
    await nurse.waitFor(isPresence(tybalt.jid, 'unavailable'));
  });

  it('a blocked subscriber sees the user go offline, and back online on unblock (XEP-0191 §3.3, §3.4)', async () => {
    const a = await ts.client('romeo', { resource: 'block' });
    const b = await ts.client('juliet', { resource: 'block' });
    await b.waitFor(isPresence(a.jid));
    const blocked = await a.iq(`<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='juliet@localhost'/></block></iq>`);
    assert.equal(blocked.attrs.type, 'result');
    await b.waitFor(isPresence(a.jid, 'unavailable'));
    b.received.length = 0;
    await a.iq(`<iq type='set'><unblock xmlns='urn:xmpp:blocking'><item jid='juliet@localhost'/></unblock></iq>`);
    await b.waitFor(isPresence(a.jid));
  });
});
