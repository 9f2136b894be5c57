// RFC 6121 §2: roster get, set and remove, and roster pushes to every interested resource, with
// roster versioning (§2.6, XEP-0237).
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { RosterItem, RosterStore } from './roster-store';

export function itemElement(jid: string, item: RosterItem | undefined): XmlElement {
  if (!item) return xml('item', { jid, subscription: 'remove' });
  const el = xml('item', {
    jid,
    name: item.name,
    subscription: item.subscription,
    // RFC 6121 §2.1.2.2: 'ask' shows only a pending outbound request.
    ask: item.ask ? 'subscribe' : undefined,
    // §2.1.2.1: 'approved' only where the server supports pre-approval, and only when true.
    approved: item.approved ? 'true' : undefined,
  });
  for (const g of item.groups) el.append(xml('group', null, g));
  return el;
}

let pushCounter = 0;

/** RFC 6121 §2.1.6: push the changed item to every resource that requested the roster. */
export function pushItem(ctx: ModuleContext<any>, owner: string, contact: string, item: RosterItem | undefined, version: number): void {
  const query = xml('query', { xmlns: NS.ROSTER, ver: String(version) }, itemElement(contact, item?.visible === false ? undefined : item));
  for (const session of ctx.server.sessions.ofAccount(owner)) {
    if (!session.interested) continue;
    session.send(xml('iq', { type: 'set', id: `push${(++pushCounter).toString(36)}`, to: session.jid.toString() }, query));
  }
}

export function registerRosterIq(ctx: ModuleContext<any>, store: RosterStore, onRemove: (owner: Jid, contact: string, item: RosterItem) => Promise<void>): void {
  ctx.iq.get(NS.ROSTER, 'query', { to: ['bare'] }, async ({ isSelf, from, payload, session }) => {
    // RFC 6121 §2.1.3: a roster belongs to its owner; anyone else gets forbidden... via service-unavailable
    // is the usual answer for requests to another account's private data.
    if (!isSelf) throw new StanzaError('forbidden');
    const owner = from.toBareString();
    if (session) session.interested = true;
    const current = await store.version(owner);
    const ver = String(current);
    // §2.6.3: the client's version is current → empty result, and changes (none yet) come as pushes.
    if (payload.attrs.ver !== undefined && payload.attrs.ver === ver) return null;
    const query = xml('query', { xmlns: NS.ROSTER, ver });
    for (const [jid, item] of await store.load(owner)) if (item.visible) query.append(itemElement(jid, item));
    return query;
  });

  ctx.iq.set(NS.ROSTER, 'query', { to: ['bare'] }, async ({ isSelf, from, payload }) => {
    if (!isSelf) throw new StanzaError('forbidden');
    const items = payload.getChildren('item');
    // RFC 6121 §2.3.3: exactly one item per set.
    if (items.length !== 1) throw new StanzaError('bad-request', 'a roster set contains exactly one item');
    const el = items[0]!;
    let contact: Jid;
    try {
      contact = Jid.parse(el.attrs.jid ?? '');
    } catch {
      throw new StanzaError('bad-request', 'invalid item jid');
    }
    // Roster items are bare JIDs (RFC 6121 §2.1.2.3 speaks of the contact's bare JID); a full JID would make an
    // item that subscriptions, keyed by bare JID, never update.
    if (contact.isFull) throw new StanzaError('bad-request', 'roster items are bare JIDs');
    const contactKey = contact.toString();
    const owner = from.toBareString();
    // One change at a time per roster: a subscription arriving meanwhile must not be overwritten.
    return store.exclusive(owner, async () => {
      const existing = await store.get(owner, contactKey);

      if (el.attrs.subscription === 'remove') {
        // §2.5.3: removing an item that is not there.
        if (!existing || !existing.visible) throw new StanzaError('item-not-found');
        await onRemove(from.bare(), contactKey, existing);
        const version = await store.put(owner, contactKey, undefined);
        pushItem(ctx, owner, contactKey, undefined, version);
        return null;
      }
      // A user's own presence reaches all of their resources without a subscription (§4.2.2, §4.4.2); an item
      // for the own bare JID would make the account subscribe to itself and echo its presence twice.
      if (contactKey === owner) throw new StanzaError('not-allowed', 'the roster cannot hold your own JID');
      const groups = el.getChildren('group').map((g) => g.text());
      // §2.3.3: duplicate groups are bad-request, empty group names not-acceptable.
      if (new Set(groups).size !== groups.length) throw new StanzaError('bad-request', 'duplicate group');
      if (groups.some((g) => g.length === 0)) throw new StanzaError('not-acceptable', 'empty group name');
      if (groups.some((g) => g.length > 1024) || (el.attrs.name?.length ?? 0) > 1024) throw new StanzaError('not-acceptable', 'too long');
      // §2.1.2.5: a client cannot set subscription state; 'ask'/'approved' from the client are ignored too.
      const item: RosterItem = {
        ...(existing ?? { subscription: 'none' }),
        // §2.1.2.3: the name is a human-readable label; an empty or blank one is no name.
        name: el.attrs.name?.trim() ? el.attrs.name : undefined,
        groups,
        visible: true,
      };
      const version = await store.put(owner, contactKey, item);
      pushItem(ctx, owner, contactKey, item, version);
      return null;
    });
  });
}
