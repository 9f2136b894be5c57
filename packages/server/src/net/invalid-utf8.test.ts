// RFC 6120 §11.6: streams are UTF-8. Bytes that are not UTF-8 end the stream with <unsupported-encoding/>
// (§4.9.3.22, "violating the rules of the UTF-8 encoding") instead of reaching anyone as U+FFFD. Raw sockets, so
// the bytes are exactly what a broken or hostile client sends.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startTestServer, type TestClient, type TestServer } from '../testing/harness';

const UNSUPPORTED_ENCODING = /<stream:error><unsupported-encoding xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>(<text [^>]*>[^<]*<\/text>)?<\/stream:error><\/stream:stream>$/;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes the parts as separate TCP segments, so the server reads them one by one. */
async function writeApart(r: RawClient, ...parts: Buffer[]): Promise<void> {
  r.socket.setNoDelay(true);
  for (const part of parts) {
    r.socket.write(part);
    await pause(50);
  }
}

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('invalid UTF-8 closes the stream (RFC 6120 §11.6)', () => {
  let ts: TestServer;
  let alice: TestClient;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('alice');
    await ts.createUser('bob');
    alice = await ts.client('alice', { resource: 'desk' });
  });
  after(() => ts.stop());

  /** Logs bob in on a raw socket and sends alice a message whose body is `body` (bytes as given). */
  async function sendToAlice(resource: string, ...body: (string | number[])[]): Promise<RawClient> {
    const r = await ts.raw();
    await r.login('bob', 'secret', resource);
    r.socket.write(bytes(`<message to='${alice.jid}' type='chat'><body>`, ...body, `</body></message>`));
    return r;
  }

  const invalid: [string, number[]][] = [
    ['a byte that never occurs in UTF-8', [0xff]],
    ['a continuation byte without a lead byte', [0x80]],
    ['a lead byte followed by ASCII', [0xc3, 0x28]],
    ['an overlong encoding of "<"', [0xc0, 0xbc]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [what, seq] of invalid) {
    it(`before authentication: ${what}`, async () => {
      const r = await ts.raw();
      r.open();
      await r.waitFor('</stream:features>');
      r.socket.write(bytes(`<iq type='get' id='x'><query xmlns='jabber:iq:register'><username>`, seq, `</username></query></iq>`));
      await r.waitClosed();
      assert.match(r.data, UNSUPPORTED_ENCODING);
    });
  }

  it('in the stream header', async () => {
    const r = await ts.raw();
    r.socket.write(bytes(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='`, [0xe9], `'>`));
    await r.waitClosed();
    assert.match(r.data, UNSUPPORTED_ENCODING);
  });

  it('over direct TLS (XEP-0368)', async () => {
    const r = await RawClient.connectTls(ts.tlsPort);
    r.open();
    await r.waitFor('</stream:features>');
    r.socket.write(bytes(`<iq type='get' id='x'><query xmlns='jabber:iq:register'><username>`, [0xc3, 0x28], `</username></query></iq>`));
    await r.waitClosed();
    assert.match(r.data, UNSUPPORTED_ENCODING);
  });

  it('after authentication: the stanza is not delivered, with or without replacement characters', async () => {
    const start = alice.received.length;
    const r = await sendToAlice('bad', 'caf', [0xe9], ' au lait');
    await r.waitClosed();
    assert.match(r.data, UNSUPPORTED_ENCODING);
    // Later stanzas of others still flow; the broken one never came.
    const ok = await sendToAlice('good', 'café au lait');
    await alice.waitFor((el) => el.getChildText('body') === 'café au lait');
    ok.destroy();
    const bodies = alice.received.slice(start).map((el) => el.getChildText('body'));
    assert.deepEqual(bodies, ['café au lait']);
  });

  it('a valid sequence split across reads is decoded whole', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'split-ok');
    const euro = Buffer.from('€'); // E2 82 AC
    await writeApart(r, bytes(`<message to='${alice.jid}' type='chat'><body>5 `, [euro[0]!]), euro.subarray(1, 2), bytes([euro[2]!], `</body></message>`));
    await alice.waitFor((el) => el.getChildText('body') === '5 €');
    assert.equal(r.closed, false);
    r.destroy();
  });

  it('an invalid sequence split across reads is detected', async () => {
    const start = alice.received.length;
    const r = await ts.raw();
    await r.login('bob', 'secret', 'split-bad');
    // E2 82 starts a three-byte sequence; "(" cannot continue it.
    await writeApart(r, bytes(`<message to='${alice.jid}' type='chat'><body>split `, [0xe2]), bytes([0x82]), bytes(`(</body></message>`));
    await r.waitClosed();
    assert.match(r.data, UNSUPPORTED_ENCODING);
    assert.deepEqual(alice.received.slice(start).filter((el) => el.getChildText('body')?.startsWith('split')), []);
  });

  it('a sequence truncated by the end of the input is reported before the connection closes', async () => {
    const r = await ts.raw();
    await r.login('bob', 'secret', 'truncated');
    r.socket.write(bytes(`<message to='${alice.jid}' type='chat'><body>end</body></message>`, [0xe2, 0x82]));
    await pause(50);
    // Half-close: the client sends nothing more but still reads the server's answer.
    r.socket.end();
    await r.waitClosed();
    assert.match(r.data, UNSUPPORTED_ENCODING);
  });
});
