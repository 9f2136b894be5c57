// XEP-0030 Service Discovery, with XEP-0128 extended info: disco#info and disco#items for the server, for
// the bare JIDs of its accounts, and for every service domain (conference., pubsub., … hosted now or later).
//
// Service domains are answered through the router's `serviceDefaults` iq table, which the router consults for
// any service whose own iq table has no handler. That covers services that other modules host after this one
// is loaded (module load order is alphabetical), and a service that wants its own disco (a MUC listing its
// rooms) registers disco#items on its own table and wins, without conflicting with ours.
import { NS, StanzaError, xml, type Jid, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { DiscoInfo, type HostedDomain } from '../../core/domains';
import type { IqRequest } from '../../core/iq';

/** A disco query to a node of an entity (XEP-0030 §3.2 info nodes, §4.2 items nodes). */
export interface DiscoNodeEvent {
  from: Jid;
  to: Jid;
  node: string;
  /** The <query/> being answered (node attribute already set); a handler that knows the node fills it and returns true. */
  query: XmlElement;
}

// Typed extension by declaration merging: modules that serve nodes (ad-hoc commands, PEP…) hook these
// without importing this file; nobody answering means the node does not exist.
/** disco#items of an account's bare JID without a node (XEP-0163 PEP lists the account's nodes there). */
export interface DiscoAccountItemsEvent {
  from: Jid;
  to: Jid;
  /** The <query/> being answered; handlers append <item/> children and return false so others can too. */
  query: XmlElement;
}

declare module '../../core/events' {
  interface ServerEvents {
    'disco-info/node': DiscoNodeEvent;
    'disco-items/node': DiscoNodeEvent;
    'disco-items/account': DiscoAccountItemsEvent;
  }
}

export default defineModule({
  name: 'disco',
  specs: [
    { spec: 'XEP-0030', version: '2.5rc3', status: 'complete' },
    { spec: 'XEP-0128', version: '1.0', status: 'complete', note: 'forms contributed by modules through DiscoInfo.forms' },
  ],
  setup(ctx) {
    const { server } = ctx;

    // XEP-0030 §3.1: every entity has at least one identity; the server is an IM server, accounts are
    // registered accounts (the "primary identity" of a bare JID, category account).
    if (!ctx.disco.host.identities.some((i) => i.category === 'server')) {
      ctx.disco.host.identities.push({ category: 'server', type: 'im', name: 'Parley' });
    }
    if (!ctx.disco.account.identities.some((i) => i.category === 'account')) {
      ctx.disco.account.identities.push({ category: 'account', type: 'registered' });
    }

    function domainOf(to: Jid): HostedDomain {
      const domain = server.domains.get(to.domain);
      if (!domain) throw new StanzaError('item-not-found');
      return domain;
    }

    const roster = ctx.map<{ subscription?: 'none' | 'to' | 'from' | 'both' }>('roster');

    /**
     * §8 rule 1: the server answers disco#info for a bare JID only when the account exists and the requester
     * may see its presence: the account itself, a contact with a 'from' or 'both' subscription in the
     * account's roster (the roster module's 'roster' map store), or a trusted entity (our own domains).
     * Everyone else gets service-unavailable, the same as for an account that does not exist.
     */
    async function requireDiscoverable(to: Jid, from: Jid): Promise<void> {
      const owner = to.toBareString();
      const requester = from.toBareString();
      const trusted = owner === requester || (from.local === undefined && server.domains.has(from.domain));
      if (!trusted) {
        const entry = await roster.get(owner, requester);
        if (entry?.subscription !== 'from' && entry?.subscription !== 'both') throw new StanzaError('service-unavailable');
      }
      if (!(await server.accounts.exists(to.local!))) throw new StanzaError('service-unavailable');
    }

    /** XEP-0030 §3.2 / §4.2: a node is answered by whichever module knows it; otherwise §7 item-not-found. */
    async function answerNode(event: 'disco-info/node' | 'disco-items/node', req: IqRequest, node: string): Promise<XmlElement> {
      const query = xml('query', { xmlns: event === 'disco-info/node' ? NS.DISCO_INFO : NS.DISCO_ITEMS, node });
      if (await server.hooks.fire(event, { from: req.from, to: req.to, node, query })) return query;
      throw new StanzaError('item-not-found');
    }

    async function info(req: IqRequest): Promise<XmlElement> {
      if (req.to.local !== undefined) await requireDiscoverable(req.to, req.from);
      const node = req.payload.attrs.node;
      if (node !== undefined) return answerNode('disco-info/node', req, node);
      const domain = domainOf(req.to);
      return withDiscoFeatures(req.to.local === undefined ? domain.info : domain.accountInfo).toQuery();
    }

    async function items(req: IqRequest): Promise<XmlElement> {
      const node = req.payload.attrs.node;
      // §8 rule 2: disco#items of an account that does not exist is an empty result, node or not. Existing
      // accounts list no resources here, so what the item providers show (PEP nodes) is theirs to filter.
      if (req.to.local !== undefined && !(await server.accounts.exists(req.to.local))) {
        return xml('query', { xmlns: NS.DISCO_ITEMS, node });
      }
      if (node !== undefined) return answerNode('disco-items/node', req, node);
      const query = xml('query', { xmlns: NS.DISCO_ITEMS });
      // XEP-0030 §4.1: the server lists its services (or a service its own items); an account's items come
      // from the modules that keep things for it (PEP nodes).
      if (req.to.local === undefined) {
        for (const it of domainOf(req.to).items) query.append(xml('item', { jid: it.jid, name: it.name, node: it.node }));
      } else {
        await server.hooks.fire('disco-items/account', { from: req.from, to: req.to, query });
      }
      return query;
    }

    ctx.iq.get(NS.DISCO_INFO, 'query', { to: ['host', 'bare'] }, info);
    ctx.iq.get(NS.DISCO_ITEMS, 'query', { to: ['host', 'bare'] }, items);

    // Every service domain, present and future (see the header comment).
    for (const d of [
      server.router.serviceDefaults.register('get', NS.DISCO_INFO, 'query', ['host'], info),
      server.router.serviceDefaults.register('get', NS.DISCO_ITEMS, 'query', ['host'], items),
    ]) {
      ctx.onStop(() => d.dispose());
    }
  },
});

/**
 * A copy of `info` that also lists disco#info and disco#items (XEP-0030 §3.1: every entity supports at least
 * disco#info; services answered through the router's defaults never registered the features themselves).
 */
function withDiscoFeatures(info: DiscoInfo): DiscoInfo {
  const out = new DiscoInfo();
  out.identities.push(...info.identities);
  for (const f of [NS.DISCO_INFO, NS.DISCO_ITEMS, ...info.features]) out.features.add(f);
  out.forms.push(...info.forms);
  return out;
}
