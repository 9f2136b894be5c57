// XEP-0163 Personal Eventing Protocol: every account is a virtual pubsub service at its bare JID, built on the
// shared XEP-0060 engine (../xep-0060-pubsub/engine, the one cross-module import). Nodes are created by the
// first publish (§3), contacts with a presence subscription are subscribed implicitly and get what their
// XEP-0115 caps ask for with "<node>+notify" (§4), the last items go out when a resource comes online (§4.3.4).
import { z } from 'zod';
import { Jid, NS, StanzaError, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { StanzaEvent } from '../../core/events';
import type { IqRequest } from '../../core/iq';
import {
  PubSubEngine, PUBSUB_FEATURES, defaultNodeConfig, handlePubsub, handlePubsubOwner, nodeInfo, nodeItems,
  rootItems, rosterReader, type NodeRecord, type StoredItem,
} from '../xep-0060-pubsub/engine';
import { CapsTracker, capsQuery } from './caps';
import { BookmarksCompat } from './bookmarks-compat';
import { coherentMapStore } from '../../cluster/coherent-store';

const options = z
  .strictObject({
    max_items: z.int().min(1).max(100_000).default(1000).describe('What pubsub#max_items "max" means on PEP nodes'),
  })
  .prefault({});

export default defineModule({
  name: 'pep',
  specs: [
    { spec: 'XEP-0163', version: '1.2.2', status: 'complete' },
    { spec: 'XEP-0115', version: '1.6.0', status: 'partial', note: 'server side: caps of contacts resolved and cached for +notify filtering' },
    { spec: 'XEP-0402', version: '1.2.0', status: 'partial', note: 'PEP-node compatibility with storage:bookmarks (XEP-0048)' },
  ],
  options,
  setup(ctx) {
    const { server } = ctx;
    const opts = ctx.options as z.output<typeof options>;
    const roster = rosterReader(ctx.map('roster'));
    const caps = new CapsTracker((full, node) => server.router.request(capsQuery(server.domain, full, node), 10_000));

    const engine = new PubSubEngine(
      {
        maxItems: opts.max_items,
        autoCreate: true,
        // XEP-0163 §2.2: the account is the one owner-publisher of its nodes, and the only one who creates them.
        personal: true,
        mayCreate: (service, actor) => actor.toBareString() === service,
        // §5 recommended defaults: presence access, the last item only, sent on subscription and on presence.
        defaultConfig: () => defaultNodeConfig({ access_model: 'presence', max_items: 1, send_last_published_item: 'on_sub_and_presence' }),
        roster,
        rosterOwners: (service) => [service],
        implicitRecipients: async (service, node) => {
          const out: string[] = [];
          // The owner's own resources stay in sync (bookmarks, avatars), unless their caps say they are not interested.
          for (const s of server.sessions.ofAccount(service)) {
            if (s.available && caps.interested(s.jid.toString(), node.name, service) !== false) out.push(s.jid.toString());
          }
          // §4.3.1: contacts with a subscription to the owner's presence whose caps show +notify.
          for (const [contact, entry] of await roster(service)) {
            if (entry.subscription !== 'from' && entry.subscription !== 'both') continue;
            for (const full of caps.resources(contact)) if (caps.interested(full, node.name, contact)) out.push(full);
          }
          return out;
        },
        send: (stanza) => server.send(stanza),
      },
      // Any node of a cluster may serve an account's PEP requests: writes tell the others to re-read.
      {
        nodes: coherentMapStore(server.cluster, 'pep_nodes', ctx.map<NodeRecord>('pep_nodes')),
        items: coherentMapStore(server.cluster, 'pep_items', ctx.map<StoredItem>('pep_items')),
      },
    );
    server.cluster.onInvalidate('pep_nodes', (service) => engine.nodes.forget(service));
    server.cluster.onInvalidate('pep_items', (owner) => engine.items.forget(owner));
    const compat = new BookmarksCompat(engine);

    ctx.disco.account.identities.push({ category: 'pubsub', type: 'pep' });
    // XEP-0060 §10: no publisher affiliation in PEP, the account is the only publisher (XEP-0163 §2.2).
    const features = PUBSUB_FEATURES.filter((f) => f !== `${NS.PUBSUB}#publisher-affiliation`);
    for (const f of [...features, `${NS.PUBSUB}#auto-create`, `${NS.PUBSUB}#auto-subscribe`, `${NS.BOOKMARKS2}#compat-pep`]) {
      ctx.disco.account.features.add(f);
    }

    /** RFC 6121 §8.5.1: nothing answers for an account that does not exist. */
    const withAccount = (handler: (service: string, req: IqRequest) => Promise<XmlElement | undefined>) => async (req: IqRequest) => {
      if (!(await server.accounts.exists(req.to.local!))) throw new StanzaError('service-unavailable');
      return handler(req.to.toBareString(), req);
    };
    const pubsub = withAccount((service, req) => handlePubsub(engine, service, req, { changed: (s, n, a) => compat.changed(s, n, a) }));
    const owner = withAccount((service, req) => handlePubsubOwner(engine, service, req));
    ctx.iq.get(NS.PUBSUB, 'pubsub', { to: ['bare'] }, pubsub);
    ctx.iq.set(NS.PUBSUB, 'pubsub', { to: ['bare'] }, pubsub);
    ctx.iq.get(NS.PUBSUB_OWNER, 'pubsub', { to: ['bare'] }, owner);
    ctx.iq.set(NS.PUBSUB_OWNER, 'pubsub', { to: ['bare'] }, owner);

    // XEP-0163 §6.1 / XEP-0060 §5: nodes of an account, node metadata and items, for those who may see them.
    ctx.on('disco-info/node', async ({ to, from, node, query }) => {
      if (to.local === undefined || to.domain !== server.domain || to.resource !== undefined) return false;
      return nodeInfo(engine, to.toBareString(), node, from, query, true);
    });
    ctx.on('disco-items/node', async ({ to, from, node, query }) => {
      if (to.local === undefined || to.domain !== server.domain || to.resource !== undefined) return false;
      return nodeItems(engine, to.toBareString(), node, from, query);
    });
    // disco#items of the bare JID itself lists the PEP nodes; the disco module answers accounts with no items.
    ctx.on(
      'iq/bare',
      async (event) => {
        const q = event.stanza.attrs.type === 'get' ? event.stanza.getChild('query', NS.DISCO_ITEMS) : undefined;
        if (!q || q.attrs.node !== undefined) return false;
        await server.router.runIq(
          withAccount((service, req) => rootItems(engine, service, req.from)),
          event,
        );
        return true;
      },
      Priority.Feature + 10,
    );

    /** §4.3.4 / XEP-0060 §6.1.7: last items of `service` that `full` wants, when it comes online. */
    async function sendLastItems(service: string, full: Jid): Promise<void> {
      const bare = full.toBareString();
      for (const node of (await engine.nodes.all(service)).values()) {
        if (node.config.send_last_published_item !== 'on_sub_and_presence') continue;
        if (caps.interested(full.toString(), node.name, bare) !== true) continue;
        // sendLast delivers only to those the access model admits now.
        await engine.sendLast(service, node, full.toString());
      }
    }

    /** A local resource came online: its own account's items and those of its local contacts it receives presence from. */
    async function resourceOnline(full: Jid, presence: XmlElement): Promise<void> {
      await caps.update(full, presence);
      const bare = full.toBareString();
      await sendLastItems(bare, full);
      for (const [contact, entry] of await roster(bare)) {
        if (entry.subscription !== 'to' && entry.subscription !== 'both') continue;
        if (Jid.parse(contact).domain !== server.domain) continue;
        await sendLastItems(contact, full);
      }
    }

    const background = (task: Promise<void>) => void task.catch((err) => ctx.log.warn({ err }, 'pep presence handling failed'));

    ctx.on(
      'pre-presence/broadcast',
      ({ stanza, origin }) => {
        if (origin.kind !== 'c2s') return false;
        const { session } = origin;
        const type = stanza.attrs.type;
        if (type === 'unavailable') caps.forget(session.jid);
        // Initial presence (RFC 6121 §4.2): the session is not available yet when this hook runs.
        else if (type === undefined && !session.available) background(resourceOnline(session.jid, stanza));
        else if (type === undefined) background(caps.update(session.jid, stanza));
        return false;
      },
      Priority.Feature + 10,
    );

    // Presence from remote contacts: remember their caps and send them the last items (§4.3.4).
    const inbound = ({ stanza, from, to, origin }: StanzaEvent) => {
      if (origin.kind !== 'remote' || to.local === undefined) return false;
      const type = stanza.attrs.type;
      if (type === 'unavailable') caps.forget(from);
      else if (type === undefined && from.resource !== undefined) {
        background(caps.update(from, stanza).then(() => sendLastItems(to.toBareString(), from)));
      }
      return false;
    };
    ctx.on('presence/bare', inbound, Priority.Feature + 10);
    ctx.on('presence/full', inbound, Priority.Feature + 10);

    // A cluster's other nodes: their sessions' caps come from the presence they announce for them.
    ctx.on('remote-session/updated', ({ session }) => {
      const presence = session.available ? session.presence : undefined;
      if (presence) background(caps.update(session.jid, presence));
      else caps.forget(session.jid);
      return false;
    });
    ctx.on('remote-session/ended', ({ session }) => {
      caps.forget(session.jid);
      return false;
    });

    ctx.on('session/closed', ({ session }) => {
      caps.forget(session.jid);
    });
    ctx.on('account/deleted', async ({ jid }) => {
      caps.forgetAccount(jid.toBareString());
      await engine.deleteService(jid.toBareString());
    });
  },
});
