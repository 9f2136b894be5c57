// XEP-0357 end to end: an xmpp.js client acts as the app server and receives the publish iqs of §7; the user's
// client is a raw socket whose XEP-0198 session hibernates, or whose stream ends (offline storage).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import { parseXml } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import { enabled } from '../xep-0198-sm/test-support';

const PUSH = 'urn:xmpp:push:0';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const OPTIONS_FORM = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x>`;

/** The fields of the summary form in a publish iq, by var. */
function summaryOf(iq: XmlElement): Record<string, string | undefined> {
  const form = iq.getChild('pubsub', PUBSUB)!.getChild('publish')!.getChild('item')!.getChild('notification', PUSH)!.getChild('x', 'jabber:x:data')!;
  return Object.fromEntries(form.getChildren('field').map((f) => [f.attrs.var!, f.getChildText('value')]));
}

describe('XEP-0357 push notifications', () => {
  let ts: TestServer;
  let app: TestClient;
  let bob: TestClient;
  /** Publish iqs the app server received, and how it answers the next ones. */
  const publishes: XmlElement[] = [];
  let answer: 'result' | 'error' = 'result';
  /** The app server's JID: its full JID (the server picks the resource). */
  let APP = '';

  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'push']) await ts.createUser(u);
    app = await ts.client('push', { resource: 'app' });
    APP = app.jid;
    // The app server answers publishes itself (xmpp.js would answer service-unavailable otherwise).
    (app.xmpp as any).iqCallee.set(PUBSUB, 'pubsub', (ctx: { stanza: { toString(): string } }) => {
      publishes.push(parseXml(ctx.stanza.toString()));
      if (answer === 'error') throw Object.assign(new Error('item-not-found'), { condition: 'item-not-found' });
      return true;
    });
    bob = await ts.client('bob', { resource: 'desk' });
  });
  after(() => ts.stop());

  const waitForPublish = async (n: number): Promise<XmlElement> => {
    const deadline = Date.now() + 5000;
    while (publishes.length < n) {
      assert.ok(Date.now() < deadline, `publish #${n} arrived; app got ${app.received.map(String).join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return publishes[n - 1]!;
  };

  it('§4: advertises urn:xmpp:push:0 on the account', async () => {
    const info = await bob.iq(`<iq type='get' to='bob@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === PUSH));
  });

  it('§7: a message for a client whose session hibernates (XEP-0198) is published to the app server node', async () => {
    const { r } = await enabled(ts, 'alice', 'phone');
    r.write(`<presence/><iq type='set' id='push1'><enable xmlns='${PUSH}' jid='${APP}' node='node-a'>${OPTIONS_FORM}</enable></iq>`);
    await r.waitFor(/<iq [^>]*id='push1'[^>]*type='result'|<iq [^>]*type='result'[^>]*id='push1'/);
    // While the client is connected, nothing is published.
    await bob.send(`<message to='alice@localhost' type='chat' id='m0'><body>you are here</body></message>`);
    await r.waitFor(/id='m0'/);
    r.destroy(); // no </stream:stream>: the session hibernates
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(publishes.length, 0);

    await bob.send(`<message to='alice@localhost' type='chat' id='m1'><body>wake up</body></message>`);
    const iq = await waitForPublish(1);
    assert.equal(iq.attrs.type, 'set');
    assert.equal(iq.attrs.from, 'alice@localhost');
    const pubsub = iq.getChild('pubsub', PUBSUB)!;
    assert.equal(pubsub.getChild('publish')!.attrs.node, 'node-a');
    assert.deepEqual(summaryOf(iq), { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    // The publish-options, exactly as the client sent them.
    assert.equal(pubsub.getChild('publish-options')!.getChild('x', 'jabber:x:data')!.toString(), parseXml(OPTIONS_FORM).toString());
    // A chat state alone wakes no one; the next message counts 2.
    await bob.send(`<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await bob.send(`<message to='alice@localhost' type='chat' id='m2'><body>again</body></message>`);
    assert.equal(summaryOf(await waitForPublish(2))['message-count'], '2');
  });

  it('§7: a message stored offline and a subscription request are published when the client is gone', async () => {
    const r = await ts.raw();
    await r.login('carol', 'secret', 'phone');
    r.write(`<iq type='set' id='push2'><enable xmlns='${PUSH}' jid='${APP}' node='node-c'/></iq>`);
    await r.waitFor(/id='push2'/);
    r.write(`</stream:stream>`);
    await r.waitClosed();
    const before = publishes.length;
    await bob.send(`<message to='carol@localhost' type='chat' id='c1'><body>while you were out</body></message>`);
    const iq = await waitForPublish(before + 1);
    assert.equal(iq.getChild('pubsub', PUBSUB)!.getChild('publish')!.attrs.node, 'node-c');
    assert.equal(summaryOf(iq)['message-count'], '1');
    assert.equal(iq.getChild('pubsub', PUBSUB)!.getChild('publish-options'), undefined);
    await bob.send(`<presence to='carol@localhost' type='subscribe'/>`);
    assert.equal(summaryOf(await waitForPublish(before + 2))['pending-subscription-count'], '1');
  });

  it('§8: an error from the app server disables the registration; <disable/> removes one', async () => {
    const r = await ts.raw();
    await r.login('dave', 'secret', 'phone');
    r.write(`<iq type='set' id='e1'><enable xmlns='${PUSH}' jid='${APP}' node='node-d'/></iq>`);
    r.write(`<iq type='set' id='e2'><enable xmlns='${PUSH}' jid='${APP}' node='node-d2'/></iq>`);
    r.write(`<iq type='set' id='e3'><disable xmlns='${PUSH}' jid='${APP}' node='node-d2'/></iq>`);
    await r.waitFor(/id='e3'/);
    r.write(`</stream:stream>`);
    await r.waitClosed();
    const before = publishes.length;
    answer = 'error';
    await bob.send(`<message to='dave@localhost' type='chat'><body>one</body></message>`);
    const iq = await waitForPublish(before + 1);
    assert.equal(iq.getChild('pubsub', PUBSUB)!.getChild('publish')!.attrs.node, 'node-d', 'only the registration not disabled');
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = 'result';
    await bob.send(`<message to='dave@localhost' type='chat'><body>two</body></message>`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(publishes.length, before + 1, 'no more notifications after the app server refused one');
  });

  it('refuses a registration without a node or for another account', async () => {
    const reply = await bob.iq(`<iq type='set'><enable xmlns='${PUSH}' jid='${APP}'/></iq>`);
    assert.equal(reply.getChild('error')?.getChild('bad-request', 'urn:ietf:params:xml:ns:xmpp-stanzas')?.name, 'bad-request');
    const other = await bob.iq(`<iq type='set' to='alice@localhost'><enable xmlns='${PUSH}' jid='${APP}' node='x'/></iq>`);
    assert.equal(other.attrs.type, 'error');
  });
});
