// XEP-0045 §5.1 roles and §5.2 affiliations: who may change whom (the §5.1.2 / §5.2.1 privilege tables, §8
// moderator and §9 / §10 admin and owner use cases), and the effect of a change on the occupants present.
import { StanzaError, xml, type XmlElement } from '@parley/protocol';
import { AFFILIATION_RANK, buildPresence, type Affiliation, type Occupant, type Role, type Room } from './room';
import type { MucService } from './service';

const isAdminOrOwner = (a: Affiliation): boolean => a === 'owner' || a === 'admin';

/** The actor of a change: its affiliation always, its occupant (role, nick) when present. */
export interface Actor {
  bare: string;
  affiliation: Affiliation;
  occupant: Occupant | undefined;
}

export function actorOf(room: Room, bare: string): Actor {
  const occupant = room.occupantsOf(bare)[0];
  return { bare, affiliation: room.affiliation(bare), occupant };
}

/** §8.2–§8.4 and §9.6–§9.7: may the actor give this role to the target occupant? Throws when not. */
export function checkRoleChange(room: Room, actor: Actor, target: Occupant, role: Role): void {
  const actorRole = actor.occupant?.role ?? 'none';
  // Moderator privileges need the moderator role; admins and owners have it by affiliation even when away.
  if (actorRole !== 'moderator' && !isAdminOrOwner(actor.affiliation)) throw new StanzaError('forbidden', 'only moderators may change roles');
  if (role === target.role) return;
  const targetAff = room.affiliation(target.bare);
  // §9.6 / §9.7: granting or revoking the moderator role is for admins and owners.
  if ((role === 'moderator' || target.role === 'moderator') && !isAdminOrOwner(actor.affiliation)) {
    throw new StanzaError('not-allowed', 'only admins and owners may grant or revoke moderator status');
  }
  // §8.2 / §8.4 / §9.7: admins and owners are always moderators; nobody lowers their role.
  if (isAdminOrOwner(targetAff)) throw new StanzaError('not-allowed', `cannot change the role of an ${targetAff}`);
  // §5.1.2: nor that of anyone with a higher affiliation than the actor's.
  if (AFFILIATION_RANK[targetAff] > AFFILIATION_RANK[actor.affiliation]) {
    throw new StanzaError('not-allowed', 'cannot change the role of a user with a higher affiliation');
  }
}

/**
 * §9 / §10: may the actor give this affiliation to this bare JID? `owners` is the owner count after the
 * earlier items of the same request. Throws when not.
 */
export function checkAffiliationChange(room: Room, actor: Actor, targetBare: string, current: Affiliation, aff: Affiliation, owners: number): void {
  if (!isAdminOrOwner(actor.affiliation)) throw new StanzaError('forbidden', 'only admins and owners may change affiliations');
  if (actor.affiliation === 'admin') {
    // §5.2.1: admins manage members and outcasts, never admins or owners.
    if (isAdminOrOwner(current)) throw new StanzaError('not-allowed', `an admin cannot change the affiliation of an ${current}`);
    if (isAdminOrOwner(aff)) throw new StanzaError('forbidden', 'only owners may grant admin or owner status');
  }
  // §10.6 / §10.7: a room always keeps an owner.
  if (current === 'owner' && aff !== 'owner' && owners <= 1) throw new StanzaError('conflict', 'the last owner cannot be removed');
  void room;
  void targetBare;
}

function itemChildren(actor: Actor | undefined, reason: string | undefined): XmlElement[] {
  const out: XmlElement[] = [];
  if (actor?.occupant) out.push(xml('actor', { nick: actor.occupant.nick }));
  if (reason !== undefined) out.push(xml('reason', null, reason));
  return out;
}

/** Applies a checked role change: kick (§8.2, 307) or a new role broadcast to all (§8.3–§8.4, §9.6–§9.7). */
export async function applyRole(svc: MucService, room: Room, actor: Actor | undefined, target: Occupant, role: Role, reason?: string): Promise<void> {
  if (role === 'none') {
    await svc.removeOccupant(room, target, { codes: [307], itemChildren: itemChildren(actor, reason) });
    return;
  }
  if (target.role === role) return;
  target.role = role;
  await svc.broadcastPresence(room, target, buildPresence(room, target, { itemChildren: itemChildren(actor, reason) }));
}

/** A moderator's own role change (e.g. approving a §7.13 voice request). */
export async function setRole(svc: MucService, room: Room, actorOcc: Occupant, target: Occupant, role: Role): Promise<void> {
  const actor: Actor = { bare: actorOcc.bare, affiliation: room.affiliation(actorOcc.bare), occupant: actorOcc };
  checkRoleChange(room, actor, target, role);
  await applyRole(svc, room, actor, target, role);
}

/**
 * Applies a checked affiliation change and its effect on the user's occupants: banned (301, §9.1),
 * removed from a members-only room (321, §9.4), or the new affiliation and role broadcast (§9.3, §10.3 …).
 */
export async function applyAffiliation(svc: MucService, room: Room, actor: Actor | undefined, bare: string, aff: Affiliation, reason?: string): Promise<void> {
  const before = room.affiliation(bare);
  room.setAffiliation(bare, aff);
  const children = itemChildren(actor, reason);
  for (const occ of room.occupantsOf(bare)) {
    if (aff === 'outcast') {
      await svc.removeOccupant(room, occ, { codes: [301], itemChildren: children });
    } else if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) {
      await svc.removeOccupant(room, occ, { codes: [321], itemChildren: children });
    } else {
      if (isAdminOrOwner(aff) || isAdminOrOwner(before)) occ.role = room.defaultRole(aff);
      else if (aff === 'member' && occ.role === 'visitor') occ.role = 'participant';
      await svc.broadcastPresence(room, occ, buildPresence(room, occ, { itemChildren: children }));
    }
  }
}

/** §10.2: when a room becomes members-only, non-members leave (status 322). */
export async function removeNonMembers(svc: MucService, room: Room): Promise<void> {
  for (const occ of [...room.occupants.values()]) {
    if (AFFILIATION_RANK[room.affiliation(occ.bare)] < AFFILIATION_RANK.member) {
      await svc.removeOccupant(room, occ, { codes: [322] });
    }
  }
}
