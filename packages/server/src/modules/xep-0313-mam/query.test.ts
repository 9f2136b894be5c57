// XEP-0313 §4.3 paging with XEP-0059 result set management, the #extended fields (before-id, after-id, ids,
// flip-page, metadata) and the errors of §4.3.2 / §4.1.5.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import { chat, form, mam, MAM, rsm } from './test-helpers';

describe('XEP-0313 queries: paging and extended fields', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let all: string[];
  const bodies = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];

  before(async () => {
    ts = await startTestServer({ modules: { options: { mam: { max_page: 5 } } } });
    for (const u of ['alice', 'bob']) await ts.createUser(u);
    alice = await ts.client('alice');
    bob = await ts.client('bob');
    for (const b of bodies) await chat(bob, alice, b);
    all = (await mam(alice, rsm({ max: 5 }))).ids;
    all.push(...(await mam(alice, rsm({ max: 5, after: all[4]! }))).ids);
  });
  after(() => ts.stop());

  it('pages forward with <after/> (XEP-0059 §2.2) and reports completeness', async () => {
    assert.equal(all.length, 7);
    const p1 = await mam(alice, rsm({ max: 3 }));
    assert.deepEqual(p1.bodies, ['m0', 'm1', 'm2']);
    assert.equal(p1.complete, 'false');
    assert.equal(p1.count, '7');
    assert.equal(p1.last, p1.ids[2]);
    const p2 = await mam(alice, rsm({ max: 3, after: p1.last! }));
    assert.deepEqual(p2.bodies, ['m3', 'm4', 'm5']);
    assert.equal(p2.complete, 'false');
    const p3 = await mam(alice, rsm({ max: 3, after: p2.last! }));
    assert.deepEqual(p3.bodies, ['m6']);
    assert.equal(p3.complete, 'true');
  });

  it('pages backward with <before/> (XEP-0059 §2.3, §2.5), each page in chronological order', async () => {
    const last = await mam(alice, rsm({ max: 3, before: '' }));
    assert.deepEqual(last.bodies, ['m4', 'm5', 'm6']);
    assert.equal(last.complete, 'false');
    assert.equal(last.first, last.ids[0]);
    const prev = await mam(alice, rsm({ max: 3, before: last.first! }));
    assert.deepEqual(prev.bodies, ['m1', 'm2', 'm3']);
    assert.equal(prev.complete, 'false');
    const first = await mam(alice, rsm({ max: 3, before: prev.first! }));
    assert.deepEqual(first.bodies, ['m0']);
    assert.equal(first.complete, 'true');
  });

  it('clamps <max/> to the server limit and answers max 0 with the count only', async () => {
    const big = await mam(alice, rsm({ max: 1000 }));
    assert.equal(big.ids.length, 5);
    assert.equal(big.complete, 'false');
    const none = await mam(alice, rsm({ max: 0 }));
    assert.deepEqual(none.ids, []);
    assert.equal(none.count, '7');
    assert.equal(none.first, undefined);
  });

  it('answers item-not-found for ids not in the archive (§4.3.2) and bad-request for bad input', async () => {
    assert.equal((await mam(alice, rsm({ after: 'nope' }))).error, 'item-not-found');
    assert.equal((await mam(alice, rsm({ before: 'nope' }))).error, 'item-not-found');
    assert.equal((await mam(alice, form({ 'after-id': 'nope' }))).error, 'item-not-found');
    assert.equal((await mam(alice, form({ ids: ['nope'] }))).error, 'item-not-found');
    // Bob's ids are not in Alice's archive.
    const bobIds = (await mam(bob)).ids;
    assert.equal((await mam(alice, rsm({ after: bobIds[0]! }))).error, 'item-not-found');
    assert.equal((await mam(alice, `<set xmlns='http://jabber.org/protocol/rsm'><max>many</max></set>`)).error, 'bad-request');
    const wrongType = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`;
    assert.equal((await mam(alice, wrongType)).error, 'bad-request');
  });

  it('supports before-id, after-id, ids and flip-page (#extended)', async () => {
    const range = await mam(alice, form({ 'after-id': all[1]!, 'before-id': all[5]! }));
    assert.deepEqual(range.bodies, ['m2', 'm3', 'm4']);
    assert.equal(range.complete, 'true');
    // before-id does not page backwards: the oldest of the range come first.
    const limited = await mam(alice, form({ 'before-id': all[5]! }) + rsm({ max: 2 }));
    assert.deepEqual(limited.bodies, ['m0', 'm1']);
    assert.equal(limited.complete, 'false');
    const picked = await mam(alice, form({ ids: [all[6]!, all[0]!] }));
    assert.deepEqual(picked.bodies, ['m6', 'm0']);
    const flipped = await mam(alice, rsm({ max: 3, before: '' }) + '<flip-page/>');
    assert.deepEqual(flipped.bodies, ['m6', 'm5', 'm4']);
    assert.equal(flipped.first, all[4]);
    assert.equal(flipped.last, all[6]);
  });

  it('describes the archive (#extended metadata)', async () => {
    const r = await alice.iq(`<iq type='get'><metadata xmlns='${MAM}'/></iq>`);
    const md = r.getChild('metadata', MAM)!;
    assert.equal(md.getChild('start')?.attrs.id, all[0]);
    assert.equal(md.getChild('end')?.attrs.id, all[6]);
    assert.match(md.getChild('end')!.attrs.timestamp!, /Z$/);
  });
});
