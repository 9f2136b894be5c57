// XEP-0077 §3.1 and §3.1.1: account creation before authentication. The c2s stream hands us jabber:iq:register
// iqs received during negotiation (over TLS when TLS is required); the reply goes straight back on that stream.
import { NS, StanzaError, xml, type StanzaErrorCondition, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { PreAuthIqHandler, PreAuthStream } from '../../core/c2s-registry';
import { AccountError } from '../../core/accounts';
import type { IpRateLimiter } from '../../stream/rate-limiter';
import { errorWithoutPayload, readFields, registrationFields } from './fields';

export function preAuthHandler(ctx: ModuleContext<any>, limiter: IpRateLimiter): PreAuthIqHandler {
  const { accounts, config } = ctx.server;
  // Streams that already created an account (§3.1.1: a second identity on the same stream is refused).
  const registered = new WeakSet<PreAuthStream>();

  return async (iq, stream) => {
    const type = iq.attrs.type;
    if (type !== 'get' && type !== 'set') return undefined; // results and errors: the stream treats them as unauthenticated traffic
    const fail = (condition: StanzaErrorCondition, text?: string, errorType?: 'wait') =>
      errorWithoutPayload(iq, new StanzaError(condition, text, { type: errorType }));
    const query = iq.elements()[0]!;
    if (query.name !== 'query') return fail('service-unavailable');

    if (config.registration.mode !== 'open') {
      // §3.1: a host without in-band registration answers the get with service-unavailable; a set is an action
      // the server allows no one (RFC 6120 §8.3.3.10).
      return type === 'get' ? fail('service-unavailable') : fail('not-allowed', 'In-band registration is disabled');
    }
    if (type === 'get') return result(iq, registrationFields());

    // §3.2 table: cancelling without being registered (no 'from' before authentication).
    if (query.getChild('remove', NS.REGISTER)) return fail('unexpected-request', 'Authenticate before cancelling a registration');
    // §3.1.1: a server MAY refuse with not-acceptable a second identity on one stream, or too many attempts.
    if (registered.has(stream)) return fail('not-acceptable', 'An account was already registered on this stream');
    if (limiter.isLimited(stream.remoteAddress)) {
      // Temporary by nature, hence 'wait' (RFC 6120 §8.3.2): the limit resets within the hour.
      return fail('not-acceptable', 'Too many registrations from this address; try again later', 'wait');
    }
    const { username, password } = readFields(query);
    // §3.1: missing information, including an empty <password/>, is not-acceptable.
    if (!username || !password) return fail('not-acceptable', 'Both a username and a password are required');
    try {
      const jid = await accounts.create(username, password);
      ctx.log.info({ jid: jid.toString(), ip: stream.remoteAddress }, 'account registered in-band');
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      if (err.code === 'exists') return fail('conflict', 'That username is taken'); // §3.1 Example 6
      // The username would be the localpart of a JID (RFC 6120 §8.3.3.8).
      if (err.code === 'invalid-username') return fail('jid-malformed', err.message);
      return fail('not-acceptable', err.message);
    }
    limiter.hit(stream.remoteAddress);
    registered.add(stream);
    return result(iq);
  };
}

function result(iq: XmlElement, payload?: XmlElement): XmlElement {
  return xml('iq', { type: 'result', id: iq.attrs.id }, payload);
}
