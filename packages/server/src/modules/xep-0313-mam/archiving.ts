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

/** Archive writes in flight (issued, not committed) past which senders wait for theirs; see registerArchiving. */
export const MAX_UNCOMMITTED_WRITES = 20_000;

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
  // Delivery does not wait for archive writes (storage commits them in batches, off the event loop where it can).
  // Only when this many are still uncommitted does a sender's next archived message wait for its own write: the
  // sender's stream pauses meanwhile, so a storage that falls behind slows senders instead of filling memory.
  let uncommitted = 0;

  /** Starts an archive write; returns its completion when the sender should wait for it, undefined otherwise. */
  function write(owner: string, item: Parameters<ArchiveStore['append']>[1], direction: string): Promise<void> | undefined {
    uncommitted++;
    const done = store.append(owner, item).then(
      () => void uncommitted--,
      (err: unknown) => {
        uncommitted--;
        ctx.log.warn({ err, owner }, `archiving an ${direction} message failed`);
      },
    );
    return uncommitted > MAX_UNCOMMITTED_WRITES ? done : undefined;
  }

  async function inbound({ stanza, from, to }: StanzaEvent): Promise<boolean> {
    if (stanza.name !== 'message' || to.local === undefined || archived.has(stanza)) return false;
    const owner = to.toBareString();
    // XEP-0359 security considerations: only we may say where the user's archive keeps a message.
    stripStanzaIds(stanza, owner);
    if (!isArchivable(stanza)) return false;
    if (!(await accounts.exists(to.local))) return false;
    if (!(await prefs.shouldArchive(owner, from))) return false;
    archived.add(stanza);
    // The id is chosen here so delivery need not wait for the write.
    const id = newArchiveId();
    const backlog = write(owner, { id, when: Date.now(), with: from.toBareString(), payload: stanza.toString() }, 'incoming');
    // §3.5: the recipient learns the archive id, 'by' its own bare JID.
    stanza.append(stanzaId(id, owner));
    if (backlog) await backlog;
    return false;
  }

  async function outbound({ stanza, from, to, origin }: StanzaEvent): Promise<boolean> {
    if (origin.kind !== 'c2s' || !isArchivable(stanza)) return false;
    // A message to oneself is stored once, as it arrives (inbound).
    if (to.bareEquals(from)) return false;
    const owner = from.toBareString();
    if (!(await prefs.shouldArchive(owner, to))) return false;
    const backlog = write(owner, { when: Date.now(), with: to.toBareString(), payload: stanza.toString() }, 'outgoing');
    if (backlog) await backlog;
    return false;
  }

  ctx.on('message/bare', inbound, Priority.Archive);
  ctx.on('message/full', inbound, Priority.Archive);
  ctx.on('pre-message/bare', outbound, Priority.Archive);
  ctx.on('pre-message/full', outbound, Priority.Archive);
  ctx.on('pre-message/remote', outbound, Priority.Archive);
}
