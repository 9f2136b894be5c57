// Per-remote-domain read budget (s2s.max_bytes_per_second, a token bucket as Prosody's mod_limits): a remote server
// that floods is read at the rate, by pausing its stream (TCP backpressure: what it sent waits in its own buffers),
// nothing dropped. The flooding peer is hand-driven and authenticated by dialback with a real authoritative Parley
// (evil.test) whose secret the test knows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';
import { RawS2sPeer, freePort } from '../testing/s2s';
import { dialbackKey } from '../stream/dialback';

const EVIL_SECRET = 'evil-secret-0123456789';
const RATE = 20_000;

describe('a remote domain flooding us', () => {
  let b: TestServer;
  let evil: TestServer;
  let peer: RawS2sPeer | undefined;
  before(async () => {
    const evilPort = await freePort();
    evil = await startTestServer({ domain: 'evil.test', s2s: { port: evilPort, dialback_secret: EVIL_SECRET } } as never);
    b = await startTestServer({ domain: 'b.test', s2s: { max_bytes_per_second: RATE, static_routes: { 'evil.test': `127.0.0.1:${evilPort}` } } } as never);
    await b.createUser('bob');
  });
  after(async () => {
    peer?.destroy();
    await b?.stop();
    await evil?.stop();
  });

  it('is read at s2s.max_bytes_per_second, the rest left waiting on its side, in order and without loss', async () => {
    const bob = await b.client('bob');
    peer = await RawS2sPeer.connect(b.s2sPort);
    await peer.secure('evil.test', 'b.test');
    peer.write(`<db:result from='evil.test' to='b.test'>${dialbackKey(EVIL_SECRET, 'b.test', 'evil.test', peer.streamId)}</db:result>`);
    await peer.waitFor(/<db:result [^>]*type='valid'/);
    const filler = 'f'.repeat(5000);
    const count = 1600; // 8 MB
    const started = Date.now();
    for (let i = 0; i < count; i++) peer.write(`<message from='flood@evil.test/x' to='bob@b.test' type='chat'><body>${i} ${filler}</body></message>`);
    await new Promise((r) => setTimeout(r, 3000));
    const seconds = (Date.now() - started) / 1000;
    const delivered = bob.received.filter((el) => el.name === 'message' && el.attrs.from === 'flood@evil.test/x');
    // The burst (2 s of budget) and the rate over the elapsed time, plus one stanza read ahead per budget check.
    const budget = (2 * RATE + seconds * RATE) / 5100 + 2;
    assert.ok(delivered.length >= 3, `some got through: ${delivered.length}`);
    assert.ok(delivered.length <= budget, `${delivered.length} stanzas of 5 kB in ${seconds} s, budget ${Math.floor(budget)}`);
    assert.deepEqual(delivered.map((el) => Number(el.getChildText('body')!.split(' ')[0])), [...delivered.keys()], 'in order, none skipped');
    // Backpressure: most of the 8 MB still waits in the sender's own buffers, not in ours.
    assert.ok(peer.unsent > 4_000_000, `the sender still holds ${peer.unsent} bytes`);
    assert.equal(peer.closed, false, 'a fast sender is slowed, not cut off');
  });
});
