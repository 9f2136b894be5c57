// XEP-0313 MUC archives (§3.3.2, §6.1.2) served by the MUC module through the shared engine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { admin, configure, createRoom, joinFully, next, SERVICE } from '../xep-0045-muc/test-helpers';
import { form, mam, MAM, rsm, SID } from './test-helpers';

const MUC_USER = 'http://jabber.org/protocol/muc#user';

describe('XEP-0313 message archive management: room archives', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'eve']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('archives logged rooms and serves their archive from the room JID', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const eve = await ts.client('eve');
    const room = `logged@${SERVICE}`;
    await createRoom(alice, 'logged', 'Alice', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_enablelogging': '1' });
    await joinFully(bob, 'logged', 'Bob');
    // §7: a logged room advertises its archive.
    const info = await bob.iq(`<iq type='get' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(features.includes(MAM) && features.includes(`${MAM}#extended`), features.join(' '));
    const bodies = ['first', 'second', 'third'];
    let sid: string | undefined;
    for (const [i, body] of bodies.entries()) {
      const sender = i % 2 === 0 ? alice : bob;
      const echo = next(alice, (el) => el.name === 'message' && el.getChildText('body') === body);
      const spoof = `<stanza-id xmlns='${SID}' by='${room}' id='fake'/>`;
      await sender.send(`<message to='${room}' type='groupchat'><body>${body}</body>${spoof}</message>`);
      const got = await echo;
      // §3.5: occupants learn the archive id, 'by' the room; the sender's own claim is gone.
      const ids = got.getChildren('stanza-id', SID);
      assert.equal(ids.length, 1);
      assert.equal(ids[0]!.attrs.by, room);
      sid ??= ids[0]!.attrs.id;
    }
    const r = await mam(bob, '', room);
    assert.equal(r.iq.attrs.type, 'result', r.iq.toString());
    assert.deepEqual(r.bodies, bodies);
    assert.equal(r.ids[0], sid);
    assert.equal(r.complete, 'true');
    const wrapper = bob.received.find((el) => el.getChild('result', MAM)?.attrs.id === r.ids[0])!;
    assert.equal(wrapper.attrs.from, room);
    // §6.1.2: from the occupant JID, no 'to'; a semi-anonymous room hides real JIDs from participants.
    assert.equal(r.messages[0]!.attrs.from, `${room}/Alice`);
    assert.equal(r.messages[0]!.attrs.to, undefined);
    assert.equal(r.messages[0]!.attrs.type, 'groupchat');
    assert.equal(r.messages[0]!.getChild('x', MUC_USER), undefined);
    // …but not from the owner.
    const owner = await mam(alice, rsm({ max: 1 }), room);
    assert.equal(owner.messages[0]!.getChild('x', MUC_USER)?.getChild('item')?.attrs.jid, 'alice@localhost');
    assert.equal(owner.complete, 'false');
    // §4.1.1: by occupant JID for everyone, by real JID only for those who may see it.
    assert.deepEqual((await mam(bob, form({ with: `${room}/Bob` }), room)).bodies, ['second']);
    assert.equal((await mam(bob, form({ with: 'alice@localhost' }), room)).error, 'forbidden');
    assert.deepEqual((await mam(alice, form({ with: 'bob@localhost' }), room)).bodies, ['second']);
    // Open rooms are readable by anyone not banned, even from outside.
    assert.deepEqual((await mam(eve, '', room)).bodies, bodies);
    await Promise.all([alice.stop(), bob.stop(), eve.stop()]);
  });

  it('keeps members-only archives to members and refuses rooms without logging', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const eve = await ts.client('eve');
    const room = `private@${SERVICE}`;
    await createRoom(alice, 'private', 'Alice', {
      'muc#roomconfig_persistentroom': '1',
      'muc#roomconfig_enablelogging': '1',
      'muc#roomconfig_membersonly': '1',
    });
    assert.equal((await admin(alice, 'private', `<item affiliation='member' jid='bob@localhost'/>`)).attrs.type, 'result');
    const echo = next(alice, (el) => el.name === 'message' && el.getChildText('body') === 'members only');
    await alice.send(`<message to='${room}' type='groupchat'><body>members only</body></message>`);
    await echo;
    assert.deepEqual((await mam(bob, '', room)).bodies, ['members only']);
    assert.equal((await mam(eve, '', room)).error, 'forbidden');
    // Without logging there is no archive to query, and none is advertised.
    assert.equal((await configure(alice, 'private', { 'muc#roomconfig_enablelogging': '0' })).attrs.type, 'result');
    assert.equal((await mam(bob, '', room)).error, 'service-unavailable');
    const info = await alice.iq(`<iq type='get' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(!info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === MAM));
    await Promise.all([alice.stop(), bob.stop(), eve.stop()]);
  });
});
