// XEP-0199 XMPP Ping: the server answers pings to itself and, on behalf of the user, to the user's own bare JID.
import { NS, StanzaError } from '@parley/protocol';
import { defineModule } from '../../core/module-api';

export default defineModule({
  name: 'ping',
  specs: [{ spec: 'XEP-0199', version: '2.0.1', status: 'complete' }],
  setup(ctx) {
    // §4.2 client-to-server and §4.3 server-to-server pings; §5: the server advertises urn:xmpp:ping.
    ctx.iq.get(NS.PING, 'ping', { to: ['host'] }, () => null);

    // §4.2: a client may also address its own bare JID (or omit 'to'), which the server answers for it.
    // Not advertised on accounts' disco#info, since only the owner gets a pong there.
    ctx.iq.get(NS.PING, 'ping', { to: ['bare'], feature: false }, (req) => {
      if (req.isSelf) return null;
      // §4.4: end-to-end pings go to a full JID; the server knows nothing about another user's connectivity,
      // and a pong would reveal that the account exists, so someone else's bare JID gets service-unavailable,
      // the answer an unknown account gets too (§7: consistent answers prevent presence leaks).
      throw new StanzaError('service-unavailable');
    });
  },
});
