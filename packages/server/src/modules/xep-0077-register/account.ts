// XEP-0077 §3.1 (registered), §3.2 (cancellation) and §3.3 (password change) for authenticated users. These
// work whatever registration.mode says: closing sign-ups must not stop people managing their own accounts.
import { NS, StanzaError, StreamError, xml, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { IqRequest } from '../../core/iq';
import { AccountError } from '../../core/accounts';
import { readFields } from './fields';

export function registerAccountIqs(ctx: ModuleContext<any>): void {
  const { accounts, sessions, domain } = ctx.server;

  /** The requester's username, when it is one of our accounts asking the server (its host or its own bare JID). */
  function requester(req: IqRequest): string | undefined {
    // Someone else's bare JID: nobody registers with a user account (RFC 6121 §8.5.2.1.3, the server answers).
    if (req.to.local !== undefined && !req.isSelf) throw new StanzaError('service-unavailable');
    return req.from.domain === domain && req.from.local !== undefined && req.session ? req.from.local : undefined;
  }

  const get = (req: IqRequest): XmlElement => {
    const username = requester(req);
    // In-band registration with this host is for clients before they authenticate (§3.1.1).
    if (username === undefined) throw new StanzaError('service-unavailable');
    // §3.1: an entity already registered gets <registered/> and what is on file (never the password).
    return xml(
      'query',
      { xmlns: NS.REGISTER },
      xml('registered'),
      xml('instructions', null, 'You are registered. Send a new password to change it, or <remove/> to delete the account.'),
      xml('username', null, username),
    );
  };

  const set = async (req: IqRequest): Promise<XmlElement | undefined> => {
    try {
      const username = requester(req);
      // §3.2 / §3.3 tables: the requester has no account here.
      if (username === undefined) throw new StanzaError('registration-required');
      if (req.payload.getChild('remove', NS.REGISTER)) return await cancel(req, username);
      return await changePassword(req, username);
    } catch (err) {
      // §3.3: the server SHOULD NOT return the original XML (a password) in errors; the router echoes the
      // payload of an iq in its error reply, so it is taken out of the request first.
      req.stanza.children = req.stanza.children.filter((c) => c !== req.payload);
      throw err;
    }
  };

  async function changePassword(req: IqRequest, username: string): Promise<undefined> {
    const fields = readFields(req.payload);
    // §3.3: an empty password MUST NOT replace the existing one; incomplete requests are bad-request.
    if (!fields.username || !fields.password) throw new StanzaError('bad-request', 'Both <username/> and <password/> are required');
    let target: string;
    try {
      target = accounts.normalize(fields.username);
    } catch {
      throw new StanzaError('bad-request', 'Invalid username');
    }
    // Only the account's own sessions may change its password (RFC 6120 §8.3.3.4 forbidden).
    if (target !== username) throw new StanzaError('forbidden', 'You can only change your own password');
    try {
      await accounts.setPassword(username, fields.password);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      if (err.code === 'not-found') throw new StanzaError('registration-required');
      throw new StanzaError('not-acceptable', err.message);
    }
    ctx.log.info({ user: username }, 'password changed in-band');
    return undefined;
  }

  async function cancel(req: IqRequest, username: string): Promise<undefined> {
    // §3.2 table: <remove/> must be the only child of <query/>.
    if (req.payload.elements().length !== 1) throw new StanzaError('bad-request', '<remove/> must be the only child of <query/>');
    try {
      await accounts.delete(username); // fires 'account/deleted': modules drop their data for the user
    } catch (err) {
      if (err instanceof AccountError && err.code === 'not-found') throw new StanzaError('registration-required');
      throw err;
    }
    ctx.log.info({ user: username }, 'account removed in-band');
    // §3.2: the result, then a <not-authorized/> stream error to every session of the account. The result is
    // written straight to the requesting stream so that it precedes the stream error; the router's own copy
    // of the result then finds no session and is dropped (results are never answered, RFC 6120 §8.2.3).
    const session = req.session!;
    session.send(xml('iq', { type: 'result', id: req.stanza.attrs.id, from: req.stanza.attrs.to ?? req.from.toBareString(), to: session.jid.toString() }));
    for (const s of sessions.ofAccount(req.from.toBareString())) s.close(new StreamError('not-authorized', 'The account has been removed'));
    return undefined;
  }

  // Clients address the server (§3.3 examples) or send without 'to' (§3.2 SHOULD), which means their own
  // bare JID; the bare-JID registration is not a disco feature of accounts, only of the host.
  ctx.iq.get(NS.REGISTER, 'query', { to: ['host'] }, get);
  ctx.iq.get(NS.REGISTER, 'query', { to: ['bare'], feature: false }, get);
  ctx.iq.set(NS.REGISTER, 'query', { to: ['host'] }, set);
  ctx.iq.set(NS.REGISTER, 'query', { to: ['bare'], feature: false }, set);
}
