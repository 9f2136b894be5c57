// What one user can make a MUC service hold: rooms per creator (§10.1.1), discussion history bounded by bytes
// as well as count (§7.2.15) and kept in storage while a persistent room is empty, invitees per mediated
// invitation and declines only from invitees (§7.8.2) — end to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import type { StoredHistory } from './history';
import { codes, createRoom, errorOf, join, joinFully, MUC_USER, next, none, presenceFrom, SERVICE } from './test-helpers';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

/** The discussion history a joiner received (messages carrying the room's <delay/>), oldest first. */
function historyBodies(c: TestClient, since: number, room: string): string[] {
  return c.received
    .slice(since)
    .filter((e) => e.name === 'message' && e.attrs.from?.startsWith(`${room}@${SERVICE}/`) && e.getChild('delay', 'urn:xmpp:delay') !== undefined)
    .map((e) => e.getChildText('body') ?? '');
}

async function say(c: TestClient, room: string, body: string): Promise<void> {
  const echo = next(c, (e) => e.name === 'message' && e.attrs.type === 'groupchat' && e.getChildText('body') === body);
  await c.send(`<message to='${room}@${SERVICE}' type='groupchat'><body>${body}</body></message>`);
  await echo;
}

async function leave(c: TestClient, room: string, nick: string): Promise<void> {
  const gone = next(c, presenceFrom(`${room}@${SERVICE}/${nick}`, 'unavailable'));
  await c.send(`<presence to='${room}@${SERVICE}/${nick}' type='unavailable'/>`);
  await gone;
}

