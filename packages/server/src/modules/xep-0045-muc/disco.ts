// XEP-0045 §6 service discovery: the service (§6.1, §6.2 public rooms), a room (§6.3, §6.4 features and the
// XEP-0128 muc#roominfo form) and its items (§6.5: none, occupants are not listed).
import { NS, StanzaError, formElement, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import type { DiscoInfo } from '../../core/domains';
import type { Room } from './room';
import { isLogged } from './mam';
import type { MucService } from './service';

export function serviceInfo(info: DiscoInfo, req: IqRequest): XmlElement {
  if (req.payload.attrs.node !== undefined) throw new StanzaError('item-not-found');
  return info.toQuery();
}

/** §6.2: public rooms only; hidden and locked rooms are not listed. */
export function serviceItems(svc: MucService, req: IqRequest): XmlElement {
  if (req.payload.attrs.node !== undefined) throw new StanzaError('item-not-found');
  const q = xml('query', { xmlns: NS.DISCO_ITEMS });
  for (const room of svc.rooms.values()) {
    if (!room.config.public || room.locked || room.destroyed) continue;
    q.append(xml('item', { jid: room.jidString, name: room.config.name || room.jid.local }));
  }
  return q;
}

/** §6.4: the features say what kind of room it is. */
export function roomInfo(room: Room, req: IqRequest): XmlElement {
  if (req.payload.attrs.node !== undefined) throw new StanzaError('item-not-found');
  const c = room.config;
  const q = xml('query', { xmlns: NS.DISCO_INFO });
  q.append(xml('identity', { category: 'conference', type: 'text', name: c.name || room.jid.local }));
  const features = [
    NS.MUC,
    NS.DISCO_INFO,
    NS.DISCO_ITEMS,
    NS.OCCUPANT_ID,
    // XEP-0410 §3.3: self-pings are answered by the room (iq-forward.ts).
    NS.MUC_SELF_PING,
    // XEP-0425 §4: moderators may retract messages (moderation.ts), in the current and the :0 form.
    NS.MODERATE,
    NS.MODERATE_0,
    c.public ? 'muc_public' : 'muc_hidden',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.passwordProtected ? 'muc_passwordprotected' : 'muc_unsecured',
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
    // XEP-0313 §7: a logged room hosts an archive.
    ...(isLogged(room) ? [NS.MAM, NS.MAM_EXTENDED] : []),
  ];
  for (const f of features.sort()) q.append(xml('feature', { var: f }));
  // XEP-0128 extended information (§15.5.4 muc#roominfo).
  q.append(
    formElement({
      type: 'result',
      fields: [
        { var: 'FORM_TYPE', type: 'hidden', values: [NS.MUC_ROOMINFO] },
        { var: 'muc#roominfo_description', label: 'Description', values: [c.description] },
        { var: 'muc#roominfo_occupants', label: 'Number of occupants', values: [String(room.occupants.size)] },
        { var: 'muc#roominfo_subject', label: 'Current subject', values: [room.subject] },
        { var: 'muc#roominfo_changesubject', label: 'Occupants may change the subject', values: [c.changeSubject ? '1' : '0'] },
        { var: 'muc#roomconfig_roomname', label: 'Name', values: [c.name] },
      ],
    }),
  );
  return q;
}

/** §6.5: a room may keep its occupants private; we list none. */
export function roomItems(req: IqRequest): XmlElement {
  if (req.payload.attrs.node !== undefined) throw new StanzaError('item-not-found');
  return xml('query', { xmlns: NS.DISCO_ITEMS });
}
