// XEP-0004 data forms: building forms to send and reading submitted ones. Shared by MUC room
// configuration, pubsub node configuration, ad-hoc commands and registration.
import { NS } from '../ns';
import { StanzaError } from '../errors';
import { xml, type XmlElement } from '../xml/element';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single'
  | 'text-multi' | 'text-private' | 'text-single';

export interface FormField {
  var?: string;
  type?: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  values?: string[];
  options?: { label?: string; value: string }[];
}

export interface Form {
  type: 'form' | 'submit' | 'cancel' | 'result';
  title?: string;
  instructions?: string;
  fields: FormField[];
}

export function formElement(form: Form): XmlElement {
  const x = xml('x', { xmlns: NS.DATA, type: form.type });
  if (form.title) x.append(xml('title', null, form.title));
  if (form.instructions) x.append(xml('instructions', null, form.instructions));
  for (const f of form.fields) {
    const field = xml('field', { var: f.var, type: f.type, label: f.label });
    if (f.desc) field.append(xml('desc', null, f.desc));
    if (f.required) field.append(xml('required'));
    for (const o of f.options ?? []) field.append(xml('option', { label: o.label }, xml('value', null, o.value)));
    for (const v of f.values ?? []) field.append(xml('value', null, v));
    x.append(field);
  }
  return x;
}

/** A submitted form as a map from var to values. FORM_TYPE is included like any hidden field. */
export class SubmittedForm {
  constructor(
    readonly type: string,
    readonly values: Map<string, string[]>,
  ) {}

  static parse(x: XmlElement): SubmittedForm {
    if (x.name !== 'x' || x.attrs.xmlns !== NS.DATA) throw new StanzaError('bad-request', 'expected a jabber:x:data form');
    const values = new Map<string, string[]>();
    for (const f of x.getChildren('field')) {
      const v = f.attrs.var;
      if (v === undefined) continue;
      values.set(v, f.getChildren('value').map((e) => e.text()));
    }
    return new SubmittedForm(x.attrs.type ?? 'form', values);
  }

  get formType(): string | undefined {
    return this.values.get('FORM_TYPE')?.[0];
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  text(name: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined ? undefined : v.join('\n');
  }

  list(name: string): string[] | undefined {
    return this.values.get(name);
  }

  /** XEP-0004 §3.3: boolean values are "0", "1", "false" or "true". */
  boolean(name: string): boolean | undefined {
    const v = this.values.get(name)?.[0];
    if (v === undefined) return undefined;
    if (v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false') return false;
    throw new StanzaError('not-acceptable', `field ${name}: not a boolean`);
  }

  integer(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.values.get(name)?.[0];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new StanzaError('not-acceptable', `field ${name}: expected an integer from ${min} to ${max}`);
    return n;
  }

  /** Rejects fields the receiver does not know (used where the XEP says unknown fields are an error). */
  assertKnown(known: Iterable<string>): void {
    const set = new Set(known);
    for (const k of this.values.keys()) {
      if (k !== 'FORM_TYPE' && !set.has(k)) throw new StanzaError('not-acceptable', `unknown field ${k}`);
    }
  }
}

/** The first data form in an element, if any. */
export function findForm(parent: XmlElement): XmlElement | undefined {
  return parent.getChild('x', NS.DATA);
}
