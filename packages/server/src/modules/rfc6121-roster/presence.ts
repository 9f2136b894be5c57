// RFC 6121 §4: presence broadcast, initial presence with probes, directed presence, unavailable on
// disconnect, and inbound presence delivery to all available resources.
import { Jid, xml, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { Session } from '../../core/sessions';
import type { RosterStore } from './roster-store';
import { receivesPresenceFrom, sendsPresenceTo } from './roster-store';
import type { Subscriptions } from './subscriptions';

const DIRECTED = 'presence.directed';

export class PresenceService {
  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly store: RosterStore,
    private readonly subscriptions: Subscriptions,
  ) {}

  private directed(session: Session): Set<string> {
    let set = session.state.get(DIRECTED) as Set<string> | undefined;
    if (!set) {
      set = new Set();
      session.state.set(DIRECTED, set);
    }
    return set;
  }

  /** A presence without 'to' from a client (§4.2.2 initial, §4.4.2 updates, §4.5.2 unavailable). */
  async broadcast(session: Session, stanza: XmlElement): Promise<void> {
    const type = stanza.attrs.type;
    if (type === undefined) return this.available(session, stanza);
    if (type === 'unavailable') return this.unavailable(session, stanza);
    // Probes, errors and subscription types need a 'to'; without one they mean nothing (§4.3.1).
  }

  private async available(session: Session, stanza: XmlElement): Promise<void> {
    const initial = !session.available;
    const presence = stanza.clone();
    delete presence.attrs.to;
    presence.attrs.from = session.jid.toString();
    session.presence = presence;
    session.priority = parsePriority(presence);
    session.available = true;
    const owner = session.jid.bare();
    const roster = await this.store.load(owner.toBareString());

    // §4.2.2 / §4.4.2: to every contact subscribed to the user, and to the user's other available resources.
    for (const [contact, item] of roster) {
      if (sendsPresenceTo(item)) this.sendTo(presence, contact);
    }
    for (const other of this.ctx.server.sessions.ofAccount(owner.toBareString())) {
      if (other.available) other.send(presence);
    }
    if (!initial) return;
    // §4.2.2: probe the contacts the user is subscribed to; for local contacts the answer is immediate.
    for (const [contact, item] of roster) {
      if (receivesPresenceFrom(item)) void this.ctx.server.send(xml('presence', { type: 'probe', from: owner.toBareString(), to: contact }));
    }
    // §4.2.2: the new resource learns about the user's other available resources.
    for (const other of this.ctx.server.sessions.ofAccount(owner.toBareString())) {
      if (other !== session && other.available && other.presence) session.send(other.presence);
    }
    await this.subscriptions.redeliverPending(owner, (el) => session.send(el));
    await this.ctx.server.hooks.fire('session/available', { session });
  }

  private async unavailable(session: Session, stanza: XmlElement): Promise<void> {
    const presence = stanza.clone();
    delete presence.attrs.to;
    presence.attrs.from = session.jid.toString();
    if (session.available) await this.goUnavailable(session, presence);
    else this.endDirected(session, presence);
  }

  /**
   * §4.6.3: a resource that never sent broadcast presence may still have sent directed presence (a bot joining
   * a MUC room, say); its unavailable presence goes to those recipients all the same.
   */
  private endDirected(session: Session, presence: XmlElement): void {
    const directed = this.directed(session);
    for (const to of directed) this.sendTo(presence, to);
    directed.clear();
  }

  /** §4.5.2: unavailable to the subscribed contacts, the user's other resources and directed-presence recipients. */
  private async goUnavailable(session: Session, presence: XmlElement): Promise<void> {
    session.available = false;
    session.presence = undefined;
    const owner = session.jid.toBareString();
    const roster = await this.store.load(owner);
    const sent = new Set<string>();
    for (const [contact, item] of roster) {
      if (sendsPresenceTo(item)) {
        this.sendTo(presence, contact);
        sent.add(contact);
      }
    }
    for (const other of this.ctx.server.sessions.ofAccount(owner)) {
      if (other !== session && other.available) other.send(presence);
    }
    const directed = this.directed(session);
    for (const to of directed) if (!sent.has(to)) this.sendTo(presence, to);
    directed.clear();
  }

  async sessionClosed(session: Session, resumedElsewhere = false): Promise<void> {
    const unavailable = xml('presence', { type: 'unavailable', from: session.jid.toString() });
    // XEP-0198 resumption on another cluster node: the resource is still online there, with its directed presences.
    if (!resumedElsewhere) {
      if (session.available) await this.goUnavailable(session, unavailable);
      else this.endDirected(session, unavailable);
    }
    if (!this.ctx.server.sessions.hasAccount(session.jid.toBareString())) this.store.evict(session.jid.toBareString());
  }

  /** §4.6: directed presence; remembered so that going offline reaches the same recipients. */
  async directedPresence(session: Session, stanza: XmlElement, to: Jid): Promise<void> {
    const type = stanza.attrs.type;
    const key = to.toString();
    if (type === undefined) {
      const item = await this.store.get(session.jid.toBareString(), to.toBareString());
      if (!(to.isBare && sendsPresenceTo(item))) this.directed(session).add(key);
    } else if (type === 'unavailable') {
      this.directed(session).delete(key);
    }
  }

  /** §4.3.2: answer a probe for a local user with the presence of each available resource. */
  async probe(from: Jid, user: Jid): Promise<void> {
    const owner = user.toBareString();
    if (from.toBareString() === owner) return;
    if (!(await this.ctx.server.accounts.exists(user.local!))) {
      void this.ctx.server.send(xml('presence', { type: 'unsubscribed', from: owner, to: from.toBareString() }));
      return;
    }
    const item = await this.store.get(owner, from.toBareString());
    if (!sendsPresenceTo(item)) return; // §4.3.2: no subscription, no presence revealed
    const to = from.toString();
    let any = false;
    for (const s of this.ctx.server.sessions.ofAccount(owner)) {
      if (!s.available || !s.presence) continue;
      if (user.resource !== undefined && s.jid.resource !== user.resource) continue;
      any = true;
      this.sendTo(s.presence, to);
    }
    if (!any) void this.ctx.server.send(xml('presence', { type: 'unavailable', from: owner, to }));
  }

  /** §8.5.2.1.2 (RFC 6121): inbound available/unavailable presence goes to every available resource. */
  deliverToAll(user: Jid, stanza: XmlElement): void {
    for (const s of this.ctx.server.sessions.ofAccount(user.toBareString())) if (s.available) s.send(stanza);
  }

  private sendTo(presence: XmlElement, to: string): void {
    const copy = presence.shallowClone();
    copy.attrs.to = to;
    void this.ctx.server.send(copy).catch((err) => this.ctx.log.warn({ err }, 'presence delivery failed'));
  }
}

/** RFC 6121 §4.7.2.3: an integer from -128 to 127, 0 when absent or invalid. */
export function parsePriority(presence: XmlElement): number {
  const text = presence.getChildText('priority');
  if (text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  if (!Number.isFinite(n)) return 0;
  return Math.max(-128, Math.min(127, n));
}
