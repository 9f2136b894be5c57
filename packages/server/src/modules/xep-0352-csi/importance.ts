// XEP-0352 §3.2 leaves to the server what may wait while a client is inactive. Parley holds only what a phone can
// do without until the user looks again — presence updates and chat states (XEP-0085) — and lets everything else
// through at once: iqs, messages with a body or an encrypted payload, MUC invitations, subscription requests, the
// account's own presence and a room's presence about the user itself (MUC status 110), errors.
import { Jid, NS, type XmlElement } from '@parley/protocol';

/** Elements that may ride along a chat state without making it worth waking the client (they carry no content). */
const INCIDENTAL = new Set<string>([NS.CHATSTATES, NS.DELAY, NS.STANZA_ID, NS.HINTS, NS.OCCUPANT_ID]);

/**
 * The key under which a stanza that may wait is kept (only the latest per key: a contact's newer presence replaces
 * the older one), or undefined when the stanza must go to the client now.
 */
export function holdKey(stanza: XmlElement, account: Jid): string | undefined {
  if (stanza.name === 'presence') return presenceKey(stanza, account);
  if (stanza.name === 'message') return chatStateKey(stanza);
  return undefined;
}

function presenceKey(stanza: XmlElement, account: Jid): string | undefined {
  const type = stanza.attrs.type;
  // Subscription requests and answers, probes and errors need the user (RFC 6121 §3); only availability may wait.
  if (type !== undefined && type !== 'unavailable') return undefined;
  const from = stanza.attrs.from;
  if (from === undefined) return undefined;
  const sender = Jid.tryParse(from);
  // The account's own resources: the client shows its own state at once.
  if (!sender || sender.bare().equals(account)) return undefined;
  // XEP-0045 §7.2.2: presence about the user's own occupant (status 110) completes a join or reports a kick.
  const mucUser = stanza.getChild('x', NS.MUC_USER);
  if (mucUser?.getChildren('status').some((s) => s.attrs.code === '110')) return undefined;
  return `presence ${sender.toString()}`;
}

/** A message that carries a chat state and nothing a user reads (XEP-0085; XEP-0280 copies of one too). */
function chatStateKey(stanza: XmlElement): string | undefined {
  if (stanza.attrs.type === 'error') return undefined;
  const carbon = stanza.getChild('received', NS.CARBONS) ?? stanza.getChild('sent', NS.CARBONS);
  if (carbon) {
    const inner = carbon.getChild('forwarded', NS.FORWARD)?.getChild('message');
    if (!inner || stanza.elements().length !== 1) return undefined;
    const key = chatStateKey(inner);
    // A copy of the user's own chat state in a conversation (sent) and a contact's (received) are kept apart.
    return key === undefined ? undefined : `${carbon.name} ${key}`;
  }
  const children = stanza.elements();
  if (!children.some((c) => c.attrs.xmlns === NS.CHATSTATES)) return undefined;
  // A body, an encrypted payload, an invitation, a receipt: anything beyond the incidental makes it urgent.
  if (!children.every((c) => INCIDENTAL.has(c.attrs.xmlns ?? '') || (c.name === 'thread' && c.attrs.xmlns === undefined))) return undefined;
  // Per conversation: a room's occupants each have theirs; in a one-to-one chat, the contact's account.
  const type = stanza.attrs.type ?? 'normal';
  const bare = (jid: string | undefined) => (jid ?? '').split('/')[0];
  const from = type === 'groupchat' ? stanza.attrs.from : bare(stanza.attrs.from);
  return `chatstate ${type} ${from} ${bare(stanza.attrs.to)}`;
}
