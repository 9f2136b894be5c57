// XEP-0045 presence to room@service/nick: entering (§7.2, creation §10.1), presence changes (§7.7), nickname
// changes (§7.6) and exiting (§7.14). An occupant is known by its real full JID.
import { NS, StanzaError, xml, XmlElement, type Jid } from '@parley/protocol';
import type { StanzaEvent } from '../../core/events';
import { parseHistoryRequest } from './history';
import { AFFILIATION_RANK, addressed, buildPresence, type Occupant, type Room } from './room';
import type { MucService } from './service';

/** The occupant's presence payload without MUC elements (those are the room's to add). */
function presencePayload(stanza: XmlElement): XmlElement[] {
  return stanza.elements().filter((c) => {
    const ns = c.attrs.xmlns;
    return ns !== NS.MUC && ns !== NS.MUC_USER && ns !== NS.OCCUPANT_ID;
  });
}

/** The nickname as the client wrote it, to detect that normalisation changed it (§7.2.9 status 210). */
function rawNick(stanza: XmlElement): string | undefined {
  const to = stanza.attrs.to ?? '';
  const i = to.indexOf('/');
  return i === -1 ? undefined : to.slice(i + 1);
}

export async function handlePresence(svc: MucService, event: StanzaEvent): Promise<void> {
  const { stanza, from, to } = event;
  const type = stanza.attrs.type;
  const room = svc.get(to);
  const occ = room?.byReal.get(from.toString());
  if (type === 'error') {
    // The occupant's client or server bounced room traffic: that session is gone (status 333, "technical problem").
    if (room && occ) await svc.removeSession(room, occ, from.toString(), { codes: [333] });
    return;
  }
  if (type === 'unavailable') {
    // §7.14: exiting; whatever nick it was addressed to (the core also sends one per directed presence). A
    // multi-session occupant stays while another of its sessions is joined (service.ts removeSession).
    if (room && occ) await svc.removeSession(room, occ, from.toString(), { payload: stanza.getChildren('status') });
    return;
  }
  if (type !== undefined) return; // probes and subscriptions have no meaning for a room
  // §7.2.1 (and RFC 6120 resourcepart rules): a room nickname is required and may not be blank.
  const nick = to.resource;
  if (nick === undefined || nick.trim() === '') throw new StanzaError('jid-malformed', 'a room nickname is required');
  if (room && occ) {
    if (occ.nick === nick) return presenceChange(svc, room, occ, stanza);
    if (occ.sessions.size > 1) return splitSession(svc, room, occ, stanza, from, to, nick);
    return nickChange(svc, room, occ, nick, stanza);
  }
  return join(svc, room, stanza, from, to, nick);
}

async function join(svc: MucService, existing: Room | undefined, stanza: XmlElement, from: Jid, to: Jid, nick: string): Promise<void> {
  const mucX = stanza.getChild('x', NS.MUC);
  const bare = from.toBareString();
  let room = existing;
  let created = false;
  if (!room) {
    // §10.1.1: the first occupant creates the room and becomes its owner.
    if (svc.ctx.options.restrict_room_creation && !svc.ctx.server.isAdmin(from)) {
      throw new StanzaError('not-allowed', 'room creation is restricted');
    }
    // §10.1.1: restricted creation is refused with <not-allowed/>; here the restriction is a quota per user.
    if (!svc.mayCreate(from)) {
      throw new StanzaError('not-allowed', `you may have at most ${svc.ctx.options.max_rooms_per_user} rooms; destroy one to create another`);
    }
    room = svc.create(to, from);
    room.locked = true;
    room.setAffiliation(bare, 'owner');
    created = true;
  }
  const aff = room.affiliation(bare);
  const holder = room.occupants.get(nick);
  const sameUser = holder !== undefined && holder.bare === bare ? holder : undefined;
  if (!created) {
    // §7.2.7: a locked room (being configured) does not exist for others.
    if (room.locked && aff !== 'owner') throw new StanzaError('item-not-found', 'the room is locked until its owner configures it');
    // §7.2.6: banned users may not enter.
    if (aff === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
    // §7.2.5: members-only rooms.
    if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) {
      throw new StanzaError('registration-required', 'this room is members-only');
    }
    // §7.2.8: the nickname is taken by someone else, or registered to someone else (§7.10). The same bare JID
    // may hold it from several resources (multi-session nicks, §7.2): that is one occupant, not a conflict.
    if (sameUser === undefined && room.occupants.has(nick)) throw new StanzaError('conflict', 'that nickname is in use');
    for (const [owner, n] of room.registered) if (n === nick && owner !== bare) throw new StanzaError('conflict', 'that nickname is registered');
    // §7.2.9: max users reached (admins and owners may still enter); another session of an occupant is no new user.
    if (sameUser === undefined && room.config.maxUsers > 0 && room.occupants.size >= room.config.maxUsers && AFFILIATION_RANK[aff] < AFFILIATION_RANK.admin) {
      throw new StanzaError('service-unavailable', 'the room is full');
    }
    // §7.2.6: password-protected rooms.
    if (room.config.passwordProtected && aff !== 'owner' && mucX?.getChildText('password') !== room.config.password) {
      throw new StanzaError('not-authorized', 'a password is required');
    }
  }
  if (sameUser) return joinSession(svc, room, sameUser, stanza, from, mucX, created);
  const occ: Occupant = {
    nick,
    jid: from,
    sessions: new Map([[from.toString(), from]]),
    bare,
    role: room.defaultRole(aff),
    occupantId: svc.occupantId(room, bare),
    payload: presencePayload(stanza),
  };
  const me = from.toString();
  // The first occupant of a persistent room brings its history back from storage (service.ts).
  await svc.loadHistory(room);
  // §7.8.2: entering answers the invitations to this user; a later decline is no longer relayed.
  room.invitations.accepted(bare);
  // §7.2.3: the presence of every existing occupant first …
  for (const other of room.occupants.values()) {
    const v = buildPresence(room, other);
    await svc.send(addressed(room.canSeeJids(occ) ? v.withJid : v.anon, me));
  }
  room.occupants.set(nick, occ);
  room.byReal.set(me, occ);
  // … then the new occupant's presence to all, its own last with 110 (§7.2.3).
  await svc.broadcastPresence(room, occ, buildPresence(room, occ, { selfCodes: selfCodesOf(room, stanza, nick, created) }));
  await sendRoomTail(svc, room, me, mucX);
}

