// XEP-0313 §6.1.1: what goes into a user's archive — messages of type chat or normal with a body that the user
// sends or receives (not groupchat, headline or errors) — once per archive, each tagged for its recipient with
// a XEP-0359 stanza-id (§3.5). XEP-0334 no-store / no-permanent-store keep a message out, store keeps one in.
import { NS, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { StanzaEvent } from '../../core/events';
import { Priority } from '../../core/hooks';
import type { ArchiveStore } from '../../storage/types';
import { newArchiveId } from '../../storage/common';
import { stanzaId, stripStanzaIds } from './engine';
import type { ArchivePrefs } from './prefs';

export function isArchivable(stanza: XmlElement): boolean {
  const type = stanza.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return false;
  // XEP-0334 §4: no-permanent-store and no-store exclude archives.
  if (stanza.getChild('no-store', NS.HINTS) || stanza.getChild('no-permanent-store', NS.HINTS)) return false;
  // XEP-0424 §5: a retraction is kept like the message it retracts, so that a client syncing later learns of it.
  if (stanza.getChild('retract', NS.RETRACT)) return true;
  // XEP-0334 §4.4: <store/> asks for a message without a body to be kept (XEP-0444 reactions send it).
  if (stanza.getChild('store', NS.HINTS)) return true;
  const ns = stanza.attrs.xmlns;
  return stanza.getChildren('body').some((b) => (b.attrs.xmlns ?? ns ?? NS.CLIENT) === NS.CLIENT);
}

export function registerArchiving<O>(ctx: ModuleContext<O>, store: ArchiveStore, prefs: ArchivePrefs): void {
  const { accounts } = ctx.server;
  // A message to a full JID without a session is handed on to 'message/bare' as the same stanza object:
  // §6.1.1 stores it once.
  const archived = new WeakSet<XmlElement>();

  async function inbound({ stanza, from, to }: StanzaEvent): Promise<boolean> {
    if (stanza.name !== 'message' || to.local === undefined || archived.has(stanza)) return false;
    const owner = to.toBareString();
    // XEP-0359 security considerations: only we may say where the user's archive keeps a message.
    stripStanzaIds(stanza, owner);
    if (!isArchivable(stanza)) return false;
    if (!(await accounts.exists(to.local))) return false;
    if (!(await prefs.shouldArchive(owner, from))) return false;
    archived.add(stanza);
    // The id is chosen here so delivery need not wait for the write (storage commits in batches).
    const id = newArchiveId();
    store
      .append(owner, { id, when: Date.now(), with: from.toBareString(), payload: stanza.toString() })
      .catch((err) => ctx.log.warn({ err, owner }, 'archiving an incoming message failed'));
    // §3.5: the recipient learns the archive id, 'by' its own bare JID.
    stanza.append(stanzaId(id, owner));
    return false;
  }

  async function outbound({ stanza, from, to, origin }: StanzaEvent): Promise<boolean> {
    if (origin.kind !== 'c2s' || !isArchivable(stanza)) return false;
    // A message to oneself is stored once, as it arrives (inbound).
    if (to.bareEquals(from)) return false;
    const owner = from.toBareString();
    if (!(await prefs.shouldArchive(owner, to))) return false;
    store
      .append(owner, { when: Date.now(), with: to.toBareString(), payload: stanza.toString() })
      .catch((err) => ctx.log.warn({ err, owner }, 'archiving an outgoing message failed'));
    return false;
  }

  ctx.on('message/bare', inbound, Priority.Archive);
  ctx.on('message/full', inbound, Priority.Archive);
  ctx.on('pre-message/bare', outbound, Priority.Archive);
  ctx.on('pre-message/full', outbound, Priority.Archive);
  ctx.on('pre-message/remote', outbound, Priority.Archive);
}
