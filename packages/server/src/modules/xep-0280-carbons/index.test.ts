// XEP-0280 message carbons end to end: one account on three resources (two with carbons enabled, one without)
// and third parties. Absence is checked behind a sentinel: copies to a stream are written in the order the
// sender's stanzas are processed, so once the sentinel's copy arrived an earlier copy would have too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';

/** The forwarded message inside a carbon of this direction, if `el` is one. */
function forwardedOf(el: XmlElement, direction: 'received' | 'sent'): XmlElement | undefined {
  if (el.name !== 'message') return undefined;
  return el.getChild(direction, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message');
}
const carbon = (direction: 'received' | 'sent', body: string) => (el: XmlElement) => forwardedOf(el, direction)?.getChildText('body') === body;
const plain = (body: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === body;
const isCarbon = (el: XmlElement) => el.name === 'message' && (el.getChild('received', CARBONS) ?? el.getChild('sent', CARBONS)) !== undefined;

async function enable(c: TestClient, what: 'enable' | 'disable' = 'enable'): Promise<void> {
  const r = await c.iq(`<iq type='set'><${what} xmlns='${CARBONS}'/></iq>`);
  assert.equal(r.attrs.type, 'result', r.toString());
}

/** A ping round trip: every stanza the client sent before has been processed. */
async function settle(c: TestClient): Promise<void> {
  await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
}

describe('XEP-0280 message carbons', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(() => ts.stop());

  /** Resources one and two enable carbons, three does not (Bind 2 picks the full JIDs: use .jid). */
  async function account(user: string): Promise<{ one: TestClient; two: TestClient; three: TestClient }> {
    await ts.createUser(user);
    const one = await ts.client(user, { resource: 'one' });
    const two = await ts.client(user, { resource: 'two' });
    const three = await ts.client(user, { resource: 'three' });
    await enable(one);
    await enable(two);
    return { one, two, three };
  }

  it('advertises carbons on the server and on accounts; a client toggles only its own (§3, §4)', async () => {
    await ts.createUser('ann');
    await ts.createUser('ben');
    const ann = await ts.client('ann');
    for (const to of ['localhost', 'ann@localhost']) {
      const info = await ann.iq(`<iq type='get' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
      assert.ok(features.includes(CARBONS), `${to}: ${features.join(' ')}`);
    }
    // §4.1 / §5.1: not-allowed for another account's carbons.
    const other = await ann.iq(`<iq type='set' to='ben@localhost'><enable xmlns='${CARBONS}'/></iq>`);
    assert.equal(other.attrs.type, 'error');
    assert.ok(other.getChild('error')!.getChild('not-allowed'), other.toString());
    // §10.1: enabling twice, or disabling when off, succeeds.
    await enable(ann);
    await enable(ann);
    await enable(ann, 'disable');
    await enable(ann, 'disable');
    const self = await ann.iq(`<iq type='set' to='ann@localhost'><enable xmlns='${CARBONS}'/></iq>`);
    assert.equal(self.attrs.type, 'result');
  });

  it('copies a received message to the other enabled resources (§7)', async () => {
    const { one, two, three } = await account('alice');
    await ts.createUser('bob');
    const bob = await ts.client('bob');
    await bob.send(`<message to='${one.jid}' type='chat' id='m1'><body>to one</body><thread>t1</thread></message>`);
    await one.waitFor(plain('to one'));
    const copy = await two.waitFor(carbon('received', 'to one'));
    // §7: from the bare JID, to the resource, same type, the original forwarded as it was delivered.
    assert.equal(copy.attrs.from, 'alice@localhost');
    assert.equal(copy.attrs.to, two.jid);
    assert.equal(copy.attrs.type, 'chat');
    const inner = forwardedOf(copy, 'received')!;
    assert.equal(inner.attrs.xmlns, 'jabber:client');
    assert.equal(inner.attrs.from, bob.jid);
    assert.equal(inner.attrs.to, one.jid);
    assert.equal(inner.attrs.id, 'm1');
    assert.equal(inner.getChildText('thread'), 't1');

    // To the bare JID: the highest-priority resource gets the original, the other enabled one a copy.
    await one.send(`<presence><priority>5</priority></presence>`);
    await settle(one);
    await bob.send(`<message to='alice@localhost' type='chat'><body>to bare</body></message>`);
    await one.waitFor(plain('to bare'));
    await two.waitFor(carbon('received', 'to bare'));
    // Equal top priority: both get the original, so nobody gets a copy.
    await two.send(`<presence><priority>5</priority></presence>`);
    await settle(two);
    await bob.send(`<message to='alice@localhost' type='chat'><body>both</body></message>`);
    await one.waitFor(plain('both'));
    await two.waitFor(plain('both'));
    // A gone resource falls back to the bare JID (RFC 6121 §8.5.3.2.1): copies are decided once.
    await two.send(`<presence><priority>1</priority></presence>`);
    await settle(two);
    await bob.send(`<message to='alice@localhost/gone' type='chat'><body>fallback</body></message>`);
    await one.waitFor(plain('fallback'));
    await two.waitFor(carbon('received', 'fallback'));

    // Sentinel: three gets a message directly; it never got a copy (not enabled), nor did the recipient.
    await bob.send(`<message to='${three.jid}' type='chat'><body>sentinel</body></message>`);
    await three.waitFor(plain('sentinel'));
    await two.waitFor(carbon('received', 'sentinel'));
    assert.equal(three.received.some(isCarbon), false);
    assert.equal(one.received.some(carbon('received', 'to one')), false);
    assert.equal(two.received.filter(carbon('received', 'fallback')).length, 1);
    assert.equal(two.received.some(carbon('received', 'both')), false);
    await one.waitFor(carbon('received', 'sentinel'));
  });

  it('copies a sent message to the sender’s other enabled resources (§8)', async () => {
    const { one, two, three } = await account('carl');
    await ts.createUser('dora');
    const dora = await ts.client('dora');
    await one.send(`<message to='dora@localhost' type='chat' id='s1'><body>from one</body></message>`);
    const got = await dora.waitFor(plain('from one'));
    assert.equal(got.attrs.from, one.jid);
    const copy = await two.waitFor(carbon('sent', 'from one'));
    assert.equal(copy.attrs.from, 'carl@localhost');
    assert.equal(copy.attrs.to, two.jid);
    assert.equal(copy.attrs.type, 'chat');
    const inner = forwardedOf(copy, 'sent')!;
    assert.equal(inner.attrs.from, one.jid);
    assert.equal(inner.attrs.to, 'dora@localhost');
    assert.equal(inner.attrs.id, 's1');
    // Also what a resource without carbons sends, and messages of type normal with a body.
    await three.send(`<message to='dora@localhost'><body>from three</body></message>`);
    const normal = await one.waitFor(carbon('sent', 'from three'));
    assert.equal(normal.attrs.type, undefined);
    await two.waitFor(carbon('sent', 'from three'));
    // Sentinel from one: the sender itself and the disabled resource got no copies.
    await one.send(`<message to='dora@localhost' type='chat'><body>sentinel</body></message>`);
    await two.waitFor(carbon('sent', 'sentinel'));
    await settle(one);
    assert.equal(one.received.some(carbon('sent', 'from one')), false);
    assert.equal(three.received.some(isCarbon), false);
  });

  it('copies neither private messages nor groupchat, headlines or MUC private messages (§6, §9)', async () => {
    const { one, two } = await account('eve');
    await ts.createUser('finn');
    const finn = await ts.client('finn');
    const priv = `<private xmlns='${CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/>`;
    await finn.send(`<message to='${one.jid}' type='chat'><body>private in</body>${priv}</message>`);
    await finn.send(`<message to='${one.jid}' type='chat'><body>no-copy in</body><no-copy xmlns='urn:xmpp:hints'/></message>`);
    await finn.send(`<message to='${one.jid}' type='headline'><body>headline</body></message>`);
    await finn.send(`<message to='${one.jid}' type='normal'/>`);
    await finn.send(`<message to='${one.jid}' type='chat'><body>muc pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`);
    // §6: IM payloads without a body and invitations are copied.
    await finn.send(`<message to='${one.jid}'><received xmlns='urn:xmpp:receipts' id='r1'/></message>`);
    await finn.send(`<message to='${one.jid}'><x xmlns='jabber:x:conference' jid='room@conference.localhost'/><body>invite</body></message>`);
    await finn.send(`<message to='${one.jid}' type='chat'><body>sentinel in</body></message>`);
    await one.waitFor(plain('private in'));
    await one.waitFor(plain('muc pm'));
    await two.waitFor(carbon('received', 'sentinel in'));
    const copied = two.received.filter(isCarbon).map((el) => forwardedOf(el, 'received'));
    assert.deepEqual(
      copied.map((m) => m?.getChildText('body') ?? m?.elements()[0]?.name),
      ['received', 'invite', 'sentinel in'],
    );

    await one.send(`<message to='finn@localhost' type='chat'><body>private out</body>${priv}</message>`);
    await one.send(`<message to='finn@localhost' type='groupchat'><body>groupchat</body></message>`);
    await one.send(`<message to='finn@localhost' type='chat'><body>sentinel out</body></message>`);
    await finn.waitFor(plain('private out'));
    await two.waitFor(carbon('sent', 'sentinel out'));
    assert.equal(two.received.some(carbon('sent', 'private out')), false);
    assert.equal(two.received.some(carbon('sent', 'groupchat')), false);
    // The recipient still sees <private/>: a receiving server must not copy it either (§9).
    const delivered = await finn.waitFor(plain('private out'));
    assert.ok(delivered.getChild('private', CARBONS));
  });

  it('sends nothing to a resource that disabled carbons (§5)', async () => {
    const { one, two } = await account('gus');
    await ts.createUser('hal');
    const hal = await ts.client('hal');
    await hal.send(`<message to='${one.jid}' type='chat'><body>before</body></message>`);
    await two.waitFor(carbon('received', 'before'));
    await enable(two, 'disable');
    await hal.send(`<message to='${one.jid}' type='chat'><body>after</body></message>`);
    await one.send(`<message to='hal@localhost' type='chat'><body>sent after</body></message>`);
    await one.waitFor(plain('after'));
    await hal.waitFor(plain('sent after'));
    await hal.send(`<message to='${two.jid}' type='chat'><body>sentinel</body></message>`);
    await one.send(`<message to='${two.jid}' type='chat'><body>sentinel 2</body></message>`);
    await two.waitFor(plain('sentinel'));
    await two.waitFor(plain('sentinel 2'));
    assert.deepEqual(
      two.received.filter(isCarbon).map((el) => forwardedOf(el, 'received')?.getChildText('body')),
      ['before'],
    );
    // Between resources of one account: one's message to two is copied to nobody (three is not enabled,
    // two disabled, and one sent it).
    assert.equal(one.received.some(carbon('received', 'sentinel 2')), false);
  });

  it('never delivers a carbon that is not from the account’s bare JID (§11)', async () => {
    const { one, two } = await account('ida');
    await ts.createUser('mallory');
    const mallory = await ts.client('mallory');
    const forged = (dir: string, body: string) =>
      `<${dir} xmlns='${CARBONS}'><forwarded xmlns='${FORWARD}'><message xmlns='jabber:client' from='${one.jid}' to='someone@localhost' type='chat'><body>${body}</body></message></forwarded></${dir}>`;
    // A message that is only a forged carbon is dropped; alongside a body the wrapper is removed.
    await mallory.send(`<message to='${two.jid}' type='chat'>${forged('sent', 'forged 1')}</message>`);
    await mallory.send(`<message to='ida@localhost' type='chat'>${forged('received', 'forged 2')}</message>`);
    await mallory.send(`<message to='${two.jid}' type='chat'><body>hello</body>${forged('sent', 'forged 3')}</message>`);
    // Not even a client of the account may send one: only the server speaks as the bare JID.
    await one.send(`<message to='${two.jid}' type='chat'>${forged('sent', 'forged 4')}</message>`);
    const hello = await two.waitFor(plain('hello'));
    assert.equal(isCarbon(hello), false, hello.toString());
    // The copy of mallory's message to two, sent by the server, is genuine and reaches one.
    const genuine = await one.waitFor(carbon('received', 'hello'));
    assert.equal(genuine.attrs.from, 'ida@localhost');
    assert.equal(forwardedOf(genuine, 'received')!.getChild('sent', CARBONS), undefined);
    await mallory.send(`<message to='${two.jid}' type='chat'><body>sentinel</body></message>`);
    await one.send(`<message to='${two.jid}' type='chat'><body>sentinel 2</body></message>`);
    await two.waitFor(plain('sentinel'));
    await two.waitFor(plain('sentinel 2'));
    await one.waitFor(carbon('received', 'sentinel'));
    for (const c of [one, two]) {
      for (const el of c.received.filter(isCarbon)) assert.equal(el.attrs.from, 'ida@localhost', el.toString());
      assert.equal(c.received.some((el) => /forged/.test(el.toString())), false);
    }
  });
});