/** §7.2.3 self-presence codes: 100 in non-anonymous rooms (§7.2.4), 170 when logged (§7.2.12), 201 for a new room (§10.1.1), 210 when the nick was changed (§7.2.9). */
function selfCodesOf(room: Room, stanza: XmlElement, nick: string, created: boolean): number[] {
  const selfCodes: number[] = [];
  if (room.isNonAnonymous()) selfCodes.push(100);
  if (room.config.enableLogging) selfCodes.push(170);
  if (created) selfCodes.push(201);
  if (rawNick(stanza) !== nick) selfCodes.push(210);
  return selfCodes;
}

/** The end of every join: §7.2.15 discussion history, then (§7.2.16) the subject — always, empty when none. */
async function sendRoomTail(svc: MucService, room: Room, me: string, mucX: XmlElement | undefined): Promise<void> {
  for (const h of room.history.select(parseHistoryRequest(mucX))) await svc.send(addressed(h.stanza, me));
  const subjectFrom = room.subjectBy ? room.occJid(room.subjectBy) : room.jidString;
  await svc.send(
    xml('message', { from: subjectFrom, to: me, type: 'groupchat', id: `subject-${Date.now().toString(36)}` }, xml('subject', null, room.subject || null)),
  );
}

/**
 * Multi-session nicks (§7.2 "…from more than one resource", as Prosody and ejabberd allow): another resource of
 * the same bare JID joins with the nick an occupant of that user holds. It becomes a session of that occupant;
 * the others see no new occupant, while the joining device gets the whole room state as any joiner does:
 * every occupant's presence, its self-presence with 110, the history and the subject.
 */
async function joinSession(svc: MucService, room: Room, occ: Occupant, stanza: XmlElement, from: Jid, mucX: XmlElement | undefined, created: boolean): Promise<void> {
  const me = from.toString();
  room.invitations.accepted(occ.bare);
  for (const other of room.occupants.values()) {
    if (other === occ) continue;
    const v = buildPresence(room, other);
    await svc.send(addressed(room.canSeeJids(occ) ? v.withJid : v.anon, me));
  }
  occ.sessions.set(me, from);
  occ.jid = from;
  room.byReal.set(me, occ);
  await svc.send(addressed(buildPresence(room, occ, { selfCodes: selfCodesOf(room, stanza, occ.nick, created) }).self, me));
  await sendRoomTail(svc, room, me, mucX);
}

/**
 * A nick change from one session of a multi-session occupant: that session alone moves (the others keep the
 * old nick), so it leaves the occupant — its own unavailable presence with 303 and the new nick (§7.6) — and
 * joins under the new nick. Checked first, so that a refused change leaves it where it was.
 */
async function splitSession(svc: MucService, room: Room, occ: Occupant, stanza: XmlElement, from: Jid, to: Jid, nick: string): Promise<void> {
  const holder = room.occupants.get(nick);
  if (holder && holder.bare !== occ.bare) throw new StanzaError('conflict', 'that nickname is in use');
  for (const [owner, n] of room.registered) if (n === nick && owner !== occ.bare) throw new StanzaError('conflict', 'that nickname is registered');
  await svc.removeSession(room, occ, from.toString(), { codes: [303], item: { nick }, payload: [] });
  await join(svc, room, stanza, from, to, nick);
}

/** §7.7: a changed availability or status is reflected to every occupant. */
async function presenceChange(svc: MucService, room: Room, occ: Occupant, stanza: XmlElement): Promise<void> {
  occ.payload = presencePayload(stanza);
  await svc.broadcastPresence(room, occ, buildPresence(room, occ));
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new one. */
async function nickChange(svc: MucService, room: Room, occ: Occupant, nick: string, stanza: XmlElement): Promise<void> {
  if (room.occupants.has(nick)) throw new StanzaError('conflict', 'that nickname is in use');
  for (const [owner, n] of room.registered) if (n === nick && owner !== occ.bare) throw new StanzaError('conflict', 'that nickname is registered');
  const leaving = buildPresence(room, occ, { type: 'unavailable', codes: [303], item: { nick }, payload: [] });
  await svc.broadcastPresence(room, occ, leaving);
  room.occupants.delete(occ.nick);
  occ.nick = nick;
  occ.payload = presencePayload(stanza);
  room.occupants.set(nick, occ);
  const selfCodes = rawNick(stanza) !== nick ? [210] : [];
  await svc.broadcastPresence(room, occ, buildPresence(room, occ, { selfCodes }));
}
