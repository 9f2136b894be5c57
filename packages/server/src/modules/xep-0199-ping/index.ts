// XEP-0199 XMPP Ping: the server answers pings to itself and, on behalf of the user, to the user's own bare JID.
import { NS, StanzaError } from '@parley/protocol';
import { defineModule } from '../../core/module-api';

export default defineModule({
  name: 'ping',
  specs: [{ spec: 'XEP-0199', version: '2.0.1', status: 'complete' }],
  setup(ctx) {
    ctx.iq.get(NS.PING, 'ping', { to: ['host', 'bare'] }, (req) => {
      // §4.2: a client pings its server with 'to' set to the domain, to its own bare JID, or without 'to'.
      if (req.to.local === undefined || req.isSelf) return null;
      // §4.4: end-to-end pings go to a full JID; the server knows nothing about another user's connectivity,
      // and answering for it would reveal whether the account exists, so a bare JID of someone else gets
      // service-unavailable, the same answer an unknown account gets (§7 consistency against presence leaks).
      throw new StanzaError('service-unavailable');
    });
  },
});
