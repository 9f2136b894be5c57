// Interop over direct TLS (XEP-0368): an xmpp.js client connecting with `xmpps://` to the TLS port chats with an
// xmpp.js client that came in over STARTTLS, on a server that requires TLS (as in production). The dev certificate
// is self-signed; the harness sets NODE_TLS_REJECT_UNAUTHORIZED=0 for it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TLSSocket } from 'node:tls';
import { client as xmppClient } from '@xmpp/client';
import { parseXml, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

type Xmpp = ReturnType<typeof xmppClient>;

/** The node socket under an xmpp.js connection (xmpp.js wraps it; STARTTLS swaps it for a TLSSocket). */
function nodeSocket(xmpp: Xmpp): unknown {
  return (xmpp as any).socket?.socket;
}

describe('interop: xmpp.js over direct TLS (XEP-0368)', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let direct: Xmpp | undefined;
  const received: XmlElement[] = [];

  before(async () => {
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(async () => {
    await direct?.stop().catch(() => {});
    await ts?.stop();
  });

  function waitFor(predicate: (el: XmlElement) => boolean, timeoutMs = 5000): Promise<XmlElement> {
    const found = received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        direct?.off('stanza', on);
        reject(new Error(`timeout at alice (direct TLS); received:\n${received.map(String).join('\n')}`));
      }, timeoutMs);
      const on = () => {
        const el = received.find(predicate);
        if (el) {
          clearTimeout(timer);
          direct?.off('stanza', on);
          resolve(el);
        }
      };
      direct!.on('stanza', on);
    });
  }

  it('the TLS port is listening', () => {
    assert.ok(ts.tlsPort > 0, 'startTestServer reported no c2s TLS port');
  });

  it('logs in over xmpps:// and chats both ways with a STARTTLS client', async () => {
    direct = xmppClient({
      service: `xmpps://127.0.0.1:${ts.tlsPort}`,
      domain: ts.domain,
      username: 'alice',
      password: 'secret',
      resource: 'direct',
    });
    direct.on('error', () => {});
    (direct as any).reconnect?.stop?.();
    direct.on('stanza', (el: any) => received.push(parseXml(el.toString())));
    const address = (await direct.start()).toString();
    // Bind 2 (XEP-0386): the resource xmpp.js asks for is the tag of the one the server picks.
    assert.match(address, /^alice@localhost\/direct\.[0-9a-f]{8}$/);

    const sock = nodeSocket(direct);
    assert.ok(sock instanceof TLSSocket, 'direct TLS connection is not a TLS socket');
    assert.equal(sock.encrypted, true);
    assert.match(String(sock.getProtocol()), /^TLSv1\.[23]$/);
    await direct.write('<presence/>');

    // Bob comes in on the ordinary port; with TLS required, xmpp.js must have done STARTTLS to log in.
    const bob = await ts.client('bob', { resource: 'starttls' });
    const bobSock = nodeSocket(bob.xmpp);
    assert.ok(bobSock instanceof TLSSocket && bobSock.encrypted, 'bob is not on a STARTTLS-upgraded socket');

    // alice (direct TLS) -> bob (STARTTLS), to the full JID.
    await direct.write(`<message to='${bob.jid}' type='chat' id='d1'><body>hello over direct TLS</body></message>`);
    const atBob = await bob.waitFor((el) => el.name === 'message' && el.toString().includes('<body>hello over direct TLS</body>'));
    assert.equal(atBob.attrs.from, address);
    assert.equal(atBob.attrs.type, 'chat');

    // bob -> alice, to the bare JID: routed to alice's only (direct TLS) resource.
    await bob.send(`<message to='alice@localhost' type='chat' id='s1'><body>hello back over STARTTLS</body></message>`);
    const atAlice = await waitFor((el) => el.name === 'message' && el.toString().includes('<body>hello back over STARTTLS</body>'));
    assert.equal(atAlice.attrs.from, bob.jid);

    // An iq round trip over the direct TLS stream (XEP-0199 ping to the server).
    await direct.write(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await waitFor((el) => el.name === 'iq' && el.attrs.id === 'p1');
    assert.equal(pong.attrs.type, 'result', pong.toString());
  });
});
