// RFC 6121 §3 and Appendix A: the subscription state machine, applied where the RFC applies it — outbound
// at the sender's server, inbound at the recipient's — so the same code serves local and federated peers.
import { Jid, parseXml, xml, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { RosterItem, RosterStore, Subscription } from './roster-store';
import { receivesPresenceFrom, sendsPresenceTo } from './roster-store';
import { pushItem } from './roster-iq';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

export class Subscriptions {
  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly store: RosterStore,
  ) {}

  private async save(owner: string, contact: string, before: RosterItem | undefined, after: RosterItem | undefined): Promise<void> {
    if (JSON.stringify(before) === JSON.stringify(after)) return;
    // An entry that only held a pending request and holds nothing now disappears (§3.1.3).
    if (after && !after.visible && !after.pendingIn) after = undefined;
    const version = await this.store.put(owner, contact, after);
    if (before?.visible || after?.visible) pushItem(this.ctx, owner, contact, after, version);
  }

  /** Sends presence of every available resource of `owner` to `to` (§3.1.5, §4.3.2). */
  sendCurrentPresence(owner: Jid, to: string): void {
    for (const s of this.ctx.server.sessions.ofAccount(owner.toBareString())) {
      if (!s.available || !s.presence) continue;
      const p = s.presence.clone();
      p.attrs.from = s.jid.toString();
      p.attrs.to = to;
      void this.ctx.server.send(p);
    }
  }

  /** Sends unavailable from every available resource of `owner` to `to` (§3.2.2, §3.3.3). */
  sendUnavailable(owner: Jid, to: string): void {
    for (const s of this.ctx.server.sessions.ofAccount(owner.toBareString())) {
      if (s.available) void this.ctx.server.send(xml('presence', { type: 'unavailable', from: s.jid.toString(), to }));
    }
  }

  private send(type: SubscriptionType, from: string, to: string): Promise<void> {
    return this.ctx.server.send(xml('presence', { type, from, to }));
  }

  /** A subscription stanza from a local user (§3.1.2, §3.1.5, §3.2.2, §3.3.2); routes it on. */
  outbound(stanza: XmlElement, sender: Jid, contact: Jid): Promise<void> {
    return this.store.exclusive(sender.toBareString(), () => this.applyOutbound(stanza, sender, contact));
  }

  private async applyOutbound(stanza: XmlElement, sender: Jid, contact: Jid): Promise<void> {
    const type = stanza.attrs.type as SubscriptionType;
    const owner = sender.toBareString();
    const key = contact.toBareString();
    const before = await this.store.get(owner, key);
    let after: RosterItem | undefined = before ? { ...before } : undefined;
    let route = true;
    switch (type) {
      case 'subscribe':
        after ??= { subscription: 'none', groups: [], visible: true };
        after.visible = true;
        if (!receivesPresenceFrom(after)) after.ask = true;
        break;
      case 'subscribed':
        if (after?.pendingIn) {
          after.subscription = withFrom(after.subscription);
          delete after.pendingIn;
          after.visible = true;
        } else if (sendsPresenceTo(after)) {
          route = false; // already approved: nothing to tell (§3.1.5)
        } else {
          // §3.4: pre-approval of a request not yet received.
          after ??= { subscription: 'none', groups: [], visible: true };
          after.visible = true;
          after.approved = true;
          route = false;
        }
        break;
      case 'unsubscribe':
        if (after) {
          after.subscription = withoutTo(after.subscription);
          delete after.ask;
        }
        break;
      case 'unsubscribed':
        if (after) {
          after.subscription = withoutFrom(after.subscription);
          delete after.pendingIn;
          delete after.approved;
        }
        break;
    }
    await this.save(owner, key, before, after);
    if (!route) return;
    // §3.1.2: subscription stanzas leave stamped with the bare JIDs of both parties.
    const out = stanza.clone();
    out.attrs.from = owner;
    out.attrs.to = key;
    // Not awaited: the contact's side takes its own roster's lock and may answer at once, and that answer
    // needs this roster's lock, held until we return. What follows the stanza is sent after it.
    void this.ctx.server.send(out).then(() => {
      if (type === 'subscribed') this.sendCurrentPresence(sender.bare(), key);
      if (type === 'unsubscribed' && sendsPresenceTo(before)) this.sendUnavailable(sender.bare(), key);
    });
  }

  /** A subscription stanza arriving for a local user (§3.1.3, §3.1.6, §3.2.3, §3.3.3). */
  inbound(stanza: XmlElement, from: Jid, user: Jid): Promise<void> {
    return this.store.exclusive(user.toBareString(), () => this.applyInbound(stanza, from, user));
  }

  private async applyInbound(stanza: XmlElement, from: Jid, user: Jid): Promise<void> {
    const type = stanza.attrs.type as SubscriptionType;
    const owner = user.toBareString();
    const key = from.toBareString();
    if (!(await this.ctx.server.accounts.exists(user.local!))) {
      // §3.1.3: a request to an account that does not exist is answered with unsubscribed.
      if (type === 'subscribe') void this.send('unsubscribed', owner, key);
      return;
    }
    const before = await this.store.get(owner, key);
    let after: RosterItem | undefined = before ? { ...before } : undefined;
    let deliver = false;
    switch (type) {
      case 'subscribe':
        if (sendsPresenceTo(before)) {
          void this.send('subscribed', owner, key); // §3.1.3: already subscribed, answer for the user
          return;
        }
        if (before?.approved) {
          after = { ...before, subscription: withFrom(before.subscription) };
          delete after.approved;
          await this.save(owner, key, before, after);
          void this.send('subscribed', owner, key).then(() => this.sendCurrentPresence(user.bare(), key));
          return;
        }
        // Appendix A.3.1: a request already pending (None/To + Pending In) is neither delivered again nor
        // changes anything; the stored one is redelivered at the next login until answered.
        if (before?.pendingIn) return;
        after ??= { subscription: 'none', groups: [], visible: false };
        after.pendingIn = stanzaWithoutAddresses(stanza);
        deliver = true;
        break;
      case 'subscribed':
        if (!before?.ask) return; // §3.1.6: nothing pending, nothing to deliver
        after!.subscription = withTo(before.subscription);
        delete after!.ask;
        deliver = true;
        break;
      case 'unsubscribe':
        if (!sendsPresenceTo(before) && !before?.pendingIn) return;
        after!.subscription = withoutFrom(before!.subscription);
        delete after!.pendingIn;
        deliver = true;
        if (sendsPresenceTo(before)) this.sendUnavailable(user.bare(), key);
        break;
      case 'unsubscribed':
        if (!receivesPresenceFrom(before) && !before?.ask) return;
        after!.subscription = withoutTo(before!.subscription);
        delete after!.ask;
        deliver = true;
        break;
    }
    await this.save(owner, key, before, after);
    if (deliver) {
      // §3.1.3 etc.: delivered to all available resources; a pending request waits for the next login.
      const out = stanza.clone();
      out.attrs.from = key;
      for (const s of this.ctx.server.sessions.ofAccount(owner)) if (s.available) s.send(out);
    }
  }

  /** §3.1.3: pending requests are redelivered when a resource becomes available. */
  async redeliverPending(user: Jid, send: (el: XmlElement) => void): Promise<void> {
    for (const [contact, item] of await this.store.load(user.toBareString())) {
      if (!item.pendingIn) continue;
      const el = parseXml(item.pendingIn);
      el.attrs.from = contact;
      el.attrs.to = user.toBareString();
      send(el);
    }
  }
}

function stanzaWithoutAddresses(stanza: XmlElement): string {
  const copy = stanza.clone();
  delete copy.attrs.from;
  delete copy.attrs.to;
  return copy.toString();
}

const withFrom = (s: Subscription): Subscription => (s === 'to' || s === 'both' ? 'both' : 'from');
const withTo = (s: Subscription): Subscription => (s === 'from' || s === 'both' ? 'both' : 'to');
const withoutFrom = (s: Subscription): Subscription => (s === 'both' || s === 'to' ? 'to' : 'none');
const withoutTo = (s: Subscription): Subscription => (s === 'both' || s === 'from' ? 'from' : 'none');
