// RFC 6121: rosters (§2), subscriptions (§3) and presence (§4), with roster versioning (XEP-0237) and
// subscription pre-approval (§3.4). Message delivery rules are in rfc6121-routing.
import { Jid, xml, NS } from '@parley/protocol';
import { z } from 'zod';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { StanzaEvent } from '../../core/events';
import { RosterStore, sendsPresenceTo, type RosterItem } from './roster-store';
import { registerRosterIq } from './roster-iq';
import { Subscriptions, isSubscriptionType } from './subscriptions';
import { PresenceService } from './presence';

const options = z.object({
  cache_size: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Rosters of online users kept in memory at most (least recently used go first); offline users’ rosters are never kept'),
});

export default defineModule({
  name: 'roster',
  specs: [
    { spec: 'RFC 6121', version: '§2–§4', status: 'complete', note: 'roster, subscriptions, presence' },
    { spec: 'XEP-0237', version: '1.3', status: 'partial', note: 'versioning without deltas: a stale version gets the full roster' },
  ],
  options: options as unknown as z.ZodType<z.infer<typeof options>>,
  setup(ctx) {
    const { cluster, sessions } = ctx.server;
    const store = new RosterStore(
      ctx.map<RosterItem>('roster'),
      ctx.keyval<number>('roster_version'),
      (owner) => cluster.invalidate('roster', owner),
      (owner, fn) => ctx.exclusive('roster', owner, fn),
      cluster.enabled,
      { maxCached: ctx.options.cache_size, isOnline: (owner) => sessions.hasAccount(owner) },
    );
    cluster.onInvalidate('roster', (owner) => store.forget(owner));
    const subscriptions = new Subscriptions(ctx, store);
    const presence = new PresenceService(ctx, store, subscriptions);

    registerRosterIq(ctx, store, async (owner, contact, item) => {
      // RFC 6121 §2.5.2: removing an item cancels the subscriptions in both directions.
      const o = owner.toBareString();
      if (item.subscription === 'from' || item.subscription === 'both' || item.pendingIn) {
        void ctx.server.send(xml('presence', { type: 'unsubscribed', from: o, to: contact }));
        if (item.subscription === 'from' || item.subscription === 'both') subscriptions.sendUnavailable(owner, contact);
      }
      if (item.subscription === 'to' || item.subscription === 'both' || item.ask) {
        void ctx.server.send(xml('presence', { type: 'unsubscribe', from: o, to: contact }));
      }
    });

    // XEP-0237 and RFC 6121 §3.4 stream features after authentication.
    ctx.on('stream/features', ({ features }) => {
      features.push(xml('ver', { xmlns: NS.ROSTER_VER }), xml('sub', { xmlns: NS.PRE_APPROVAL }));
    });

    ctx.on('pre-presence/broadcast', async ({ stanza, origin }) => {
      if (origin.kind === 'c2s') await presence.broadcast(origin.session, stanza);
      return true;
    });

    // Outbound presence with a 'to' from our clients: subscriptions and directed presence.
    const outbound = async ({ stanza, to, origin }: StanzaEvent) => {
      if (origin.kind !== 'c2s') return false;
      const type = stanza.attrs.type;
      if (isSubscriptionType(type)) {
        await subscriptions.outbound(stanza, origin.session.jid, to.bare());
        return true;
      }
      if (type === 'probe') {
        // RFC 6121 §4.3.1: clients do not probe; the server does it on their behalf.
        return true;
      }
      await presence.directedPresence(origin.session, stanza, to);
      return false;
    };
    for (const target of ['bare', 'full', 'remote', 'host'] as const) ctx.on(`pre-presence/${target}`, outbound, Priority.Feature);

    // Inbound presence for local users.
    const inbound = async ({ stanza, from, to }: StanzaEvent) => {
      const type = stanza.attrs.type;
      if (isSubscriptionType(type)) {
        await subscriptions.inbound(stanza, from, to.bare());
        return true;
      }
      if (type === 'probe') {
        await presence.probe(from, to);
        return true;
      }
      if (to.isFull) return false; // available/unavailable/error to a resource: the routing module delivers it
      if (type === undefined || type === 'unavailable') presence.deliverToAll(to, stanza);
      return true;
    };
    ctx.on('presence/bare', inbound, Priority.Feature);
    ctx.on('presence/full', inbound, Priority.Feature);

    ctx.on('session/closed', ({ session, resumedElsewhere }) => presence.sessionClosed(session, resumedElsewhere === true));

    // XEP-0191 §3.3/§3.4: a blocked contact that may see the user's presence sees them go offline, and
    // back online on unblock. Only contacts with a presence subscription learn anything.
    const affectedContacts = async (owner: Jid, jids: string[]) => {
      const roster = await store.load(owner.toBareString());
      const out: string[] = [];
      for (const [contact, item] of roster) {
        if (!sendsPresenceTo(item)) continue;
        const c = Jid.parse(contact);
        if (jids.some((j) => j === contact || j === c.domain || Jid.tryParse(j)?.toBareString() === contact)) out.push(contact);
      }
      return out;
    };
    ctx.on('blocklist/blocked', async ({ owner, jids }) => {
      for (const contact of await affectedContacts(owner, jids)) subscriptions.sendUnavailable(owner, contact);
    });
    ctx.on('blocklist/unblocked', async ({ owner, jids }) => {
      for (const contact of await affectedContacts(owner, jids)) subscriptions.sendCurrentPresence(owner, contact);
    });
    ctx.on('account/deleted', ({ jid }) => store.deleteAll(jid.toBareString()));
  },
});
