// XEP-0425 moderated retraction and XEP-0424 own retraction in a room: the broadcast to occupants, the
// tombstone in the room archive (XEP-0313) and in the discussion history; non-moderators refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import { createRoom, errorOf, joinFully, next, SERVICE } from './test-helpers';
import { mam, SID } from '../xep-0313-mam/test-helpers';

const RETRACT = 'urn:xmpp:message-retract:1';
const MODERATE = 'urn:xmpp:message-moderate:1';

describe('XEP-0425 moderation and XEP-0424 retraction in rooms', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  /** Sends a groupchat body and returns the stanza-id the room gave it. */
  async function say(sender: TestClient, watcher: TestClient, room: string, body: string): Promise<string> {
    const echo = next(watcher, (el) => el.name === 'message' && el.getChildText('body') === body);
    await sender.send(`<message to='${room}' type='groupchat'><body>${body}</body></message>`);
    return (await echo).getChild('stanza-id', SID)!.attrs.id!;
  }

  const retractionFor = (id: string) => (el: XmlElement) => el.name === 'message' && el.getChild('retract', RETRACT)?.attrs.id === id;

  it('a moderator retracts an occupant\'s message: broadcast, tombstone in archive and history; others refused', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    const room = `modroom@${SERVICE}`;
    await createRoom(alice, 'modroom', 'Alice', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_enablelogging': '1' });
    await joinFully(bob, 'modroom', 'Bob');
    await joinFully(carol, 'modroom', 'Carol');
    const info = await bob.iq(`<iq type='get' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === MODERATE));
    const spam = await say(bob, alice, room, 'buy cheap stuff');
    const fine = await say(carol, alice, room, 'hello all');

    // A participant is no moderator: forbidden, and nothing changes.
    const refused = await carol.iq(`<iq type='set' to='${room}'><moderate xmlns='${MODERATE}' id='${spam}'><retract xmlns='${RETRACT}'/></moderate></iq>`);
    assert.equal(errorOf(refused), 'forbidden');
    // An id the room does not hold: item-not-found.
    const unknown = await alice.iq(`<iq type='set' to='${room}'><moderate xmlns='${MODERATE}' id='nope'><retract xmlns='${RETRACT}'/></moderate></iq>`);
    assert.equal(errorOf(unknown), 'item-not-found');

    const atBob = next(bob, retractionFor(spam));
    const atCarol = next(carol, retractionFor(spam));
    const r = await alice.iq(`<iq type='set' to='${room}'><moderate xmlns='${MODERATE}' id='${spam}'><retract xmlns='${RETRACT}'/><reason>spam</reason></moderate></iq>`);
    assert.equal(r.attrs.type, 'result', r.toString());
    for (const got of [await atBob, await atCarol]) {
      assert.equal(got.attrs.from, room);
      assert.equal(got.attrs.type, 'groupchat');
      const retract = got.getChild('retract', RETRACT)!;
      assert.equal(retract.getChild('moderated', MODERATE)?.attrs.by, `${room}/Alice`);
      assert.equal(retract.getChildText('reason'), 'spam');
      // COMPAT: the 0.2 fastening form rides along.
      assert.equal(got.getChild('apply-to', 'urn:xmpp:fasten:0')?.attrs.id, spam);
    }

    // The archive: the message is a tombstone under the same id, the other one untouched.
    const archive = await mam(carol, '', room);
    const stone = archive.messages[archive.ids.indexOf(spam)]!;
    assert.equal(stone.getChildText('body'), undefined);
    assert.equal(stone.getChild('retracted', RETRACT)?.getChild('moderated', MODERATE)?.attrs.by, `${room}/Alice`);
    assert.ok(!archive.messages.some((m) => m.toString().includes('cheap stuff')), archive.messages.join('\n'));
    assert.ok(archive.bodies.includes('hello all'));
    assert.ok(archive.ids.includes(fine));

    // A newcomer's discussion history has the tombstone, not the text.
    await bob.send(`<presence to='${room}/Bob' type='unavailable'/>`);
    await next(bob, (el) => el.name === 'presence' && el.attrs.type === 'unavailable');
    const start = bob.received.length;
    await joinFully(bob, 'modroom', 'Bob');
    const history = bob.received.slice(start).filter((el) => el.name === 'message');
    assert.ok(!history.some((m) => m.toString().includes('cheap stuff')), history.join('\n'));
    assert.ok(history.some((m) => m.getChild('retracted', RETRACT) !== undefined));

    // The legacy 0.2 form works the same way.
    const second = await say(bob, alice, room, 'more spam');
    const legacyAtCarol = next(carol, retractionFor(second));
    const legacy = await alice.iq(
      `<iq type='set' to='${room}'><apply-to xmlns='urn:xmpp:fasten:0' id='${second}'><moderate xmlns='urn:xmpp:message-moderate:0'><retract xmlns='urn:xmpp:message-retract:0'/></moderate></apply-to></iq>`,
    );
    assert.equal(legacy.attrs.type, 'result', legacy.toString());
    await legacyAtCarol;
    assert.ok(!(await mam(carol, '', room)).bodies.includes('more spam'));
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('an occupant retracts its own message, never someone else\'s', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const room = `ownroom@${SERVICE}`;
    await createRoom(alice, 'ownroom', 'Alice', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_enablelogging': '1' });
    await joinFully(bob, 'ownroom', 'Bob');
    const alices = await say(alice, bob, room, 'alice wrote this');
    const bobs = await say(bob, alice, room, 'oops typo');

    const err = next(bob, (el) => el.name === 'message' && el.attrs.type === 'error');
    await bob.send(`<message to='${room}' type='groupchat'><retract xmlns='${RETRACT}' id='${alices}'/></message>`);
    assert.equal(errorOf(await err), 'forbidden');

    const atAlice = next(alice, retractionFor(bobs));
    await bob.send(`<message to='${room}' type='groupchat' id='r1'><retract xmlns='${RETRACT}' id='${bobs}'/><body>retracted</body></message>`);
    assert.equal((await atAlice).attrs.from, `${room}/Bob`);
    const archive = await mam(alice, '', room);
    assert.ok(archive.bodies.includes('alice wrote this'));
    assert.ok(!archive.bodies.includes('oops typo'));
    assert.ok(archive.messages[archive.ids.indexOf(bobs)]!.getChild('retracted', RETRACT));
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
