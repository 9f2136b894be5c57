// Review probes for RFC 6121 §2 (roster sets), §3 / Appendix A (subscription states), §4.6 (directed presence).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestClient } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';

const ROSTER = 'jabber:iq:roster';
const condition = (el: XmlElement) => el.getChild('error')?.elements().find((c) => c.name !== 'text')?.name;
const item = (el: XmlElement) => el.getChild('query', ROSTER)?.getChild('item');
const isPush = (jid: string) => (el: XmlElement) => el.name === 'iq' && el.attrs.type === 'set' && item(el)?.attrs.jid === jid;
const isPresence = (from: string, type?: string) => (el: XmlElement) =>
  el.name === 'presence' && el.attrs.from?.startsWith(from) === true && el.attrs.type === type;
const settle = () => new Promise((r) => setTimeout(r, 150));

async function rosterSet(c: TestClient, itemXml: string): Promise<XmlElement> {
  return c.iq(`<iq type='set'><query xmlns='${ROSTER}'>${itemXml}</query></iq>`);
}

describe('RFC 6121 review', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['ann', 'bea', 'cal', 'dan', 'eve', 'fay']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it("§2.3.3: a roster set for the user's own bare JID is not-allowed", async () => {
    const ann = await ts.client('ann', { resource: 'self' });
    const r = await rosterSet(ann, `<item jid='ann@localhost'/>`);
    assert.equal(r.attrs.type, 'error');
    assert.equal(condition(r), 'not-allowed');
  });

  it("§2.1.2.2 / §2.1.2.5: 'ask' and 'subscription' from the client are ignored; a blank name is no name", async () => {
    const ann = await ts.client('ann', { resource: 'ask' });
    await ann.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    const r = await rosterSet(ann, `<item jid='zed@localhost' subscription='both' ask='subscribe' name='   '/>`);
    assert.equal(r.attrs.type, 'result');
    const push = item(await ann.waitFor(isPush('zed@localhost')))!;
    assert.equal(push.attrs.subscription, 'none');
    assert.equal(push.attrs.ask, undefined);
    assert.equal(push.attrs.name, undefined);
  });

  it('§2.3.3: malformed roster sets get bad-request / not-acceptable and nothing breaks', async () => {
    const ann = await ts.client('ann', { resource: 'bad' });
    for (const [payload, cond] of [
      [`<item/>`, 'bad-request'],
      [`<item jid='a@b@c'/>`, 'bad-request'],
      [``, 'bad-request'],
      [`<item jid='q@localhost' name='${'n'.repeat(2000)}'/>`, 'not-acceptable'],
      [`<item jid='q@localhost'><group/></item>`, 'not-acceptable'],
      [`<item jid='q@localhost'><group>a</group><group>a</group></item>`, 'bad-request'],
    ] as const) {
      const r = await rosterSet(ann, payload);
      assert.equal(r.attrs.type, 'error', payload);
      assert.equal(condition(r), cond, payload);
    }
    const get = await ann.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    assert.equal(get.attrs.type, 'result');
  });

  it('Appendix A.3.1: a repeated subscribe while the request is pending (None + Pending In) is not delivered again', async () => {
    const bea = await ts.client('bea', { resource: 'a' });
    const cal = await ts.client('cal', { resource: 'a' });
    await bea.send(`<presence to='cal@localhost' type='subscribe'/>`);
    await cal.waitFor(isPresence('bea@localhost', 'subscribe'));
    await bea.send(`<presence to='cal@localhost' type='subscribe'/>`);
    await settle();
    assert.equal(cal.received.filter(isPresence('bea@localhost', 'subscribe')).length, 1);
  });

  it('§3.4: a pre-approved request is answered by the server and not delivered to the user', async () => {
    const dan = await ts.client('dan', { resource: 'a' });
    const eve = await ts.client('eve', { resource: 'a' });
    await dan.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    await dan.send(`<presence to='eve@localhost' type='subscribed'/>`);
    const pre = await dan.waitFor(isPush('eve@localhost'));
    assert.equal(item(pre)!.attrs.approved, 'true');
    await settle();
    assert.equal(eve.received.some(isPresence('dan@localhost', 'subscribed')), false); // not routed (§3.4.1)
    await eve.send(`<presence to='dan@localhost' type='subscribe'/>`);
    await eve.waitFor(isPresence('dan@localhost', 'subscribed'));
    await eve.waitFor(isPresence(dan.jid));
    const from = await dan.waitFor((el) => isPush('eve@localhost')(el) && item(el)!.attrs.subscription === 'from');
    assert.equal(item(from)!.attrs.approved, undefined);
    assert.equal(dan.received.some(isPresence('eve@localhost', 'subscribe')), false);
  });

  it('§4.6.3: directed presence sent without broadcast presence is still followed by unavailable on disconnect', async () => {
    const fay = await ts.client('fay', { resource: 'watch' });
    const bot = await ts.client('ann', { resource: 'bot', presence: false });
    await bot.send(`<presence to='${fay.jid}'/>`);
    await fay.waitFor(isPresence(bot.jid));
    await bot.stop();
    await fay.waitFor(isPresence(bot.jid, 'unavailable'));
  });

  it('§4.6.3: a broadcast unavailable from a resource that was never available reaches its directed-presence recipients', async () => {
    const fay = await ts.client('fay', { resource: 'watch2' });
    const bot = await ts.client('ann', { resource: 'bot2', presence: false });
    await bot.send(`<presence to='${fay.jid}'/>`);
    await fay.waitFor(isPresence(bot.jid));
    await bot.send(`<presence type='unavailable'/>`);
    await fay.waitFor(isPresence(bot.jid, 'unavailable'));
  });

  it('§4.7.2.3: garbage or out-of-range priorities do not break presence handling', async () => {
    const ann = await ts.client('ann', { resource: 'prio', presence: false });
    await ann.send(`<presence><priority>banana</priority></presence>`);
    await ann.send(`<presence><priority>99999999999999999999</priority></presence>`);
    await ann.send(`<presence><priority/><priority>1</priority><show>nonsense</show></presence>`);
    const r = await ann.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    assert.equal(r.attrs.type, 'result');
  });
});
