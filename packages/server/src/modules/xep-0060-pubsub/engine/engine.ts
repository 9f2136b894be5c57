// The XEP-0060 engine shared by the pubsub service (xep-0060-pubsub) and PEP (xep-0163-pep): nodes, items,
// affiliations, subscriptions, access models (§4.5) and notifications. It knows nothing about addressing:
// a host says what a "service" is (a domain, or an account's bare JID), supplies rosters for the presence and
// roster access models, defaults, and (PEP) implicit recipients. All methods take the service address and the
// requesting entity; they throw StanzaErrors with the XEP's conditions.
import { Jid, StanzaError, newId, type XmlElement } from '@parley/protocol';
import { ItemStore, NodeStore } from './store';
import { applyConfigForm, applySubscribeOptions, checkPreconditions } from './config-form';
import { configurationEvent, deleteEvent, eventMessage, itemsEvent, purgeEvent, subscriptionEvent } from './notify';
import {
  pubsubError, type Affiliation, type NodeConfig, type NodeRecord, type StoredItem, type SubscriptionRecord,
} from './types';
import type { MapStore } from '../../../storage/types';

export interface RosterEntry {
  subscription: 'none' | 'to' | 'from' | 'both';
  groups: string[];
}

export interface PubSubHost {
  /** What "max" means for pubsub#max_items. */
  readonly maxItems: number;
  /** §7.1.4 auto-create on publish (PEP: XEP-0163 §3). */
  readonly autoCreate: boolean;
  /**
   * XEP-0163 §2.2 "One Publisher Per Node": every service is an account's bare JID, and that account is the only
   * owner and publisher of all its nodes. Affiliations stored for anyone else grant member or outcast, never more.
   */
  readonly personal: boolean;
  /** §8.1.1: may `actor` create nodes at `service` (explicitly, or by publishing with auto-create)? */
  mayCreate(service: string, actor: Jid): boolean;
  defaultConfig(service: string, node: string): NodeConfig;
  /** A local account's roster (contact bare JID → entry); empty when unknown. */
  roster(owner: string): Promise<Map<string, RosterEntry>>;
  /** Whose roster the presence/roster access models consult: PEP the account; a service the node owners. */
  rosterOwners(service: string, node: NodeRecord): string[];
  /** PEP implicit subscribers (XEP-0163 §4): full JIDs to notify besides explicit subscriptions. */
  implicitRecipients?(service: string, node: NodeRecord): Promise<string[]>;
  send(stanza: XmlElement): Promise<void>;
}

export interface PublishResult {
  node: NodeRecord;
  item: StoredItem;
}

export class PubSubEngine {
  readonly nodes: NodeStore;
  readonly items: ItemStore;

  constructor(
    readonly host: PubSubHost,
    stores: { nodes: MapStore<NodeRecord>; items: MapStore<StoredItem> },
  ) {
    this.nodes = new NodeStore(stores.nodes);
    this.items = new ItemStore(stores.items);
  }

  async node(service: string, name: string): Promise<NodeRecord> {
    const node = await this.nodes.get(service, name);
    if (!node) throw pubsubError('item-not-found', undefined, undefined, `no node ${name}`);
    return node;
  }

  /**
   * §4.1: the affiliation of a bare JID. In a personal service the account is the owner of every node and nobody
   * else owns or publishes (XEP-0163 §2.2), whatever an older version stored for a node.
   */
  affiliation(service: string, node: NodeRecord, bare: string): Affiliation {
    if (!this.host.personal) return node.affiliations[bare] ?? 'none';
    if (bare === service) return 'owner';
    const stored = node.affiliations[bare];
    return stored === 'member' || stored === 'outcast' ? stored : 'none';
  }

