// XEP-0313 over the default backend, a SQLite file, whose archive writes commit on a worker thread after delivery
// (storage/sqlite-archive-writer.ts): a query sees every message delivered before it (read-your-writes).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { mam } from './test-helpers';

describe('XEP-0313 on SQLite: archive writes off the event loop', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ storage: { backend: 'sqlite' } });
    for (const u of ['alice', 'bob']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('answers a query sent right after delivery with every message delivered before it', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const bodies = Array.from({ length: 200 }, (_, i) => `burst ${i}`);
    const last = bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === bodies.at(-1));
    // One write to the socket: the server handles them back to back, so most archive rows are still uncommitted
    // when the last message is delivered.
    await alice.send(bodies.map((b) => `<message to='bob@localhost' type='chat'><body>${b}</body></message>`).join(''));
    await last;
    // The recipient's query, sent the moment the last message arrived.
    const b = await mam(bob, `<set xmlns='http://jabber.org/protocol/rsm'><max>100</max><before/></set>`);
    assert.equal(b.iq.attrs.type, 'result', b.iq.toString());
    assert.equal(b.count, '200');
    assert.deepEqual(b.bodies, bodies.slice(100));
    // The sender's query, right behind the messages on the same stream: its own outgoing archive.
    const sent = Array.from({ length: 50 }, (_, i) => `more ${i}`);
    await alice.send(sent.map((s) => `<message to='bob@localhost' type='chat'><body>${s}</body></message>`).join(''));
    const a = await mam(alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>50</max><before/></set>`);
    assert.equal(a.count, '250');
    assert.deepEqual(a.bodies, sent);
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
