// XEP-0060 §5: discovering nodes (disco#items of the service), node metadata (disco#info with the XEP-0128
// pubsub#meta-data form, §5.4) and a node's items (§5.5), and the pubsub#… features a service supports (§10).
import { NS, xml, type Jid, type XmlElement } from '@parley/protocol';
import type { PubSubEngine } from './engine';
import { metaDataForm } from './config-form';

/** §10 feature names implemented by the engine (each advertised as `pubsub#<name>`). */
export const PUBSUB_FEATURES = [
  'access-authorize', 'access-open', 'access-presence', 'access-roster', 'access-whitelist', 'config-node',
  'create-and-configure', 'create-nodes', 'delete-items', 'delete-nodes', 'filtered-notifications', 'instant-nodes',
  'item-ids', 'last-published', 'manage-subscriptions', 'meta-data', 'modify-affiliations', 'outcast-affiliation',
  'persistent-items', 'publish', 'publish-options', 'publisher-affiliation', 'purge-nodes', 'retract-items',
  'retrieve-affiliations', 'retrieve-default', 'retrieve-items', 'retrieve-subscriptions', 'subscribe',
  'subscription-options',
].map((f) => `${NS.PUBSUB}#${f}`);

/** Fills a disco#info query for a node; false when the node does not exist or is hidden from the requester. */
export async function nodeInfo(engine: PubSubEngine, service: string, name: string, requester: Jid, query: XmlElement, hideInaccessible: boolean): Promise<boolean> {
  const node = await engine.nodes.get(service, name);
  if (!node) return false;
  if (hideInaccessible && !(await engine.mayAccess(service, node, requester.toBareString()))) return false;
  query.append(
    xml('identity', { category: 'pubsub', type: 'leaf' }),
    xml('feature', { var: NS.PUBSUB }),
    metaDataForm(node),
  );
  return true;
}

/** §5.5: a node's items as disco items (jid = service, name = item id), for those who may retrieve them. */
export async function nodeItems(engine: PubSubEngine, service: string, name: string, requester: Jid, query: XmlElement): Promise<boolean> {
  const node = await engine.nodes.get(service, name);
  if (!node || !(await engine.mayAccess(service, node, requester.toBareString()))) return false;
  for (const id of (await engine.items.items(service, name)).keys()) query.append(xml('item', { jid: service, name: id }));
  return true;
}

/** §5.2: the nodes of a service, those the requester may access. */
export async function rootItems(engine: PubSubEngine, service: string, requester: Jid): Promise<XmlElement> {
  const query = xml('query', { xmlns: NS.DISCO_ITEMS });
  for (const node of (await engine.nodes.all(service)).values()) {
    if (!(await engine.mayAccess(service, node, requester.toBareString()))) continue;
    query.append(xml('item', { jid: service, node: node.name, name: node.config.title || undefined }));
  }
  return query;
}
