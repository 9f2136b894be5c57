// XEP-0045 muc#owner: creating (§10.1: instant or configured room), configuring (§10.2) and destroying
// (§10.9) a room. Only owners may do any of it.
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import { applyConfigForm, configChangeCodes, configForm } from './config-form';
import { removeNonMembers } from './roles';
import type { Room } from './room';
import type { MucService } from './service';

function requireOwner(room: Room, req: IqRequest): void {
  if (room.affiliation(req.from) !== 'owner') throw new StanzaError('forbidden', 'only owners may configure the room');
}

/** §10.1.3 / §10.2: the configuration form. */
export function ownerGet(_svc: MucService, room: Room, req: IqRequest): XmlElement {
  requireOwner(room, req);
  return xml('query', { xmlns: NS.MUC_OWNER }, configForm(room.config, room.jidString));
}

export async function ownerSet(svc: MucService, room: Room, req: IqRequest): Promise<void> {
  requireOwner(room, req);
  const destroy = req.payload.getChild('destroy');
  if (destroy) {
    // §10.9: an alternate venue (a JID) and a reason are optional.
    const venue = destroy.attrs.jid;
    if (venue !== undefined && !Jid.tryParse(venue)) throw new StanzaError('jid-malformed', 'invalid alternate venue');
    await svc.destroy(room, venue, destroy.getChildText('reason'), destroy.getChildText('password'));
    return;
  }
  const x = req.payload.getChild('x', NS.DATA);
  if (!x) throw new StanzaError('bad-request', 'a data form or <destroy/> is required');
  if (x.attrs.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration destroys the new room.
    if (room.locked) await svc.destroy(room);
    return;
  }
  if (x.attrs.type !== 'submit') throw new StanzaError('bad-request', 'the form must be of type submit or cancel');
  const before = room.config;
  const after = applyConfigForm(x, before, svc.ctx.options.max_history);
  const wasLocked = room.locked;
  room.config = after;
  // §10.1.2: an empty submit accepts the defaults (an instant room); any submit unlocks a new room.
  room.locked = false;
  room.history.trim(svc.historyLimits(room));
  await svc.persist(room);
  if (!wasLocked) {
    // §10.2.1: tell the occupants what kind of change happened.
    const codes = configChangeCodes(before, after);
    if (codes.length > 0) await svc.broadcast(room, svc.statusMessage(room, codes));
  }
  if (after.membersOnly && !before.membersOnly) await removeNonMembers(svc, room);
  if (room.occupants.size === 0) await svc.maybeDestroyEmpty(room);
}
