// XEP-0198 with a real peer: xmpp.js (@xmpp/stream-management) enables stream management with resumption, loses its
// socket, reconnects and resumes; stanzas sent meanwhile arrive, and the session keeps its full JID and presence.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

/** Drops the client's TCP connection without closing the stream, and waits until xmpp.js notices. */
async function loseConnection(client: TestClient): Promise<void> {
  const xmpp = client.xmpp as any;
  const disconnected = new Promise((resolve) => xmpp.once('disconnect', resolve));
  // After STARTTLS xmpp.js wraps the TLS socket in its own emitter.
  (xmpp.socket.socket ?? xmpp.socket).destroy();
  await disconnected;
}

/** xmpp.js is online once bound; its <enable/> is answered just after. */
async function smEnabled(client: TestClient): Promise<{ enabled: boolean; id: string }> {
  const sm = (client.xmpp as any).streamManagement;
  for (let i = 0; i < 250 && !sm.enabled; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return sm;
}

/** xmpp.js's own reconnect (stopped by the harness), resolving once stream management says how it went. */
async function reconnect(client: TestClient): Promise<'resumed' | 'online'> {
  const xmpp = client.xmpp as any;
  const outcome = new Promise<'resumed' | 'online'>((resolve) => {
    xmpp.streamManagement.once('resumed', () => resolve('resumed'));
    xmpp.once('online', () => resolve('online'));
  });
  await xmpp.reconnect.reconnect();
  return outcome;
}

for (const profile of ['SASL', 'SASL2'] as const) {
  describe(`XEP-0198 with xmpp.js (${profile})`, () => {
    let ts: TestServer;
    before(async () => {
      // Without the sasl2 module xmpp.js authenticates with RFC 6120 SASL and resumes with a top-level <resume/>.
      ts = await startTestServer(profile === 'SASL' ? ({ modules: { disabled: ['sasl2'] } } as never) : {});
      for (const u of ['alice', 'bob']) await ts.createUser(u);
    });
    after(() => ts.stop());

    it('enables stream management with resumption', async () => {
      const alice = await ts.client('alice');
      const sm = await smEnabled(alice);
      assert.equal(sm.enabled, true);
      assert.match(sm.id, /^[A-Za-z0-9_-]{24,}$/);
      await alice.stop();
    });

    it('resumes after the connection is lost: queued stanzas arrive, JID and presence are kept', async () => {
      const bob = await ts.client('bob');
      await bob.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='alice@localhost'/></query></iq>`);
      const alice = await ts.client('alice', { presence: false });
      // Through xmpp.js's middleware (the harness writes raw XML), so its stream management counts what it sends.
      const send = (el: ReturnType<typeof xml>) => (alice.xmpp as any).send(el) as Promise<void>;
      await send(xml('presence', { to: bob.jid }));
      await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === alice.jid);
      await bob.send(`<message to='${alice.jid}' type='chat' id='m1'><body>one</body></message>`);
      await alice.waitFor((el) => el.attrs.id === 'm1');
      await smEnabled(alice);

      await loseConnection(alice);
      await bob.send(`<message to='${alice.jid}' type='chat' id='m2'><body>two</body></message>`);
      // SASL: a top-level <resume/> after authenticating; SASL2: <resume/> inside <authenticate/> (XEP-0388).
      assert.equal(await reconnect(alice), 'resumed');
      const m2 = await alice.waitFor((el) => el.attrs.id === 'm2');
      assert.equal(m2.getChildText('body'), 'two');
      // One delivery of each: what xmpp.js acknowledged before the loss is not sent again.
      assert.equal(alice.received.filter((el) => el.attrs.id === 'm1').length, 1);
      assert.equal(alice.received.filter((el) => el.attrs.id === 'm2').length, 1);
      assert.equal(String((alice.xmpp as any).jid), alice.jid);

      // The session went on: no unavailable presence reached bob, and stanzas flow both ways on the same JID.
      assert.equal(bob.received.some((el) => el.name === 'presence' && el.attrs.type === 'unavailable'), false);
      await send(xml('message', { to: bob.jid, type: 'chat', id: 'm3' }, xml('body', {}, 'back')));
      const back = await bob.waitFor((el) => el.attrs.id === 'm3');
      assert.equal(back.attrs.from, alice.jid);
      await alice.stop();
      await bob.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === alice.jid);
    });
  });
}
