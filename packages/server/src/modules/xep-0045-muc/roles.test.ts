// XEP-0045 roles and affiliations: kick (§8.2), voice (§8.3–§8.5, §7.13), ban (§9.1–§9.2), membership (§9.3–
// §9.5), moderators (§9.6–§9.8), admins and owners (§10.3–§10.8), and who may change whom (§5.1.2, §5.2.1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { admin, codes, configure, createRoom, errorOf, item, join, joinFully, next, presenceFrom, SERVICE } from './test-helpers';

describe('XEP-0045 multi-user chat: roles and affiliations', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('kicks (307) and bans (301), with the rules on who may', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'court', 'Alice');
    await joinFully(bob, 'court', 'Bob');
    await joinFully(carol, 'court', 'Carol');
    // §8.2: participants may not kick; nobody kicks an owner.
    assert.equal(errorOf(await admin(bob, 'court', `<item nick='Carol' role='none'/>`)), 'forbidden');
    assert.equal((await admin(alice, 'court', `<item affiliation='admin' jid='bob@localhost'/>`)).attrs.type, 'result');
    assert.equal(errorOf(await admin(bob, 'court', `<item nick='Alice' role='none'/>`)), 'not-allowed');
    // An admin cannot change an owner, nor grant admin.
    assert.equal(errorOf(await admin(bob, 'court', `<item affiliation='member' jid='alice@localhost'/>`)), 'not-allowed');
    assert.equal(errorOf(await admin(bob, 'court', `<item affiliation='admin' jid='carol@localhost'/>`)), 'forbidden');
    const kicked = next(carol, presenceFrom(`court@${SERVICE}/Carol`, 'unavailable'));
    const seen = next(alice, presenceFrom(`court@${SERVICE}/Carol`, 'unavailable'));
    assert.equal((await admin(bob, 'court', `<item nick='Carol' role='none'><reason>Be gone</reason></item>`)).attrs.type, 'result');
    const k = await kicked;
    assert.deepEqual(codes(k), [110, 307]);
    const kItem = k.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('item')!;
    assert.equal(kItem.attrs.role, 'none');
    assert.equal(kItem.getChildText('reason'), 'Be gone');
    assert.equal(kItem.getChild('actor')!.attrs.nick, 'Bob');
    assert.deepEqual(codes(await seen), [307]);
    // §9.1: ban; the banned user is removed and may not come back.
    await joinFully(carol, 'court', 'Carol');
    const banned = next(carol, presenceFrom(`court@${SERVICE}/Carol`, 'unavailable'));
    assert.equal((await admin(bob, 'court', `<item affiliation='outcast' jid='carol@localhost'/>`)).attrs.type, 'result');
    const b = await banned;
    assert.deepEqual(codes(b), [110, 301]);
    assert.equal(item(b).affiliation, 'outcast');
    assert.equal(errorOf(await join(carol, 'court', 'Carol')), 'forbidden');
    // §9.2: the ban list.
    const list = await admin(bob, 'court', `<item affiliation='outcast'/>`, 'get');
    assert.deepEqual(list.getChild('query')!.getChildren('item').map((i) => i.attrs.jid), ['carol@localhost']);
    assert.equal(errorOf(await admin(carol, 'court', `<item affiliation='outcast'/>`, 'get')), 'forbidden');
    // Unban.
    assert.equal((await admin(bob, 'court', `<item affiliation='none' jid='carol@localhost'/>`)).attrs.type, 'result');
    assert.deepEqual(codes(await join(carol, 'court', 'Carol')), [110]);
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('moderates: visitors cannot speak, voice is granted, requested and revoked', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'stage', 'Alice', { 'muc#roomconfig_moderatedroom': '1' });
    const self = await joinFully(bob, 'stage', 'Bob');
    assert.equal(item(self).role, 'visitor');
    const denied = next(bob, (e) => e.name === 'message' && e.attrs.type === 'error');
    await bob.send(`<message to='stage@${SERVICE}' type='groupchat'><body>may I?</body></message>`);
    assert.equal(errorOf(await denied), 'forbidden');
    // §7.13: the voice request reaches the moderators as a form; approving it grants voice (§8.6).
    const request = next(alice, (e) => e.name === 'message' && e.getChild('x', 'jabber:x:data') !== undefined);
    await bob.send(
      `<message to='stage@${SERVICE}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field></x></message>`,
    );
    const form = (await request).getChild('x', 'jabber:x:data')!;
    const fields = Object.fromEntries(form.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.equal(fields['muc#roomnick'], 'Bob');
    assert.equal(fields['muc#jid'], bob.jid);
    const voiced = next(bob, presenceFrom(`stage@${SERVICE}/Bob`));
    await alice.send(
      `<message to='stage@${SERVICE}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Bob</value></field><field var='muc#request_allow'><value>true</value></field></x></message>`,
    );
    assert.equal(item(await voiced).role, 'participant');
    const spoke = next(alice, (e) => e.name === 'message' && e.getChildText('body') === 'thanks');
    await bob.send(`<message to='stage@${SERVICE}' type='groupchat'><body>thanks</body></message>`);
    await spoke;
    // §8.5: the voice list; §8.4: revoking voice.
    const voice = await admin(alice, 'stage', `<item role='participant'/>`, 'get');
    assert.deepEqual(voice.getChild('query')!.getChildren('item').map((i) => i.attrs.nick), ['Bob']);
    const revoked = next(bob, presenceFrom(`stage@${SERVICE}/Bob`));
    assert.equal((await admin(alice, 'stage', `<item nick='Bob' role='visitor'/>`)).attrs.type, 'result');
    assert.equal(item(await revoked).role, 'visitor');
    const granted = next(bob, presenceFrom(`stage@${SERVICE}/Bob`));
    assert.equal((await admin(alice, 'stage', `<item nick='Bob' role='participant'/>`)).attrs.type, 'result');
    assert.equal(item(await granted).role, 'participant');
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('grants and revokes moderator, member, admin and owner, keeping a last owner', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'ranks', 'Alice');
    await joinFully(bob, 'ranks', 'Bob');
    await joinFully(carol, 'ranks', 'Carol');
    // §9.6: moderator status, by an owner; the moderator may then kick a participant but not grant moderator.
    const mod = next(carol, presenceFrom(`ranks@${SERVICE}/Bob`));
    assert.equal((await admin(alice, 'ranks', `<item nick='Bob' role='moderator'/>`)).attrs.type, 'result');
    assert.deepEqual(item(await mod), { affiliation: 'none', role: 'moderator' });
    assert.equal(errorOf(await admin(bob, 'ranks', `<item nick='Carol' role='moderator'/>`)), 'not-allowed');
    const mods = await admin(alice, 'ranks', `<item role='moderator'/>`, 'get');
    assert.deepEqual(mods.getChild('query')!.getChildren('item').map((i) => i.attrs.nick).sort(), ['Alice', 'Bob']);
    // §9.7: revoke it.
    const unmod = next(carol, presenceFrom(`ranks@${SERVICE}/Bob`));
    assert.equal((await admin(alice, 'ranks', `<item nick='Bob' role='participant'/>`)).attrs.type, 'result');
    assert.equal(item(await unmod).role, 'participant');
    // §9.3: membership is broadcast.
    const member = next(bob, presenceFrom(`ranks@${SERVICE}/Carol`));
    assert.equal((await admin(alice, 'ranks', `<item affiliation='member' nick='Carol'/>`)).attrs.type, 'result');
    assert.equal(item(await member).affiliation, 'member');
    // §10.3 / §10.6: admin and owner; admins become moderators.
    const adminP = next(carol, presenceFrom(`ranks@${SERVICE}/Bob`));
    assert.equal((await admin(alice, 'ranks', `<item affiliation='admin' jid='bob@localhost'/>`)).attrs.type, 'result');
    assert.deepEqual(item(await adminP), { affiliation: 'admin', role: 'moderator' });
    const admins = await admin(alice, 'ranks', `<item affiliation='admin'/>`, 'get');
    assert.deepEqual(admins.getChild('query')!.getChildren('item').map((i) => i.attrs.jid), ['bob@localhost']);
    // §10.6 (last owner): alice cannot give up the only ownership.
    assert.equal(errorOf(await admin(alice, 'ranks', `<item affiliation='member' jid='alice@localhost'/>`)), 'conflict');
    assert.equal((await admin(alice, 'ranks', `<item affiliation='owner' jid='carol@localhost'/>`)).attrs.type, 'result');
    const owners = await admin(alice, 'ranks', `<item affiliation='owner'/>`, 'get');
    assert.deepEqual(owners.getChild('query')!.getChildren('item').map((i) => i.attrs.jid).sort(), ['alice@localhost', 'carol@localhost']);
    const demoted = next(bob, presenceFrom(`ranks@${SERVICE}/Alice`));
    assert.equal((await admin(carol, 'ranks', `<item affiliation='member' jid='alice@localhost'/>`)).attrs.type, 'result');
    const d = item(await demoted);
    assert.deepEqual([d.affiliation, d.role], ['member', 'participant']);
    // An admin cannot touch an owner; a member cannot change affiliations at all.
    assert.equal(errorOf(await admin(bob, 'ranks', `<item affiliation='none' jid='carol@localhost'/>`)), 'not-allowed');
    assert.equal(errorOf(await admin(alice, 'ranks', `<item affiliation='outcast' jid='dave@localhost'/>`)), 'forbidden');
    // Bad input.
    assert.equal(errorOf(await admin(carol, 'ranks', `<item affiliation='emperor' jid='dave@localhost'/>`)), 'bad-request');
    assert.equal(errorOf(await admin(carol, 'ranks', `<item nick='Nobody' role='none'/>`)), 'item-not-found');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('removes a member whose membership is revoked in a members-only room (321)', async () => {
    const alice = await ts.client('alice');
    const dave = await ts.client('dave');
    await createRoom(alice, 'vip', 'Alice', { 'muc#roomconfig_membersonly': '1' });
    await admin(alice, 'vip', `<item affiliation='member' jid='dave@localhost'/>`);
    await joinFully(dave, 'vip', 'Dave');
    const out = next(dave, presenceFrom(`vip@${SERVICE}/Dave`, 'unavailable'));
    assert.equal((await admin(alice, 'vip', `<item affiliation='none' jid='dave@localhost'/>`)).attrs.type, 'result');
    assert.deepEqual(codes(await out), [110, 321]);
    assert.equal(errorOf(await join(dave, 'vip', 'Dave')), 'registration-required');
    // Reconfiguring keeps the owner in; configure still works afterwards.
    assert.equal((await configure(alice, 'vip', { 'muc#roomconfig_roomdesc': 'very' })).attrs.type, 'result');
    await Promise.all([alice.stop(), dave.stop()]);
  });
});
