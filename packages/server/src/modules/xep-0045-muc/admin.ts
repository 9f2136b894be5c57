// XEP-0045 muc#admin: role and affiliation changes (§8 moderator, §9 admin, §10 owner use cases) and the
// lists (ban §9.2, member §9.5, moderator §9.8, voice §8.5, admin §10.8, owner §10.5). A request with several
// items is checked in full before anything changes.
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { IqRequest } from '../../core/iq';
import { AFFILIATIONS, ROLES, type Affiliation, type Occupant, type Role, type Room } from './room';
import { actorOf, applyAffiliation, applyRole, checkAffiliationChange, checkRoleChange } from './roles';
import type { MucService } from './service';

const isAdminOrOwner = (a: Affiliation): boolean => a === 'owner' || a === 'admin';

export function adminGet(svc: MucService, room: Room, req: IqRequest): XmlElement {
  const item = req.payload.getChild('item');
  if (!item) throw new StanzaError('bad-request', 'an item with a role or an affiliation is required');
  const actor = actorOf(room, req.from.toBareString());
  const query = xml('query', { xmlns: NS.MUC_ADMIN });
  const aff = item.attrs.affiliation as Affiliation | undefined;
  const role = item.attrs.role as Role | undefined;
  if (aff !== undefined) {
    if (!AFFILIATIONS.includes(aff) || aff === 'none') throw new StanzaError('bad-request', 'unknown affiliation list');
    // §9.5: the member list may also be open to roles named in muc#roomconfig_getmemberlist.
    const mayRead =
      isAdminOrOwner(actor.affiliation) ||
      (aff === 'member' && actor.occupant !== undefined && room.config.getMemberList.includes(actor.occupant.role));
    if (!mayRead) throw new StanzaError('forbidden', 'you may not see this list');
    for (const [jid, a] of room.affiliations) {
      if (a !== aff) continue;
      const nick = room.occupantsOf(jid)[0]?.nick ?? room.registered.get(jid);
      query.append(xml('item', { affiliation: a, jid, nick }));
    }
    return query;
  }
  if (role !== undefined) {
    if (!ROLES.includes(role) || role === 'none') throw new StanzaError('bad-request', 'unknown role list');
    // §8.5: moderators see the voice list; §9.8: the moderator list is for admins and owners.
    const mayRead = role === 'moderator' ? isAdminOrOwner(actor.affiliation) : actor.occupant?.role === 'moderator' || isAdminOrOwner(actor.affiliation);
    if (!mayRead) throw new StanzaError('forbidden', 'you may not see this list');
    for (const occ of room.occupants.values()) {
      if (occ.role !== role) continue;
      query.append(xml('item', { role: occ.role, nick: occ.nick, affiliation: room.affiliation(occ.bare), jid: occ.jid.toString() }));
    }
    return query;
  }
  throw new StanzaError('bad-request', 'an item with a role or an affiliation is required');
}

type Change =
  | { kind: 'role'; target: Occupant; role: Role; reason?: string }
  | { kind: 'affiliation'; bare: string; affiliation: Affiliation; reason?: string };

export async function adminSet(svc: MucService, room: Room, req: IqRequest): Promise<void> {
  const items = req.payload.getChildren('item');
  if (items.length === 0) throw new StanzaError('bad-request', 'at least one item is required');
  const actor = actorOf(room, req.from.toBareString());
  const changes: Change[] = [];
  // Validate against the state the earlier items would leave (affiliations simulated, owners counted).
  const simulated = new Map(room.affiliations);
  let owners = room.owners().length;
  for (const item of items) {
    const reason = item.getChildText('reason');
    const { role, affiliation, nick, jid } = item.attrs as Record<string, string | undefined>;
    if (role !== undefined && affiliation !== undefined) throw new StanzaError('bad-request', 'an item changes a role or an affiliation, not both');
    if (role !== undefined) {
      if (!ROLES.includes(role as Role)) throw new StanzaError('bad-request', `unknown role ${role}`);
      const target = nick !== undefined ? room.occupants.get(nick) : jid !== undefined ? room.byReal.get(jid) ?? firstOf(room, jid) : undefined;
      if (nick === undefined && jid === undefined) throw new StanzaError('bad-request', 'a role change names an occupant by nick');
      if (!target) throw new StanzaError('item-not-found', 'no such occupant');
      checkRoleChange(room, actor, target, role as Role);
      changes.push({ kind: 'role', target, role: role as Role, reason });
      continue;
    }
    if (affiliation === undefined) throw new StanzaError('bad-request', 'an item needs a role or an affiliation');
    if (!AFFILIATIONS.includes(affiliation as Affiliation)) throw new StanzaError('bad-request', `unknown affiliation ${affiliation}`);
    let bare: string | undefined;
    if (jid !== undefined) {
      const parsed = Jid.tryParse(jid);
      if (!parsed) throw new StanzaError('jid-malformed', `invalid JID ${jid}`);
      bare = parsed.toBareString();
    } else if (nick !== undefined) {
      bare = room.occupants.get(nick)?.bare;
      if (bare === undefined) throw new StanzaError('item-not-found', 'no such occupant');
    } else {
      throw new StanzaError('bad-request', 'an affiliation change names a JID');
    }
    const current = simulated.get(bare) ?? 'none';
    const aff = affiliation as Affiliation;
    checkAffiliationChange(room, actor, bare, current, aff, owners);
    if (current === 'owner' && aff !== 'owner') owners--;
    if (current !== 'owner' && aff === 'owner') owners++;
    simulated.set(bare, aff);
    changes.push({ kind: 'affiliation', bare, affiliation: aff, reason });
  }
  for (const c of changes) {
    if (c.kind === 'role') await applyRole(svc, room, actor, c.target, c.role, c.reason);
    else await applyAffiliation(svc, room, actor, c.bare, c.affiliation, c.reason);
  }
  if (changes.some((c) => c.kind === 'affiliation')) await svc.persist(room);
  if (room.occupants.size === 0) await svc.maybeDestroyEmpty(room);
}

function firstOf(room: Room, jid: string): Occupant | undefined {
  const parsed = Jid.tryParse(jid);
  return parsed ? room.occupantsOf(parsed.toBareString())[0] : undefined;
}
