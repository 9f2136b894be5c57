// XEP-0424 §5 in user archives: a one-to-one retraction tombstones the sender's own message in the sender's and
// the recipient's archives, so that syncing from MAM later does not show the retracted text; a retraction
// naming someone else's message changes nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { chat, mam, sleep } from './test-helpers';

const RETRACT = 'urn:xmpp:message-retract:1';
const SID = 'urn:xmpp:sid:0';

describe('XEP-0424 retraction in user archives', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('tombstones the retracted message in both archives, only for its author', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await chat(alice, bob, 'wrong window', `<origin-id xmlns='${SID}' id='o-wrong'/>`);
    await chat(alice, bob, 'keep this', `<origin-id xmlns='${SID}' id='o-keep'/>`);
    await chat(bob, alice, 'bob says', `<origin-id xmlns='${SID}' id='o-bob'/>`);

    // Bob tries to retract Alice's message and his own one by Alice's id: nothing of Alice's changes.
    await chat(bob, alice, 'retracting yours', `<retract xmlns='${RETRACT}' id='o-keep'/>`);
    // Alice retracts her own message (with a fallback body, as clients send it).
    await chat(alice, bob, 'retracted a message', `<retract xmlns='${RETRACT}' id='o-wrong'/><store xmlns='urn:xmpp:hints'/>`);
    await sleep(50);

    for (const c of [alice, bob]) {
      const r = await mam(c);
      assert.equal(r.iq.attrs.type, 'result', r.iq.toString());
      assert.ok(!r.bodies.includes('wrong window'), `${c.jid}: ${r.messages.join('\n')}`);
      assert.ok(r.bodies.includes('keep this'), `${c.jid}: ${r.messages.join('\n')}`);
      assert.ok(r.bodies.includes('bob says'));
      const stone = r.messages.find((m) => m.getChild('retracted', RETRACT));
      assert.ok(stone, r.messages.join('\n'));
      assert.equal(stone.getChild('origin-id', SID)?.attrs.id, 'o-wrong');
      assert.equal(stone.getChild('retracted', RETRACT)?.attrs.stamp !== undefined, true);
      // The retraction itself is archived, so a client holding the original learns of it.
      assert.ok(r.messages.some((m) => m.getChild('retract', RETRACT)?.attrs.id === 'o-wrong'));
    }
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