  /** §4.1 / §7.1.3.1: may `bare` publish to the node (by affiliation, or by the node's publish model)? */
  mayPublish(service: string, node: NodeRecord, bare: string): boolean {
    const aff = this.affiliation(service, node, bare);
    if (aff === 'owner' || aff === 'publisher' || aff === 'publish-only') return true;
    // XEP-0163 §2.2: in a personal service the account is the only publisher, whatever the publish model says.
    if (this.host.personal || aff === 'outcast') return false;
    const model = node.config.publish_model;
    if (model === 'open') return true;
    return model === 'subscribers' && node.subscriptions.some((s) => s.state === 'subscribed' && bareOf(s.jid) === bare);
  }

  /**
   * XEP-0163 §2.2: a personal service keeps one publisher, so setting a publish model naming others is not
   * acceptable (§8.2.5.2). A node stored with one before this rule keeps it (mayPublish ignores it) and stays
   * configurable.
   */
  private checkConfig(config: NodeConfig, before: NodeConfig): void {
    if (this.host.personal && config.publish_model !== 'publishers' && config.publish_model !== before.publish_model) {
      throw pubsubError('not-acceptable', undefined, undefined, 'PEP nodes have one publisher, the account (XEP-0163 §2.2)');
    }
  }

  requireOwner(service: string, node: NodeRecord, actor: Jid): void {
    if (this.affiliation(service, node, actor.toBareString()) !== 'owner') throw pubsubError('forbidden');
  }

  /** §6.1.3 / §6.5.3: may `bare` subscribe to and retrieve items of the node? Throws the XEP's error. */
  async checkAccess(service: string, node: NodeRecord, bare: string, rosters?: Map<string, Map<string, RosterEntry>>): Promise<void> {
    const aff = this.affiliation(service, node, bare);
    if (aff === 'outcast') throw pubsubError('forbidden');
    if (aff === 'owner' || aff === 'publisher' || aff === 'member') return;
    const model = node.config.access_model;
    if (model === 'open') return;
    if (model === 'whitelist') throw pubsubError('not-allowed', 'closed-node');
    if (model === 'authorize') {
      if (node.subscriptions.some((s) => s.state === 'subscribed' && bareOf(s.jid) === bare)) return;
      throw pubsubError('not-authorized', 'not-subscribed');
    }
    for (const owner of this.host.rosterOwners(service, node)) {
      let roster = rosters?.get(owner);
      if (!roster) {
        roster = await this.host.roster(owner);
        rosters?.set(owner, roster);
      }
      const entry = roster.get(bare);
      const subscribed = entry?.subscription === 'from' || entry?.subscription === 'both';
      if (model === 'presence' && subscribed) return;
      if (model === 'roster' && entry && entry.groups.some((g) => node.config.roster_groups_allowed.includes(g))) return;
    }
    if (model === 'presence') throw pubsubError('not-authorized', 'presence-subscription-required');
    throw pubsubError('not-authorized', 'not-in-roster-group');
  }

  /** Whether `bare` passes the access model now; a storage failure propagates instead of reading as a refusal. */
  async mayAccess(service: string, node: NodeRecord, bare: string, rosters?: Map<string, Map<string, RosterEntry>>): Promise<boolean> {
    try {
      await this.checkAccess(service, node, bare, rosters);
      return true;
    } catch (err) {
      if (err instanceof StanzaError) return false;
      throw err;
    }
  }

  /** §8.1: create a node (instant node with a generated name when `name` is undefined). */
  async create(service: string, actor: Jid, name: string | undefined, configure?: XmlElement): Promise<NodeRecord> {
    // §8.1.1: checked before anything else, so a refused creator learns nothing about existing nodes.
    if (!this.host.mayCreate(service, actor)) throw pubsubError('forbidden');
    const nodeName = name ?? newId();
    if (await this.nodes.get(service, nodeName)) throw pubsubError('conflict', undefined, undefined, `node ${nodeName} exists`);
    const defaults = this.host.defaultConfig(service, nodeName);
    const config = configure ? applyConfigForm(defaults, configure, this.host.maxItems) : defaults;
    this.checkConfig(config, defaults);
    const node: NodeRecord = {
      name: nodeName,
      config,
      // §8.1: the creator owns the node; in a personal service that is the account, owner by definition.
      affiliations: this.host.personal ? {} : { [actor.toBareString()]: 'owner' },
      subscriptions: [],
      created: Date.now(),
      creator: actor.toBareString(),
    };
    await this.nodes.save(service, node);
    return node;
  }

