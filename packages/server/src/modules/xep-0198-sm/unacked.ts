// XEP-0198 §4: when a session ends with stanzas the client never acknowledged, "a server SHOULD treat
// unacknowledged stanzas in the same way that it would treat a stanza sent to an unavailable resource, by either
// returning an error to the sender or committing the stanza to offline storage". Parley routes them again, addressed
// as they were: with the session gone from the table, RFC 6121 §8.5.3.2.1 applies to a full JID (messages fall
// back to the bare JID: another resource, else offline storage, else an error to the sender; iqs are answered
// with service-unavailable). Unlike Prosody's mod_smacks, which stores offline only when the session was the
// account's last and otherwise bounces recipient-unavailable, a message still reaches the user's other resources.
import { Jid, NS, parseXml, xml, type XmlElement } from '@parley/protocol';
import type { Router } from '../../core/router';
import type { StoredSession } from './shared';
import type { Unacked } from './state';

/**
 * Whether an unacknowledged stanza of the session `owner` (its full JID) is routed again. `elsewhere`: the same
 * message (sent to the bare JID) was also delivered to another session that is still bound, which has it already.
 */
export function isRoutedAgain(stanza: XmlElement, owner: Jid, elsewhere: boolean): boolean {
  const type = stanza.attrs.type;
  // RFC 6121 §8.5.3.2.3: presence for a resource that is gone is dropped; the contacts learn it went offline.
  if (stanza.name === 'presence') return false;
  // Results and errors are never answered (RFC 6120 §8.3.1); nobody waits for them to be stored.
  if (type === 'error' || type === 'result') return false;
  // What the server generated for this session alone (carbons, archive results, PEP notifications, roster
  // pushes) comes from the account's own bare JID and means nothing to another resource or to offline storage.
  if (stanza.attrs.from === owner.toBareString()) return false;
  if (stanza.name === 'iq') return type === 'get' || type === 'set';
  // RFC 6121 §8.5.3.2.1: headlines for a gone resource are dropped; XEP-0045 rooms keep their own history (and a
  // bounce would make the room drop the occupant, who is leaving anyway).
  if (type === 'headline' || type === 'groupchat') return false;
  return stanza.name === 'message' && !elsewhere && !isCarbon(stanza);
}

function isCarbon(stanza: XmlElement): boolean {
  return stanza.elements().some((c) => (c.name === 'sent' || c.name === 'received') && c.attrs.xmlns === NS.CARBONS);
}

/** XEP-0203: a stanza resent after it waited for the client says since when (as Prosody does); iqs are not stamped. */
export function resendable({ stanza, at }: Unacked, domain: string): string {
  if (stanza.name === 'iq' || stanza.getChild('delay', NS.DELAY)) return stanza.toString();
  return stanza.clone().append(xml('delay', { xmlns: NS.DELAY, from: domain, stamp: new Date(at).toISOString() })).toString();
}

/** The unacknowledged stanzas of a session that ended on a node that is gone, routed as for a session ending here. */
export async function routeStoredAgain(router: Router, stored: StoredSession): Promise<void> {
  const owner = Jid.parse(stored.jid);
  for (const u of stored.unacked) {
    const stanza = parseXml(u.x);
    if (isRoutedAgain(stanza, owner, false)) await router.route(stanza, { kind: 'local' });
  }
}
