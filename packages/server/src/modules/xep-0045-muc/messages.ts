// XEP-0045 messages: groupchat (§7.4), subject (§8.1), private messages (§7.5), mediated invitations and
// declines (§7.8.2), voice requests (§7.13). Only occupants may speak; visitors not in moderated rooms.
import { Jid, NS, StanzaError, xml, XmlElement, formElement, SubmittedForm, findForm } from '@parley/protocol';
import type { StanzaEvent } from '../../core/events';
import { AFFILIATION_RANK, type Occupant, type Room } from './room';
import type { MucService } from './service';
import { setRole } from './roles';
import { isLogged } from './mam';
import { ownRetraction } from './moderation';
import { newArchiveId, stanzaId, stripStanzaIds } from '../xep-0313-mam/engine';

/** Removes what only the room may say (occupant-id, XEP-0421 §4) and marks the room's. */
function reflect(stanza: XmlElement, from: string, occ: Occupant, extra: XmlElement[] = []): XmlElement {
  const children = stanza.children.filter((c) => typeof c === 'string' || c.attrs.xmlns !== NS.OCCUPANT_ID);
  children.push(...extra, xml('occupant-id', { xmlns: NS.OCCUPANT_ID, id: occ.occupantId }));
  const attrs: Record<string, string> = { from };
  if (stanza.attrs.type !== undefined) attrs.type = stanza.attrs.type;
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.attrs['xml:lang'] !== undefined) attrs['xml:lang'] = stanza.attrs['xml:lang'];
  return new XmlElement(stanza.name, attrs, children);
}

export async function handleMessage(svc: MucService, event: StanzaEvent): Promise<void> {
  const { stanza, from, to } = event;
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'error') {
    // §7.5 / §7.4: an occupant whose client bounces room messages is gone.
    const room = svc.get(to);
    const occ = room?.byReal.get(from.toString());
    if (room && occ && to.resource === undefined) await svc.removeSession(room, occ, from.toString(), { codes: [333] });
    return;
  }
  const room = svc.get(to);
  if (!room || room.locked) throw new StanzaError('item-not-found', 'no such room');
  const occ = room.byReal.get(from.toString());
  if (to.resource !== undefined) return privateMessage(svc, room, occ, stanza, to.resource);
  const userX = stanza.getChild('x', NS.MUC_USER);
  if (type !== 'groupchat') {
    if (userX?.getChild('decline')) return decline(svc, room, from, userX);
    if (userX?.getChild('invite')) return invite(svc, room, occ, from, userX);
    const form = findForm(stanza);
    if (form) return voiceRequest(svc, room, occ, form);
    throw new StanzaError('bad-request', 'messages to a room are groupchat, invitations or requests');
  }
  // §7.4: only occupants may send to all; in a moderated room only those with voice (§8.3).
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send messages to the room');
  if (occ.role === 'visitor' || occ.role === 'none') throw new StanzaError('forbidden', 'you have no voice in this room');
  // XEP-0359 security considerations: only the room may claim where its archive keeps a message.
  stripStanzaIds(stanza, room.jidString);
  // XEP-0424 §4: retracting one's own message (moderation.ts checks that it is one's own).
  const retraction = stanza.getChild('retract', NS.RETRACT);
  if (retraction) {
    const id = retraction.attrs.id;
    if (!id) throw new StanzaError('bad-request', 'retract needs the id of the message');
    return ownRetraction(svc, room, occ, id, reflect(stanza, room.occJid(occ.nick), occ));
  }
  const subject = stanza.getChild('subject');
  const hasBody = stanza.getChild('body') !== undefined;
  // XEP-0334 §4.4: <store/> keeps a message without a body (XEP-0444 reactions) in history and the archive, so
  // that people joining later see the reactions too.
  const kept = hasBody || stanza.getChild('store', NS.HINTS) !== undefined;
  if (subject && !hasBody) {
    // §8.1: moderators may always change the subject; others only when the room allows it.
    if (occ.role !== 'moderator' && !room.config.changeSubject) throw new StanzaError('forbidden', 'you may not change the subject');
    room.subject = subject.text();
    room.subjectBy = occ.nick;
    void svc.persist(room);
  }
  const logged = isLogged(room) && (kept || subject !== undefined);
  const id = logged ? newArchiveId() : undefined;
  // XEP-0313 §3.5: occupants learn the archive id, 'by' the room.
  const msg = reflect(stanza, room.occJid(occ.nick), occ, id !== undefined ? [stanzaId(id, room.jidString)] : []);
  if (kept || subject) {
    const when = Date.now();
    room.history.add(msg, room.jidString, svc.historyLimits(room), when);
    svc.historyChanged(room);
    // XEP-0313 §6.1.2: logged persistent rooms keep their history in the archive (mam.ts serves it).
    if (id !== undefined) {
      void svc.archive
        .append(room.jidString, { id, when, with: occ.bare, payload: msg.toString() })
        .catch((err) => svc.ctx.log.warn({ err }, 'muc archive failed'));
    }
  }
  await svc.broadcast(room, msg);
}

