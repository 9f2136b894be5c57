// XEP-0424 (0.4.2) message retraction in one-to-one chat, as user archives see it (§5 tombstones): when a user
// retracts a message it sent, the archived original is replaced by a tombstone in the sender's archive and, for
// a local recipient, in the recipient's, so that a client syncing from MAM later never shows the retracted
// text. The retraction itself is archived like a message (archiving.ts), so clients that hold the original
// learn of it. Only a message the retracting user actually sent is touched: its stored 'from' must be that
// user — a retraction naming someone else's message changes nothing.
import { Jid, NS, parseXml, xml, XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { StanzaEvent } from '../../core/events';
import { Priority } from '../../core/hooks';
import type { ArchiveItem, ArchiveStore } from '../../storage/types';

/** How far back (messages with that contact) a retraction may reach. */
const SEARCH_DEPTH = 500;

/** The id a XEP-0424 retraction names, or undefined when the stanza is no retraction. */
export function retractedId(stanza: XmlElement): string | undefined {
  if (stanza.name !== 'message') return undefined;
  const type = stanza.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return undefined;
  const id = stanza.getChild('retract', NS.RETRACT)?.attrs.id;
  return id === undefined || id === '' ? undefined : id;
}

function parse(item: ArchiveItem): XmlElement | undefined {
  try {
    return parseXml(item.payload);
  } catch {
    return undefined;
  }
}

/**
 * §4: in one-to-one chat the retraction names the message's origin-id (XEP-0359), which clients also use as the
 * stanza's id; the archive's own stanza-id is accepted too (a client that only knows that one).
 */
function names(item: ArchiveItem, msg: XmlElement, id: string): boolean {
  if (item.id === id || msg.attrs.id === id) return true;
  return msg.getChildren('origin-id', NS.STANZA_ID).some((o) => o.attrs.id === id);
}

/** §5: the tombstone keeps the addressing, the ids and the origin-id; the content becomes <retracted/>. */
function tombstone(msg: XmlElement, when: number): XmlElement {
  const kept = msg.elements().filter((c) => c.name === 'origin-id' && c.attrs.xmlns === NS.STANZA_ID);
  return new XmlElement('message', { ...msg.attrs }, [xml('retracted', { xmlns: NS.RETRACT, stamp: new Date(when).toISOString() }), ...kept]);
}

/** Replaces the author's message named `id` in `owner`'s archive of the conversation with `peer`. */
export async function tombstoneInArchive(store: ArchiveStore, owner: string, peer: string, author: Jid, id: string): Promise<boolean> {
  const { items } = await store.query(owner, { with: peer, reverse: true, limit: SEARCH_DEPTH });
  for (const item of items) {
    const msg = parse(item);
    if (!msg || !names(item, msg, id)) continue;
    // Never someone else's message, never a tombstone or a retraction again.
    const sender = Jid.tryParse(msg.attrs.from);
    if (!sender || !author.bareEquals(sender)) continue;
    if (msg.getChild('retracted', NS.RETRACT) || msg.getChild('retract', NS.RETRACT)) continue;
    return store.replace(owner, item.id, tombstone(msg, Date.now()).toString());
  }
  return false;
}

export function registerRetraction<O>(ctx: ModuleContext<O>, store: ArchiveStore): void {
  const { accounts } = ctx.server;
  const handled = new WeakSet<XmlElement>();

  const run = (owner: string, peer: string, author: Jid, id: string) =>
    tombstoneInArchive(store, owner, peer, author, id).catch((err) => ctx.log.warn({ err, owner }, 'retraction tombstone failed'));

  // The sender's archive: only what its own client sends (the stream stamped 'from').
  async function outbound({ stanza, from, to, origin }: StanzaEvent): Promise<boolean> {
    const id = retractedId(stanza);
    if (id === undefined || origin.kind !== 'c2s' || to.bareEquals(from)) return false;
    await run(from.toBareString(), to.toBareString(), from, id);
    return false;
  }

  // The recipient's archive, for a local account; a full JID handed on to 'message/bare' is handled once.
  async function inbound({ stanza, from, to }: StanzaEvent): Promise<boolean> {
    const id = retractedId(stanza);
    if (id === undefined || to.local === undefined || handled.has(stanza)) return false;
    handled.add(stanza);
    if (!(await accounts.exists(to.local))) return false;
    await run(to.toBareString(), from.toBareString(), from, id);
    return false;
  }

  ctx.on('pre-message/bare', outbound, Priority.Archive);
  ctx.on('pre-message/full', outbound, Priority.Archive);
  ctx.on('pre-message/remote', outbound, Priority.Archive);
  ctx.on('message/bare', inbound, Priority.Archive);
  ctx.on('message/full', inbound, Priority.Archive);
}