  /**
   * §8.2.4: owners change the configuration; a lower max_items trims at once, and subscriptions the new access
   * model no longer allows are cancelled (§4.5, §13.14) rather than left to receive what they may not see.
   */
  async configure(service: string, actor: Jid, name: string, x: XmlElement): Promise<void> {
    const node = await this.node(service, name);
    this.requireOwner(service, node, actor);
    const config = applyConfigForm(node.config, x, this.host.maxItems);
    this.checkConfig(config, node.config);
    node.config = config;
    await this.nodes.save(service, node);
    await this.items.trim(service, name, node.config.persist_items ? node.config.max_items : 1);
    await this.pruneSubscriptions(service, node);
    if (node.config.notify_config) await this.broadcast(service, node, configurationEvent(node));
  }

  /** §8.4: delete a node, notifying subscribers (§8.4.2). */
  async deleteNode(service: string, actor: Jid, name: string, redirect?: string): Promise<void> {
    const node = await this.node(service, name);
    this.requireOwner(service, node, actor);
    if (node.config.notify_delete) await this.broadcast(service, node, deleteEvent(node, redirect));
    await this.nodes.delete(service, name);
    await this.items.drop(service, name);
  }

  /** §8.5: purge all items. */
  async purge(service: string, actor: Jid, name: string): Promise<void> {
    const node = await this.node(service, name);
    this.requireOwner(service, node, actor);
    if (!node.config.persist_items) throw pubsubError('feature-not-implemented', 'unsupported', { feature: 'persistent-items' });
    await this.items.purge(service, name);
    if (node.config.notify_retract || node.config.deliver_notifications) await this.broadcast(service, node, purgeEvent(node));
  }

  /** §7.1: publish an item; §7.1.5 publish-options are preconditions (or the config of an auto-created node). */
  async publish(service: string, actor: Jid, name: string, item: XmlElement | undefined, options?: XmlElement): Promise<PublishResult> {
    const bare = actor.toBareString();
    let node = await this.nodes.get(service, name);
    if (!node) {
      if (!this.host.autoCreate) throw pubsubError('item-not-found');
      // §7.1.4 / XEP-0163 §3: auto-create is node creation, under the same rule (PEP: the account only).
      node = await this.create(service, actor, name, options);
    } else if (!this.mayPublish(service, node, bare)) {
      // §7.1.3.1: refused before the preconditions, which would tell a stranger about the node's configuration.
      throw pubsubError('forbidden');
    } else if (options) {
      checkPreconditions(node.config, options, this.host.maxItems);
    }
    const payloads = item?.elements() ?? [];
    // §7.1.3.6 / §7.1.3.7: persistent or payload-delivering nodes need exactly one payload.
    if ((node.config.persist_items || node.config.deliver_payloads) && payloads.length === 0) throw pubsubError('bad-request', 'payload-required');
    if (payloads.length > 1) throw pubsubError('bad-request', 'invalid-payload');
    const stored: Omit<StoredItem, 'seq'> = {
      id: item?.attrs.id || newId(),
      payload: payloads[0]?.toString() ?? '',
      publisher: bare,
      when: Date.now(),
    };
    await this.items.put(service, name, stored, node.config.max_items, node.config.persist_items);
    const full = { ...stored, seq: 0 };
    if (node.config.deliver_notifications) await this.broadcast(service, node, itemsEvent(node, [full]));
    return { node, item: full };
  }

