// XEP-0163 §7.1: a PEP service re-calculates access when a presence subscription or a node's access model
// changes, and cancels what is lost; XEP-0060 §15.3: notifications (and the last item on presence, §4.3.4) go
// only to those the access model admits at delivery time. End to end with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import {
  PS, PSO, errorOf, form, hasItem, isEvent, isSubscriptionEvent, ok, revokePresence, settle, subscribePresence,
} from '../xep-0060-pubsub/test-helpers';
import { capsClient } from './test-helpers';

const PO = 'http://jabber.org/protocol/pubsub#publish-options';
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
const pub = (node: string, id: string, options?: Record<string, string>) =>
  `<iq type='set'><pubsub xmlns='${PS}'><publish node='${node}'><item id='${id}'><x xmlns='urn:test'>${id}</x></item></publish>${options ? `<publish-options>${form(PO, options)}</publish-options>` : ''}</pubsub></iq>`;
const subscribe = (owner: string, node: string, jid: string) => `<iq type='set' to='${owner}'><pubsub xmlns='${PS}'><subscribe node='${node}' jid='${jid}'/></pubsub></iq>`;
const items = (owner: string, node: string) => `<iq type='get' to='${owner}'><pubsub xmlns='${PS}'><items node='${node}'/></pubsub></iq>`;


describe('PEP access re-checked for existing subscribers (XEP-0163 §7.1)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['juliet', 'romeo', 'nurse', 'paris', 'tybalt']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('an explicit subscriber to a presence node stops receiving when its presence subscription is cancelled', async () => {
    const node = 'http://jabber.org/protocol/geoloc';
    const juliet = await ts.client('juliet', { resource: 'balcony' });
    const romeo = await ts.client('romeo', { resource: 'garden' });
    await subscribePresence(romeo, juliet);
    ok(await juliet.iq(pub(node, 'here')));
    ok(await romeo.iq(subscribe('juliet@localhost', node, 'romeo@localhost')));
    ok(await juliet.iq(pub(node, 'before')));
    await romeo.waitFor(isEvent(node, hasItem('before')));
    await revokePresence(juliet, romeo);
    ok(await juliet.iq(pub(node, 'after')));
    await romeo.waitFor(isSubscriptionEvent(node, 'none'));
    await settle(romeo);
    assert.ok(!romeo.received.some(isEvent(node, hasItem('after'))), 'romeo still receives juliet’s location');
    const e = errorOf(await romeo.iq(items('juliet@localhost', node)));
    assert.deepEqual([e.condition, e.app], ['not-authorized', 'presence-subscription-required']);
  });

  it('a +notify contact whose presence subscription is cancelled gets no notification and no last item', async () => {
    const node = 'http://jabber.org/protocol/mood';
    const nurse = await ts.client('nurse', { resource: 'chamber' });
    const tybalt = await capsClient(ts, 'tybalt', 'street', [node]);
    await subscribePresence(tybalt, nurse);
    await settle(tybalt);
    ok(await nurse.iq(pub(node, 'before')));
    await tybalt.waitFor(isEvent(node, hasItem('before')));
    await revokePresence(nurse, tybalt);
    ok(await nurse.iq(pub(node, 'after')));
    await settle(tybalt);
    assert.ok(!tybalt.received.some(isEvent(node, hasItem('after'))));
    // A new resource with the same caps comes online: no last item either (§4.3.4 needs access).
    const again = await capsClient(ts, 'tybalt', 'tavern', [node]);
    await settle(again);
    await settle(nurse);
    await settle(again);
    assert.ok(!again.received.some(isEvent(node, hasItem('after'))));
  });

  it('open → whitelist on a PEP node: an explicit subscriber without access is cancelled at once', async () => {
    const node = 'eu.siacs.conversations.axolotl.devicelist';
    const paris = await ts.client('paris', { resource: 'a' });
    const romeo = await ts.client('romeo', { resource: 'hall' });
    ok(await paris.iq(pub(node, 'current', { 'pubsub#access_model': 'open' })));
    ok(await romeo.iq(subscribe('paris@localhost', node, romeo.jid)));
    ok(await paris.iq(pub(node, 'current', { 'pubsub#access_model': 'open' })));
    await romeo.waitFor(isEvent(node, hasItem('current')));
    ok(await paris.iq(`<iq type='set'><pubsub xmlns='${PSO}'><configure node='${node}'>${form(NODE_CONFIG, { 'pubsub#access_model': 'whitelist' })}</configure></pubsub></iq>`));
    await romeo.waitFor(isSubscriptionEvent(node, 'none'));
    ok(await paris.iq(pub(node, 'next')));
    await settle(romeo);
    assert.ok(!romeo.received.some(isEvent(node, hasItem('next'))), 'romeo still receives paris’s device list');
    const subs = ok(await paris.iq(`<iq type='get'><pubsub xmlns='${PSO}'><subscriptions node='${node}'/></pubsub></iq>`));
    assert.deepEqual(subs.getChild('pubsub', PSO)!.getChild('subscriptions')!.getChildren('subscription'), []);
  });
});
