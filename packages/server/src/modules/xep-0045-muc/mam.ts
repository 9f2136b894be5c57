// XEP-0313 MUC archives (§3.3.2, §6.1.2): a logged persistent room serves its archive (muc_history) on the
// room's bare JID, through the shared query engine of the MAM module.
import { Jid, NS, StanzaError, parseXml, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import { answerMamQuery, archiveMetadata, queryForm, type ArchiveTarget } from '../xep-0313-mam/engine';
import { AFFILIATION_RANK, type Room } from './room';
import type { MucService } from './service';

/** What the room archives and advertises (messages.ts stores under the same condition). */
export function isLogged(room: Room): boolean {
  return room.config.persistent && room.config.enableLogging;
}

/** §6.1.2: members-only rooms are for owners, admins and members; others for anyone not banned. */
function checkAccess(room: Room, req: IqRequest): void {
  if (!isLogged(room)) throw new StanzaError('service-unavailable', 'this room keeps no archive');
  const aff = room.affiliation(req.from);
  const occupant = room.occupantsOf(req.from.toBareString()).length > 0;
  if (aff === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
  if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) throw new StanzaError('forbidden', 'members only');
  // Whoever could not enter without the password must be in the room already.
  if (room.config.passwordProtected && !occupant && AFFILIATION_RANK[aff] < AFFILIATION_RANK.admin) {
    throw new StanzaError('forbidden', 'join the room to read its archive');
  }
}

/** XEP-0045 §7.2.4: real JIDs for everyone in non-anonymous rooms, else for moderators and the room's admins. */
function canSeeJids(room: Room, requester: Jid): boolean {
  if (room.isNonAnonymous() || AFFILIATION_RANK[room.affiliation(requester)] >= AFFILIATION_RANK.admin) return true;
  return room.occupantsOf(requester.toBareString()).some((o) => o.role === 'moderator');
}

function target(svc: MucService, room: Room, req: IqRequest): ArchiveTarget {
  const seeJids = canSeeJids(room, req.from);
  return {
    store: svc.archive,
    owner: room.jidString,
    archiveJid: room.jidString,
    resolveWith: (jid) => {
      // §4.1.1: by occupant JID (room/nick), or by real JID for those who may know it.
      if (jid.bareEquals(room.jid)) {
        const occ = jid.toString();
        return { keep: (item) => Jid.tryParse(safeFrom(item.payload))?.toString() === occ };
      }
      if (!seeJids) throw new StanzaError('forbidden', 'real JIDs are not visible to you in this room');
      return { with: jid.toBareString() };
    },
    render: (item) => {
      let msg: XmlElement;
      try {
        msg = parseXml(item.payload);
      } catch {
        return undefined;
      }
      // §6.1.2 / §7.4: no 'to', from the occupant JID; any muc#user <x/> is replaced by ours.
      msg.attrs.xmlns = NS.CLIENT;
      delete msg.attrs.to;
      msg.removeChildren('x', NS.MUC_USER);
      if (seeJids && item.with) msg.append(xml('x', { xmlns: NS.MUC_USER }, xml('item', { jid: item.with })));
      return msg;
    },
    send: (stanza) => svc.send(stanza),
  };
}

function safeFrom(payload: string): string | undefined {
  try {
    return parseXml(payload).attrs.from;
  } catch {
    return undefined;
  }
}

export async function mamQuery(svc: MucService, room: Room, req: IqRequest): Promise<XmlElement> {
  checkAccess(room, req);
  return answerMamQuery(target(svc, room, req), req.payload, req.from.toString());
}

export function mamForm(_svc: MucService, room: Room, req: IqRequest): XmlElement {
  checkAccess(room, req);
  return queryForm();
}

export function mamMetadata(svc: MucService, room: Room, req: IqRequest): Promise<XmlElement> {
  checkAccess(room, req);
  return archiveMetadata(svc.archive, room.jidString);
}