async function eventually<T>(read: () => Promise<T | undefined>, ms = 2000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const isError = (e: XmlElement) => e.name === 'message' && e.attrs.type === 'error';
const isDecline = (e: XmlElement) => e.name === 'message' && e.getChild('x', MUC_USER)?.getChild('decline') !== undefined;
const isInvite = (room: string) => (e: XmlElement) =>
  e.name === 'message' && e.attrs.from === `${room}@${SERVICE}` && e.getChild('x', MUC_USER)?.getChild('invite') !== undefined;

describe('XEP-0045 multi-user chat: what a user can make the service hold', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      admins: ['root@localhost'],
      modules: { options: { muc: { max_rooms_per_user: 2, max_history_bytes: 3000, max_invites_per_message: 3 } } },
    } as never);
    for (const u of ['alice', 'bob', 'carol', 'dave', 'root']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('limits the rooms one user may create (§10.1.1 not-allowed); administrators are exempt', async () => {
    const bob = await ts.client('bob');
    await createRoom(bob, 'b1', 'Bob');
    await createRoom(bob, 'b2', 'Bob', { 'muc#roomconfig_persistentroom': '1' });
    const refused = await join(bob, 'b3', 'Bob');
    assert.equal(refused.attrs.type, 'error');
    assert.equal(errorOf(refused), 'not-allowed');
    assert.equal(refused.getChild('error')!.attrs.type, 'cancel');
    const info = await bob.iq(`<iq type='get' to='b3@${SERVICE}'><query xmlns='${DISCO_INFO}'/></iq>`);
    assert.equal(errorOf(info), 'item-not-found', 'the refused room was not created');
    // A temporary room ends with its last occupant and no longer counts; an empty persistent room still does.
    await leave(bob, 'b1', 'Bob');
    await leave(bob, 'b2', 'Bob');
    assert.deepEqual(codes(await join(bob, 'b3', 'Bob')), [110, 201]);
    assert.equal(errorOf(await join(bob, 'b4', 'Bob')), 'not-allowed');
    // Others have their own quota; administrators have none.
    const alice = await ts.client('alice');
    assert.deepEqual(codes(await join(alice, 'a1', 'Alice')), [110, 201]);
    const root = await ts.client('root');
    for (const r of ['r1', 'r2', 'r3']) assert.deepEqual(codes(await join(root, r, 'Root')), [110, 201]);
    await Promise.all([alice.stop(), bob.stop(), root.stop()]);
  });

  it('bounds a room\'s history by bytes as well as by count (§7.2.15)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'big', 'Alice');
    // About 1.3 KB each once serialised: two fit in max_history_bytes (3000), three do not.
    for (let i = 0; i < 6; i++) await say(alice, 'big', `m${i} ${'x'.repeat(1000)}`);
    const start = bob.received.length;
    await joinFully(bob, 'big', 'Bob');
    assert.deepEqual(historyBodies(bob, start, 'big').map((b) => b.slice(0, 2)), ['m4', 'm5']);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('keeps the history of an empty persistent room in storage and loads it on the first join', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'keep', 'Alice', { 'muc#roomconfig_persistentroom': '1' });
    await say(alice, 'keep', 'one');
    await say(alice, 'keep', 'two');
    await leave(alice, 'keep', 'Alice');
    const store = ts.running.server.storage.keyval<StoredHistory>('muc_room_history');
    const key = `keep@${SERVICE}`;
    const stored = await eventually(() => store.get(key));
    assert.ok(stored, 'the empty room wrote its history to storage');
    assert.equal(stored.entries.length, 2);
    assert.match(stored.entries[1]!.xml, /<body>two<\/body>/);
    // What the next occupant gets comes from storage, not from a copy kept in memory.
    await store.set(key, { entries: [stored.entries[0]!, { ...stored.entries[1]!, xml: stored.entries[1]!.xml.replace('two', 'from storage') }] });
    const start = bob.received.length;
    await joinFully(bob, 'keep', 'Bob');
    assert.deepEqual(historyBodies(bob, start, 'keep'), ['one', 'from storage']);
    // Destroying the room deletes its stored history too.
    await joinFully(alice, 'keep', 'Alice');
    const destroyed = await alice.iq(`<iq type='set' to='keep@${SERVICE}'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>`);
    assert.equal(destroyed.attrs.type, 'result');
    assert.equal(await store.get(key), undefined);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('refuses a mediated invitation naming more invitees than allowed, sending none (§7.8.2)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'many', 'Alice');
    const invitees = ['bob@localhost', 'carol@localhost', 'x1@localhost', 'x2@localhost'];
    const refused = next(alice, isError);
    await alice.send(`<message to='many@${SERVICE}'><x xmlns='${MUC_USER}'>${invitees.map((j) => `<invite to='${j}'/>`).join('')}</x></message>`);
    assert.equal(errorOf(await refused), 'policy-violation');
    await none(bob, isInvite('many'));
    // Within the limit, every invitee gets its invitation.
    const atBob = next(bob, isInvite('many'));
    const atCarol = next(carol, isInvite('many'));
    await alice.send(`<message to='many@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='bob@localhost'/><invite to='carol@localhost'/></x></message>`);
    await Promise.all([atBob, atCarol]);
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('relays a decline only from an invitee, once, to its inviter (§7.8.2)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'ask', 'Alice');
    const decline = (c: TestClient, to: string, reason: string) =>
      c.send(`<message to='ask@${SERVICE}'><x xmlns='${MUC_USER}'><decline to='${to}'><reason>${reason}</reason></decline></x></message>`);
    // Nobody invited carol: the room does not carry her text to alice.
    let refused = next(carol, isError);
    await decline(carol, 'alice@localhost', 'spam');
    assert.equal(errorOf(await refused), 'item-not-found');
    await none(alice, isDecline);
    // Invited by alice, carol may decline to alice (not to anyone else), once.
    const invited = next(carol, isInvite('ask'));
    await alice.send(`<message to='ask@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='carol@localhost'/></x></message>`);
    await invited;
    refused = next(carol, isError);
    await decline(carol, 'bob@localhost', 'wrong inviter');
    assert.equal(errorOf(await refused), 'item-not-found');
    await none(bob, isDecline);
    const declined = next(alice, isDecline);
    await decline(carol, 'alice@localhost', 'Sorry');
    const d = (await declined).getChild('x', MUC_USER)!.getChild('decline')!;
    assert.equal(d.attrs.from, 'carol@localhost');
    assert.equal(d.getChildText('reason'), 'Sorry');
    refused = next(carol, isError);
    await decline(carol, 'alice@localhost', 'again');
    assert.equal(errorOf(await refused), 'item-not-found');
    await none(alice, isDecline);
    // Entering the room answers an invitation: no decline afterwards.
    await alice.send(`<message to='ask@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='bob@localhost'/></x></message>`);
    await joinFully(bob, 'ask', 'Bob');
    refused = next(bob, isError);
    await decline(bob, 'alice@localhost', 'late');
    assert.equal(errorOf(await refused), 'item-not-found');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });
});
