// XEP-0352 end to end: a raw client goes inactive, a contact's presence and chat states wait (the latest per
// contact), a message with a body goes straight through after what waited, <active/> flushes, and XEP-0198 counts
// only what was written.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { authenticate, bind, enabled, SM } from '../xep-0198-sm/test-support';

const CSI = 'urn:xmpp:csi:0';
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
/** Top-level stanzas in what a raw client received, in order. */
const stanzasIn = (data: string) => [...data.matchAll(/<(message|presence|iq)[\s>]/g)].length;

describe('XEP-0352 client state indication', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { options: { sm: { request_ack_every: 100 } } } } as never);
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('§4.1: offers <csi/> after authentication', async () => {
    const r = await ts.raw();
    const features = await authenticate(r, 'carol');
    assert.match(features, /<csi xmlns='urn:xmpp:csi:0'\/>/);
    await bind(r, 'x');
    r.destroy();
  });

  it('holds presence and chat states while inactive, lets a message through after them, flushes on <active/>', async () => {
    const { r } = await enabled(ts, 'alice', 'phone', '');
    const bob = await ts.client('bob', { resource: 'desk', presence: false });
    const to = 'alice@localhost/phone';
    // Available, so that subscription requests are delivered (RFC 6121 §3.1.3).
    r.write(`<presence/>`);
    r.write(`<inactive xmlns='${CSI}'/>`);
    r.write(`<r xmlns='${SM}'/>`);
    await r.waitFor(`<a xmlns='${SM}' h='1'/>`); // the <inactive/> was processed
    await settle();
    let written = stanzasIn(r.data); // the client's own presence, sent back to it
    r.data = '';

    await bob.send(`<presence to='${to}'><status>one</status></presence>`);
    await bob.send(`<presence to='${to}'><status>two</status></presence>`);
    await bob.send(`<message to='${to}' type='chat' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await settle();
    assert.equal(r.data, '', 'nothing is written while the client is inactive');

    // A message with a body goes straight through, after what waited (so the order the client sees is the order things happened).
    await bob.send(`<message to='${to}' type='chat' id='hello'><body>hello</body></message>`);
    const data = await r.waitFor(/id='hello'/);
    assert.doesNotMatch(data, /<status>one<\/status>/, 'only the latest presence of a contact is kept');
    const order = ['<status>two</status>', "id='cs'", "id='hello'"].map((s) => data.indexOf(s));
    assert.ok(order.every((i, n) => i !== -1 && (n === 0 || i > order[n - 1]!)), `in order: ${data}`);

    // Still inactive: a subscription request goes straight through, a presence update waits again.
    written += stanzasIn(r.data);
    r.data = '';
    await bob.send(`<presence to='${to}'><status>three</status></presence>`);
    await bob.send(`<presence to='alice@localhost' type='subscribe' id='sub'/>`);
    await r.waitFor(/type='subscribe'/);
    assert.ok(r.data.indexOf('<status>three</status>') < r.data.indexOf("type='subscribe'"), 'the held presence went first');
    await bob.send(`<presence to='${to}'><status>four</status></presence>`);
    await settle();
    assert.doesNotMatch(r.data, /four/);
    r.write(`<active xmlns='${CSI}'/>`);
    await r.waitFor(/<status>four<\/status>/);

    // XEP-0198 counted what was written, not what was held and replaced: acknowledging one more is too high.
    written += stanzasIn(r.data);
    r.write(`<a xmlns='${SM}' h='${written + 1}'/>`);
    await r.waitClosed();
    assert.match(r.data, new RegExp(`<handled-count-too-high xmlns='urn:xmpp:sm:3' h='${written + 1}' send-count='${written}'/>`));
  });

  it('an unknown element in the CSI namespace is a stream error', async () => {
    const r = await ts.raw();
    await r.login('carol', 'secret', 'odd');
    r.write(`<sleepy xmlns='${CSI}'/>`);
    await r.waitClosed();
    assert.match(r.data, /<unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });
});
