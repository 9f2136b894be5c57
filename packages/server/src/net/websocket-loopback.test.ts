// websocket.loopback_is_secure: a direct WebSocket connection from this machine counts as secure (PLAIN and FAST
// offered without TLS, as the chat app on http://localhost needs), one forwarded by a proxy or with the key off
// does not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../testing/harness';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

/** The stream features a WebSocket client sees first. */
function features(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, ['xmpp'], { headers });
    ws.on('open', () => ws.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('features')) {
        ws.close();
        resolve(text);
      }
    });
    ws.on('error', reject);
  });
}

describe('WebSocket from loopback', () => {
  let ts: TestServer;
  let off: TestServer;
  before(async () => {
    // c2s.allow_plaintext_auth off, unlike other tests: only the connection's own security counts here.
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    off = await startTestServer({ c2s: { allow_plaintext_auth: false }, websocket: { loopback_is_secure: false } } as never);
  });
  after(async () => {
    await ts.stop();
    await off.stop();
  });

  it('counts as secure: PLAIN and FAST tokens are offered without TLS', async () => {
    const f = await features(ts.httpPort);
    assert.match(f, /<mechanism>PLAIN<\/mechanism>/);
    assert.match(f, /<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE<\/mechanism>/);
  });

  it('does not when a proxy forwarded the connection, or with websocket.loopback_is_secure off', async () => {
    const forwarded: Record<string, string>[] = [{ 'X-Forwarded-For': '203.0.113.9' }, { Forwarded: 'for=203.0.113.9' }];
    for (const header of forwarded) {
      const f = await features(ts.httpPort, header);
      assert.doesNotMatch(f, /<mechanism>PLAIN<\/mechanism>/, JSON.stringify(header));
      assert.doesNotMatch(f, /HT-SHA-256-NONE/, JSON.stringify(header));
      assert.match(f, /SCRAM-SHA-256/);
    }
    const f = await features(off.httpPort);
    assert.doesNotMatch(f, /<mechanism>PLAIN<\/mechanism>/);
    assert.doesNotMatch(f, /HT-SHA-256-NONE/);
  });
});
