// XEP-0012 Last Activity: the server's uptime (§5), and for a user's bare JID the time since the user last
// logged out with the status of that logout (§3), shown only to the user and to contacts allowed to see the
// user's presence (§3, §8). Queries to a full JID are the client's business (§4) and are routed to it.
import { NS, StanzaError, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';

/** What is kept per account (keyval 'last_activity', keyed by bare JID). */
interface LastLogout {
  /** When the last resource went away, ms since the epoch. */
  at: number;
  /** The <status/> of the unavailable presence sent before leaving, if any. */
  status: string;
}

/** The roster entry fields this module reads (the roster module owns the 'roster' map store). */
interface RosterEntry {
  subscription?: 'none' | 'to' | 'from' | 'both';
}

export default defineModule({
  name: 'last',
  specs: [{ spec: 'XEP-0012', version: '2.0', status: 'complete', note: 'server uptime and offline users; idle time is for clients' }],
  setup(ctx) {
    const { server } = ctx;
    const store = ctx.keyval<LastLogout>('last_activity');
    const roster = ctx.map<RosterEntry>('roster');

    // §5: a query to the server answers how long it has been up, without character data.
    ctx.iq.get(NS.LAST, 'query', { to: ['host'] }, () =>
      xml('query', { xmlns: NS.LAST, seconds: String(Math.floor((Date.now() - server.startedAt) / 1000)) }),
    );

    /**
     * §3 / §8: only entities allowed to see the user's presence, that is the user and contacts whose
     * subscription in the user's roster is 'from' or 'both'. A user that does not exist has no roster, so
     * strangers get the same forbidden for existing and unknown accounts and learn nothing.
     */
    async function mayQuery(owner: string, requester: string): Promise<boolean> {
      if (owner === requester) return true;
      const entry = await roster.get(owner, requester);
      return entry?.subscription === 'from' || entry?.subscription === 'both';
    }

    ctx.iq.get(NS.LAST, 'query', { to: ['bare'] }, async (req) => {
      const owner = req.to.toBareString();
      if (!(await mayQuery(owner, req.from.toBareString()))) throw new StanzaError('forbidden');
      if (!(await server.accounts.exists(req.to.local!))) throw new StanzaError('service-unavailable');
      // §3: with at least one available resource the answer is an empty query with seconds='0'.
      if (server.sessions.ofAccount(owner).some((s) => s.available)) return xml('query', { xmlns: NS.LAST, seconds: '0' });
      const last = await store.get(owner);
      if (!last) throw new StanzaError('item-not-found', 'no logout recorded for this account');
      const seconds = Math.max(0, Math.floor((Date.now() - last.at) / 1000));
      return xml('query', { xmlns: NS.LAST, seconds: String(seconds) }, last.status || null);
    });

    // §3: the text is the status of the last unavailable presence. Remember it per session until the session
    // ends; an available presence afterwards makes it stale. Above Priority.Feature, where presence is
    // broadcast and consumed, so this only observes.
    ctx.on(
      'pre-presence/broadcast',
      ({ stanza, origin }) => {
        if (origin.kind !== 'c2s') return;
        if (stanza.attrs.type === 'unavailable') origin.session.state.set(ctx.name, stanza.getChildText('status') ?? '');
        else origin.session.state.delete(ctx.name);
      },
      Priority.Feature + 10,
    );

    // §3: "seconds since the user last logged out": recorded when the account's last resource goes away.
    ctx.on('session/closed', async ({ session, resumedElsewhere }) => {
      if (resumedElsewhere) return; // it goes on on another node
      const owner = session.jid.toBareString();
      // A deleted account's sessions close after its data is gone: nothing to record then.
      if (server.sessions.hasAccount(owner) || !(await server.accounts.exists(session.jid.local!))) return;
      const status = session.state.get(ctx.name);
      await store.set(owner, { at: Date.now(), status: typeof status === 'string' ? status : '' });
    });

    ctx.on('account/deleted', async ({ jid }) => {
      await store.set(jid.toBareString(), undefined);
    });
  },
});
