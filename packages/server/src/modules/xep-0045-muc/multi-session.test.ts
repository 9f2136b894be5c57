// XEP-0045 multi-session nicks (one user, several resources, one occupant — as Prosody and ejabberd do) and
// XEP-0410 MUC self-ping answered by the room (§3.3), end to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { codes, createRoom, errorOf, item, join, joinFully, messageFrom, next, none, presenceFrom, SERVICE } from './test-helpers';

const PING = 'urn:xmpp:ping';

describe('XEP-0045 multi-session nicks and XEP-0410 self-ping', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('shares one occupant between two resources of one account', async () => {
    const alice = await ts.client('alice');
    const phone = await ts.client('bob', { resource: 'phone' });
    const laptop = await ts.client('bob', { resource: 'laptop' });
    const carol = await ts.client('carol');
    await createRoom(alice, 'devices', 'Alice');
    await alice.send(`<message to='devices@${SERVICE}' type='groupchat' id='h1'><body>before bob</body></message>`);
    await joinFully(phone, 'devices', 'Bob');

    // The second device joins with the same nick: it gets the whole room state, with 110, history and subject …
    const start = laptop.received.length;
    const historyAtLaptop = next(laptop, (e) => e.name === 'message' && e.getChildText('body') === 'before bob');
    const self = await joinFully(laptop, 'devices', 'Bob');
    assert.deepEqual(codes(self), [110]);
    assert.deepEqual(item(self), { affiliation: 'none', role: 'participant', jid: laptop.jid });
    await historyAtLaptop;
    const presences = laptop.received.slice(start).filter((e) => e.name === 'presence').map((p) => p.attrs.from);
    assert.deepEqual(presences, [`devices@${SERVICE}/Alice`, `devices@${SERVICE}/Bob`]);
    // … while the others see no new occupant, and the first device no second self.
    await none(alice, presenceFrom(`devices@${SERVICE}/Bob`));
    await none(phone, presenceFrom(`devices@${SERVICE}/Bob`), 0);

    // A different account with the same nick still gets conflict (§7.2.8).
    assert.equal(errorOf(await join(carol, 'devices', 'Bob')), 'conflict');

    // Groupchat messages reach every device, whichever device sent.
    const atPhone = next(phone, messageFrom(`devices@${SERVICE}/Alice`));
    const atLaptop = next(laptop, messageFrom(`devices@${SERVICE}/Alice`));
    await alice.send(`<message to='devices@${SERVICE}' type='groupchat' id='g1'><body>to both</body></message>`);
    assert.equal((await atPhone).getChildText('body'), 'to both');
    assert.equal((await atLaptop).getChildText('body'), 'to both');
    const reflectedAtPhone = next(phone, messageFrom(`devices@${SERVICE}/Bob`));
    const atAlice = next(alice, messageFrom(`devices@${SERVICE}/Bob`));
    await laptop.send(`<message to='devices@${SERVICE}' type='groupchat' id='g2'><body>from laptop</body></message>`);
    assert.equal((await atAlice).getChildText('body'), 'from laptop');
    assert.equal((await reflectedAtPhone).getChildText('body'), 'from laptop');

    // Private messages (§7.5) too.
    const pmPhone = next(phone, (e) => e.name === 'message' && e.attrs.type === 'chat' && e.attrs.from === `devices@${SERVICE}/Alice`);
    const pmLaptop = next(laptop, (e) => e.name === 'message' && e.attrs.type === 'chat' && e.attrs.from === `devices@${SERVICE}/Alice`);
    await alice.send(`<message to='devices@${SERVICE}/Bob' type='chat'><body>psst</body></message>`);
    assert.equal((await pmPhone).getChildText('body'), 'psst');
    assert.equal((await pmLaptop).getChildText('body'), 'psst');

    // One device leaving: it gets its unavailable self-presence; the occupant stays for everyone else.
    const phoneGone = next(phone, (e) => presenceFrom(`devices@${SERVICE}/Bob`, 'unavailable')(e) && codes(e).includes(110));
    await phone.send(`<presence to='devices@${SERVICE}/Bob' type='unavailable'/>`);
    await phoneGone;
    await none(alice, presenceFrom(`devices@${SERVICE}/Bob`, 'unavailable'));
    await none(laptop, presenceFrom(`devices@${SERVICE}/Bob`, 'unavailable'), 0);
    const stillThere = next(laptop, messageFrom(`devices@${SERVICE}/Alice`));
    await alice.send(`<message to='devices@${SERVICE}' type='groupchat'><body>still here?</body></message>`);
    await stillThere;
    await none(phone, messageFrom(`devices@${SERVICE}/Alice`), 0);

    // The last device leaving is the occupant leaving.
    const left = next(alice, presenceFrom(`devices@${SERVICE}/Bob`, 'unavailable'));
    await laptop.send(`<presence to='devices@${SERVICE}/Bob' type='unavailable'/>`);
    assert.equal(item(await left).role, 'none');
    await Promise.all([alice.stop(), phone.stop(), laptop.stop(), carol.stop()]);
  });

  it('a multi-session occupant kicked leaves from every device', async () => {
    const alice = await ts.client('alice');
    const phone = await ts.client('bob', { resource: 'phone2' });
    const laptop = await ts.client('bob', { resource: 'laptop2' });
    await createRoom(alice, 'kick', 'Alice');
    await joinFully(phone, 'kick', 'Bob');
    await joinFully(laptop, 'kick', 'Bob');
    const kickedPhone = next(phone, (e) => presenceFrom(`kick@${SERVICE}/Bob`, 'unavailable')(e) && codes(e).includes(307));
    const kickedLaptop = next(laptop, (e) => presenceFrom(`kick@${SERVICE}/Bob`, 'unavailable')(e) && codes(e).includes(307));
    const r = await alice.iq(`<iq type='set' to='kick@${SERVICE}'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='none'/></query></iq>`);
    assert.equal(r.attrs.type, 'result', r.toString());
    await kickedPhone;
    await kickedLaptop;
    // Neither device is an occupant any more: the room refuses their messages.
    const err = next(laptop, (e) => e.name === 'message' && e.attrs.type === 'error');
    await laptop.send(`<message to='kick@${SERVICE}' type='groupchat'><body>back?</body></message>`);
    assert.equal(errorOf(await err), 'not-acceptable');
    await Promise.all([alice.stop(), phone.stop(), laptop.stop()]);
  });

  it('answers self-pings: result when joined, not-acceptable when not, item-not-found for a nick nobody holds', async () => {
    const alice = await ts.client('alice');
    const phone = await ts.client('bob', { resource: 'phone3' });
    const laptop = await ts.client('bob', { resource: 'laptop3' });
    await createRoom(alice, 'pings', 'Alice');
    // §3.3: the room advertises the optimisation.
    const info = await alice.iq(`<iq type='get' to='pings@${SERVICE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'http://jabber.org/protocol/muc#self-ping-optimization'));
    await joinFully(phone, 'pings', 'Bob');
    const ping = (c: typeof phone, nick: string) => c.iq(`<iq type='get' to='pings@${SERVICE}/${nick}'><ping xmlns='${PING}'/></iq>`);

    // Joined: the room answers itself (the device is not asked).
    const r = await ping(phone, 'Bob');
    assert.equal(r.attrs.type, 'result', r.toString());
    assert.equal(r.attrs.from, `pings@${SERVICE}/Bob`);
    await none(phone, (e) => e.name === 'iq' && e.attrs.type === 'get' && e.attrs.from === `pings@${SERVICE}/Bob`, 0);
    // Another resource of the same account that has not joined is not joined.
    assert.equal(errorOf(await ping(laptop, 'Bob')), 'not-acceptable');
    await joinFully(laptop, 'pings', 'Bob');
    assert.equal((await ping(laptop, 'Bob')).attrs.type, 'result');
    // After leaving, the device learns it is out.
    await phone.send(`<presence to='pings@${SERVICE}/Bob' type='unavailable'/>`);
    await next(phone, presenceFrom(`pings@${SERVICE}/Bob`, 'unavailable'));
    assert.equal(errorOf(await ping(phone, 'Bob')), 'not-acceptable');
    // §3.2: joined, but pinging a nick nobody holds (the nick was changed elsewhere): item-not-found.
    assert.equal(errorOf(await ping(laptop, 'Bobby')), 'item-not-found');
    await Promise.all([alice.stop(), phone.stop(), laptop.stop()]);
  });
});