/** §7.5: to room/nick, delivered to the occupant's real JID from the sender's room/nick. */
async function privateMessage(svc: MucService, room: Room, occ: Occupant | undefined, stanza: XmlElement, nick: string): Promise<void> {
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send private messages');
  // §7.5: a private message of type groupchat is an error.
  if (stanza.attrs.type === 'groupchat') throw new StanzaError('bad-request', 'private messages may not be of type groupchat');
  const policy = room.config.allowPm;
  const allowed =
    policy === 'anyone' ||
    (policy === 'participants' && (occ.role === 'participant' || occ.role === 'moderator')) ||
    (policy === 'moderators' && occ.role === 'moderator');
  if (!allowed) throw new StanzaError('forbidden', 'private messages are not allowed in this room');
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError('item-not-found', 'no such occupant');
  const children = stanza.children.filter((c) => typeof c === 'string' || c.attrs.xmlns !== NS.MUC_USER);
  const msg = reflect(new XmlElement(stanza.name, stanza.attrs, children), room.occJid(occ.nick), occ, [xml('x', { xmlns: NS.MUC_USER })]);
  // Multi-session nicks: every joined device of the target gets it.
  await svc.sendToOccupant(target, msg);
}

/**
 * §7.8.2: mediated invitation; in members-only rooms an allowed inviter makes the invitee a member. One message
 * may name several invitees, at most muc.max_invites_per_message: more is refused as a whole, before anything is
 * sent, so that a room cannot be used to fan one stanza out to any number of JIDs.
 */
async function invite(svc: MucService, room: Room, occ: Occupant | undefined, from: Jid, userX: XmlElement): Promise<void> {
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may invite');
  const aff = room.affiliation(occ.bare);
  const privileged = AFFILIATION_RANK[aff] >= AFFILIATION_RANK.admin;
  if (room.config.membersOnly && !privileged && !room.config.allowInvites) {
    throw new StanzaError('forbidden', 'you may not invite others to this room');
  }
  const invites = userX.getChildren('invite');
  const max = svc.ctx.options.max_invites_per_message;
  if (invites.length > max) throw new StanzaError('policy-violation', `at most ${max} invitees per message`);
  const invitees = invites.map((inv) => {
    const invitee = Jid.tryParse(inv.attrs.to);
    if (!invitee) throw new StanzaError('jid-malformed', 'invalid invitee');
    return { invitee, reason: inv.getChildText('reason') };
  });
  for (const { invitee, reason } of invitees) {
    if (room.config.membersOnly && room.affiliation(invitee) === 'none') {
      room.setAffiliation(invitee.toBareString(), 'member');
      await svc.persist(room);
    }
    room.invitations.add(invitee.toBareString(), from);
    const x = xml('x', { xmlns: NS.MUC_USER }, xml('invite', { from: from.toString() }, reason !== undefined ? xml('reason', null, reason) : null));
    if (room.config.passwordProtected) x.append(xml('password', null, room.config.password));
    const body = `${from.toBareString()} invites you to the room ${room.jidString}${reason ? `: ${reason}` : ''}`;
    await svc.send(xml('message', { from: room.jidString, to: invitee.toString() }, x, xml('body', null, body)));
  }
}

/**
 * §7.8.2: the invitee declines; the room forwards it to the inviter. Only a decline that answers a pending
 * invitation (invitations.ts) is relayed, once: anyone else would be using the room to send text to any JID.
 */
async function decline(svc: MucService, room: Room, from: Jid, userX: XmlElement): Promise<void> {
  const d = userX.getChild('decline')!;
  let named: Jid | undefined;
  if (d.attrs.to !== undefined) {
    named = Jid.tryParse(d.attrs.to);
    if (!named) throw new StanzaError('jid-malformed', 'invalid inviter');
  }
  const inviter = room.invitations.take(from.toBareString(), named?.toBareString());
  if (inviter === undefined) throw new StanzaError('item-not-found', 'you have no pending invitation to this room from that inviter');
  const reason = d.getChildText('reason');
  const x = xml('x', { xmlns: NS.MUC_USER }, xml('decline', { from: from.toBareString() }, reason !== undefined ? xml('reason', null, reason) : null));
  await svc.send(xml('message', { from: room.jidString, to: inviter }, x));
}

/** §7.13 voice request from a visitor (sent to moderators), and §8.6 a moderator's approval. */
async function voiceRequest(svc: MucService, room: Room, occ: Occupant | undefined, formEl: XmlElement): Promise<void> {
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may request voice');
  const form = SubmittedForm.parse(formEl);
  if (form.formType !== NS.MUC_REQUEST) throw new StanzaError('bad-request', 'unknown form');
  if (occ.role === 'moderator' && form.has('muc#request_allow')) {
    const nick = form.text('muc#roomnick');
    const target = nick !== undefined ? room.occupants.get(nick) : undefined;
    if (!target) throw new StanzaError('item-not-found', 'no such occupant');
    if (form.boolean('muc#request_allow') && target.role === 'visitor') await setRole(svc, room, occ, target, 'participant');
    return;
  }
  if (form.text('muc#role') !== 'participant') throw new StanzaError('bad-request', 'only voice (participant) may be requested');
  if (occ.role !== 'visitor') return; // already has voice
  const approval = formElement({
    type: 'form',
    title: 'Voice request',
    instructions: `To approve this request for voice, select the "Grant voice to this person?" checkbox and submit this form.`,
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.MUC_REQUEST] },
      { var: 'muc#role', type: 'list-single', label: 'Requested role', values: ['participant'] },
      { var: 'muc#jid', type: 'jid-single', label: 'User ID', values: [occ.jid.toString()] },
      { var: 'muc#roomnick', type: 'text-single', label: 'Room Nickname', values: [occ.nick] },
      { var: 'muc#request_allow', type: 'boolean', label: 'Grant voice to this person?', values: ['0'] },
    ],
  });
  await svc.broadcast(room, xml('message', { from: room.jidString, id: `voice-${Date.now().toString(36)}` }, approval), (o) => o.role === 'moderator');
}
