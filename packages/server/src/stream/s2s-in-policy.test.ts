// The receiving side of server-to-server streams, byte by byte: a hand-driven peer against b.test's s2s listener.
// STARTTLS first; dialback (XEP-0220) checked with the authoritative server (a real Parley at evil.test whose secret
// the test knows, so it can make right and wrong keys); db:verify answered for our own keys; the 'from' of stanzas
// limited to authenticated domains (RFC 6120 §4.9.3.9 invalid-from).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';
import { RawS2sPeer, freePort } from '../testing/s2s';
import { dialbackKey } from './dialback';

const EVIL_SECRET = 'evil-secret-0123456789';
const B_SECRET = 'b-secret-0123456789abc';

describe('incoming s2s streams', () => {
  let b: TestServer;
  let evil: TestServer;
  const peers: RawS2sPeer[] = [];
  const peer = async () => {
    const p = await RawS2sPeer.connect(b.s2sPort);
    peers.push(p);
    return p;
  };
  before(async () => {
    const evilPort = await freePort();
    evil = await startTestServer({ domain: 'evil.test', s2s: { port: evilPort, dialback_secret: EVIL_SECRET } } as never);
    b = await startTestServer({
      domain: 'b.test',
      s2s: { dialback_secret: B_SECRET, static_routes: { 'evil.test': `127.0.0.1:${evilPort}` } },
    } as never);
    await b.createUser('bob');
  });
  after(async () => {
    for (const p of peers) p.destroy();
    await b?.stop();
    await evil?.stop();
  });

  it('refuses a stream to a domain it does not host with host-unknown', async () => {
    const p = await peer();
    p.open('evil.test', 'nowhere.test');
    await p.waitFor('<host-unknown');
    await p.waitClosed();
  });

  it('requires STARTTLS before dialback', async () => {
    const p = await peer();
    p.open('evil.test', 'b.test');
    await p.waitFor(/<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    p.write(`<db:result from='evil.test' to='b.test'>abc</db:result>`);
    await p.waitFor('<policy-violation');
    await p.waitClosed();
  });

  it('authenticates a domain by dialback, delivers its stanzas and refuses any other from with invalid-from', async () => {
    const bob = await b.client('bob');
    const p = await peer();
    await p.secure('evil.test', 'b.test');
    assert.match(p.data, /<dialback xmlns='urn:xmpp:features:dialback'>/);
    // XEP-0220 §2.2.1: the response header declares the dialback namespace (ejabberd 23.01 needs it on ours).
    assert.match(p.data, /<stream:stream [^>]*xmlns:db='jabber:server:dialback'/);
    // Self-signed certificates: no SASL EXTERNAL offered.
    assert.doesNotMatch(p.data, /EXTERNAL/);
    const key = dialbackKey(EVIL_SECRET, 'b.test', 'evil.test', p.streamId);
    p.data = '';
    p.write(`<db:result from='evil.test' to='b.test'>${key}</db:result>`);
    await p.waitFor(/<db:result [^>]*type='valid'/);
    p.write(`<message from='mallory@evil.test/x' to='bob@b.test' type='chat'><body>from afar</body></message>`);
    const got = await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'from afar');
    assert.equal(got.attrs.from, 'mallory@evil.test/x');
    p.write(`<message from='alice@a.test' to='bob@b.test'><body>spoofed</body></message>`);
    await p.waitFor('<invalid-from');
    await p.waitClosed();
    assert.equal(bob.received.some((el) => el.getChildText('body') === 'spoofed'), false);
  });

  it('answers a wrong key with type invalid and takes no stanza from the domain', async () => {
    const p = await peer();
    await p.secure('evil.test', 'b.test');
    p.data = '';
    p.write(`<db:result from='evil.test' to='b.test'>${'0'.repeat(64)}</db:result>`);
    await p.waitFor(/<db:result [^>]*type='invalid'/);
    p.write(`<message from='mallory@evil.test' to='bob@b.test'><body>x</body></message>`);
    await p.waitFor('<not-authorized');
    await p.waitClosed();
  });

  it('answers dialback for a domain it does not host with item-not-found (XEP-0220 §2.4)', async () => {
    const p = await peer();
    await p.secure('evil.test', 'b.test');
    p.data = '';
    p.write(`<db:result from='evil.test' to='other.test'>abc</db:result>`);
    await p.waitFor(/<db:result [^>]*type='error'[^>]*>.*<item-not-found/s);
  });

  it('verifies its own keys for another server (db:verify)', async () => {
    const p = await peer();
    await p.secure('x.test', 'b.test');
    p.data = '';
    const good = dialbackKey(B_SECRET, 'x.test', 'b.test', 'stream-1');
    p.write(`<db:verify from='x.test' to='b.test' id='stream-1'>${good}</db:verify>`);
    await p.waitFor(/<db:verify [^>]*type='valid'/);
    p.data = '';
    p.write(`<db:verify from='x.test' to='b.test' id='stream-2'>${good}</db:verify>`);
    await p.waitFor(/<db:verify [^>]*type='invalid'/);
  });
});
