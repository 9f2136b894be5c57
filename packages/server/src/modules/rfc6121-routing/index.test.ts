// RFC 6121 §8.5 delivery rules, end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';

const bodyIs = (text: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === text;

describe('message routing (RFC 6121 §8.5)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['anne', 'ben', 'cid']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('delivers to the full JID, and to the highest-priority resources for the bare JID', async () => {
    const anne = await ts.client('anne');
    const hi = await ts.client('ben', { resource: 'hi', presence: false });
    const lo = await ts.client('ben', { resource: 'lo', presence: false });
    await hi.send(`<presence><priority>10</priority></presence>`);
    await lo.send(`<presence><priority>1</priority></presence>`);
    await new Promise((r) => setTimeout(r, 100));
    await anne.send(`<message to='ben@localhost' type='chat'><body>to bare</body></message>`);
    const got = await hi.waitFor(bodyIs('to bare'));
    assert.equal(got.attrs.from, anne.jid); // stamped with the sender's full JID
    await anne.send(`<message to='${lo.jid}' type='chat'><body>to lo</body></message>`);
    await lo.waitFor(bodyIs('to lo'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(lo.received.some(bodyIs('to bare')), false);
    assert.equal(hi.received.some(bodyIs('to lo')), false);
    // A full JID that does not exist falls back to the bare JID for chat messages (§8.5.3.2.1).
    await anne.send(`<message to='ben@localhost/gone' type='chat'><body>fallback</body></message>`);
    await hi.waitFor(bodyIs('fallback'));
  });

  it('answers messages and iqs for unknown users or resources with service-unavailable', async () => {
    const anne = await ts.client('anne', { resource: 'errs' });
    await anne.send(`<message to='nobody@localhost' id='m1' type='chat'><body>hello?</body></message>`);
    const err = await anne.waitFor((el) => el.name === 'message' && el.attrs.id === 'm1');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'nobody@localhost');
    assert.ok(err.getChild('error')!.getChild('service-unavailable'));
    const iq = await anne.iq(`<iq type='get' to='cid@localhost/none'><query xmlns='jabber:iq:version'/></iq>`);
    assert.ok(iq.getChild('error')!.getChild('service-unavailable'));
  });

  it('routes iqs between full JIDs and the answer back', async () => {
    const anne = await ts.client('anne', { resource: 'iq' });
    const cid = await ts.client('cid', { resource: 'iq' });
    const pending = anne.iq(`<iq type='get' to='${cid.jid}' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    const req = await cid.waitFor((el) => el.name === 'iq' && el.attrs.id === 'v1');
    assert.equal(req.attrs.from, anne.jid);
    await cid.send(`<iq type='result' to='${anne.jid}' id='v1'><query xmlns='jabber:iq:version'><name>cid</name></query></iq>`);
    const res = await pending;
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.attrs.from, cid.jid);
  });
});
