// XEP-0060 data model shared by the pubsub service and PEP: node configuration (§16.4.4 pubsub#node_config),
// affiliations (§4.1), subscriptions (§4.2) and stored items, plus the pubsub-specific error helper (§7–§8).
import { NS, StanzaError, xml, type StanzaErrorCondition } from '@parley/protocol';

export type AccessModel = 'open' | 'presence' | 'roster' | 'whitelist' | 'authorize';
export type PublishModel = 'publishers' | 'subscribers' | 'open';
export type Affiliation = 'owner' | 'publisher' | 'publish-only' | 'member' | 'none' | 'outcast';
export type SendLastItem = 'never' | 'on_sub' | 'on_sub_and_presence';
export type SubscriptionState = 'subscribed' | 'pending' | 'unconfigured' | 'none';

export const ACCESS_MODELS: readonly AccessModel[] = ['open', 'presence', 'roster', 'whitelist', 'authorize'];
export const PUBLISH_MODELS: readonly PublishModel[] = ['publishers', 'subscribers', 'open'];
export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'publisher', 'publish-only', 'member', 'none', 'outcast'];
export const SEND_LAST: readonly SendLastItem[] = ['never', 'on_sub', 'on_sub_and_presence'];

export interface NodeConfig {
  title: string;
  description: string;
  /** pubsub#type: the payload namespace. */
  type: string;
  access_model: AccessModel;
  publish_model: PublishModel;
  /** Maximum number of items kept; the host's maximum stands for "max" (§16.4.4). */
  max_items: number;
  persist_items: boolean;
  deliver_payloads: boolean;
  deliver_notifications: boolean;
  notify_retract: boolean;
  notify_delete: boolean;
  notify_config: boolean;
  send_last_published_item: SendLastItem;
  roster_groups_allowed: string[];
  notification_type: 'headline' | 'normal';
}

export interface SubscriptionRecord {
  /** The subscribed JID as given (bare or full). */
  jid: string;
  subid: string;
  state: Exclude<SubscriptionState, 'none'>;
  /** §6.3 pubsub#deliver: false pauses notifications. */
  deliver: boolean;
}

export interface NodeRecord {
  name: string;
  config: NodeConfig;
  /** Bare JID → affiliation; 'none' is never stored. */
  affiliations: Record<string, Affiliation>;
  subscriptions: SubscriptionRecord[];
  created: number;
  creator: string;
}

export interface StoredItem {
  id: string;
  /** Serialised payload element ('' for a notification-only node item). */
  payload: string;
  publisher: string;
  /** Monotonic publish order within the node (re-publishing an id moves it to the end). */
  seq: number;
  when: number;
}

export function defaultNodeConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  return {
    title: '',
    description: '',
    type: '',
    access_model: 'open',
    publish_model: 'publishers',
    max_items: 10,
    persist_items: true,
    deliver_payloads: true,
    deliver_notifications: true,
    notify_retract: true,
    notify_delete: true,
    notify_config: false,
    send_last_published_item: 'on_sub',
    roster_groups_allowed: [],
    notification_type: 'headline',
    ...overrides,
  };
}

/** §7–§8: a stanza error with a pubsub#errors application condition, e.g. `<precondition-not-met/>`. */
export function pubsubError(
  condition: StanzaErrorCondition,
  app?: string,
  attrs?: Record<string, string>,
  text?: string,
): StanzaError {
  const appCondition = app ? xml(app, { xmlns: NS.PUBSUB_ERRORS, ...attrs }) : undefined;
  return new StanzaError(condition, text, { appCondition });
}

/** §5.x / Appendix: feature-not-implemented with `<unsupported feature='…'/>`. */
export function unsupported(feature: string): StanzaError {
  return pubsubError('feature-not-implemented', 'unsupported', { feature });
}

export function nodeidRequired(): StanzaError {
  return pubsubError('bad-request', 'nodeid-required');
}
