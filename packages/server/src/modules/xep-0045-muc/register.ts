// XEP-0045 §7.10 registering with a room: a reserved nickname and membership, through jabber:iq:register with
// a muc#register form. Open rooms register anyone not banned; members-only rooms only their members.
import { NS, StanzaError, findForm, formElement, SubmittedForm, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import { AFFILIATION_RANK, type Room } from './room';
import type { MucService } from './service';

export function registerGet(_svc: MucService, room: Room, req: IqRequest): XmlElement {
  const bare = req.from.toBareString();
  const nick = room.registered.get(bare);
  // §7.10.1: already registered → <registered/> and the reserved nick.
  if (nick !== undefined) return xml('query', { xmlns: NS.REGISTER }, xml('registered'), xml('username', null, nick));
  checkMayRegister(room, bare);
  const form = formElement({
    type: 'form',
    title: `Registration with ${room.jidString}`,
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.MUC_REGISTER] },
      { var: 'muc#register_roomnick', type: 'text-single', label: 'Desired Nickname', required: true },
    ],
  });
  return xml('query', { xmlns: NS.REGISTER }, xml('instructions', null, 'Reserve a nickname in this room.'), form);
}

function checkMayRegister(room: Room, bare: string): void {
  const aff = room.affiliation(bare);
  if (aff === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
  if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) throw new StanzaError('not-allowed', 'registration is for members');
}

export async function registerSet(svc: MucService, room: Room, req: IqRequest): Promise<void> {
  const bare = req.from.toBareString();
  if (req.payload.getChild('remove')) {
    room.registered.delete(bare);
    await svc.persist(room);
    return;
  }
  checkMayRegister(room, bare);
  const x = findForm(req.payload);
  if (!x) throw new StanzaError('bad-request', 'a muc#register form is required');
  const form = SubmittedForm.parse(x);
  if (form.type === 'cancel') return;
  if (form.formType !== NS.MUC_REGISTER) throw new StanzaError('bad-request', 'FORM_TYPE must be muc#register');
  const nick = form.text('muc#register_roomnick')?.trim();
  if (!nick) throw new StanzaError('not-acceptable', 'a nickname is required');
  // §7.10.2: a nickname reserved by, or in use by, someone else is a conflict.
  for (const [owner, n] of room.registered) if (n === nick && owner !== bare) throw new StanzaError('conflict', 'that nickname is reserved');
  const occ = room.occupants.get(nick);
  if (occ && occ.bare !== bare) throw new StanzaError('conflict', 'that nickname is in use');
  room.registered.set(bare, nick);
  if (room.affiliation(bare) === 'none') room.setAffiliation(bare, 'member');
  await svc.persist(room);
}
