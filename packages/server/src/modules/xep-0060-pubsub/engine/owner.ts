// XEP-0060 §8.8 / §8.9: owners manage a node's subscriptions and affiliations. Changes are validated as a whole,
// then applied together.
import { Jid, StanzaError, newId } from '@parley/protocol';
import type { PubSubEngine } from './engine';
import { unsupported, type Affiliation, type SubscriptionRecord } from './types';

/**
 * Which affiliation changes a node accepts. §8.9.2.4: a node never loses its last owner. A personal service
 * (XEP-0163 §2.2) has one owner and publisher, the account: its own affiliation does not change, and nobody else
 * becomes owner or publisher (§8.9.2.3.2: an affiliation the service does not support is feature-not-implemented).
 */
function checkAffiliations(engine: PubSubEngine, service: string, current: Record<string, Affiliation>, changes: { jid: string; affiliation: Affiliation }[]): void {
  if (engine.host.personal) {
    for (const { jid, affiliation } of changes) {
      if (jid === service) throw new StanzaError('not-acceptable', 'the account is the owner of its PEP nodes');
      if (affiliation === 'owner') throw new StanzaError('not-acceptable', 'a PEP node has one owner, the account');
      if (affiliation === 'publisher') throw unsupported('publisher-affiliation');
      if (affiliation === 'publish-only') throw unsupported('publish-only-affiliation');
    }
    return;
  }
  const owners = new Set(Object.entries(current).filter(([, a]) => a === 'owner').map(([j]) => j));
  for (const c of changes) {
    if (c.affiliation === 'owner') owners.add(c.jid);
    else owners.delete(c.jid);
  }
  if (owners.size === 0) throw new StanzaError('not-acceptable', 'a node needs an owner');
}

export async function setAffiliations(engine: PubSubEngine, service: string, actor: Jid, name: string, changes: { jid: string; affiliation: Affiliation }[]): Promise<void> {
  const node = await engine.node(service, name);
  engine.requireOwner(service, node, actor);
  checkAffiliations(engine, service, node.affiliations, changes);
  for (const { jid, affiliation } of changes) {
    if (affiliation === 'none') delete node.affiliations[jid];
    else node.affiliations[jid] = affiliation;
    // §8.9.2: an outcast loses its subscriptions.
    if (affiliation === 'outcast') node.subscriptions = node.subscriptions.filter((s) => Jid.parse(s.jid).toBareString() !== jid);
  }
  await engine.nodes.save(service, node);
  // §4.5: a member removed from a whitelist node (or a publisher demoted) may have lost access as well.
  await engine.pruneSubscriptions(service, node);
}

/**
 * §8.8.2: the owner sets subscriptions. §8.8.2.4: an entry the service cannot honour makes the request
 * not-acceptable, and nothing changes: a subscription for an entity the access model refuses would deliver nothing
 * (§15.3) and be cancelled at the next notification. On an authorize node the owner's approval is the access.
 */
export async function setSubscriptions(
  engine: PubSubEngine, service: string, actor: Jid, name: string,
  changes: { jid: string; state: SubscriptionRecord['state'] | 'none'; subid?: string }[],
): Promise<void> {
  const node = await engine.node(service, name);
  engine.requireOwner(service, node, actor);
  if (node.config.access_model !== 'authorize') {
    for (const c of changes) {
      if (c.state !== 'subscribed' || (await engine.mayAccess(service, node, Jid.parse(c.jid).toBareString()))) continue;
      throw new StanzaError('not-acceptable', `${c.jid} may not access the node (access model ${node.config.access_model})`);
    }
  }
  for (const c of changes) {
    const matching = node.subscriptions.filter((s) => s.jid === c.jid && (c.subid === undefined || s.subid === c.subid));
    if (c.state === 'none') node.subscriptions = node.subscriptions.filter((s) => !matching.includes(s));
    else if (matching.length > 0) matching.forEach((s) => (s.state = c.state as SubscriptionRecord['state']));
    else node.subscriptions.push({ jid: c.jid, subid: newId(), state: c.state, deliver: true });
  }
  await engine.nodes.save(service, node);
}
