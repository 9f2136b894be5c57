// XEP-0280 message rules: which messages are copied (§6), how a copy is wrapped (§7, §8), and which wrappers
// a client may trust (§11). Pure functions over stanzas; index.ts decides who gets the copies.
import { NS, xml, type XmlElement } from '@parley/protocol';

export type Direction = 'received' | 'sent';

/** The <received/> and <sent/> wrappers of a carbon copy (not XEP-0184 <received xmlns='urn:xmpp:receipts'/>). */
export function carbonWrappers(stanza: XmlElement): XmlElement[] {
  return stanza.getChildren(undefined, NS.CARBONS).filter((c) => c.name === 'received' || c.name === 'sent');
}

/** §9: <private/>, and XEP-0334 §4.3 <no-copy/> (the hint that exists for carbons), keep a message uncopied. */
export function isPrivate(stanza: XmlElement): boolean {
  return stanza.getChild('private', NS.CARBONS) !== undefined || stanza.getChild('no-copy', NS.HINTS) !== undefined;
}

/** Payloads used for instant messaging in a message without a body (§6: receipts, chat states, markers). */
function hasImPayload(stanza: XmlElement): boolean {
  return (
    stanza.getChild('request', NS.RECEIPTS) !== undefined ||
    stanza.getChild('received', NS.RECEIPTS) !== undefined ||
    stanza.getChildByNs(NS.CHATSTATES) !== undefined ||
    stanza.getChildByNs(NS.CHAT_MARKERS) !== undefined
  );
}

function hasBody(stanza: XmlElement): boolean {
  const ns = stanza.attrs.xmlns;
  return stanza.getChildren('body').some((b) => (b.attrs.xmlns ?? ns ?? NS.CLIENT) === NS.CLIENT);
}

/**
 * §6 Determining Delivery Eligibility, for a message a local user sends ('sent') or receives ('received').
 * Errors are left out: copying them needs correlation with the message they answer, which §6 itself calls
 * unlikely to be appropriate for most implementations.
 */
export function isEligible(stanza: XmlElement, direction: Direction): boolean {
  if (stanza.name !== 'message') return false;
  // §9: private messages; §6 (and §11): a carbon is never copied again.
  if (isPrivate(stanza) || carbonWrappers(stanza).length > 0) return false;
  const type = stanza.attrs.type ?? 'normal';
  // §6 MUC rules: groupchat is replicated by the room itself; headlines are not conversation.
  if (type !== 'chat' && type !== 'normal') return false;
  const mucUser = stanza.getChild('x', NS.MUC_USER);
  if (mucUser) {
    // §6: a mediated invitation (XEP-0045 §7.8.2) is copied both ways.
    if (mucUser.getChild('invite') !== undefined) return true;
    // §6: a private message from an occupant is already replicated by the room to every joined client;
    // one sent to an occupant is copied like any chat.
    if (direction === 'received') return false;
  }
  if (type === 'chat') return true;
  // §6: type normal with a body, an IM payload, or a XEP-0249 direct invitation.
  return hasBody(stanza) || hasImPayload(stanza) || stanza.getChild('x', NS.CONFERENCE) !== undefined;
}

/**
 * §7 / §8: the copy for one resource. 'from' is the user's bare JID (§11 lets clients trust nothing else), 'to'
 * the resource, 'type' kept; the original is forwarded (XEP-0297) in the jabber:client namespace.
 */
export function wrapCarbon(direction: Direction, forwarded: XmlElement, bare: string, to: string): XmlElement {
  return xml(
    'message',
    { from: bare, to, type: forwarded.attrs.type },
    xml(direction, { xmlns: NS.CARBONS }, xml('forwarded', { xmlns: NS.FORWARD }, forwarded)),
  );
}

/** A copy of the original to forward: detached from later changes, with its namespace explicit inside <forwarded/>. */
export function forwardable(stanza: XmlElement): XmlElement {
  const copy = stanza.clone();
  copy.attrs.xmlns = NS.CLIENT;
  return copy;
}
