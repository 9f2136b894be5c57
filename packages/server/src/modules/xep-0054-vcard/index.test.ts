// XEP-0054 vCards end to end, and the XEP-0153 avatar hash the server adds to presence broadcasts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readStanzaError, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const condition = (iq: XmlElement) => (iq.attrs.type === 'error' ? readStanzaError(iq)?.condition : undefined);
const IMAGE = Buffer.from('\x89PNG\r\n\x1a\n-not-really-an-image-but-bytes-all-the-same-\x00\xff', 'latin1');
const HASH = createHash('sha1').update(IMAGE).digest('hex');
// §4.6 rule 5 of XEP-0153: base64 split over lines, as clients send it.
const BINVAL = IMAGE.toString('base64').replace(/(.{16})/g, '$1\n  ');
const CARD = `<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${BINVAL}</BINVAL></PHOTO></vCard>`;

describe('vcard-temp (XEP-0054) and avatar hashes (XEP-0153)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
    // bob receives alice's and carol's presence (their rosters give him a 'from' subscription).
    const roster = ts.running.server.storage.map('roster');
    await roster.set('alice@localhost', 'bob@localhost', { subscription: 'from', groups: [], visible: true });
    await roster.set('carol@localhost', 'bob@localhost', { subscription: 'from', groups: [], visible: true });
    alice = await ts.client('alice', { resource: 'desk', presence: false });
    bob = await ts.client('bob');
  });
  after(() => ts.stop());

  it("returns an empty vCard for one's own when none is stored (§3.1)", async () => {
    const res = await alice.iq(`<iq type='get'><vCard xmlns='vcard-temp'/></iq>`);
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.getChild('vCard')!.toString(), `<vCard xmlns='vcard-temp'/>`);
  });

  it("answers others' vCards: item-not-found when none, service-unavailable for unknown users (§3.3)", async () => {
    assert.equal(condition(await bob.iq(`<iq type='get' to='carol@localhost'><vCard xmlns='vcard-temp'/></iq>`)), 'item-not-found');
    assert.equal(condition(await bob.iq(`<iq type='get' to='nobody@localhost'><vCard xmlns='vcard-temp'/></iq>`)), 'service-unavailable');
  });

  it('stores the vCard as set and returns it to the owner and to others (§3.2, §3.3)', async () => {
    const set = await alice.iq(`<iq type='set'>${CARD}</iq>`);
    assert.equal(set.attrs.type, 'result');
    assert.equal(set.children.length, 0);
    const own = await alice.iq(`<iq type='get'><vCard xmlns='vcard-temp'/></iq>`);
    assert.equal(own.getChild('vCard')!.toString(), CARD);
    const other = await bob.iq(`<iq type='get' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>`);
    assert.equal(other.attrs.from, 'alice@localhost');
    assert.equal(other.getChild('vCard')!.toString(), CARD);
  });

  it("refuses to set another user's vCard (§3.2)", async () => {
    const res = await bob.iq(`<iq type='set' to='alice@localhost'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>`);
    assert.equal(condition(res), 'forbidden');
    const still = await bob.iq(`<iq type='get' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>`);
    assert.equal(still.getChild('vCard')!.getChildText('FN'), 'Alice');
  });

  it('refuses vCards over the size limit (128 KiB by default)', async () => {
    const big = `<vCard xmlns='vcard-temp'><DESC>${'x'.repeat(130 * 1024)}</DESC></vCard>`;
    const res = await bob.iq(`<iq type='set'>${big}</iq>`);
    assert.equal(condition(res), 'not-acceptable');
    assert.equal(condition(await bob.iq(`<iq type='get' to='bob@localhost'><vCard xmlns='vcard-temp'/></iq>`)), undefined);
  });

  it('adds the photo hash to presence broadcasts (XEP-0153 §3.1)', async () => {
    await alice.send(`<presence><show>away</show></presence>`);
    const p = await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === alice.jid && el.getChildText('show') === 'away');
    assert.equal(p.getChild('x', 'vcard-temp:x:update')!.toString(), `<x xmlns='vcard-temp:x:update'><photo>${HASH}</photo></x>`);
  });

  it('completes an update element without photo, and keeps one the client filled in (§4.1)', async () => {
    await alice.send(`<presence><status>not ready</status><x xmlns='vcard-temp:x:update'/></presence>`);
    const completed = await bob.waitFor((el) => el.name === 'presence' && el.getChildText('status') === 'not ready');
    assert.deepEqual(
      completed.getChildren('x', 'vcard-temp:x:update').map((x) => x.toString()),
      [`<x xmlns='vcard-temp:x:update'><photo>${HASH}</photo></x>`],
    );
    await alice.send(`<presence><status>own</status><x xmlns='vcard-temp:x:update'><photo>0123abcd</photo></x></presence>`);
    const own = await bob.waitFor((el) => el.name === 'presence' && el.getChildText('status') === 'own');
    assert.equal(own.getChild('x', 'vcard-temp:x:update')!.toString(), `<x xmlns='vcard-temp:x:update'><photo>0123abcd</photo></x>`);
  });

  it('follows vCard changes: a vCard without photo gives an empty photo element (§4.4)', async () => {
    await alice.iq(`<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>`);
    await alice.send(`<presence><status>no photo</status></presence>`);
    const p = await bob.waitFor((el) => el.name === 'presence' && el.getChildText('status') === 'no photo');
    assert.equal(p.getChild('x', 'vcard-temp:x:update')!.toString(), `<x xmlns='vcard-temp:x:update'><photo/></x>`);
  });

  it('adds nothing for users without a vCard', async () => {
    const carol = await ts.client('carol', { presence: false });
    await carol.send(`<presence><status>carol here</status></presence>`);
    const p = await bob.waitFor((el) => el.name === 'presence' && el.getChildText('status') === 'carol here');
    assert.equal(p.getChild('x', 'vcard-temp:x:update'), undefined);
  });

  it('deletes the vCard with the account', async () => {
    await ts.running.server.accounts.delete('alice');
    assert.equal(await ts.running.server.storage.keyval('vcard').get('alice@localhost'), undefined);
  });
});
