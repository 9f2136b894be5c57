// Features of one server meeting a federated chat, Parley <-> Parley (a.test, b.test in this process, dialback):
// carbons (XEP-0280) to the sender's and recipient's other resources, both sides' archives (XEP-0313) with
// stanza-id stamping (XEP-0359: one's own server's id, a forged one from the other side removed), and PEP (XEP-0163)
// notifications to a remote contact whose caps (XEP-0115, asked for across the federation) say +notify.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, type XmlElement } from '@parley/protocol';
import type { TestClient, TestServer } from '../testing/harness';
import { startPair } from '../testing/s2s';
import { answerCaps, isEvent } from '../modules/xep-0060-pubsub/test-helpers';
import { verificationString } from '../modules/xep-0163-pep/caps';

const SID = 'urn:xmpp:sid:0';
const CARBONS = 'urn:xmpp:carbons:2';
const MAM = 'urn:xmpp:mam:2';
const TUNE = 'http://jabber.org/protocol/tune';
const withBody = (body: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === body;

/** The bodies of one's archive (XEP-0313 §4), with the archive ids. */
async function archive(c: TestClient, queryid: string): Promise<{ id: string; body: string | undefined }[]> {
  const done = await c.iq(`<iq type='set'><query xmlns='${MAM}' queryid='${queryid}'/></iq>`);
  assert.equal(done.attrs.type, 'result', done.toString());
  return c.received
    .filter((el) => el.getChild('result', MAM)?.attrs.queryid === queryid)
    .map((el) => {
      const result = el.getChild('result', MAM)!;
      const message = result.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
      return { id: result.attrs.id!, body: message?.getChildText('body') };
    });
}

describe('local features across domains', () => {
  let a: TestServer;
  let b: TestServer;
  let phone: TestClient;
  let desk: TestClient;
  let bob: TestClient;
  before(async () => {
    ({ a, b } = await startPair());
    await a.createUser('alice');
    await b.createUser('bob');
    phone = await a.client('alice', { resource: 'phone' });
    desk = await a.client('alice', { resource: 'desk' });
    bob = await b.client('bob', { resource: 'laptop' });
    // Mutual subscription (RFC 6121 §3), so presence and PEP flow between the two.
    await desk.send(`<presence to='bob@b.test' type='subscribe'/>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe');
    await bob.send(`<presence to='alice@a.test' type='subscribed'/>`);
    await bob.send(`<presence to='alice@a.test' type='subscribe'/>`);
    await desk.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'bob@b.test');
    await desk.send(`<presence to='bob@b.test' type='subscribed'/>`);
    await desk.waitFor((el) => el.name === 'presence' && el.attrs.from === bob.jid && el.attrs.type === undefined);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('carbons both ways, stanza-ids from each side’s own archive (a forged one removed), both archives', async () => {
    const enabled = await phone.iq(`<iq type='set'><enable xmlns='${CARBONS}'/></iq>`);
    assert.equal(enabled.attrs.type, 'result');
    await desk.send(`<message to='bob@b.test' type='chat' id='out1'><body>from the desk</body></message>`);
    const atBob = await bob.waitFor(withBody('from the desk'));
    const bobIds = atBob.getChildren('stanza-id', SID);
    assert.deepEqual(bobIds.map((s) => s.attrs.by), ['bob@b.test'], atBob.toString());
    // XEP-0280 §6: the sender's other resource gets a sent carbon.
    const sent = await phone.waitFor((el) => el.getChild('sent', CARBONS)?.toString().includes('from the desk') === true);
    assert.equal(sent.attrs.from, 'alice@a.test');

    // b.test's user claims an archive id in alice's archive: a.test must not pass it on (XEP-0359 §3.1).
    await bob.send(`<message to='${desk.jid}' type='chat' id='in1'><body>from the laptop</body><stanza-id xmlns='${SID}' by='alice@a.test' id='forged-id'/></message>`);
    const atDesk = await desk.waitFor(withBody('from the laptop'));
    const aliceIds = atDesk.getChildren('stanza-id', SID).filter((s) => s.attrs.by === 'alice@a.test');
    assert.equal(aliceIds.length, 1, atDesk.toString());
    assert.notEqual(aliceIds[0]!.attrs.id, 'forged-id');
    const received = await phone.waitFor((el) => el.getChild('received', CARBONS)?.toString().includes('from the laptop') === true);
    assert.equal(received.attrs.from, 'alice@a.test');

    const alices = await archive(desk, 'qa');
    assert.deepEqual(alices.map((m) => m.body), ['from the desk', 'from the laptop']);
    assert.equal(alices[1]!.id, aliceIds[0]!.attrs.id, 'the stanza-id is the archive id');
    const bobs = await archive(bob, 'qb');
    assert.deepEqual(bobs.map((m) => m.body), ['from the desk', 'from the laptop']);
    assert.equal(bobs[0]!.id, bobIds[0]!.attrs.id);
  });

  it('sends PEP notifications to a remote contact whose caps ask for them', async () => {
    // A second resource of bob's with caps saying tune+notify; a.test asks it (disco#info over s2s) what they mean.
    const features = ['http://jabber.org/protocol/disco#info', `${TUNE}+notify`];
    const listener = await b.client('bob', { resource: 'music', presence: false });
    answerCaps(listener, features);
    const query = parseXml(`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc' name='t'/>${features.map((f) => `<feature var='${f}'/>`).join('')}</query>`);
    await listener.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='${verificationString(query)}'/></presence>`);
    await desk.waitFor((el) => el.name === 'presence' && el.attrs.from === listener.jid);
    // Give a.test the time to resolve the caps across the federation.
    await new Promise((r) => setTimeout(r, 500));
    const published = await desk.iq(
      `<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${TUNE}'><item id='current'><tune xmlns='${TUNE}'><title>Federated Blues</title></tune></item></publish></pubsub></iq>`,
    );
    assert.equal(published.attrs.type, 'result', published.toString());
    const event = await listener.waitFor(isEvent(TUNE));
    assert.equal(event.attrs.from, 'alice@a.test');
    assert.ok(event.toString().includes('Federated Blues'));
    // bob's laptop sent no caps: not interested (XEP-0163 §4.3.1 filtering), so nothing for it.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bob.received.some(isEvent(TUNE)), false);
  });
});
