// XEP-0191: Blocking Command. The user's server keeps a blocklist per account, answers blocklist requests,
// pushes changes to the resources that asked for the list, and filters traffic (enforce.ts).
import { z } from 'zod';
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { IqRequest } from '../../core/iq';
import { Blocklists } from './blocklist';
import { enforceBlocking } from './enforce';

/** Fired after a block or unblock, so that presence (the roster module) can do its part of §3.3 / §3.4. */
export interface BlocklistEvent {
  /** The user's bare JID. */
  owner: Jid;
  /** The entries added or removed (for an unblock-all, everything the list held). */
  jids: string[];
}

declare module '../../core/events' {
  interface ServerEvents {
    /** XEP-0191 §3.3: send unavailable presence to these entries, if they may receive the user's presence. */
    'blocklist/blocked': BlocklistEvent;
    /** XEP-0191 §3.4: send the user's current presence to these entries, if they may receive it. */
    'blocklist/unblocked': BlocklistEvent;
  }
}

const options = z.object({
  max_items: z.int().min(1).default(1000).describe('Entries one user may block (XEP-0191); more is a policy-violation'),
});

export default defineModule({
  name: 'blocking',
  specs: [{ spec: 'XEP-0191', version: '1.3', status: 'complete', note: 'presence on (un)block is left to listeners of blocklist/* events' }],
  options,
  setup(ctx) {
    const { sessions } = ctx.server;
    const lists = new Blocklists(ctx.map<true>('blocklist'), sessions, (owner) => ctx.server.cluster.invalidate('blocklist', owner));
    ctx.server.cluster.onInvalidate('blocklist', (owner) => lists.forget(owner));
    let pushCounter = 0;

    /** The blocklist belongs to its owner alone: requests go to the user's own bare JID (no 'to'). */
    function owner(req: IqRequest): string {
      if (!req.isSelf) throw new StanzaError('forbidden', 'Only the account owner manages its blocklist');
      return req.from.toBareString();
    }

    /** §3.3 / §3.4 / §3.5: a push to every resource of the user that requested the blocklist. */
    function push(user: string, payload: XmlElement): void {
      for (const s of sessions.ofAccount(user)) {
        if (s.state.get(ctx.name) !== true) continue;
        s.send(xml('iq', { type: 'set', id: `blocklist-push-${(++pushCounter).toString(36)}`, to: s.jid.toString() }, payload.clone()));
      }
    }

    // §3.1: support is discovered on the server (disco#info of the host).
    ctx.disco.host.features.add(NS.BLOCKING);
    ctx.onStop(() => {
      ctx.disco.host.features.delete(NS.BLOCKING);
    });

    // §3.2: the list; asking for it subscribes this resource to pushes.
    ctx.iq.get(NS.BLOCKING, 'blocklist', { to: ['bare'], feature: false }, async (req) => {
      const user = owner(req);
      const list = await lists.get(user);
      req.session?.state.set(ctx.name, true);
      return xml('blocklist', { xmlns: NS.BLOCKING }, ...[...list].sort().map((jid) => xml('item', { jid })));
    });

    // §3.3: block one or more entries.
    ctx.iq.set(NS.BLOCKING, 'block', { to: ['bare'], feature: false }, async (req) => {
      const user = owner(req);
      const jids = readItems(req.payload);
      // §3.3: a <block/> without <item/> is bad-request.
      if (jids.length === 0) throw new StanzaError('bad-request', '<block/> needs at least one <item/>');
      const list = await lists.get(user);
      const added = jids.filter((j) => !list.has(j));
      if (list.size + added.length > ctx.options.max_items) {
        throw new StanzaError('policy-violation', `A blocklist holds at most ${ctx.options.max_items} entries`);
      }
      await lists.block(user, added);
      push(user, itemsElement('block', jids));
      if (added.length > 0) await ctx.server.hooks.fire('blocklist/blocked', { owner: req.from.bare(), jids: added });
      return undefined;
    });

    // §3.4: unblock the given entries; §3.5: an empty <unblock/> unblocks everyone.
    ctx.iq.set(NS.BLOCKING, 'unblock', { to: ['bare'], feature: false }, async (req) => {
      const user = owner(req);
      const jids = readItems(req.payload);
      let removed: string[];
      if (jids.length === 0) {
        removed = await lists.unblockAll(user);
      } else {
        const list = await lists.get(user);
        removed = jids.filter((j) => list.has(j));
        await lists.unblock(user, removed);
      }
      push(user, itemsElement('unblock', jids));
      if (removed.length > 0) await ctx.server.hooks.fire('blocklist/unblocked', { owner: req.from.bare(), jids: removed });
      return undefined;
    });

    enforceBlocking(ctx, lists);

    ctx.on('session/closed', ({ session }) => lists.evict(session.jid.toBareString()));
    ctx.on('account/deleted', ({ jid }) => lists.deleteAll(jid.toBareString()));
  },
});

/** The normalised 'jid' of each <item/>, without duplicates; a missing or invalid one is jid-malformed. */
function readItems(payload: XmlElement): string[] {
  const out = new Set<string>();
  for (const item of payload.getChildren('item', NS.BLOCKING)) {
    const jid = Jid.tryParse(item.attrs.jid);
    if (!jid) throw new StanzaError('jid-malformed', `Invalid JID '${item.attrs.jid ?? ''}'`);
    out.add(jid.toString());
  }
  return [...out];
}

function itemsElement(name: 'block' | 'unblock', jids: string[]): XmlElement {
  return xml(name, { xmlns: NS.BLOCKING }, ...jids.map((jid) => xml('item', { jid })));
}
