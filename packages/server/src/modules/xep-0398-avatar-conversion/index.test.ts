// XEP-0398 end to end: an avatar published through PEP (XEP-0084) is read through vCard (XEP-0054/0153) and an
// avatar stored in the vCard is read through PEP, by the user's other clients and by a contact.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startTestServer, type TestServer } from '../../testing/harness';

const PS = 'http://jabber.org/protocol/pubsub';
const DATA = 'urn:xmpp:avatar:data';
const META = 'urn:xmpp:avatar:metadata';
const VCARD = 'vcard-temp';

// Two tiny "images" (the server never decodes them).
const PNG_A = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const PNG_B = Buffer.from('89504e470d0a1a0a0000000d4948445200000002000000020806000000f478d4fa', 'hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('XEP-0398 PEP and vCard avatars', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('advertises the conversion on the account', async () => {
    const alice = await ts.client('alice');
    const info = await alice.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'urn:xmpp:pep-vcard-conversion:0'));
    await alice.stop();
  });

  it('an avatar published through PEP is read through vCard', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    const id = sha1(PNG_A);
    const data = await alice.iq(`<iq type='set'><pubsub xmlns='${PS}'><publish node='${DATA}'><item id='${id}'><data xmlns='${DATA}'>${PNG_A.toString('base64')}</data></item></publish></pubsub></iq>`);
    assert.equal(data.attrs.type, 'result', data.toString());
    const meta = await alice.iq(
      `<iq type='set'><pubsub xmlns='${PS}'><publish node='${META}'><item id='${id}'><metadata xmlns='${META}'><info id='${id}' bytes='${PNG_A.length}' type='image/png' width='1' height='1'/></metadata></item></publish></pubsub></iq>`,
    );
    assert.equal(meta.attrs.type, 'result', meta.toString());
    // A vCard-only client of a contact reads it (vCards are world-readable, XEP-0054 §5).
    const photo = await until(async () => {
      const r = await bob.iq(`<iq type='get' to='alice@localhost'><vCard xmlns='${VCARD}'/></iq>`);
      return r.getChild('vCard', VCARD)?.getChild('PHOTO') ?? undefined;
    }, 'the vCard PHOTO');
    assert.equal(photo.getChildText('TYPE'), 'image/png');
    assert.equal(photo.getChildText('BINVAL'), PNG_A.toString('base64'));
    // …and the XEP-0153 hash in presence follows.
    const other = await ts.client('alice', { resource: 'other' });
    const self = await other.waitFor((el) => el.name === 'presence' && el.attrs.from === other.jid && el.getChild('x', 'vcard-temp:x:update') !== undefined);
    assert.equal(self.getChild('x', 'vcard-temp:x:update')!.getChildText('photo'), id);
    // An empty <metadata/> (avatar disabled, XEP-0084 §4.2) removes it from the vCard.
    await alice.iq(`<iq type='set'><pubsub xmlns='${PS}'><publish node='${META}'><item id='current'><metadata xmlns='${META}'/></item></publish></pubsub></iq>`);
    await until(async () => {
      const r = await bob.iq(`<iq type='get' to='alice@localhost'><vCard xmlns='${VCARD}'/></iq>`);
      return r.getChild('vCard', VCARD)?.getChild('PHOTO') ? undefined : true;
    }, 'the PHOTO removed');
    await Promise.all([alice.stop(), bob.stop(), other.stop()]);
  });

  it('an avatar stored in the vCard is read through PEP', async () => {
    const bob = await ts.client('bob');
    const set = await bob.iq(`<iq type='set'><vCard xmlns='${VCARD}'><FN>Bob</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${PNG_B.toString('base64')}</BINVAL></PHOTO></vCard></iq>`);
    assert.equal(set.attrs.type, 'result', set.toString());
    const id = sha1(PNG_B);
    const info = await until(async () => {
      const r = await bob.iq(`<iq type='get' to='bob@localhost'><pubsub xmlns='${PS}'><items node='${META}'/></pubsub></iq>`);
      return r.getChild('pubsub', PS)?.getChild('items')?.getChild('item')?.getChild('metadata', META)?.getChild('info') ?? undefined;
    }, 'the avatar metadata');
    assert.deepEqual(info.attrs, { id, bytes: String(PNG_B.length), type: 'image/png' });
    const data = await bob.iq(`<iq type='get' to='bob@localhost'><pubsub xmlns='${PS}'><items node='${DATA}'><item id='${id}'/></items></pubsub></iq>`);
    assert.equal(data.getChild('pubsub', PS)?.getChild('items')?.getChild('item')?.getChildText('data'), PNG_B.toString('base64'));
    // The vCard itself is kept as the user stored it.
    const vcard = await bob.iq(`<iq type='get'><vCard xmlns='${VCARD}'/></iq>`);
    assert.equal(vcard.getChild('vCard', VCARD)?.getChildText('FN'), 'Bob');
    await bob.stop();
  });
});
