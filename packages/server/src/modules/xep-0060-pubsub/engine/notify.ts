// XEP-0060 §7.1.2.1 event notifications (items, retract §7.2.2.1, purge §8.5.2, delete §8.4.2, configuration
// §8.2.5, subscription state §13.14), sent as <message type='headline'> (or 'normal', pubsub#notification_type)
// from the service.
import { NS, newId, parseXml, xml, type XmlElement } from '@parley/protocol';
import type { NodeRecord, StoredItem } from './types';

/** `<item id publisher?>payload</item>` as stored; without the payload when the node says so (§7.1.2.2). */
export function itemElement(item: StoredItem, withPayload: boolean, ns: string = NS.PUBSUB_EVENT): XmlElement {
  const el = xml('item', { id: item.id, publisher: ns === NS.PUBSUB_EVENT && item.publisher ? item.publisher : undefined });
  if (withPayload && item.payload) el.append(parsePayload(item.payload));
  return el;
}

const parsed = new Map<string, XmlElement>();

/** Payloads are stored serialised; parsing is cached for hot items (avatars, OMEMO bundles) and cloned on use. */
function parsePayload(text: string): XmlElement {
  let el = parsed.get(text);
  if (!el) {
    el = parseXml(text);
    if (parsed.size > 1000) parsed.clear();
    parsed.set(text, el);
  }
  return el.clone();
}

export function eventMessage(from: string, node: NodeRecord, content: XmlElement, delay?: number): XmlElement {
  const msg = xml('message', { from, type: node.config.notification_type, id: newId() }, xml('event', { xmlns: NS.PUBSUB_EVENT }, content));
  // XEP-0060 §6.1.7 / XEP-0203: an item sent later (last published item) carries its publish time.
  if (delay !== undefined) msg.append(xml('delay', { xmlns: NS.DELAY, from, stamp: new Date(delay).toISOString() }));
  return msg;
}

export function itemsEvent(node: NodeRecord, items: StoredItem[], retracted: string[] = []): XmlElement {
  const el = xml('items', { node: node.name });
  for (const item of items) el.append(itemElement(item, node.config.deliver_payloads));
  for (const id of retracted) el.append(xml('retract', { id }));
  return el;
}

export function purgeEvent(node: NodeRecord): XmlElement {
  return xml('purge', { node: node.name });
}

export function deleteEvent(node: NodeRecord, redirect?: string): XmlElement {
  return xml('delete', { node: node.name }, redirect ? xml('redirect', { uri: redirect }) : null);
}

/** §13.14: a subscription's new state, told to the (former) subscriber. */
export function subscriptionEvent(node: NodeRecord, jid: string, state: 'none' | 'subscribed' | 'pending'): XmlElement {
  return xml('subscription', { node: node.name, jid, subscription: state });
}

export function configurationEvent(node: NodeRecord): XmlElement {
  return xml('configuration', { node: node.name });
}
