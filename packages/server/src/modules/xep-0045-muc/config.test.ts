// XEP-0045 §10.2 configuration and the entry rules it sets (§7.2.5–§7.2.9), persistence, logging.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { admin, codes, configure, createRoom, errorOf, join, joinFully, MUC, MUC_OWNER, next, presenceFrom, SERVICE } from './test-helpers';

describe('XEP-0045 multi-user chat: configuration', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('gives owners the muc#roomconfig form and validates submissions', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'cfg', 'Alice');
    const r = await alice.iq(`<iq type='get' to='cfg@${SERVICE}'><query xmlns='${MUC_OWNER}'/></iq>`);
    const form = r.getChild('query')!.getChild('x', 'jabber:x:data')!;
    const vars = form.getChildren('field').map((f) => f.attrs.var);
    for (const v of ['FORM_TYPE', 'muc#roomconfig_roomname', 'muc#roomconfig_whois', 'muc#roomconfig_maxusers', 'muc#roomconfig_enablelogging']) {
      assert.ok(vars.includes(v), v);
    }
    assert.equal(form.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE')!.getChildText('value'), 'http://jabber.org/protocol/muc#roomconfig');
    await joinFully(bob, 'cfg', 'Bob');
    const forbidden = await bob.iq(`<iq type='get' to='cfg@${SERVICE}'><query xmlns='${MUC_OWNER}'/></iq>`);
    assert.equal(errorOf(forbidden), 'forbidden');
    assert.equal(errorOf(await configure(alice, 'cfg', { 'muc#roomconfig_bogus': '1' })), 'not-acceptable');
    assert.equal(errorOf(await configure(alice, 'cfg', { 'muc#roomconfig_whois': 'everyone' })), 'not-acceptable');
    assert.equal(errorOf(await configure(alice, 'cfg', { 'muc#roomconfig_persistentroom': 'maybe' })), 'not-acceptable');
    assert.equal(errorOf(await configure(alice, 'cfg', { 'muc#roomconfig_passwordprotectedroom': '1' })), 'not-acceptable');
    const wrongType = await alice.iq(
      `<iq type='set' to='cfg@${SERVICE}'><query xmlns='${MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query></iq>`,
    );
    assert.equal(errorOf(wrongType), 'bad-request');
    // §10.2.1: occupants learn what kind of change happened.
    const notice = next(bob, (e) => e.name === 'message' && e.attrs.from === `cfg@${SERVICE}` && codes(e).length > 0);
    assert.equal((await configure(alice, 'cfg', { 'muc#roomconfig_whois': 'anyone', 'muc#roomconfig_enablelogging': '1', 'muc#roomconfig_roomname': 'Config' })).attrs.type, 'result');
    assert.deepEqual(codes(await notice), [104, 170, 172]);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('cancelling the initial configuration destroys the new room (§10.1.3)', async () => {
    const alice = await ts.client('alice');
    await joinFully(alice, 'cancelled', 'Alice');
    const r = await alice.iq(`<iq type='set' to='cancelled@${SERVICE}'><query xmlns='${MUC_OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`);
    assert.equal(r.attrs.type, 'result');
    const info = await alice.iq(`<iq type='get' to='cancelled@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(errorOf(info), 'item-not-found');
    await alice.stop();
  });

  it('protects rooms with a password (§7.2.6) and limits occupants (§7.2.9)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'pw', 'Alice', { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'cauldron', 'muc#roomconfig_maxusers': '2' });
    assert.equal(errorOf(await join(bob, 'pw', 'Bob')), 'not-authorized');
    assert.equal(errorOf(await join(bob, 'pw', 'Bob', `<x xmlns='${MUC}'><password>wrong</password></x>`)), 'not-authorized');
    assert.deepEqual(codes(await join(bob, 'pw', 'Bob', `<x xmlns='${MUC}'><password>cauldron</password></x>`)), [110]);
    assert.equal(errorOf(await join(carol, 'pw', 'Carol', `<x xmlns='${MUC}'><password>cauldron</password></x>`)), 'service-unavailable');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('admits only members to members-only rooms (§7.2.5) and removes non-members when switched on (322)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'club', 'Alice');
    await joinFully(carol, 'club', 'Carol');
    assert.equal((await admin(alice, 'club', `<item affiliation='member' jid='bob@localhost'/>`)).attrs.type, 'result');
    const removed = next(carol, presenceFrom(`club@${SERVICE}/Carol`, 'unavailable'));
    await configure(alice, 'club', { 'muc#roomconfig_membersonly': '1' });
    assert.deepEqual(codes(await removed), [110, 322]);
    assert.equal(errorOf(await join(carol, 'club', 'Carol')), 'registration-required');
    assert.deepEqual(codes(await join(bob, 'club', 'Bob')), [110]);
    const list = await admin(alice, 'club', `<item affiliation='member'/>`, 'get');
    assert.deepEqual(list.getChild('query')!.getChildren('item').map((i) => i.attrs.jid), ['bob@localhost']);
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('keeps persistent rooms (with their affiliations) and destroys temporary ones when empty', async () => {
    const alice = await ts.client('alice');
    await createRoom(alice, 'keep', 'Alice', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_enablelogging': '1' });
    await createRoom(alice, 'drop', 'Alice');
    const echo = next(alice, (e) => e.name === 'message' && e.getChildText('body') === 'logged');
    await alice.send(`<message to='keep@${SERVICE}' type='groupchat'><body>logged</body></message>`);
    await echo;
    for (const room of ['keep', 'drop']) {
      const left = next(alice, presenceFrom(`${room}@${SERVICE}/Alice`, 'unavailable'));
      await alice.send(`<presence to='${room}@${SERVICE}/Alice' type='unavailable'/>`);
      await left;
    }
    const kept = await alice.iq(`<iq type='get' to='keep@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(kept.attrs.type, 'result');
    assert.ok(kept.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'muc_persistent'));
    const dropped = await alice.iq(`<iq type='get' to='drop@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(errorOf(dropped), 'item-not-found');
    const storage = ts.running.server.storage;
    const state = (await storage.map('muc_rooms').get(`keep@${SERVICE}`, 'state')) as { affiliations: Record<string, string> };
    assert.deepEqual(state.affiliations, { 'alice@localhost': 'owner' });
    const archived = await storage.archive('muc_history').query(`keep@${SERVICE}`);
    assert.equal(archived.items.length, 1);
    assert.match(archived.items[0]!.payload, /logged/);
    // The owner's rejoin of a persistent room is not a creation.
    assert.deepEqual(codes(await join(alice, 'keep', 'Alice')), [110, 170]);
    await alice.stop();
  });
});