  /**
   * §7.2: delete an item; subscribers hear of it when asked (notify='true') or when notify_retract is on.
   * §4.1 / §7.2.3.1: owners retract any item, publishers too (the MAY of §4.1); whoever may still publish to the
   * node retracts the items they published. An entity that lost the right to publish (outcast, affiliation
   * removed, not the account of a PEP service) retracts nothing, and is refused before learning whether an item exists.
   */
  async retract(service: string, actor: Jid, name: string, id: string, notify: boolean | undefined): Promise<void> {
    const node = await this.node(service, name);
    const bare = actor.toBareString();
    const aff = this.affiliation(service, node, bare);
    if (!this.mayPublish(service, node, bare)) throw pubsubError('forbidden');
    const items = await this.items.items(service, name);
    const existing = items.get(id);
    if (!existing) throw pubsubError('item-not-found');
    if (aff !== 'owner' && aff !== 'publisher' && existing.publisher !== bare) throw pubsubError('forbidden');
    await this.items.retract(service, name, id);
    if (notify ?? node.config.notify_retract) await this.broadcast(service, node, itemsEvent(node, [], [id]));
  }

  /** §6.1: subscribe `jid` (must be the requester's bare or full JID, §6.1.3.1 invalid-jid). */
  async subscribe(service: string, actor: Jid, name: string, jid: string, options?: XmlElement): Promise<SubscriptionRecord> {
    let target: Jid;
    try {
      target = Jid.parse(jid);
    } catch {
      throw pubsubError('bad-request', 'invalid-jid');
    }
    if (target.toBareString() !== actor.toBareString()) throw pubsubError('bad-request', 'invalid-jid');
    const node = await this.node(service, name);
    const bare = actor.toBareString();
    const aff = this.affiliation(service, node, bare);
    const pending = node.config.access_model === 'authorize' && aff !== 'owner' && aff !== 'publisher' && aff !== 'member';
    if (!pending) await this.checkAccess(service, node, bare);
    else if (aff === 'outcast') throw pubsubError('forbidden');
    const existing = node.subscriptions.find((s) => s.jid === target.toString());
    const sub: SubscriptionRecord = existing ?? { jid: target.toString(), subid: newId(), state: pending ? 'pending' : 'subscribed', deliver: true };
    if (options) applySubscribeOptions(sub, options);
    if (!existing) node.subscriptions.push(sub);
    await this.nodes.save(service, node);
    // §6.1.7: the last published item on subscription.
    if (sub.state === 'subscribed' && node.config.send_last_published_item !== 'never') {
      setImmediate(() => void this.sendLast(service, node, sub.jid).catch(() => {}));
    }
    return sub;
  }

  /** §6.2: unsubscribe; several subscriptions need a subid (§6.2.3.1), an unknown one is invalid (§6.2.3.5). */
  async unsubscribe(service: string, actor: Jid, name: string, jid: string, subid: string | undefined): Promise<void> {
    const node = await this.node(service, name);
    const sub = this.findSubscription(service, node, actor, jid, subid);
    node.subscriptions.splice(node.subscriptions.indexOf(sub), 1);
    await this.nodes.save(service, node);
  }

  /** The subscription an entity refers to (§6.2.3 / §6.3.3 error cases). */
  findSubscription(service: string, node: NodeRecord, actor: Jid, jid: string, subid: string | undefined): SubscriptionRecord {
    let target: Jid;
    try {
      target = Jid.parse(jid);
    } catch {
      throw pubsubError('bad-request', 'invalid-jid');
    }
    const owner = this.affiliation(service, node, actor.toBareString()) === 'owner';
    if (target.toBareString() !== actor.toBareString() && !owner) throw pubsubError('forbidden');
    const subs = node.subscriptions.filter((s) => s.jid === target.toString());
    if (subs.length === 0) throw pubsubError('unexpected-request', 'not-subscribed');
    if (subid === undefined) {
      if (subs.length > 1) throw pubsubError('bad-request', 'subid-required');
      return subs[0]!;
    }
    const sub = subs.find((s) => s.subid === subid);
    if (!sub) throw pubsubError('not-acceptable', 'invalid-subid');
    return sub;
  }

