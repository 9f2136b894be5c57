// XEP-0198 on the wire, with a raw socket: enabling (§3), acks and counters (§4), resumption (§5), stream closure
// (§7) and what happens to stanzas the client never acknowledged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '@parley/protocol';
import { startTestServer, type TestServer } from '../../testing/harness';
import { SM, STANZAS, BIND, authenticate, bind, enabled, waitUntil } from './test-support';

describe('XEP-0198 stream management', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { options: { sm: { max_hibernating_per_account: 2 } } } } as never);
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('§2: offers <sm/> only after authentication; §3: <enable/> before binding fails and the stream goes on', async () => {
    const r = await ts.raw();
    r.open();
    const before = await r.waitFor('</stream:features>');
    // Only inside SASL2's <inline/>, for resumption during authentication (XEP-0388).
    assert.match(before, /<authentication xmlns='urn:xmpp:sasl:2'>.*<inline><sm xmlns='urn:xmpp:sm:3'\/>/);
    assert.doesNotMatch(before.replace(/<authentication[^]*<\/authentication>/, ''), /urn:xmpp:sm:3/);
    r.data = '';
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await r.waitFor('<success');
    r.data = '';
    r.open();
    assert.match(await r.waitFor('</stream:features>'), /<sm xmlns='urn:xmpp:sm:3'\/>/);
    r.data = '';
    r.write(`<enable xmlns='${SM}'/>`);
    await r.waitFor(`<failed xmlns='${SM}'><unexpected-request xmlns='${STANZAS}'/></failed>`);
    await bind(r, 'early');
    r.write(`<enable xmlns='${SM}'/>`);
    await r.waitFor(`<enabled xmlns='${SM}'/>`);
    r.destroy();
  });

  it('§3/§5: <enabled/> carries an unguessable id, resume and max (capped by ours); a second <enable/> fails', async () => {
    const a = await enabled(ts, 'alice', 'one');
    assert.match(a.id, /^[A-Za-z0-9_-]{24,}$/);
    assert.equal(a.max, '300');
    a.r.write(`<enable xmlns='${SM}' resume='true'/>`);
    await a.r.waitFor(`<failed xmlns='${SM}'><unexpected-request xmlns='${STANZAS}'/></failed>`);
    // §5: <resume/> is for a stream without a resource.
    a.r.write(`<resume xmlns='${SM}' previd='${a.id}' h='0'/>`);
    await a.r.waitFor(/<failed[^>]*><unexpected-request[^>]*\/><\/failed>[\s\S]*<failed/);
    const b = await enabled(ts, 'alice', 'two', `resume='1' max='60'`);
    assert.notEqual(b.id, a.id);
    assert.equal(b.max, '60');
    const c = await enabled(ts, 'alice', 'three', `max='60'`);
    assert.equal(c.id, ''); // no resumption asked for: no SM-ID
    for (const x of [a, b, c]) x.r.destroy();
  });

  it('§4: counts the stanzas the client sent (not nonzas) and answers <r/> with <a h/>', async () => {
    const { r } = await enabled(ts, 'bob', 'count', '');
    r.write(`<r xmlns='${SM}'/>`);
    await r.waitFor(`<a xmlns='${SM}' h='0'/>`);
    r.data = '';
    // Three stanzas, one of them invalid (answered with an error, still handled), and nonzas that do not count.
    r.write(`<presence/><iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq><message to='bob@localhost/nowhere' type='headline'/>`);
    r.write(`<a xmlns='${SM}' h='0'/><r xmlns='${SM}'/>`);
    await r.waitFor(`<a xmlns='${SM}' h='3'/>`);
    r.write(`<iq type='get' id='p2' to='localhost'/>`); // bad-request: no child
    r.write(`<r xmlns='${SM}'/>`);
    await r.waitFor(`<a xmlns='${SM}' h='4'/>`);
    r.destroy();
  });

  it('§4: requests acks for what it sent, trims on <a/>, and an <a/> beyond what was sent is handled-count-too-high', async () => {
    const bob = await ts.client('bob', { resource: 'sender' });
    const { r } = await enabled(ts, 'carol', 'acks', '');
    for (const n of [1, 2]) await bob.send(`<message to='carol@localhost/acks' type='chat' id='m${n}'><body>${n}</body></message>`);
    await r.waitFor(/id='m2'[\s\S]*<r xmlns='urn:xmpp:sm:3'\/>/);
    r.write(`<a xmlns='${SM}' h='2'/>`);
    await bob.send(`<message to='carol@localhost/acks' type='chat' id='m3'><body>3</body></message>`);
    await r.waitFor(/id='m3'[\s\S]*<r xmlns='urn:xmpp:sm:3'\/>/);
    // The client acknowledges 5 while 3 were sent: a stream error, and the stream ends.
    r.data = '';
    r.write(`<a xmlns='${SM}' h='5'/>`);
    await r.waitClosed();
    assert.match(r.data, /<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    assert.match(r.data, /<handled-count-too-high xmlns='urn:xmpp:sm:3' h='5' send-count='3'\/><\/stream:error><\/stream:stream>/);
  });

  it('rejects bad input precisely: <a/> without a valid h, <r/> before <enable/>, unknown elements, a bad <resume/>', async () => {
    const { r } = await enabled(ts, 'dave', 'bad', '');
    r.write(`<a xmlns='${SM}' h='-1'/>`);
    await r.waitClosed();
    assert.match(r.data, /<invalid-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);

    const r2 = await ts.raw();
    await r2.login('dave', 'secret', 'plain');
    r2.write(`<r xmlns='${SM}'/>`);
    await r2.waitClosed();
    assert.match(r2.data, /<unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);

    const r3 = (await enabled(ts, 'dave', 'odd', '')).r;
    r3.write(`<enabled xmlns='${SM}'/>`);
    await r3.waitClosed();
    assert.match(r3.data, /<unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);

    const r4 = await ts.raw();
    await authenticate(r4, 'dave');
    r4.write(`<resume xmlns='${SM}' previd='x'/>`);
    await r4.waitFor(`<failed xmlns='${SM}'><bad-request xmlns='${STANZAS}'/></failed>`);
    r4.write(`<resume xmlns='${SM}' h='99999999999' previd='x'/>`);
    await r4.waitFor(/<bad-request[\s\S]*<bad-request/);
    r4.destroy();
  });

  it('§5: a dropped session hibernates, queues, and resumes with the same JID, state and presence', async () => {
    const bob = await ts.client('bob', { resource: 'watcher' });
    await bob.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='erin@localhost'/></query></iq>`);
    const { r, id } = await enabled(ts, 'erin', 'phone');
    r.write(`<presence><status>here</status></presence>`);
    await bob.send(`<message to='erin@localhost/phone' type='chat' id='before'><body>before</body></message>`);
    await r.waitFor(/id='before'/);
    r.destroy(); // no </stream:stream>: the session is kept (§7)
    await new Promise((resolve) => setTimeout(resolve, 100));
    await bob.send(`<message to='erin@localhost' type='chat' id='during'><body>during</body></message>`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const server = ts.running.server;
    assert.ok(server.sessions.get(Jid.parse('erin@localhost/phone')), 'the hibernating session is still in the table');

    const n = await ts.raw();
    const features = await authenticate(n, 'erin');
    assert.match(features, /<sm xmlns='urn:xmpp:sm:3'\/>/);
    // Handled one stanza (presence); the client saw nothing it acknowledged.
    n.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const data = await n.waitFor(/id='during'[\s\S]*<r xmlns='urn:xmpp:sm:3'\/>/);
    assert.match(data, new RegExp(`^<resumed xmlns='${SM}' previd='${id}' h='1'/>`));
    // Both unacknowledged messages again, in order, stamped with when they were first sent (XEP-0203).
    assert.ok(data.indexOf("id='before'") < data.indexOf("id='during'"));
    for (const id of ['before', 'during']) {
      assert.match(data, new RegExp(`id='${id}'[^]*?<delay xmlns='urn:xmpp:delay' from='localhost' stamp='[^']+'/></message>`));
    }
    // The session continues: same full JID, its presence never went away, and stanzas flow both ways.
    assert.equal(bob.received.some((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === 'erin@localhost/phone'), false);
    n.write(`<message to='bob@localhost/watcher' type='chat' id='back'><body>back</body></message>`);
    const back = await bob.waitFor((el) => el.attrs.id === 'back');
    assert.equal(back.attrs.from, 'erin@localhost/phone');
    n.data = '';
    n.write(`<a xmlns='${SM}' h='2'/><r xmlns='${SM}'/>`);
    await n.waitFor(`<a xmlns='${SM}' h='2'/>`);
    n.destroy();
  });

  it('§5: unknown, expired or another account’s SM-ID fails with item-not-found, and the stream may bind', async () => {
    const { r, id } = await enabled(ts, 'frank', 'x', `resume='true' max='1'`);
    const other = await ts.raw();
    await authenticate(other, 'grace');
    other.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    // Another account learns nothing, not even that the id exists.
    await other.waitFor(`<failed xmlns='${SM}'><item-not-found xmlns='${STANZAS}'/></failed>`);
    other.write(`<resume xmlns='${SM}' previd='nonsense' h='0'/>`);
    await other.waitFor(/<item-not-found[\s\S]*<item-not-found/);
    await bind(other, 'fine');
    other.destroy();

    r.write(`<presence/>`);
    r.write(`<r xmlns='${SM}'/>`);
    await r.waitFor(`h='1'`);
    r.destroy();
    const server = ts.running.server;
    await waitUntil(() => !server.sessions.get(Jid.parse('frank@localhost/x'))); // max='1': one second
    const late = await ts.raw();
    await authenticate(late, 'frank');
    late.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    // §5: the account may learn how many of its stanzas were handled.
    await late.waitFor(`<failed xmlns='${SM}' h='1'><item-not-found xmlns='${STANZAS}'/></failed>`);
    await bind(late, 'x');
    late.destroy();
  });

  it('§5: a resume while the old connection is alive takes the session over; a too-high h is refused', async () => {
    const { r, id } = await enabled(ts, 'grace', 'tab');
    const bob = await ts.client('bob', { resource: 'g' });
    await bob.send(`<message to='grace@localhost/tab' type='chat' id='g1'><body>1</body></message>`);
    await r.waitFor(/id='g1'/);

    const greedy = await ts.raw();
    await authenticate(greedy, 'grace');
    greedy.write(`<resume xmlns='${SM}' previd='${id}' h='7'/>`);
    await greedy.waitClosed();
    assert.match(greedy.data, /<handled-count-too-high xmlns='urn:xmpp:sm:3' h='7' send-count='1'\/>/);

    const n = await ts.raw();
    await authenticate(n, 'grace');
    n.write(`<resume xmlns='${SM}' previd='${id}' h='1'/>`);
    await n.waitFor(`<resumed xmlns='${SM}' previd='${id}' h='0'/>`);
    await r.waitClosed();
    assert.match(r.data, /<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    assert.doesNotMatch(n.data, /id='g1'/); // acknowledged by the resume: not sent again
    await bob.send(`<message to='grace@localhost/tab' type='chat' id='g2'><body>2</body></message>`);
    await n.waitFor(/id='g2'/);
    n.destroy();
  });

  it('§7: a clean close ends a resumable session at once; unacknowledged messages go to offline storage', async () => {
    const bob = await ts.client('bob', { resource: 'h' });
    await bob.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='heidi@localhost'/></query></iq>`);
    const { r, id } = await enabled(ts, 'heidi', 'desk');
    r.write(`<presence/>`);
    await bob.send(`<message to='heidi@localhost' type='chat' id='h1'><body>unacked</body></message>`);
    await bob.send(`<presence type='subscribe' to='heidi@localhost'/>`);
    await r.waitFor(/id='h1'/);
    r.write(`</stream:stream>`);
    await r.waitClosed();
    assert.equal(ts.running.server.sessions.get(Jid.parse('heidi@localhost/desk')), undefined);

    const again = await ts.raw();
    await authenticate(again, 'heidi');
    again.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await again.waitFor(`<failed xmlns='${SM}' h='1'><item-not-found xmlns='${STANZAS}'/></failed>`);
    again.destroy();
    // XEP-0198 §4: the message the client never acknowledged is treated as one for an unavailable resource.
    const heidi = await ts.client('heidi');
    const msg = await heidi.waitFor((el) => el.attrs.id === 'h1');
    assert.equal(msg.getChildText('body'), 'unacked');
  });

  it('§5: when the resumption window ends, the session ends: unavailable presence, messages offline, iqs answered', async () => {
    const bob = await ts.client('bob', { resource: 'i' });
    const { r } = await enabled(ts, 'ivan', 'mobile', `resume='true' max='1'`);
    // Directed presence: its recipient gets unavailable when the session ends (RFC 6121 §4.6.3).
    r.write(`<presence/><presence to='bob@localhost'/>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === 'ivan@localhost/mobile');
    await bob.send(`<message to='ivan@localhost/mobile' type='chat' id='i1'><body>one</body></message>`);
    await r.waitFor(/id='i1'/);
    r.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // While hibernating: queued, nothing bounced yet.
    await bob.send(`<message to='ivan@localhost' type='chat' id='i2'><body>two</body></message>`);
    const iq = bob.iq(`<iq type='get' to='ivan@localhost/mobile' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === 'ivan@localhost/mobile', 5000);
    const reply = await iq;
    assert.equal(reply.attrs.type, 'error');
    assert.ok(reply.getChild('error')?.getChild('service-unavailable', STANZAS));
    assert.equal(bob.received.some((el) => el.name === 'message' && el.attrs.type === 'error'), false);
    const ivan = await ts.client('ivan');
    await ivan.waitFor((el) => el.attrs.id === 'i2');
    await ivan.waitFor((el) => el.attrs.id === 'i1');
    const bodies = ivan.received.filter((el) => el.name === 'message').map((el) => el.getChildText('body'));
    assert.deepEqual(bodies, ['one', 'two']);
  });

  it('a non-resumable session that drops with unacked messages hands them to the user’s other resource', async () => {
    const other = await ts.client('judy', { resource: 'laptop' });
    const { r } = await enabled(ts, 'judy', 'phone', '');
    r.write(`<presence><priority>5</priority></presence>`);
    await other.waitFor((el) => el.name === 'presence' && el.attrs.from === 'judy@localhost/phone');
    const bob = await ts.client('bob', { resource: 'j' });
    await bob.send(`<message to='judy@localhost' type='chat' id='j1'><body>for the phone</body></message>`);
    await r.waitFor(/id='j1'/);
    r.destroy();
    const got = await other.waitFor((el) => el.attrs.id === 'j1');
    assert.equal(got.getChildText('body'), 'for the phone');
  });

  it('RFC 6120 §7.7.2.2: binding the full JID of a hibernating session replaces it and gets its unacked messages', async () => {
    const { r, id } = await enabled(ts, 'dave', 'same');
    const bob = await ts.client('bob', { resource: 'd' });
    await bob.send(`<message to='dave@localhost/same' type='chat' id='d1'><body>kept</body></message>`);
    await r.waitFor(/id='d1'/);
    r.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const n = await ts.raw();
    await authenticate(n, 'dave');
    n.write(`<iq type='set' id='bind'><bind xmlns='${BIND}'><resource>same</resource></bind></iq>`);
    await n.waitFor(/<\/iq>[\s\S]*id='d1'/);
    const late = await ts.raw();
    await authenticate(late, 'dave');
    late.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await late.waitFor(/<failed xmlns='urn:xmpp:sm:3'[^>]*><item-not-found/);
    for (const x of [n, late]) x.destroy();
  });

  it('keeps at most max_hibernating_per_account sessions of one account waiting', async () => {
    const ids: string[] = [];
    for (const res of ['h1', 'h2', 'h3']) {
      const { r, id } = await enabled(ts, 'carol', res);
      ids.push(id);
      r.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const server = ts.running.server;
    await waitUntil(() => !server.sessions.get(Jid.parse('carol@localhost/h1')));
    assert.ok(server.sessions.get(Jid.parse('carol@localhost/h2')));
    assert.ok(server.sessions.get(Jid.parse('carol@localhost/h3')));
  });
});
