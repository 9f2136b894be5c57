// XEP-0060 §8.8 / §8.9: owners manage a node's subscriptions and affiliations. Changes are applied together
// after the iq layer validated them.
import { Jid, newId } from '@parley/protocol';
import type { PubSubEngine } from './engine';
import type { Affiliation, SubscriptionRecord } from './types';

export async function setAffiliations(engine: PubSubEngine, service: string, actor: Jid, name: string, changes: { jid: string; affiliation: Affiliation }[]): Promise<void> {
  const node = await engine.node(service, name);
  engine.requireOwner(service, node, actor);
  for (const { jid, affiliation } of changes) {
    if (affiliation === 'none') delete node.affiliations[jid];
    else node.affiliations[jid] = affiliation;
    // §8.9.2: an outcast loses its subscriptions.
    if (affiliation === 'outcast') node.subscriptions = node.subscriptions.filter((s) => Jid.parse(s.jid).toBareString() !== jid);
  }
  await engine.nodes.save(service, node);
}

export async function setSubscriptions(
  engine: PubSubEngine, service: string, actor: Jid, name: string,
  changes: { jid: string; state: SubscriptionRecord['state'] | 'none'; subid?: string }[],
): Promise<void> {
  const node = await engine.node(service, name);
  engine.requireOwner(service, node, actor);
  for (const c of changes) {
    const matching = node.subscriptions.filter((s) => s.jid === c.jid && (c.subid === undefined || s.subid === c.subid));
    if (c.state === 'none') node.subscriptions = node.subscriptions.filter((s) => !matching.includes(s));
    else if (matching.length > 0) matching.forEach((s) => (s.state = c.state as SubscriptionRecord['state']));
    else node.subscriptions.push({ jid: c.jid, subid: newId(), state: c.state, deliver: true });
  }
  await engine.nodes.save(service, node);
}
