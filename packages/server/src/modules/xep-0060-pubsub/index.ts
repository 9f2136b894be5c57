// XEP-0060 Publish-Subscribe: the generic pubsub service on its own sub-domain (services.pubsub, e.g.
// pubsub.example.com). The protocol lives in ./engine, shared with PEP (xep-0163-pep), which hosts the same
// engine on every account's bare JID.
import { z } from 'zod';
import { NS, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import {
  PubSubEngine, PUBSUB_FEATURES, defaultNodeConfig, handlePubsub, handlePubsubOwner, nodeInfo, nodeItems,
  pubsubError, rootItems, rosterReader, type NodeRecord, type StoredItem,
} from './engine';

const options = z
  .strictObject({
    max_items: z.int().min(1).max(100_000).default(1000).describe('What pubsub#max_items "max" means: the most items one node keeps'),
    default_max_items: z.int().min(1).max(100_000).default(10).describe('pubsub#max_items of a node created without configuration'),
    creators: z.enum(['local', 'admins']).default('local').describe('Who may create nodes: users of this server, or admins only'),
  })
  .prefault({});

export default defineModule({
  name: 'pubsub',
  specs: [
    {
      spec: 'XEP-0060',
      version: '1.26.0',
      status: 'partial',
      note: 'leaf nodes; no collections, digests, subscription authorisation forms or SHIM headers',
    },
  ],
  options,
  setup(ctx) {
    const address = ctx.server.config.services.pubsub;
    if (address === false) return;
    const opts = ctx.options as z.output<typeof options>;
    const svc = ctx.service(address, { category: 'pubsub', type: 'service', name: 'Publish-Subscribe' });
    const service = svc.domain;
    const engine = new PubSubEngine(
      {
        maxItems: opts.max_items,
        autoCreate: false,
        personal: false,
        // §8.1.1: creation is restricted to this server's users (or its admins).
        mayCreate: (_s, actor) =>
          actor.domain === ctx.server.domain && actor.local !== undefined && (opts.creators !== 'admins' || ctx.server.isAdmin(actor)),
        defaultConfig: () => defaultNodeConfig({ max_items: Math.min(opts.default_max_items, opts.max_items) }),
        roster: rosterReader(ctx.map('roster')),
        // §4.5: the presence and roster access models refer to the rosters of the node's owners.
        rosterOwners: (_s, node: NodeRecord) => Object.entries(node.affiliations).filter(([, a]) => a === 'owner').map(([j]) => j),
        send: (stanza) => ctx.server.send(stanza),
      },
      { nodes: ctx.map<NodeRecord>('pubsub_nodes'), items: ctx.map<StoredItem>('pubsub_items') },
    );

    for (const f of PUBSUB_FEATURES) svc.info.features.add(f);

    svc.iq.get(NS.PUBSUB, 'pubsub', { to: ['host'] }, (req) => handlePubsub(engine, service, req));
    svc.iq.set(NS.PUBSUB, 'pubsub', { to: ['host'] }, (req) => handlePubsub(engine, service, req));
    svc.iq.get(NS.PUBSUB_OWNER, 'pubsub', { to: ['host'] }, (req) => handlePubsubOwner(engine, service, req));
    svc.iq.set(NS.PUBSUB_OWNER, 'pubsub', { to: ['host'] }, (req) => handlePubsubOwner(engine, service, req));

    // §5.2 / §5.5: the service lists its nodes, a node its items (a service's own table wins over disco's defaults).
    svc.iq.get(NS.DISCO_ITEMS, 'query', { to: ['host'], feature: false }, async (req) => {
      const node = req.payload.attrs.node;
      if (node === undefined) return rootItems(engine, service, req.from);
      const query = xml('query', { xmlns: NS.DISCO_ITEMS, node });
      if (!(await nodeItems(engine, service, node, req.from, query))) throw pubsubError('item-not-found');
      return query;
    });
    // §5.3 / §5.4: node metadata through the disco module's node event.
    ctx.on('disco-info/node', async ({ to, from, node, query }) => {
      if (to.domain !== service || to.local !== undefined) return false;
      return nodeInfo(engine, service, node, from, query, false);
    });
  },
});
