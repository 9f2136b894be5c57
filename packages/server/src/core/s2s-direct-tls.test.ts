// XEP-0368 between two Parley servers: b.test listens for direct TLS (s2s.direct_tls_port) and a.test reaches it
// there (a static route 'tls:host:port', as an _xmpps-server._tcp SRV record would say), with ALPN 'xmpp-server';
// the way back uses STARTTLS on b's ordinary port. Self-signed certificates: dialback over the TLS stream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { startTestServer, type TestServer } from '../testing/harness';
import { freePort } from '../testing/s2s';

describe('direct TLS server-to-server streams (XEP-0368)', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const [portA, portB, directB] = [await freePort(), await freePort(), await freePort()];
    a = await startTestServer({ domain: 'a.test', s2s: { port: portA, static_routes: { 'b.test': `tls:127.0.0.1:${directB}` } } } as never);
    b = await startTestServer({ domain: 'b.test', s2s: { port: portB, direct_tls_port: directB, static_routes: { 'a.test': `127.0.0.1:${portA}` } } } as never);
    assert.equal(b.s2sDirectTlsPort, directB);
    await a.createUser('alice');
    await b.createUser('bob');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('carries a message over TLS from the first byte with ALPN xmpp-server, and the reply over STARTTLS', async () => {
    const alice = await a.client('alice');
    const bob = await b.client('bob');
    await alice.send(`<message to='bob@b.test' type='chat'><body>straight to TLS</body></message>`);
    const got = await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'straight to TLS');
    assert.equal(got.attrs.from, alice.jid);
    const incoming = b.running.server.s2s!.incomingStreams().filter((s) => s.domains.includes('a.test')).map(({ bytesReceived: _, ...s }) => s);
    assert.deepEqual(incoming, [{ domains: ['a.test'], auth: { 'a.test': 'dialback' }, directTls: true, alpn: 'xmpp-server' }]);
    await bob.send(`<message to='alice@a.test' type='chat'><body>back by STARTTLS</body></message>`);
    await alice.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'back by STARTTLS');
    const back = a.running.server.s2s!.incomingStreams().filter((s) => s.domains.includes('b.test')).map(({ bytesReceived: _, ...s }) => s);
    assert.deepEqual(back, [{ domains: ['b.test'], auth: { 'b.test': 'dialback' }, directTls: false, alpn: undefined }]);
  });

  it('refuses a TLS client that offers ALPN without xmpp-server (RFC 7301 no_application_protocol)', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({ port: b.s2sDirectTlsPort, host: '127.0.0.1', servername: 'b.test', rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] });
      s.once('secureConnect', () => {
        resolve(`connected with ${String(s.alpnProtocol)}`);
        s.destroy();
      });
      s.once('error', (err) => resolve(err.message));
    });
    assert.match(outcome, /no.application.protocol|alert number 120/i);
  });

  it('speaks the stream at once on the direct TLS port: no STARTTLS offered, dialback is', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ port: b.s2sDirectTlsPort, host: '127.0.0.1', servername: 'b.test', rejectUnauthorized: false, ALPNProtocols: ['xmpp-server'] });
      let data = '';
      s.once('secureConnect', () =>
        s.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='evil.test' to='b.test' version='1.0'>`),
      );
      s.on('data', (d: Buffer) => {
        data += d.toString();
        if (data.includes('</stream:features>')) {
          s.destroy();
          resolve(data);
        }
      });
      s.once('error', reject);
    });
    assert.doesNotMatch(text, /starttls/);
    assert.match(text, /<dialback xmlns='urn:xmpp:features:dialback'>/);
  });
});
