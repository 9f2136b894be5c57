// XEP-0425 moderated message retraction (0.3.0, urn:xmpp:message-moderate:1, with the XEP-0424 retraction it
// carries) and XEP-0424 §4 an occupant retracting its own groupchat message. A message is named by the
// stanza-id the room gave it (XEP-0359); the room broadcasts the retraction and replaces the message with a
// tombstone wherever it keeps it: the discussion history (§7.2.15) and the room archive (XEP-0313), so that a
// client joining or syncing later never sees the retracted text.
// COMPAT(converse.js, Gajim < 1.9, Movim): the 0.2 form — <apply-to xmlns='urn:xmpp:fasten:0'> around
// <moderate xmlns='urn:xmpp:message-moderate:0'> — is still sent by clients; it is accepted and the
// broadcast carries both forms.
import { Jid, NS, StanzaError, parseXml, xml, XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import { fetchById, newArchiveId, stanzaId } from '../xep-0313-mam/engine';
import type { ArchiveItem } from '../../storage/types';
import { isLogged } from './mam';
import { AFFILIATION_RANK, type Occupant, type Room } from './room';
import type { MucService } from './service';

/** A message the room holds, by its stanza-id: where it is, and who wrote it. */
interface Located {
  archived?: ArchiveItem;
  history?: ReturnType<Room['history']['find']>;
  message: XmlElement;
  /** The author's real bare JID (archive 'with'), or undefined when only the history knows the message. */
  author?: string;
  /** The author's XEP-0421 occupant id, as the broadcast carried it. */
  authorOccupantId?: string;
}

async function locate(svc: MucService, room: Room, id: string): Promise<Located | undefined> {
  const history = room.history.find(id, room.jidString);
  let archived: ArchiveItem | undefined;
  if (isLogged(room)) archived = await fetchById(svc.archive, room.jidString, id).catch(() => undefined);
  let message = history?.stanza;
  if (archived) {
    try {
      message = parseXml(archived.payload);
    } catch {
      /* an unreadable archived item: the history copy (if any) still tells who wrote it */
    }
  }
  if (!message) return undefined;
  // A tombstone or a retraction is not retracted again.
  if (message.getChild('retracted', NS.RETRACT) || message.getChild('retract', NS.RETRACT)) return undefined;
  return {
    archived,
    history,
    message,
    author: archived?.with,
    authorOccupantId: message.getChild('occupant-id', NS.OCCUPANT_ID)?.attrs.id,
  };
}

/**
 * XEP-0424 §5 / XEP-0425 tombstones: the message keeps its addressing, id, stanza-id and the author's
 * occupant id; its content is replaced by <retracted/> (with <moderated/> and the reason for a moderation).
 */
function tombstone(original: XmlElement, retracted: XmlElement): XmlElement {
  const kept = original.elements().filter(
    (c) => (c.name === 'stanza-id' && c.attrs.xmlns === NS.STANZA_ID) || (c.name === 'occupant-id' && c.attrs.xmlns === NS.OCCUPANT_ID) || (c.name === 'delay' && c.attrs.xmlns === NS.DELAY),
  );
  return new XmlElement('message', { ...original.attrs }, [retracted, ...kept]);
}

/** Replaces the message where the room keeps it, then broadcasts the retraction (archived itself when logged). */
async function retract(svc: MucService, room: Room, found: Located, retracted: XmlElement, broadcast: XmlElement): Promise<void> {
  const stone = tombstone(found.message, retracted);
  if (found.history) room.history.replace(found.history, tombstone(found.history.stanza, retracted));
  if (found.archived) await svc.archive.replace(room.jidString, found.archived.id, stone.toString());
  if (isLogged(room)) {
    const id = newArchiveId();
    broadcast.append(stanzaId(id, room.jidString));
    await svc.archive.append(room.jidString, { id, when: Date.now(), payload: broadcast.toString() });
  }
  await svc.broadcast(room, broadcast);
}

/** The acting moderator: an occupant with the moderator role (XEP-0425 §4, XEP-0045 §5.1). */
function moderatorOf(room: Room, from: Jid): Occupant {
  const occ = room.byReal.get(from.toString());
  const privileged = AFFILIATION_RANK[room.affiliation(from)] >= AFFILIATION_RANK.admin;
  if (!occ || (occ.role !== 'moderator' && !privileged)) throw new StanzaError('forbidden', 'only moderators may retract messages of others');
  return occ;
}

interface ModerationRequest {
  id: string;
  reason: string | undefined;
}

/** XEP-0425 §4 (0.3.0): <moderate id='…' xmlns='urn:xmpp:message-moderate:1'><retract xmlns='…retract:1'/><reason/>. */
function parseModerate(payload: XmlElement): ModerationRequest {
  const id = payload.attrs.id;
  if (!id) throw new StanzaError('bad-request', 'moderate needs the id of the message');
  if (!payload.getChild('retract', NS.RETRACT)) throw new StanzaError('feature-not-implemented', 'only retraction is supported');
  return { id, reason: payload.getChildText('reason') };
}

/** XEP-0425 0.2: <apply-to id='…' xmlns='urn:xmpp:fasten:0'><moderate xmlns='…moderate:0'><retract xmlns='…retract:0'/>. */
function parseApplyTo(payload: XmlElement): ModerationRequest {
  const id = payload.attrs.id;
  const moderate = payload.getChild('moderate', NS.MODERATE_0);
  if (!moderate) throw new StanzaError('feature-not-implemented', 'only moderation is supported on fastenings');
  if (!id) throw new StanzaError('bad-request', 'apply-to needs the id of the message');
  if (!moderate.getChild('retract', NS.RETRACT_0)) throw new StanzaError('feature-not-implemented', 'only retraction is supported');
  return { id, reason: moderate.getChildText('reason') };
}

async function moderate(svc: MucService, room: Room, req: IqRequest, { id, reason }: ModerationRequest): Promise<null> {
  const mod = moderatorOf(room, req.from);
  const found = await locate(svc, room, id);
  if (!found) throw new StanzaError('item-not-found', 'the room holds no message with that id');
  const by = room.occJid(mod.nick);
  const reasonEl = () => (reason !== undefined ? xml('reason', null, reason) : null);
  const moderated = () => xml('moderated', { xmlns: NS.MODERATE, by }, xml('occupant-id', { xmlns: NS.OCCUPANT_ID, id: mod.occupantId }));
  // §4: the room tells every occupant, in the current form and (COMPAT) the 0.2 fastening form.
  const broadcast = xml(
    'message',
    { from: room.jidString, type: 'groupchat', id: `retract-${newArchiveId()}` },
    xml('retract', { xmlns: NS.RETRACT, id }, moderated(), reasonEl()),
    xml('apply-to', { xmlns: NS.FASTEN, id }, xml('moderated', { xmlns: NS.MODERATE_0, by }, xml('retract', { xmlns: NS.RETRACT_0 }), reasonEl())),
  );
  const retracted = xml('retracted', { xmlns: NS.RETRACT, stamp: new Date().toISOString() }, moderated(), reasonEl());
  await retract(svc, room, found, retracted, broadcast);
  return null;
}

export function moderateIq(svc: MucService, room: Room, req: IqRequest): Promise<null> {
  return moderate(svc, room, req, parseModerate(req.payload));
}

export function applyToIq(svc: MucService, room: Room, req: IqRequest): Promise<null> {
  return moderate(svc, room, req, parseApplyTo(req.payload));
}

/**
 * XEP-0424 §4 in a room: an occupant retracts its own message (by the room's stanza-id). Only the author may:
 * the archive records who wrote each message (its real bare JID), the history its occupant id. Returns the
 * reflected retraction once the message is a tombstone; throws for a message of someone else.
 */
export async function ownRetraction(svc: MucService, room: Room, occ: Occupant, id: string, reflected: XmlElement): Promise<void> {
  const found = await locate(svc, room, id);
  if (!found) throw new StanzaError('item-not-found', 'the room holds no message with that id');
  const mine = found.author !== undefined ? found.author === occ.bare : found.authorOccupantId === occ.occupantId;
  if (!mine) throw new StanzaError('forbidden', 'only its author (or a moderator, XEP-0425) may retract a message');
  const retracted = xml('retracted', { xmlns: NS.RETRACT, stamp: new Date().toISOString() });
  await retract(svc, room, found, retracted, reflected);
}
