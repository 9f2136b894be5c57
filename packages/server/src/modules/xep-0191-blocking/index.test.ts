// XEP-0191 end to end: the blocklist protocol (§3.2–§3.5) and what a block does to traffic (§3.3).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xml, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import type { BlocklistEvent } from './index';

const BLOCKING = 'urn:xmpp:blocking';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const pause = (ms = 150) => new Promise((r) => setTimeout(r, ms));

const block = (...jids: string[]) => `<iq type='set'><block xmlns='${BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</block></iq>`;
const unblock = (...jids: string[]) => `<iq type='set'><unblock xmlns='${BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</unblock></iq>`;
const getList = `<iq type='get'><blocklist xmlns='${BLOCKING}'/></iq>`;

function condition(el: XmlElement): string | undefined {
  return el.getChild('error')?.elements().find((c) => c.attrs.xmlns === STANZAS && c.name !== 'text')?.name;
}
const items = (el: XmlElement) => el.getChild('blocklist', BLOCKING)!.getChildren('item').map((i) => i.attrs.jid);
const bodyIs = (text: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === text;
const isPush = (name: string) => (el: XmlElement) => el.name === 'iq' && el.attrs.type === 'set' && el.getChild(name, BLOCKING) !== undefined;

async function ok(c: TestClient, iq: string): Promise<XmlElement> {
  const reply = await c.iq(iq);
  assert.equal(reply.attrs.type, 'result', reply.toString());
  return reply;
}

describe('XEP-0191 blocking', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('returns the list, and pushes changes to the resources that asked for it (§3.2, §3.3)', async () => {
    assert.ok(ts.running.server.main.info.features.has(BLOCKING)); // §3.1: advertised by the server
    const a1 = await ts.client('alice', { resource: 'a1' });
    const a2 = await ts.client('alice', { resource: 'a2' });
    const empty = await ok(a1, getList);
    assert.equal(empty.getChild('blocklist', BLOCKING)!.toString(), `<blocklist xmlns='${BLOCKING}'/>`);
    const events: BlocklistEvent[] = [];
    const listener = ts.running.server.hooks.on('blocklist/blocked', (e) => void events.push(e));
    await ok(a1, block('Bob@localhost', 'iago@shakespeare.lit'));
    listener.dispose();
    const pushed = await a1.waitFor(isPush('block'));
    assert.equal(pushed.attrs.to, a1.jid);
    assert.deepEqual(pushed.getChild('block', BLOCKING)!.getChildren('item').map((i) => i.attrs.jid), ['bob@localhost', 'iago@shakespeare.lit']);
    await pause();
    assert.equal(a2.received.some(isPush('block')), false); // a2 never asked for the list
    assert.deepEqual(items(await ok(a2, getList)), ['bob@localhost', 'iago@shakespeare.lit']);
    assert.deepEqual(events.map((e) => [e.owner.toString(), e.jids]), [['alice@localhost', ['bob@localhost', 'iago@shakespeare.lit']]]);
    // Blocking again is harmless and announces nothing new.
    await ok(a1, block('bob@localhost'));
    assert.deepEqual(items(await ok(a1, getList)), ['bob@localhost', 'iago@shakespeare.lit']);
  });

  it('makes the user look offline to a blocked contact (§3.3 inbound)', async () => {
    await ts.client('carol', { resource: 'c' }).then((c) => ok(c, block('dave@localhost')));
    const carol = await ts.client('carol', { resource: 'watch' });
    const dave = await ts.client('dave');
    const erin = await ts.client('erin');
    await dave.send(`<message to='carol@localhost' id='m1' type='chat'><body>hello?</body></message>`);
    const bounce = await dave.waitFor((el) => el.name === 'message' && el.attrs.id === 'm1');
    assert.equal(bounce.attrs.type, 'error');
    assert.equal(bounce.attrs.from, 'carol@localhost');
    assert.equal(condition(bounce), 'service-unavailable');
    await dave.send(`<message to='${carol.jid}' type='headline'><body>news</body></message>`);
    await dave.send(`<presence to='${carol.jid}'/>`);
    const iq = await dave.iq(`<iq type='get' to='${carol.jid}'><query xmlns='jabber:iq:version'/></iq>`);
    assert.equal(condition(iq), 'service-unavailable');
    const bareIq = await dave.iq(`<iq type='get' to='carol@localhost'><vCard xmlns='vcard-temp'/></iq>`);
    assert.equal(condition(bareIq), 'service-unavailable');
    // Someone not blocked still gets through; by then Dave's stanzas would have arrived.
    await erin.send(`<message to='${carol.jid}' type='chat'><body>from erin</body></message>`);
    await carol.waitFor(bodyIs('from erin'));
    await pause();
    assert.equal(carol.received.some((el) => el.attrs.from?.startsWith('dave@') ?? false), false, carol.received.join('\n'));
    // No error for the headline or the presence (§3.3: presence MUST NOT be answered).
    assert.equal(dave.received.filter((el) => el.attrs.type === 'error' && el.name !== 'iq').length, 1);
  });

  it('refuses the user’s own stanzas to a blocked contact with not-acceptable and <blocked/> (§3.3 outbound)', async () => {
    const alice = await ts.client('alice', { resource: 'out' });
    const bob = await ts.client('bob', { resource: 'out' });
    await alice.send(`<message to='bob@localhost' id='o1' type='chat'><body>Can you hear me now?</body></message>`);
    const err = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'o1');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'bob@localhost');
    assert.equal(err.getChildText('body'), 'Can you hear me now?');
    const error = err.getChild('error')!;
    assert.equal(error.attrs.type, 'cancel');
    assert.ok(error.getChild('not-acceptable', STANZAS));
    assert.ok(error.getChild('blocked', 'urn:xmpp:blocking:errors'));
    const iq = await alice.iq(`<iq type='get' to='${bob.jid}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(condition(iq), 'not-acceptable');
    assert.ok(iq.getChild('error')!.getChild('blocked', 'urn:xmpp:blocking:errors'));
    // A blocked domain covers its subdomains, remote ones included (§6).
    await ok(alice, block('evil.example'));
    await alice.send(`<message to='someone@muc.evil.example' id='o2'><body>x</body></message>`);
    const remote = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'o2');
    assert.equal(condition(remote), 'not-acceptable');
    await alice.send(`<presence to='${bob.jid}'/>`); // dropped silently
    await pause();
    assert.equal(bob.received.some((el) => el.attrs.from?.startsWith('alice@') ?? false), false, bob.received.join('\n'));
    // The user's own server and own account are never blocked.
    assert.equal((await alice.iq(getList)).attrs.type, 'result');
  });

  it('filters presence the server sends on the blocking user’s behalf, except unavailable', async () => {
    const gina = await ts.client('gina');
    const hank = await ts.client('hank');
    await ok(gina, block('hank@localhost'));
    const send = (type?: string) => ts.running.server.send(xml('presence', { from: gina.jid, to: hank.jid, type }));
    await send();
    await send('unavailable');
    const got = await hank.waitFor((el) => el.name === 'presence' && el.attrs.from === gina.jid);
    assert.equal(got.attrs.type, 'unavailable');
    assert.equal(hank.received.filter((el) => el.attrs.from === gina.jid).length, 1);
  });

  it('matches a full JID entry only for that resource (§6)', async () => {
    const erin = await ts.client('erin', { resource: 'e' });
    const one = await ts.client('frank', { resource: 'one' });
    const two = await ts.client('frank', { resource: 'two' });
    await ok(erin, block(one.jid));
    await one.send(`<message to='${erin.jid}' id='f1' type='chat'><body>from one</body></message>`);
    assert.equal(condition(await one.waitFor((el) => el.attrs.id === 'f1')), 'service-unavailable');
    await two.send(`<message to='${erin.jid}' type='chat'><body>from two</body></message>`);
    await erin.waitFor(bodyIs('from two'));
  });

  it('unblocks some or all entries, with pushes, and traffic flows again (§3.4, §3.5)', async () => {
    const carol = await ts.client('carol', { resource: 'unblock' });
    await ok(carol, getList);
    await ok(carol, block('bob@localhost', 'erin@localhost'));
    const unblocked: BlocklistEvent[] = [];
    const listener = ts.running.server.hooks.on('blocklist/unblocked', (e) => void unblocked.push(e));
    await ok(carol, unblock('dave@localhost', 'nobody@localhost'));
    const push = await carol.waitFor(isPush('unblock'));
    assert.deepEqual(push.getChild('unblock', BLOCKING)!.getChildren('item').map((i) => i.attrs.jid), ['dave@localhost', 'nobody@localhost']);
    assert.deepEqual(items(await ok(carol, getList)), ['bob@localhost', 'erin@localhost']);
    const dave = await ts.client('dave', { resource: 'again' });
    await dave.send(`<message to='${carol.jid}' type='chat'><body>back</body></message>`);
    await carol.waitFor(bodyIs('back'));
    carol.received.length = 0;
    await ok(carol, `<iq type='set'><unblock xmlns='${BLOCKING}'/></iq>`);
    const all = await carol.waitFor(isPush('unblock'));
    assert.equal(all.getChild('unblock', BLOCKING)!.toString(), `<unblock xmlns='${BLOCKING}'/>`);
    assert.deepEqual(items(await ok(carol, getList)), []);
    listener.dispose();
    assert.deepEqual(unblocked.map((e) => e.jids), [['dave@localhost'], ['bob@localhost', 'erin@localhost']]);
  });

  it('rejects malformed requests and other people’s blocklists', async () => {
    const erin = await ts.client('erin', { resource: 'errors' });
    assert.equal(condition(await erin.iq(`<iq type='set'><block xmlns='${BLOCKING}'/></iq>`)), 'bad-request');
    assert.equal(condition(await erin.iq(block('not a jid@'))), 'jid-malformed');
    assert.equal(condition(await erin.iq(`<iq type='get' to='alice@localhost'><blocklist xmlns='${BLOCKING}'/></iq>`)), 'forbidden');
  });

  it('keeps the list across sessions, applies it while the user is offline, and drops it with the account', async () => {
    const alice = await ts.client('alice', { resource: 'persist' });
    assert.ok(items(await ok(alice, getList)).includes('bob@localhost'));
    await ts.client('frank', { resource: 'f' }).then((f) => ok(f, block('bob@localhost')));
    for (const c of [...ts.running.server.sessions.ofAccount('frank@localhost')]) c.close();
    await pause();
    const bob = await ts.client('bob', { resource: 'offline' });
    await bob.send(`<message to='frank@localhost' id='p1' type='chat'><body>are you there?</body></message>`);
    assert.equal(condition(await bob.waitFor((el) => el.attrs.id === 'p1')), 'service-unavailable');

    await ts.running.server.accounts.delete('frank');
    await ts.createUser('frank');
    const fresh = await ts.client('frank', { resource: 'fresh' });
    assert.deepEqual(items(await ok(fresh, getList)), []);
  });
});
