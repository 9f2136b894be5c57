// XEP-0045 §10.9 destruction, §7.8.2 mediated invitations and declines, XEP-0249 direct invitations,
// §7.10 registration.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { codes, createRoom, errorOf, item, join, joinFully, messageFrom, MUC_OWNER, MUC_USER, next, presenceFrom, SERVICE } from './test-helpers';

describe('XEP-0045 multi-user chat: destruction and invitations', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('destroys a room with an alternate venue and a reason (§10.9)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'doomed', 'Alice', { 'muc#roomconfig_persistentroom': '1' });
    await joinFully(bob, 'doomed', 'Bob');
    const destroy = `<iq type='set' to='doomed@${SERVICE}'><query xmlns='${MUC_OWNER}'><destroy jid='heaven@${SERVICE}'><reason>Macbeth doth come.</reason></destroy></query></iq>`;
    assert.equal(errorOf(await bob.iq(destroy)), 'forbidden');
    const gone = next(bob, presenceFrom(`doomed@${SERVICE}/Bob`, 'unavailable'));
    assert.equal((await alice.iq(destroy)).attrs.type, 'result');
    const p = await gone;
    const x = p.getChild('x', MUC_USER)!;
    assert.deepEqual(item(p), { affiliation: 'none', role: 'none' });
    assert.equal(x.getChild('destroy')!.attrs.jid, `heaven@${SERVICE}`);
    assert.equal(x.getChild('destroy')!.getChildText('reason'), 'Macbeth doth come.');
    const info = await alice.iq(`<iq type='get' to='doomed@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(errorOf(info), 'item-not-found');
    assert.equal(await ts.running.server.storage.map('muc_rooms').get(`doomed@${SERVICE}`, 'state'), undefined);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('mediates invitations (§7.8.2), making the invitee a member of a members-only room, and declines', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await createRoom(alice, 'party', 'Alice', {
      'muc#roomconfig_membersonly': '1',
      'muc#roomconfig_passwordprotectedroom': '1',
      'muc#roomconfig_roomsecret': 'cauldronburn',
    });
    const invitation = next(bob, messageFrom(`party@${SERVICE}`));
    await alice.send(`<message to='party@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='bob@localhost'><reason>Hey Bob</reason></invite></x></message>`);
    const inv = (await invitation).getChild('x', MUC_USER)!;
    assert.equal(inv.getChild('invite')!.attrs.from, alice.jid);
    assert.equal(inv.getChild('invite')!.getChildText('reason'), 'Hey Bob');
    assert.equal(inv.getChildText('password'), 'cauldronburn');
    const self = await join(bob, 'party', 'Bob', `<x xmlns='http://jabber.org/protocol/muc'><password>cauldronburn</password></x>`);
    assert.deepEqual(codes(self), [110]);
    assert.equal(item(self).affiliation, 'member');
    // A member may not invite unless the room allows it.
    const denied = next(bob, (e) => e.name === 'message' && e.attrs.type === 'error');
    await bob.send(`<message to='party@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='carol@localhost'/></x></message>`);
    assert.equal(errorOf(await denied), 'forbidden');
    // The invitee declines through the room (only an invitee may: limits.test.ts).
    const carol = await ts.client('carol');
    const invited = next(carol, messageFrom(`party@${SERVICE}`));
    await alice.send(`<message to='party@${SERVICE}'><x xmlns='${MUC_USER}'><invite to='carol@localhost'/></x></message>`);
    await invited;
    const declined = next(alice, (e) => e.name === 'message' && e.getChild('x', MUC_USER)?.getChild('decline') !== undefined);
    await carol.send(`<message to='party@${SERVICE}'><x xmlns='${MUC_USER}'><decline to='${alice.jid}'><reason>Sorry</reason></decline></x></message>`);
    const d = (await declined).getChild('x', MUC_USER)!.getChild('decline')!;
    assert.equal(d.attrs.from, 'carol@localhost');
    assert.equal(d.getChildText('reason'), 'Sorry');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it('passes XEP-0249 direct invitations between users untouched', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const got = next(bob, (e) => e.name === 'message' && e.getChild('x', 'jabber:x:conference') !== undefined);
    await alice.send(`<message to='${bob.jid}'><x xmlns='jabber:x:conference' jid='darkcave@${SERVICE}' reason='Join us'/></message>`);
    const x = (await got).getChild('x', 'jabber:x:conference')!;
    assert.equal(x.attrs.jid, `darkcave@${SERVICE}`);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('registers a nickname with a room (§7.10)', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const carol = await ts.client('carol');
    await createRoom(alice, 'reg', 'Alice');
    const form = await bob.iq(`<iq type='get' to='reg@${SERVICE}'><query xmlns='jabber:iq:register'/></iq>`);
    assert.ok(form.getChild('query')!.getChild('x', 'jabber:x:data'));
    const r = await bob.iq(
      `<iq type='set' to='reg@${SERVICE}'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>Thane</value></field></x></query></iq>`,
    );
    assert.equal(r.attrs.type, 'result');
    const again = await bob.iq(`<iq type='get' to='reg@${SERVICE}'><query xmlns='jabber:iq:register'/></iq>`);
    assert.ok(again.getChild('query')!.getChild('registered'));
    assert.equal(again.getChild('query')!.getChildText('username'), 'Thane');
    // The reserved nick is refused to others.
    assert.equal(errorOf(await join(carol, 'reg', 'Thane')), 'conflict');
    assert.equal(item(await join(bob, 'reg', 'Thane')).affiliation, 'member');
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });
});
