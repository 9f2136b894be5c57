// XEP-0045 core: creation (§10.1), entering (§7.2), messages (§7.4, §7.5), subject (§8.1), nick change (§7.6),
// exiting (§7.14), history (§7.2.15), disco (§6), XEP-0421 occupant ids — end to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { codes, createRoom, errorOf, item, join, joinFully, messageFrom, MUC, MUC_USER, next, none, presenceFrom, SERVICE } from './test-helpers';

const OCC = 'urn:xmpp:occupant-id:0';

describe('XEP-0045 multi-user chat: core', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('creates an instant room, locked until the owner accepts the defaults', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const self = await join(alice, 'lobby', 'Alice');
    assert.deepEqual(codes(self), [110, 201]);
    assert.deepEqual(item(self), { affiliation: 'owner', role: 'moderator', jid: alice.jid });
    // §7.2.16: the subject is sent on entering, empty when none.
    const subject = await alice.waitFor(messageFrom(`lobby@${SERVICE}`));
    assert.equal(subject.toString(), `<message from='lobby@${SERVICE}' to='${alice.jid}' type='groupchat' id='${subject.attrs.id}'><subject/></message>`);
    // §10.1.2: others cannot enter the locked room.
    const locked = await join(bob, 'lobby', 'Bob');
    assert.equal(errorOf(locked), 'item-not-found');
    const ok = await alice.iq(`<iq type='set' to='lobby@${SERVICE}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    assert.equal(ok.attrs.type, 'result');
    // §7.2.3: the existing occupants first (no real JID for a non-moderator in a semi-anonymous room), self last.
    const aliceSeesBob = next(alice, presenceFrom(`lobby@${SERVICE}/Bob`));
    const start = bob.received.length;
    const bobSelf = await joinFully(bob, 'lobby', 'Bob');
    assert.deepEqual(codes(bobSelf), [110]);
    const presences = bob.received.slice(start).filter((e) => e.name === 'presence');
    assert.deepEqual(presences.map((p) => p.attrs.from), [`lobby@${SERVICE}/Alice`, `lobby@${SERVICE}/Bob`]);
    assert.deepEqual(item(presences[0]!), { affiliation: 'owner', role: 'moderator' });
    assert.deepEqual(item(bobSelf), { affiliation: 'none', role: 'participant', jid: bob.jid });
    // The moderator sees the real JID (§7.2.4 semi-anonymous).
    assert.deepEqual(item(await aliceSeesBob), { affiliation: 'none', role: 'participant', jid: bob.jid });
    await alice.stop();
    await bob.stop();
  });

  it('broadcasts groupchat messages and refuses non-occupants', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'talk', 'Alice');
    await joinFully(bob, 'talk', 'Bob');
    const atAlice = next(alice, messageFrom(`talk@${SERVICE}/Bob`));
    const atBob = next(bob, messageFrom(`talk@${SERVICE}/Bob`));
    await bob.send(`<message to='talk@${SERVICE}' type='groupchat' id='m1'><body>hello</body><occupant-id xmlns='${OCC}' id='forged'/></message>`);
    const m = await atAlice;
    assert.equal(m.getChildText('body'), 'hello');
    assert.equal(m.attrs.id, 'm1');
    assert.equal(m.attrs.type, 'groupchat');
    // XEP-0421 §4: the room's occupant id replaces anything the sender put there.
    const ids = m.getChildren('occupant-id', OCC);
    assert.equal(ids.length, 1);
    assert.notEqual(ids[0]!.attrs.id, 'forged');
    assert.equal((await atBob).getChild('occupant-id', OCC)!.attrs.id, ids[0]!.attrs.id);
    // §7.4: a non-occupant gets not-acceptable.
    const err = next(carol, (e) => e.name === 'message' && e.attrs.type === 'error');
    await carol.send(`<message to='talk@${SERVICE}' type='groupchat'><body>intruder</body></message>`);
    assert.equal(errorOf(await err), 'not-acceptable');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('changes the subject (§8.1) and sends it to newcomers', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'subj', 'Alice');
    await joinFully(bob, 'subj', 'Bob');
    // A participant may not change it unless the room allows it.
    const denied = next(bob, (e) => e.name === 'message' && e.attrs.type === 'error');
    await bob.send(`<message to='subj@${SERVICE}' type='groupchat'><subject>mine</subject></message>`);
    assert.equal(errorOf(await denied), 'forbidden');
    const atBob = next(bob, messageFrom(`subj@${SERVICE}/Alice`));
    await alice.send(`<message to='subj@${SERVICE}' type='groupchat'><subject>Fire</subject></message>`);
    assert.equal((await atBob).getChildText('subject'), 'Fire');
    const subject = next(carol, (e) => e.name === 'message' && e.getChild('subject') !== undefined);
    await join(carol, 'subj', 'Carol');
    const s = await subject;
    assert.equal(s.attrs.from, `subj@${SERVICE}/Alice`);
    assert.equal(s.getChildText('subject'), 'Fire');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('sends private messages through the room (§7.5)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'pm', 'Alice');
    await joinFully(bob, 'pm', 'Bob');
    const got = next(alice, messageFrom(`pm@${SERVICE}/Bob`));
    await bob.send(`<message to='pm@${SERVICE}/Alice' type='chat' id='p1'><body>psst</body></message>`);
    const m = await got;
    assert.equal(m.attrs.to, alice.jid);
    assert.equal(m.attrs.type, 'chat');
    assert.equal(m.getChildText('body'), 'psst');
    assert.ok(m.getChild('x', MUC_USER));
    const noOne = next(bob, (e) => e.name === 'message' && e.attrs.type === 'error');
    await bob.send(`<message to='pm@${SERVICE}/Nobody' type='chat'><body>?</body></message>`);
    assert.equal(errorOf(await noOne), 'item-not-found');
    const gc = next(bob, (e) => e.name === 'message' && e.attrs.type === 'error');
    await bob.send(`<message to='pm@${SERVICE}/Alice' type='groupchat'><body>?</body></message>`);
    assert.equal(errorOf(await gc), 'bad-request');
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('changes nicknames (§7.6), refuses conflicts, and leaves (§7.14)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'nicks', 'Alice');
    await joinFully(bob, 'nicks', 'Bob');
    // §7.2.8: a nickname in use is a conflict.
    const carol = await ts.client('carol');
    assert.equal(errorOf(await join(carol, 'nicks', 'Bob')), 'conflict');
    // §7.2.1: no nickname at all is jid-malformed.
    const bare = next(carol, (e) => e.name === 'presence' && e.attrs.type === 'error');
    await carol.send(`<presence to='nicks@${SERVICE}'><x xmlns='${MUC}'/></presence>`);
    assert.equal(errorOf(await bare), 'jid-malformed');
    // A nickname with a control character is not a valid resourcepart.
    const bad = next(carol, (e) => e.name === 'presence' && e.attrs.type === 'error');
    await carol.send(`<presence to='nicks@${SERVICE}/a&#9;b'><x xmlns='${MUC}'/></presence>`);
    assert.equal(errorOf(await bad), 'jid-malformed');

    const aliceGone = next(alice, presenceFrom(`nicks@${SERVICE}/Bob`, 'unavailable'));
    const aliceNew = next(alice, presenceFrom(`nicks@${SERVICE}/Robert`));
    const bobGone = next(bob, presenceFrom(`nicks@${SERVICE}/Bob`, 'unavailable'));
    const bobNew = next(bob, presenceFrom(`nicks@${SERVICE}/Robert`));
    await bob.send(`<presence to='nicks@${SERVICE}/Robert'/>`);
    assert.deepEqual(codes(await aliceGone), [303]);
    assert.equal(item(await aliceGone).nick, 'Robert');
    assert.deepEqual(codes(await bobGone), [110, 303]);
    assert.deepEqual(codes(await bobNew), [110]);
    assert.deepEqual(codes(await aliceNew), []);
    // Conflict on a nick change.
    const conflict = next(bob, (e) => e.name === 'presence' && e.attrs.type === 'error');
    await bob.send(`<presence to='nicks@${SERVICE}/Alice'/>`);
    assert.equal(errorOf(await conflict), 'conflict');
    // A status change is reflected.
    const away = next(alice, presenceFrom(`nicks@${SERVICE}/Robert`));
    await bob.send(`<presence to='nicks@${SERVICE}/Robert'><show>away</show></presence>`);
    assert.equal((await away).getChildText('show'), 'away');
    // §7.14: exiting.
    const left = next(alice, presenceFrom(`nicks@${SERVICE}/Robert`, 'unavailable'));
    const selfLeft = next(bob, presenceFrom(`nicks@${SERVICE}/Robert`, 'unavailable'));
    await bob.send(`<presence to='nicks@${SERVICE}/Robert' type='unavailable'><status>bye</status></presence>`);
    assert.deepEqual(codes(await selfLeft), [110]);
    const l = await left;
    assert.deepEqual(item(l), { affiliation: 'none', role: 'none', jid: bob.jid });
    assert.equal(l.getChildText('status'), 'bye');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('joins without the muc element (§7.2) and leaves when the client goes offline', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'offline', 'Alice');
    const self = await join(bob, 'offline', 'Bob', '');
    assert.deepEqual(codes(self), [110]);
    const gone = next(alice, presenceFrom(`offline@${SERVICE}/Bob`, 'unavailable'));
    await bob.stop();
    assert.deepEqual(item(await gone).role, 'none');
    await alice.stop();
  });

  it('sends the history on entering, as the joiner limits it (§7.2.15)', async () => {
    const alice = await ts.client('alice');
    await createRoom(alice, 'hist', 'Alice');
    for (let i = 1; i <= 3; i++) {
      const echo = next(alice, (e) => e.name === 'message' && e.getChildText('body') === `m${i}`);
      await alice.send(`<message to='hist@${SERVICE}' type='groupchat'><body>m${i}</body></message>`);
      await echo;
    }
    const bodies = (c: typeof alice, start: number) => c.received.slice(start).filter((e) => e.name === 'message' && e.getChild('body')).map((e) => e.getChildText('body'));
    const bob = await ts.client('bob');
    let start = bob.received.length;
    await joinFully(bob, 'hist', 'Bob');
    const all = bob.received.slice(start).filter((e) => e.name === 'message' && e.getChild('body'));
    assert.deepEqual(all.map((e) => e.getChildText('body')), ['m1', 'm2', 'm3']);
    const delay = all[0]!.getChild('delay', 'urn:xmpp:delay')!;
    assert.equal(delay.attrs.from, `hist@${SERVICE}`);
    assert.ok(!Number.isNaN(Date.parse(delay.attrs.stamp!)));
    assert.equal(all[0]!.attrs.from, `hist@${SERVICE}/Alice`);
    const carol = await ts.client('carol');
    start = carol.received.length;
    await joinFully(carol, 'hist', 'Carol', `<x xmlns='${MUC}'><history maxstanzas='2'/></x>`);
    assert.deepEqual(bodies(carol, start), ['m2', 'm3']);
    const dave = await ts.client('dave');
    start = dave.received.length;
    await joinFully(dave, 'hist', 'Dave', `<x xmlns='${MUC}'><history maxchars='0'/></x>`);
    assert.deepEqual(bodies(dave, start), []);
    await dave.send(`<presence to='hist@${SERVICE}/Dave' type='unavailable'/>`);
    start = dave.received.length;
    await joinFully(dave, 'hist', 'Dave', `<x xmlns='${MUC}'><history since='${new Date(Date.now() + 60_000).toISOString()}'/></x>`);
    assert.deepEqual(bodies(dave, start), []);
    await dave.send(`<presence to='hist@${SERVICE}/Dave' type='unavailable'/>`);
    start = dave.received.length;
    await joinFully(dave, 'hist', 'Dave', `<x xmlns='${MUC}'><history seconds='60' maxstanzas='1'/></x>`);
    assert.deepEqual(bodies(dave, start), ['m3']);
    await Promise.all([alice.stop(), bob.stop(), carol.stop(), dave.stop()]);
  });

  it('keeps a bodyless message with a store hint (XEP-0334 §4.4; XEP-0444 reactions) in the history, not chat states', async () => {
    const alice = await ts.client('alice');
    await createRoom(alice, 'reacts', 'Alice');
    const echo = next(alice, (e) => e.name === 'message' && e.getChildText('body') === 'vote');
    await alice.send(`<message to='reacts@${SERVICE}' type='groupchat' id='v1'><body>vote</body></message>`);
    const sid = (await echo).getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.id ?? 'v1';
    await alice.send(`<message to='reacts@${SERVICE}' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    const reacted = next(alice, (e) => e.name === 'message' && e.getChild('reactions', 'urn:xmpp:reactions:0') !== undefined);
    await alice.send(`<message to='reacts@${SERVICE}' type='groupchat'><reactions xmlns='urn:xmpp:reactions:0' id='${sid}'><reaction>👍</reaction></reactions><store xmlns='urn:xmpp:hints'/></message>`);
    await reacted;
    const bob = await ts.client('bob');
    const start = bob.received.length;
    await joinFully(bob, 'reacts', 'Bob');
    const history = bob.received.slice(start).filter((e) => e.name === 'message' && e.getChild('delay', 'urn:xmpp:delay'));
    assert.deepEqual(
      history.map((e) => e.getChildText('body') ?? e.getChild('reactions', 'urn:xmpp:reactions:0')?.getChildText('reaction')),
      ['vote', '👍'],
    );
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('answers disco on the service, rooms and occupants (§6)', async () => {
    const alice = await ts.client('alice');
    await createRoom(alice, 'disco', 'Alice', { 'muc#roomconfig_roomname': 'Disco Room' });
    await createRoom(alice, 'secret', 'Alice', { 'muc#roomconfig_publicroom': '0' });
    const info = await alice.iq(`<iq type='get' to='${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const q = info.getChild('query')!;
    assert.deepEqual(q.getChild('identity')!.attrs, { category: 'conference', type: 'text', name: 'Chatrooms' });
    assert.ok(q.getChildren('feature').some((f) => f.attrs.var === MUC));
    const items = await alice.iq(`<iq type='get' to='${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    const listed = items.getChild('query')!.getChildren('item').map((i) => i.attrs.jid);
    assert.ok(listed.includes(`disco@${SERVICE}`));
    assert.ok(!listed.includes(`secret@${SERVICE}`), 'hidden rooms are not listed');
    const room = await alice.iq(`<iq type='get' to='disco@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const rq = room.getChild('query')!;
    assert.deepEqual(rq.getChild('identity')!.attrs, { category: 'conference', type: 'text', name: 'Disco Room' });
    const features = rq.getChildren('feature').map((f) => f.attrs.var);
    for (const f of [MUC, 'muc_public', 'muc_open', 'muc_unsecured', 'muc_temporary', 'muc_unmoderated', 'muc_semianonymous']) {
      assert.ok(features.includes(f), f);
    }
    const form = rq.getChild('x', 'jabber:x:data')!;
    const fields = Object.fromEntries(form.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.equal(fields.FORM_TYPE, 'http://jabber.org/protocol/muc#roominfo');
    assert.equal(fields['muc#roominfo_occupants'], '1');
    const missing = await alice.iq(`<iq type='get' to='nowhere@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(errorOf(missing), 'item-not-found');
    // §6.6: an iq to an occupant is forwarded to it from the requester's room nick.
    const bob = await ts.client('bob');
    await joinFully(bob, 'disco', 'Bob');
    const pong = await bob.iq(`<iq type='get' to='disco@${SERVICE}/Alice'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(pong.attrs.from, `disco@${SERVICE}/Alice`);
    assert.ok(pong.attrs.type === 'result' || pong.attrs.type === 'error');
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('reports real JIDs to everyone in non-anonymous rooms (status 100) and keeps occupant ids stable', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'open', 'Alice', { 'muc#roomconfig_whois': 'anyone' });
    const start = bob.received.length;
    const self = await joinFully(bob, 'open', 'Bob');
    assert.deepEqual(codes(self), [100, 110]);
    const alicePresence = bob.received.slice(start).find(presenceFrom(`open@${SERVICE}/Alice`))!;
    assert.equal(item(alicePresence).jid, alice.jid);
    const id1 = self.getChild('occupant-id', OCC)!.attrs.id;
    await bob.send(`<presence to='open@${SERVICE}/Bob' type='unavailable'/>`);
    const again = await join(bob, 'open', 'Bobby');
    assert.equal(again.getChild('occupant-id', OCC)!.attrs.id, id1);
    assert.notEqual(alicePresence.getChild('occupant-id', OCC)!.attrs.id, id1);
    await none(bob, (e) => e.attrs.type === 'error');
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