  /** §6.5: items, newest last; `max` keeps the most recent ones (§6.5.7), `ids` picks some (§6.5.8). */
  async retrieve(service: string, actor: Jid, name: string, opts: { max?: number; ids?: string[] }): Promise<{ node: NodeRecord; items: StoredItem[] }> {
    const node = await this.node(service, name);
    await this.checkAccess(service, node, actor.toBareString());
    if (!node.config.persist_items && node.config.max_items === 0) throw pubsubError('feature-not-implemented', 'unsupported', { feature: 'persistent-items' });
    const all = [...(await this.items.items(service, name)).values()];
    let items = opts.ids ? all.filter((i) => opts.ids!.includes(i.id)) : all;
    if (opts.max !== undefined) items = items.slice(Math.max(0, items.length - opts.max));
    return { node, items };
  }

  /**
   * Sends an event to every explicit subscriber with delivery on and to the host's implicit recipients, each of
   * whom must pass the access model now (§15.3: the model decides whether notifications are sent, not only whether
   * one may subscribe). A subscription that no longer passes (presence subscription cancelled, moved out of the
   * roster group, whitelist membership removed) is cancelled on the way (XEP-0163 §7.1).
   */
  async broadcast(service: string, node: NodeRecord, content: XmlElement): Promise<void> {
    const rosters = new Map<string, Map<string, RosterEntry>>();
    const to = new Set<string>();
    const lost: SubscriptionRecord[] = [];
    for (const s of node.subscriptions) {
      if (s.state !== 'subscribed') continue;
      if (!(await this.mayAccess(service, node, bareOf(s.jid), rosters))) lost.push(s);
      else if (s.deliver) to.add(s.jid);
    }
    if (this.host.implicitRecipients) {
      for (const jid of await this.host.implicitRecipients(service, node)) {
        if (!to.has(jid) && (await this.mayAccess(service, node, bareOf(jid), rosters))) to.add(jid);
      }
    }
    await this.cancelSubscriptions(service, node, lost);
    for (const jid of to) {
      const msg = eventMessage(service, node, content);
      msg.attrs.to = jid;
      await this.host.send(msg);
    }
  }

  /** §4.5 / XEP-0163 §7.1: cancels the subscriptions whose subscriber the node's access model no longer admits. */
  async pruneSubscriptions(service: string, node: NodeRecord): Promise<void> {
    const rosters = new Map<string, Map<string, RosterEntry>>();
    const lost: SubscriptionRecord[] = [];
    for (const s of node.subscriptions) {
      if (s.state === 'subscribed' && !(await this.mayAccess(service, node, bareOf(s.jid), rosters))) lost.push(s);
    }
    await this.cancelSubscriptions(service, node, lost);
  }

  /** Removes subscriptions and tells each former subscriber (§13.14, subscription='none'). */
  private async cancelSubscriptions(service: string, node: NodeRecord, lost: SubscriptionRecord[]): Promise<void> {
    if (lost.length === 0) return;
    const gone = new Set(lost);
    // Filtered after the awaits above, so a subscription added meanwhile is kept.
    node.subscriptions = node.subscriptions.filter((s) => !gone.has(s));
    await this.nodes.save(service, node);
    for (const s of lost) {
      const msg = eventMessage(service, node, subscriptionEvent(node, s.jid, 'none'));
      msg.attrs.to = s.jid;
      await this.host.send(msg);
    }
  }

  /**
   * §6.1.7 / XEP-0163 §4.3.4: the last published item to one entity, with its publish time, if the entity may
   * see the node's items now (the last item is a delivery like any other, §15.3).
   */
  async sendLast(service: string, node: NodeRecord, to: string): Promise<void> {
    if (!(await this.mayAccess(service, node, bareOf(to)))) return;
    const last = await this.items.last(service, node.name);
    if (!last) return;
    const msg = eventMessage(service, node, itemsEvent(node, [last]), last.when);
    msg.attrs.to = to;
    await this.host.send(msg);
  }

  /** Removes a whole service (an account's PEP data on account deletion). */
  async deleteService(service: string): Promise<void> {
    for (const name of (await this.nodes.all(service)).keys()) await this.items.drop(service, name);
    await this.nodes.deleteAll(service);
  }
}

function bareOf(jid: string): string {
  return Jid.parse(jid).toBareString();
}
