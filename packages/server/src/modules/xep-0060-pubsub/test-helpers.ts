// Helpers shared by the pubsub and PEP end-to-end tests (test code only).
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import type { TestClient } from '../../testing/harness';

export const PS = 'http://jabber.org/protocol/pubsub';
export const PSO = 'http://jabber.org/protocol/pubsub#owner';
export const EV = 'http://jabber.org/protocol/pubsub#event';
export const ERRS = 'http://jabber.org/protocol/pubsub#errors';

/** The condition and pubsub#errors application condition of an error reply. */
export function errorOf(r: XmlElement): { type?: string; condition?: string; app?: string; feature?: string } {
  assert.equal(r.attrs.type, 'error', `expected an error, got ${r.toString()}`);
  const err = r.getChild('error')!;
  const cond = err.elements().find((e) => e.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && e.name !== 'text');
  const app = err.elements().find((e) => e.attrs.xmlns === ERRS);
  return { type: err.attrs.type, condition: cond?.name, app: app?.name, feature: app?.attrs.feature };
}

export function ok(r: XmlElement): XmlElement {
  assert.equal(r.attrs.type, 'result', r.toString());
  return r;
}

export function form(type: string, fields: Record<string, string | string[]>): string {
  const f = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${type}</value></field>${f}</x>`;
}

/** An event notification for a node, optionally for one item id. */
export const isEvent = (node: string, pred: (items: XmlElement) => boolean = () => true) => (el: XmlElement) => {
  if (el.name !== 'message') return false;
  const ev = el.getChild('event', EV);
  const items = ev?.elements().find((e) => e.attrs.node === node);
  return items !== undefined && pred(items);
};

export const hasItem = (id: string) => (items: XmlElement) => items.getChildren('item').some((i) => i.attrs.id === id);

/** `sub` gets a subscription to `owner`'s presence (owner's roster: 'from'), through RFC 6121 subscriptions. */
export async function subscribePresence(sub: TestClient, owner: TestClient): Promise<void> {
  const ownerBare = owner.jid.split('/')[0]!;
  const subBare = sub.jid.split('/')[0]!;
  await sub.send(`<presence to='${ownerBare}' type='subscribe'/>`);
  await owner.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from?.startsWith(subBare) === true);
  await owner.send(`<presence to='${subBare}' type='subscribed'/>`);
  await sub.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribed' && el.attrs.from?.startsWith(ownerBare) === true);
}

/** Answers the server's XEP-0115 disco#info query with the given +notify nodes. */
export function answerCaps(c: TestClient, features: string[]): void {
  c.xmpp.on('stanza', (el: any) => {
    if (el.name !== 'iq' || el.attrs.type !== 'get') return;
    const q = el.getChild('query', 'http://jabber.org/protocol/disco#info');
    if (!q || !q.attrs.node) return;
    const fs = features.map((f) => `<feature var='${f}'/>`).join('');
    void c.send(`<iq type='result' id='${el.attrs.id}' to='${el.attrs.from}'><query xmlns='http://jabber.org/protocol/disco#info' node='${q.attrs.node}'><identity category='client' type='pc' name='t'/>${fs}</query></iq>`);
  });
}

/**
 * A round trip to the server: anything the server queued for this client before the reply (notifications of an
 * earlier publish, whose iq result the publisher already has) has been received when this resolves. Lets a test
 * assert that a notification did NOT arrive without sleeping.
 */
export async function settle(c: TestClient): Promise<void> {
  ok(await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`));
}

/** `owner` cancels `contact`'s subscription to its presence (RFC 6121 §3.2), seen by the contact. */
export async function revokePresence(owner: TestClient, contact: TestClient): Promise<void> {
  const ownerBare = owner.jid.split('/')[0]!;
  const contactBare = contact.jid.split('/')[0]!;
  const seen = contact.received.length;
  await owner.send(`<presence to='${contactBare}' type='unsubscribed'/>`);
  await contact.waitFor((el) => contact.received.indexOf(el) >= seen && el.name === 'presence' && el.attrs.type === 'unsubscribed' && el.attrs.from?.startsWith(ownerBare) === true);
}

/** A pubsub subscription-state notification (XEP-0060 §13.14) for a node. */
export const isSubscriptionEvent = (node: string, state: string) => (el: XmlElement) =>
  el.name === 'message' && el.getChild('event', EV)?.getChild('subscription')?.attrs.node === node &&
  el.getChild('event', EV)?.getChild('subscription')?.attrs.subscription === state;
