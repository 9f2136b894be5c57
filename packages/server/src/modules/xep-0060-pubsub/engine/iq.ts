// The XEP-0060 wire protocol for one service: parses <pubsub/> (§6–§7, entity use cases) and
// <pubsub xmlns='…#owner'/> (§8, owner use cases) requests, calls the engine and builds the results.
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../../core/iq';
import type { PubSubEngine } from './engine';
import { configForm, subscribeOptionsForm, applySubscribeOptions } from './config-form';
import { itemElement } from './notify';
import { setAffiliations, setSubscriptions } from './owner';
import { AFFILIATIONS, nodeidRequired, pubsubError, unsupported, type Affiliation, type SubscriptionRecord } from './types';

export interface PubSubIqOptions {
  /** Called after a successful publish or retract (PEP uses it to mirror legacy bookmarks). */
  changed?(service: string, node: string, actor: Jid): Promise<void>;
}

function nodeAttr(el: XmlElement): string {
  const node = el.attrs.node;
  if (node === undefined || node === '') throw nodeidRequired();
  return node;
}

function single(payload: XmlElement, allowed: string[]): XmlElement {
  const actions = payload.elements().filter((e) => allowed.includes(e.name));
  const unknown = payload.elements().find((e) => !allowed.includes(e.name) && !['configure', 'options', 'publish-options'].includes(e.name));
  if (unknown) throw unsupported(unknown.name);
  if (actions.length !== 1) throw new StanzaError('bad-request', 'exactly one pubsub action expected');
  return actions[0]!;
}

function subscriptionEl(node: string | undefined, s: SubscriptionRecord): XmlElement {
  return xml('subscription', { node, jid: s.jid, subid: s.subid, subscription: s.state });
}

/** §6–§7: requests in the pubsub namespace. */
export async function handlePubsub(engine: PubSubEngine, service: string, req: IqRequest, opts: PubSubIqOptions = {}): Promise<XmlElement | undefined> {
  const { payload, from } = req;
  const type = req.stanza.attrs.type;
  const result = (...children: XmlElement[]) => xml('pubsub', { xmlns: NS.PUBSUB }, ...children);
  if (type === 'get') {
    const action = single(payload, ['items', 'subscriptions', 'affiliations', 'options', 'default']);
    switch (action.name) {
      case 'items': {
        const max = action.attrs.max_items !== undefined ? Number(action.attrs.max_items) : undefined;
        if (max !== undefined && (!Number.isInteger(max) || max < 0)) throw new StanzaError('bad-request', 'max_items must be a non-negative integer');
        const ids = action.getChildren('item').map((i) => i.attrs.id ?? '');
        const { node, items } = await engine.retrieve(service, from, nodeAttr(action), { max, ids: ids.length ? ids : undefined });
        return result(xml('items', { node: node.name }, ...items.map((i) => itemElement(i, true, NS.PUBSUB))));
      }
      case 'subscriptions': {
        // §5.6: the requester's own subscriptions, optionally for one node.
        const bare = from.toBareString();
        const out = xml('subscriptions', { node: action.attrs.node });
        for (const node of (await engine.nodes.all(service)).values()) {
          if (action.attrs.node !== undefined && node.name !== action.attrs.node) continue;
          for (const s of node.subscriptions) if (Jid.parse(s.jid).toBareString() === bare) out.append(subscriptionEl(node.name, s));
        }
        return result(out);
      }
      case 'affiliations': {
        // §5.7: the requester's own affiliations.
        const bare = from.toBareString();
        const out = xml('affiliations', { node: action.attrs.node });
        for (const node of (await engine.nodes.all(service)).values()) {
          if (action.attrs.node !== undefined && node.name !== action.attrs.node) continue;
          const aff = engine.affiliation(service, node, bare);
          if (aff !== 'none') out.append(xml('affiliation', { node: node.name, affiliation: aff }));
        }
        return result(out);
      }
      case 'options': {
        const node = await engine.node(service, nodeAttr(action));
        const sub = engine.findSubscription(service, node, from, action.attrs.jid ?? from.toBareString(), action.attrs.subid);
        return result(xml('options', { node: node.name, jid: sub.jid, subid: sub.subid }, subscribeOptionsForm(sub)));
      }
      default:
        // §6.4: default subscription options.
        return result(xml('default', null, subscribeOptionsForm({ jid: '', subid: '', state: 'subscribed', deliver: true })));
    }
  }
  const action = single(payload, ['create', 'publish', 'retract', 'subscribe', 'unsubscribe', 'options']);
  switch (action.name) {
    case 'create': {
      const configure = payload.getChild('configure')?.getChild('x', NS.DATA);
      const node = await engine.create(service, from, action.attrs.node || undefined, configure);
      return result(xml('create', { node: node.name }));
    }
    case 'publish': {
      const name = nodeAttr(action);
      const items = action.getChildren('item');
      if (items.length > 1) throw pubsubError('bad-request', 'invalid-payload');
      const options = payload.getChild('publish-options')?.getChild('x', NS.DATA);
      const { item } = await engine.publish(service, from, name, items[0], options);
      await opts.changed?.(service, name, from);
      return result(xml('publish', { node: name }, xml('item', { id: item.id })));
    }
    case 'retract': {
      const name = nodeAttr(action);
      const id = action.getChild('item')?.attrs.id;
      if (!id) throw pubsubError('bad-request', 'item-required');
      const notify = action.attrs.notify === undefined ? undefined : action.attrs.notify === 'true' || action.attrs.notify === '1';
      await engine.retract(service, from, name, id, notify);
      await opts.changed?.(service, name, from);
      return undefined;
    }
    case 'subscribe': {
      const name = nodeAttr(action);
      const options = payload.getChild('options')?.getChild('x', NS.DATA);
      const sub = await engine.subscribe(service, from, name, action.attrs.jid ?? '', options);
      return result(subscriptionEl(name, sub));
    }
    case 'unsubscribe': {
      await engine.unsubscribe(service, from, nodeAttr(action), action.attrs.jid ?? '', action.attrs.subid);
      return undefined;
    }
    default: {
      // §6.3.5: submit subscription options.
      const node = await engine.node(service, nodeAttr(action));
      const sub = engine.findSubscription(service, node, from, action.attrs.jid ?? from.toBareString(), action.attrs.subid);
      const x = action.getChild('x', NS.DATA);
      if (!x) throw pubsubError('bad-request', 'invalid-options');
      applySubscribeOptions(sub, x);
      await engine.nodes.save(service, node);
      return undefined;
    }
  }
}

