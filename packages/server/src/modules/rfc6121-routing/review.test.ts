// Review probes for RFC 6121 §8.5 delivery rules by message type, priority and resource state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';

const bodyIs = (text: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === text;
const condition = (el: XmlElement) => el.getChild('error')?.elements().find((c) => c.name !== 'text')?.name;
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('RFC 6121 §8.5 review', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['ada', 'bo', 'cy', 'di']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('§8.5.3.1: a message to the full JID of a connected resource that sent no presence is delivered', async () => {
    const ada = await ts.client('ada', { resource: 'a' });
    const quiet = await ts.client('bo', { resource: 'quiet', presence: false });
    await ada.send(`<message to='${quiet.jid}' type='chat'><body>psst</body></message>`);
    await quiet.waitFor(bodyIs('psst'));
  });

  it('§8.5.2.1.1: negative-priority resources get no bare-JID messages; headline goes to all non-negative ones', async () => {
    const ada = await ts.client('ada', { resource: 'b' });
    const neg = await ts.client('cy', { resource: 'neg', presence: false });
    const low = await ts.client('cy', { resource: 'low', presence: false });
    const high = await ts.client('cy', { resource: 'high', presence: false });
    await neg.send(`<presence><priority>-1</priority></presence>`);
    await low.send(`<presence><priority>0</priority></presence>`);
    await high.send(`<presence><priority>5</priority></presence>`);
    await settle();
    await ada.send(`<message to='cy@localhost' type='chat'><body>chat</body></message>`);
    await ada.send(`<message to='cy@localhost'><body>normal</body></message>`);
    await ada.send(`<message to='cy@localhost' type='headline'><body>news</body></message>`);
    await high.waitFor(bodyIs('chat'));
    await high.waitFor(bodyIs('normal'));
    await high.waitFor(bodyIs('news'));
    await low.waitFor(bodyIs('news'));
    await settle();
    assert.equal(low.received.some(bodyIs('chat')), false);
    assert.equal(neg.received.some((el) => el.name === 'message'), false);
    // §8.5.2.1.1: groupchat to a bare JID is service-unavailable.
    await ada.send(`<message to='cy@localhost' type='groupchat' id='gc'><body>gc</body></message>`);
    const err = await ada.waitFor((el) => el.name === 'message' && el.attrs.id === 'gc');
    assert.equal(condition(err), 'service-unavailable');
    // A full JID of a negative-priority resource still gets its message (§8.5.3.1).
    await ada.send(`<message to='${neg.jid}' type='chat'><body>direct</body></message>`);
    await neg.waitFor(bodyIs('direct'));
  });

  it('§8.5.2.1.3: an iq to another user’s bare JID that no feature handles is service-unavailable from that bare JID', async () => {
    const ada = await ts.client('ada', { resource: 'c' });
    const r = await ada.iq(`<iq type='get' to='di@localhost'><query xmlns='urn:example:none'/></iq>`);
    assert.equal(r.attrs.type, 'error');
    assert.equal(condition(r), 'service-unavailable');
    assert.equal(r.attrs.from, 'di@localhost');
  });

  it('§8.5.3.2.1: a headline to a missing resource is dropped, not stored or bounced', async () => {
    const ada = await ts.client('ada', { resource: 'd' });
    await ada.send(`<message to='di@localhost/none' type='headline' id='h1'><body>x</body></message>`);
    await settle();
    assert.equal(ada.received.some((el) => el.attrs.id === 'h1'), false);
    const di = await ts.client('di', { resource: 'later' });
    await settle();
    assert.equal(di.received.some(bodyIs('x')), false);
  });
});
