// XEP-0045 §7.8.2 mediated invitations still waiting for an answer. The room relays a <decline/> to the inviter
// only when it answers one of these: otherwise anyone could make the room send text to any JID it names. An
// invitation is answered once (declined, or accepted by entering the room) and expires after a while; a room
// holds a bounded number, the oldest giving way, so that invitations cannot grow a room's memory.
import type { Jid } from '@parley/protocol';

/** How long an invitation may be declined: a week covers an invitee who reads it from offline storage. */
export const INVITATION_TTL_MS = 7 * 24 * 3600_000;
/** Pending invitations per room; the oldest is forgotten (and its decline no longer relayed) past this. */
export const MAX_PENDING_INVITATIONS = 500;

interface Pending {
  invitee: string;
  /** The inviter as named in the <invite from/> the room sent, where the decline goes (§7.8.2 example). */
  inviter: string;
  expires: number;
}

export class PendingInvitations {
  /** Keyed by invitee and inviter bare JIDs; Map order is insertion order, so the first entry is the oldest. */
  private readonly pending = new Map<string, Pending>();

  get size(): number {
    return this.pending.size;
  }

  add(inviteeBare: string, inviter: Jid, now = Date.now()): void {
    const key = `${inviteeBare}\0${inviter.toBareString()}`;
    // A repeated invitation moves to the end (renewed), it does not take a second place.
    this.pending.delete(key);
    this.pending.set(key, { invitee: inviteeBare, inviter: inviter.toString(), expires: now + INVITATION_TTL_MS });
    for (const [k, p] of this.pending) {
      if (this.pending.size <= MAX_PENDING_INVITATIONS && p.expires > now) break;
      this.pending.delete(k);
    }
  }

  /**
   * Consumes the invitation a decline answers and returns the inviter's JID, or undefined when the decliner was
   * not invited (by that inviter, when the decline names one with 'to').
   */
  take(inviteeBare: string, inviterBare: string | undefined, now = Date.now()): string | undefined {
    let key: string | undefined;
    if (inviterBare !== undefined) {
      key = `${inviteeBare}\0${inviterBare}`;
    } else {
      // No 'to': the most recent invitation to this invitee.
      for (const [k, p] of this.pending) if (p.invitee === inviteeBare) key = k;
    }
    const p = key !== undefined ? this.pending.get(key) : undefined;
    if (!p) return undefined;
    this.pending.delete(key!);
    return p.expires > now ? p.inviter : undefined;
  }

  clear(): void {
    this.pending.clear();
  }

  /** The invitee entered the room: its invitations are answered. */
  accepted(inviteeBare: string): void {
    for (const [k, p] of this.pending) if (p.invitee === inviteeBare) this.pending.delete(k);
  }
}
