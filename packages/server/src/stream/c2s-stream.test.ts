// RFC 6120 stream negotiation and error handling, observed on the wire with a raw socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startTestServer, RawClient, type TestServer } from '../testing/harness';

/** Opens a client stream over an established TLS socket and resolves with what arrives up to the features. */
function openStreamOver(secure: TLSSocket): Promise<string> {
  let data = '';
  secure.setEncoding('utf8');
  const got = new Promise<string>((resolve) => {
    secure.on('data', (d: string) => {
      data += d;
      if (data.includes('</stream:features>')) resolve(data);
    });
  });
  secure.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
  return got;
}

describe('c2s stream (RFC 6120)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ c2s: { max_stanza_size: 10_000 } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(() => ts.stop());

  it('answers the header with its own and offers STARTTLS and SASL mechanisms', async () => {
    const r = await ts.raw();
    r.open();
    const data = await r.waitFor('</stream:features>');
    assert.match(data, /^<\?xml version='1.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' id='[^']+' from='localhost' version='1.0'/);
    assert.match(data, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
    assert.match(data, /<mechanism>SCRAM-SHA-256<\/mechanism>/);
    assert.match(data, /<mechanism>SCRAM-SHA-1<\/mechanism>/);
    r.destroy();
  });

  it('requires TLS before SASL unless plaintext auth is allowed', async () => {
    const strict = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    try {
      const r = await RawClient.connect(strict.port);
      r.open();
      const data = await r.waitFor('</stream:features>');
      assert.match(data, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
      assert.doesNotMatch(data, /mechanisms/);
      r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>`);
      await r.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required\/>/);
      r.destroy();
    } finally {
      await strict.stop();
    }
  });

  it('upgrades with STARTTLS and then offers PLAIN and the -PLUS mechanisms', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await r.waitFor(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    const secure = tlsConnect({ socket: r.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    const features = await openStreamOver(secure);
    assert.doesNotMatch(features, /starttls/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
    assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism>/);
    secure.destroy();
  });

  it('speaks TLS from the first byte on the direct TLS port (XEP-0368) and advertises channel binding types (XEP-0440)', async () => {
    const secure = tlsConnect({ port: ts.tlsPort, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost', ALPNProtocols: ['xmpp-client'] });
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    assert.equal(secure.alpnProtocol, 'xmpp-client');
    const features = await openStreamOver(secure);
    assert.doesNotMatch(features, /starttls/);
    assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism>/);
    assert.match(features, /<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'\/>/);
    secure.destroy();
  });

  it('authenticates with PLAIN, binds a requested resource and answers the legacy session iq', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'desk');
    r.write(`<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
    await r.waitFor(/<iq type='result' id='s1'/);
    r.destroy();
  });

  it('rejects a wrong password with not-authorized and closes after repeated failures', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    const bad = Buffer.from('\0alice\0wrong').toString('base64');
    for (let i = 0; i < 3; i++) r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${bad}</auth>`);
    await r.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized\/>/);
    await r.waitClosed();
    assert.match(r.data, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('answers an unknown mechanism with invalid-mechanism and bad base64 with incorrect-encoding', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-NOPE'/>`);
    await r.waitFor('<invalid-mechanism/>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!notbase64</auth>`);
    await r.waitFor('<incorrect-encoding/>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'/>`);
    r.write(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    await r.waitFor('<aborted/>');
    r.destroy();
  });

  it('refuses stanzas before authentication with not-authorized', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<message to='bob@localhost'><body>hi</body></message>`);
    await r.waitClosed();
    assert.match(r.data, /<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  for (const [name, input, condition] of [
    ['a comment', '<!-- hi -->', 'restricted-xml'],
    ['a processing instruction', "<?foo bar?>", 'restricted-xml'],
    ['an entity that is not predefined', '<message><body>&nbsp;</body></message>', 'restricted-xml'],
    ['a DTD', '<!DOCTYPE foo>', 'restricted-xml'],
    ['mismatched tags', '<message><body></message>', 'not-well-formed'],
  ] as const) {
    it(`answers ${name} with <${condition}/> and closes`, async () => {
      const r = await ts.raw();
      await r.login('bob', 'secret', `x${Math.random()}`);
      r.write(input);
      await r.waitClosed();
      assert.match(r.data, new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`));
      assert.match(r.data, /<\/stream:stream>$/);
    });
  }

  it('closes with policy-violation when a stanza exceeds the size limit', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'big');
    r.write(`<message to='alice@localhost'><body>${'x'.repeat(20_000)}</body></message>`);
    await r.waitClosed();
    assert.match(r.data, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('answers a wrong stream namespace with invalid-namespace and an unknown host with host-unknown', async () => {
    const r1 = await ts.raw();
    r1.write(`<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>`);
    await r1.waitClosed();
    assert.match(r1.data, /<invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    const r2 = await ts.raw();
    r2.open('elsewhere.example');
    await r2.waitClosed();
    assert.match(r2.data, /<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it("closes a stream whose stanza claims another 'from' with invalid-from", async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'spoof');
    r.write(`<message from='alice@localhost/desk' to='alice@localhost'><body>I am alice</body></message>`);
    await r.waitClosed();
    assert.match(r.data, /<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('answers a malformed JID with jid-malformed and an iq without payload with bad-request', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'jid');
    r.write(`<message to='a@b@c' id='m1'><body>x</body></message>`);
    await r.waitFor(/<message id='m1' type='error'[^>]*><body>x<\/body><error type='modify'><jid-malformed/);
    r.write(`<iq type='get' id='q1' to='localhost'/>`);
    await r.waitFor(/<iq id='q1' type='error'[^>]*><error type='modify'><bad-request/);
    r.destroy();
  });

  it('answers an iq for an unknown namespace with service-unavailable', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'svc');
    r.write(`<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>`);
    await r.waitFor(/<iq id='u1' type='error'[^>]*><query xmlns='urn:example:nothing'\/><error type='cancel'><service-unavailable/);
    r.destroy();
  });

  it('replaces a session bound to the same full JID; the old one gets <conflict/>', async () => {
    const first = await ts.raw();
    await first.login('alice', 'secret', 'phone');
    const second = await ts.raw();
    await second.login('alice', 'secret', 'phone');
    await first.waitClosed();
    assert.match(first.data, /<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    second.destroy();
  });

  it('closes the stream cleanly when the client closes', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'bye');
    r.write('</stream:stream>');
    await r.waitClosed();
    assert.match(r.data, /<\/stream:stream>$/);
  });

  it('accepts whitespace keepalives between stanzas', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'ws');
    r.write('   \n  ');
    r.write(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await r.waitFor(/id='p1'/);
    r.destroy();
  });
});