/** §8: owner use cases in the pubsub#owner namespace. */
export async function handlePubsubOwner(engine: PubSubEngine, service: string, req: IqRequest): Promise<XmlElement | undefined> {
  const { payload, from } = req;
  const type = req.stanza.attrs.type;
  const result = (child: XmlElement) => xml('pubsub', { xmlns: NS.PUBSUB_OWNER }, child);
  const action = single(payload, ['configure', 'default', 'delete', 'purge', 'subscriptions', 'affiliations']);
  const max = engine.host.maxItems;
  if (action.name === 'default') {
    if (type !== 'get') throw new StanzaError('bad-request');
    return result(xml('default', null, configForm(engine.host.defaultConfig(service, ''), max)));
  }
  const name = nodeAttr(action);
  const node = await engine.node(service, name);
  const isOwner = engine.affiliation(service, node, from.toBareString()) === 'owner';
  if (!isOwner) throw pubsubError('forbidden');
  if (type === 'get') {
    switch (action.name) {
      case 'configure':
        return result(xml('configure', { node: name }, configForm(node.config, max)));
      case 'subscriptions':
        return result(xml('subscriptions', { node: name }, ...node.subscriptions.map((s) => subscriptionEl(undefined, s))));
      case 'affiliations': {
        // §8.9.1: the affiliations in effect (a personal service's account first; nothing stored overrides it).
        const jids = new Set([...(engine.host.personal ? [service] : []), ...Object.keys(node.affiliations)]);
        const affs = [...jids]
          .map((jid) => ({ jid, affiliation: engine.affiliation(service, node, jid) }))
          .filter((a) => a.affiliation !== 'none')
          .map((a) => xml('affiliation', a));
        return result(xml('affiliations', { node: name }, ...affs));
      }
      default:
        throw new StanzaError('bad-request');
    }
  }
  switch (action.name) {
    case 'configure': {
      const x = action.getChild('x', NS.DATA);
      if (!x) throw new StanzaError('bad-request', 'configuration form expected');
      await engine.configure(service, from, name, x);
      return undefined;
    }
    case 'delete':
      await engine.deleteNode(service, from, name, action.getChild('redirect')?.attrs.uri);
      return undefined;
    case 'purge':
      await engine.purge(service, from, name);
      return undefined;
    case 'subscriptions': {
      const changes = action.getChildren('subscription').map((s) => {
        const state = s.attrs.subscription;
        if (!s.attrs.jid || !['subscribed', 'pending', 'unconfigured', 'none'].includes(state ?? '')) throw new StanzaError('bad-request');
        return { jid: jidOf(s.attrs.jid), state: state as SubscriptionRecord['state'] | 'none', subid: s.attrs.subid };
      });
      await setSubscriptions(engine, service, from, name, changes);
      return undefined;
    }
    case 'affiliations': {
      const changes = action.getChildren('affiliation').map((a) => {
        const aff = a.attrs.affiliation as Affiliation;
        if (!a.attrs.jid || !AFFILIATIONS.includes(aff)) throw new StanzaError('bad-request');
        return { jid: Jid.parse(jidOf(a.attrs.jid)).toBareString(), affiliation: aff };
      });
      await setAffiliations(engine, service, from, name, changes);
      return undefined;
    }
    default:
      throw new StanzaError('bad-request');
  }
}

function jidOf(text: string): string {
  try {
    return Jid.parse(text).toString();
  } catch {
    throw pubsubError('bad-request', 'invalid-jid');
  }
}
