// XEP-0313 user archives end to end: what is archived (§6.1.1), stanza ids (§3.5), filters (§4.1),
// preferences (XEP-0441), access (§8.1) and disco (§7).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { chat, form, mam, MAM, SID, sleep } from './test-helpers';

describe('XEP-0313 message archive management: user archives', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('archives messages both ways, adds a stanza-id for the recipient and returns them in order', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const m1 = await chat(alice, bob, 'Hello Bob');
    await chat(bob, alice, 'Hi Alice');
    await chat(alice, bob, 'How are you?');
    // §3.5: the archive id, 'by' the recipient's own bare JID.
    const sid = m1.getChild('stanza-id', SID);
    assert.equal(sid?.attrs.by, 'bob@localhost');
    const a = await mam(alice);
    assert.equal(a.iq.attrs.type, 'result', a.iq.toString());
    assert.deepEqual(a.bodies, ['Hello Bob', 'Hi Alice', 'How are you?']);
    assert.equal(a.complete, 'true');
    assert.equal(a.count, '3');
    assert.equal(a.first, a.ids[0]);
    assert.equal(a.last, a.ids[2]);
    // §4.2: results from the archive (bare JID) to the asking resource, with a delay stamp.
    const r0 = alice.received.find((el) => el.getChild('result', MAM)?.attrs.id === a.ids[0])!;
    assert.equal(r0.attrs.from, 'alice@localhost');
    assert.equal(r0.attrs.to, alice.jid);
    assert.match(a.results[0]!.getChild('forwarded')!.getChild('delay')!.attrs.stamp!, /^\d{4}-\d\d-\d\dT/);
    assert.equal(a.messages[0]!.attrs.to, 'bob@localhost');
    assert.equal(a.messages[0]!.attrs.from, alice.jid);
    const b = await mam(bob);
    assert.deepEqual(b.bodies, ['Hello Bob', 'Hi Alice', 'How are you?']);
    assert.equal(b.ids[0], sid!.attrs.id);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it('filters by with, start and end (§4.1.1, §4.1.2)', async () => {
    const carol = await ts.client('carol');
    const dave = await ts.client('dave');
    const erin = await ts.client('erin');
    await chat(carol, dave, 'c→d 1');
    await sleep(15);
    await chat(erin, carol, 'e→c');
    await sleep(15);
    await chat(dave, carol, 'd→c 2');
    const withDave = await mam(carol, form({ with: 'dave@localhost' }));
    assert.deepEqual(withDave.bodies, ['c→d 1', 'd→c 2']);
    assert.equal(withDave.count, '2');
    // A full JID matches only that resource.
    const withDaveFull = await mam(carol, form({ with: dave.jid }));
    assert.deepEqual(withDaveFull.bodies, ['d→c 2']);
    const all = await mam(carol);
    const stamps = all.results.map((r) => r.getChild('forwarded')!.getChild('delay')!.attrs.stamp!);
    assert.deepEqual((await mam(carol, form({ start: stamps[1]! }))).bodies, ['e→c', 'd→c 2']);
    assert.deepEqual((await mam(carol, form({ end: stamps[1]! }))).bodies, ['c→d 1', 'e→c']);
    assert.deepEqual((await mam(carol, form({ start: stamps[1]!, end: stamps[1]! }))).bodies, ['e→c']);
    assert.equal((await mam(carol, form({ start: 'yesterday' }))).error, 'bad-request');
    assert.equal((await mam(carol, form({ with: 'not a@jid@@' }))).error, 'bad-request');
    assert.equal((await mam(carol, form({ 'include-groupchat': 'true' }))).error, 'feature-not-implemented');
    await Promise.all([carol.stop(), dave.stop(), erin.stop()]);
  });

  it('strips spoofed stanza-ids and skips what is not to be archived', async () => {
    const erin = await ts.client('erin');
    const frank = await ts.client('frank');
    const before = (await mam(frank)).ids.length;
    // XEP-0359 security considerations: a stanza-id 'by' frank's archive can only come from his server.
    const got = await chat(erin, frank, 'spoof', `<stanza-id xmlns='${SID}' by='frank@localhost' id='fake'/><stanza-id xmlns='${SID}' by='other.example' id='kept'/>`);
    const sids = got.getChildren('stanza-id', SID);
    assert.deepEqual(sids.map((s) => s.attrs.by).sort(), ['frank@localhost', 'other.example']);
    assert.notEqual(sids.find((s) => s.attrs.by === 'frank@localhost')!.attrs.id, 'fake');
    // XEP-0334 hints, chat states without a body, groupchat and headline messages stay out.
    await chat(erin, frank, 'secret', `<no-permanent-store xmlns='urn:xmpp:hints'/>`);
    await chat(erin, frank, 'very secret', `<no-store xmlns='urn:xmpp:hints'/>`);
    await erin.send(`<message to='frank@localhost' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await erin.send(`<message to='frank@localhost' type='headline'><body>news</body></message>`);
    // XEP-0334 §4.4: a bodyless message with <store/> (a XEP-0444 reaction) is kept.
    await erin.send(`<message to='frank@localhost' type='chat' id='react1'><reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>👍</reaction></reactions><store xmlns='urn:xmpp:hints'/></message>`);
    await chat(erin, frank, 'last');
    const r = await mam(frank);
    assert.deepEqual(r.bodies.slice(before), ['spoof', '', 'last']);
    assert.equal(r.messages.at(-2)!.getChild('reactions', 'urn:xmpp:reactions:0')?.getChildText('reaction'), '👍');
    // The stored copy is what arrived (no stanza-id of ours inside).
    assert.equal(r.messages.at(-3)!.getChildren('stanza-id', SID).filter((s) => s.attrs.id === 'fake').length, 0);
    await Promise.all([erin.stop(), frank.stop()]);
  });

  it('honours preferences (XEP-0441)', async () => {
    await ts.createUser('gina');
    await ts.createUser('hank');
    const gina = await ts.client('gina');
    const hank = await ts.client('hank');
    const get = await gina.iq(`<iq type='get'><prefs xmlns='${MAM}'/></iq>`);
    assert.equal(get.getChild('prefs', MAM)?.attrs.default, 'always');
    const set = await gina.iq(`<iq type='set'><prefs xmlns='${MAM}' default='never'><always/><never><jid>hank@localhost</jid></never></prefs></iq>`);
    assert.equal(set.attrs.type, 'result', set.toString());
    assert.equal(set.getChild('prefs', MAM)?.getChild('never')?.getChildText('jid'), 'hank@localhost');
    const again = await gina.iq(`<iq type='get'><prefs xmlns='${MAM}'/></iq>`);
    assert.equal(again.getChild('prefs', MAM)?.attrs.default, 'never');
    const m = await chat(hank, gina, 'not archived');
    assert.equal(m.getChild('stanza-id', SID), undefined);
    await chat(gina, hank, 'reply');
    assert.deepEqual((await mam(gina)).bodies, []);
    // Hank's own default is unchanged: both messages are in his archive.
    assert.deepEqual((await mam(hank)).bodies, ['not archived', 'reply']);
    const bad = await gina.iq(`<iq type='set'><prefs xmlns='${MAM}' default='sometimes'/></iq>`);
    assert.equal(bad.getChild('error')?.elements()[0]?.name, 'bad-request');
    await gina.iq(`<iq type='set'><prefs xmlns='${MAM}' default='roster'/></iq>`);
    await chat(hank, gina, 'not in roster');
    assert.deepEqual((await mam(gina)).bodies, []);
    await gina.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='hank@localhost'/></query></iq>`);
    await chat(hank, gina, 'in roster');
    assert.deepEqual((await mam(gina)).bodies, ['in roster']);
    await Promise.all([gina.stop(), hank.stop()]);
  });

  it('keeps archives private, advertises support and forgets deleted accounts', async () => {
    await ts.createUser('ivan');
    const ivan = await ts.client('ivan');
    const alice = await ts.client('alice');
    await chat(alice, ivan, 'for ivan');
    const other = await mam(alice, '', 'ivan@localhost');
    assert.equal(other.error, 'forbidden');
    const info = await ivan.iq(`<iq type='get' to='ivan@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(features.includes(MAM) && features.includes(`${MAM}#extended`), features.join(' '));
    const fields = await ivan.iq(`<iq type='get'><query xmlns='${MAM}'/></iq>`);
    const vars = fields.getChild('query', MAM)!.getChild('x', 'jabber:x:data')!.getChildren('field').map((f) => f.attrs.var);
    assert.deepEqual(vars, ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
    await ivan.stop();
    await ts.running.server.accounts.delete('ivan');
    await ts.createUser('ivan');
    const again = await ts.client('ivan');
    assert.deepEqual((await mam(again)).bodies, []);
    await Promise.all([again.stop(), alice.stop()]);
  });
});
