// XEP-0060 §8.2 node configuration (FORM_TYPE pubsub#node_config, §16.4.4), §7.1.5 publish-options
// preconditions, §6.3 subscription options (pubsub#subscribe_options) and the XEP-0128 pubsub#meta-data
// form used in disco#info of a node (§5.4).
import { NS, SubmittedForm, formElement, type FormField, type XmlElement } from '@parley/protocol';
import {
  ACCESS_MODELS, PUBLISH_MODELS, SEND_LAST, pubsubError,
  type NodeConfig, type NodeRecord, type SubscriptionRecord,
} from './types';

const bool = (b: boolean): string => (b ? '1' : '0');
const opts = (values: readonly string[]) => values.map((value) => ({ value }));

/** The fields of pubsub#node_config with the node's current values. */
function configFields(c: NodeConfig, maxItems: number): FormField[] {
  return [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS.PUBSUB_NODE_CONFIG] },
    { var: 'pubsub#title', type: 'text-single', label: 'A friendly name for the node', values: [c.title] },
    { var: 'pubsub#description', type: 'text-single', label: 'A description of the node', values: [c.description] },
    { var: 'pubsub#type', type: 'text-single', label: 'The type of node data, usually a namespace', values: [c.type] },
    { var: 'pubsub#access_model', type: 'list-single', label: 'Who may subscribe and retrieve items', options: opts(ACCESS_MODELS), values: [c.access_model] },
    { var: 'pubsub#publish_model', type: 'list-single', label: 'Who may publish', options: opts(PUBLISH_MODELS), values: [c.publish_model] },
    { var: 'pubsub#roster_groups_allowed', type: 'list-multi', label: 'Roster groups allowed to subscribe', values: c.roster_groups_allowed },
    { var: 'pubsub#max_items', type: 'text-single', label: `Max number of items to persist (up to ${maxItems}, or "max")`, values: [c.max_items >= maxItems ? 'max' : String(c.max_items)] },
    { var: 'pubsub#persist_items', type: 'boolean', label: 'Persist items to storage', values: [bool(c.persist_items)] },
    { var: 'pubsub#deliver_notifications', type: 'boolean', label: 'Deliver event notifications', values: [bool(c.deliver_notifications)] },
    { var: 'pubsub#deliver_payloads', type: 'boolean', label: 'Deliver payloads with event notifications', values: [bool(c.deliver_payloads)] },
    { var: 'pubsub#notify_retract', type: 'boolean', label: 'Notify subscribers when items are removed', values: [bool(c.notify_retract)] },
    { var: 'pubsub#notify_delete', type: 'boolean', label: 'Notify subscribers when the node is deleted', values: [bool(c.notify_delete)] },
    { var: 'pubsub#notify_config', type: 'boolean', label: 'Notify subscribers when the configuration changes', values: [bool(c.notify_config)] },
    { var: 'pubsub#send_last_published_item', type: 'list-single', label: 'When to send the last published item', options: opts(SEND_LAST), values: [c.send_last_published_item] },
    { var: 'pubsub#notification_type', type: 'list-single', label: 'Message type of notifications', options: opts(['headline', 'normal']), values: [c.notification_type] },
  ];
}

export function configForm(c: NodeConfig, maxItems: number, type: 'form' | 'result' = 'form'): XmlElement {
  return formElement({ type, fields: configFields(c, maxItems) });
}

function oneOf<T extends string>(form: SubmittedForm, name: string, allowed: readonly T[]): T | undefined {
  const v = form.text(name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw pubsubError('not-acceptable', undefined, undefined, `${name}: unsupported value '${v}'`);
  return v as T;
}

function parseMaxItems(v: string | undefined, maxItems: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'max') return maxItems;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw pubsubError('not-acceptable', undefined, undefined, 'pubsub#max_items: expected an integer or "max"');
  // §8.2.3.5 / §16.4.4: more than the service supports is not acceptable.
  if (n > maxItems) throw pubsubError('not-acceptable', undefined, undefined, `pubsub#max_items: at most ${maxItems}`);
  return n;
}

/** §8.2.4: applies a submitted configuration form; unknown values are not-acceptable. Returns a new config. */
export function applyConfigForm(base: NodeConfig, x: XmlElement, maxItems: number): NodeConfig {
  const form = SubmittedForm.parse(x);
  if (form.type === 'cancel') return base;
  const ft = form.formType;
  if (ft !== undefined && ft !== NS.PUBSUB_NODE_CONFIG && ft !== NS.PUBSUB_PUBLISH_OPTIONS) {
    throw pubsubError('bad-request', undefined, undefined, `unexpected FORM_TYPE ${ft}`);
  }
  const c: NodeConfig = { ...base, roster_groups_allowed: [...base.roster_groups_allowed] };
  const text = (k: string) => form.text(k);
  if (form.has('pubsub#title')) c.title = text('pubsub#title') ?? '';
  if (form.has('pubsub#description')) c.description = text('pubsub#description') ?? '';
  if (form.has('pubsub#type')) c.type = text('pubsub#type') ?? '';
  c.access_model = oneOf(form, 'pubsub#access_model', ACCESS_MODELS) ?? c.access_model;
  c.publish_model = oneOf(form, 'pubsub#publish_model', PUBLISH_MODELS) ?? c.publish_model;
  c.send_last_published_item = oneOf(form, 'pubsub#send_last_published_item', SEND_LAST) ?? c.send_last_published_item;
  c.notification_type = oneOf(form, 'pubsub#notification_type', ['headline', 'normal'] as const) ?? c.notification_type;
  if (form.has('pubsub#roster_groups_allowed')) c.roster_groups_allowed = form.list('pubsub#roster_groups_allowed') ?? [];
  c.max_items = parseMaxItems(text('pubsub#max_items'), maxItems) ?? c.max_items;
  for (const k of ['persist_items', 'deliver_payloads', 'deliver_notifications', 'notify_retract', 'notify_delete', 'notify_config'] as const) {
    const v = form.boolean(`pubsub#${k}`);
    if (v !== undefined) c[k] = v;
  }
  return c;
}

