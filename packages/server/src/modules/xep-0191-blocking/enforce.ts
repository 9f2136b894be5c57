// XEP-0191 §3.3: what a block does to traffic. Inbound, nothing from a blocked entity reaches the user, who
// appears offline to it; outbound, the user's own stanzas to a blocked entity are refused.
import { NS, StanzaError, errorReply, xml, type Jid, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { StanzaEvent } from '../../core/events';
import { Priority } from '../../core/hooks';
import { isBlocked, type Blocklists } from './blocklist';

type Kind = 'message' | 'presence' | 'iq';

export function enforceBlocking(ctx: ModuleContext<any>, lists: Blocklists): void {
  const { domain } = ctx.server;
  // Our server itself is never blocked: iq results, errors and notices it sends the user must get through.
  const isOurServer = (jid: Jid) => jid.local === undefined && jid.resource === undefined && jid.domain === domain;
  const blocks = async (owner: string, jid: Jid) => isBlocked(await lists.get(owner), jid);

  const inbound = (kind: Kind) => async (event: StanzaEvent) => {
    const { stanza, from, to, origin } = event;
    const owner = to.toBareString();
    if (from.toBareString() === owner || isOurServer(from)) return false;
    const type = stanza.attrs.type;
    if (await blocks(owner, from)) {
      // §3.3: presence is dropped without a word; messages of type normal/chat and iq get/set get
      // service-unavailable, as if the user did not exist; other types are dropped.
      if (kind === 'iq' && (type === 'get' || type === 'set')) throw new StanzaError('service-unavailable');
      if (kind === 'message' && (type === undefined || type === 'normal' || type === 'chat')) throw new StanzaError('service-unavailable');
      return true;
    }
    // Stanzas the server sends on a local user's behalf (presence broadcasts, probe answers) have no
    // 'pre-…' event; the sender's own blocklist applies to them here.
    if (origin.kind === 'local' && from.domain === domain && from.local !== undefined && isInitiating(kind, stanza)) {
      if (await blocks(from.toBareString(), to)) return true;
    }
    return false;
  };

  const outbound = (kind: Kind) => async (event: StanzaEvent) => {
    const { stanza, from, to, origin } = event;
    if (origin.kind !== 'c2s') return false;
    const owner = from.toBareString();
    if (to.toBareString() === owner || isOurServer(to)) return false;
    if (!(await blocks(owner, to))) return false;
    const type = stanza.attrs.type;
    // Errors and iq results are never answered (RFC 6120 §8.3.1); they are dropped.
    if (type === 'error' || (kind === 'iq' && type === 'result')) return true;
    // Presence is dropped rather than bounced, since clients send it in bulk and would collect errors; see
    // isInitiating for why unavailable presence passes.
    if (kind === 'presence') return type !== 'unavailable';
    // §3.3: not-acceptable with <blocked/>. It goes straight to the session: bounced through the router it
    // would come 'from' the blocked contact, and the inbound rule above would drop it.
    const error = new StanzaError('not-acceptable', 'You have blocked this address', {
      type: 'cancel',
      appCondition: xml('blocked', { xmlns: NS.BLOCKING_ERRORS }),
    });
    origin.session.send(errorReply(stanza, error, kind !== 'iq'));
    return true;
  };

  for (const kind of ['message', 'presence', 'iq'] as const) {
    ctx.on(`${kind}/bare`, inbound(kind), Priority.Blocking);
    ctx.on(`${kind}/full`, inbound(kind), Priority.Blocking);
    for (const target of ['host', 'bare', 'full', 'remote'] as const) ctx.on(`pre-${kind}/${target}`, outbound(kind), Priority.Blocking);
  }
}

/**
 * Whether a stanza opens an exchange rather than answering one: errors and iq results are replies (a bounce
 * to a blocked contact must still reach it), and unavailable presence only makes the user look offline to a
 * blocked contact, which is what a block is for (§3.3 even asks for it).
 */
function isInitiating(kind: Kind, stanza: XmlElement): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (kind === 'iq') return type === 'get' || type === 'set';
  if (kind === 'presence') return type !== 'unavailable';
  return true;
}