/** How a field of the config reads, for comparing a precondition with the node (§7.1.5). */
function fieldValues(c: NodeConfig, maxItems: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of configFields(c, maxItems)) if (f.var && f.var !== 'FORM_TYPE') out.set(f.var, f.values ?? []);
  return out;
}

function normalise(name: string, values: string[], maxItems: number): string[] {
  if (values.length === 1 && ['1', 'true'].includes(values[0]!) ) return ['1'];
  if (values.length === 1 && ['0', 'false'].includes(values[0]!)) return ['0'];
  if (name === 'pubsub#max_items' && values[0] !== undefined && values[0] !== 'max' && Number(values[0]) >= maxItems) return ['max'];
  return values;
}

/**
 * §7.1.5: every field of the publish-options form is a precondition on the node's configuration; a mismatch is
 * `<conflict/>` with `<precondition-not-met/>`. Fields we do not know cannot be met either.
 */
export function checkPreconditions(c: NodeConfig, x: XmlElement, maxItems: number): void {
  const form = SubmittedForm.parse(x);
  if (form.formType !== undefined && form.formType !== NS.PUBSUB_PUBLISH_OPTIONS) {
    throw pubsubError('bad-request', 'invalid-options', undefined, 'publish-options need FORM_TYPE pubsub#publish-options');
  }
  const current = fieldValues(c, maxItems);
  for (const [name, values] of form.values) {
    if (name === 'FORM_TYPE') continue;
    const have = current.get(name);
    const want = normalise(name, values, maxItems);
    const ok = have !== undefined && JSON.stringify(normalise(name, have, maxItems)) === JSON.stringify(want);
    if (!ok) throw pubsubError('conflict', 'precondition-not-met', undefined, `precondition ${name} not met`);
  }
}

/** XEP-0128 extended disco#info of a node (§5.4, FORM_TYPE pubsub#meta-data). */
export function metaDataForm(node: NodeRecord): XmlElement {
  const owners = Object.entries(node.affiliations).filter(([, a]) => a === 'owner').map(([j]) => j);
  const publishers = Object.entries(node.affiliations).filter(([, a]) => a === 'publisher').map(([j]) => j);
  const c = node.config;
  return formElement({
    type: 'result',
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.PUBSUB_META_DATA] },
      { var: 'pubsub#title', values: [c.title] },
      { var: 'pubsub#description', values: [c.description] },
      { var: 'pubsub#type', values: [c.type] },
      { var: 'pubsub#access_model', values: [c.access_model] },
      { var: 'pubsub#publish_model', values: [c.publish_model] },
      { var: 'pubsub#owner', type: 'jid-multi', values: owners },
      { var: 'pubsub#publisher', type: 'jid-multi', values: publishers },
      { var: 'pubsub#creation_date', values: [new Date(node.created).toISOString()] },
      { var: 'pubsub#num_subscribers', values: [String(node.subscriptions.filter((s) => s.state === 'subscribed').length)] },
    ],
  });
}

/** §6.3.2 subscription options form (deliver on/off; no digests). */
export function subscribeOptionsForm(sub: SubscriptionRecord): XmlElement {
  return formElement({
    type: 'form',
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.PUBSUB_SUBSCRIBE_OPTIONS] },
      { var: 'pubsub#deliver', type: 'boolean', label: 'Enable delivery?', values: [bool(sub.deliver)] },
      { var: 'pubsub#digest', type: 'boolean', label: 'Receive digest notifications (approx. one per day)?', values: ['0'] },
      { var: 'pubsub#include_body', type: 'boolean', label: 'Receive message body in addition to payload?', values: ['0'] },
    ],
  });
}

/** §6.3.5: applies submitted subscription options; unsupported values are `<invalid-options/>`. */
export function applySubscribeOptions(sub: SubscriptionRecord, x: XmlElement): void {
  const form = SubmittedForm.parse(x);
  if (form.type === 'cancel') return;
  let deliver: boolean | undefined;
  try {
    deliver = form.boolean('pubsub#deliver');
    if (form.boolean('pubsub#digest') === true || form.boolean('pubsub#include_body') === true) throw new Error('unsupported');
  } catch {
    throw pubsubError('bad-request', 'invalid-options');
  }
  if (deliver !== undefined) sub.deliver = deliver;
}
