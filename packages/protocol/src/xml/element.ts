// A small XML element model for stanzas: name, attributes (xmlns kept as an attribute, as on the wire)
// and children. Namespaces are resolved by inheritance: a child without xmlns is in its parent's namespace.

export type Attrs = Record<string, string>;
export type XmlNode = XmlElement | string;

// CR in text, and tab/CR/LF in attribute values, are escaped because a parser would otherwise normalise them
// (XML 1.0 §2.11 end-of-line handling, §3.3.3 attribute-value normalisation) and the value would not round-trip.
const ESCAPE_TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const ESCAPE_ATTR: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;',
};
const TEXT_SPECIAL = /[&<>\r]/g;
const ATTR_SPECIAL = /[&<>"'\t\n\r]/g;

export function escapeText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_SPECIAL, (c) => ESCAPE_TEXT[c]!) : s;
}
export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL, (c) => ESCAPE_ATTR[c]!) : s;
}

export class XmlElement {
  name: string;
  attrs: Attrs;
  children: XmlNode[];

  constructor(name: string, attrs?: Attrs | null, children?: XmlNode[]) {
    this.name = name;
    this.attrs = attrs ?? {};
    this.children = children ?? [];
  }

  /** The namespace declared on this element itself (undefined when inherited). */
  get xmlns(): string | undefined {
    return this.attrs.xmlns;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** Sets (or, with undefined, removes) an attribute; returns this for chaining. */
  setAttr(name: string, value: string | undefined): this {
    if (value === undefined) delete this.attrs[name];
    else this.attrs[name] = value;
    return this;
  }

  /** First child element with this local name and (effective) namespace; namespace defaults to any. */
  getChild(name: string, xmlns?: string): XmlElement | undefined {
    for (const c of this.children) {
      if (typeof c !== 'string' && c.name === name && (xmlns === undefined || (c.attrs.xmlns ?? this.attrs.xmlns) === xmlns)) return c;
    }
    return undefined;
  }

  getChildren(name?: string, xmlns?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (name !== undefined && c.name !== name) continue;
      if (xmlns !== undefined && (c.attrs.xmlns ?? this.attrs.xmlns) !== xmlns) continue;
      out.push(c);
    }
    return out;
  }

  /** Child elements, text skipped. */
  elements(): XmlElement[] {
    return this.children.filter((c): c is XmlElement => typeof c !== 'string');
  }

  /** First child element in a namespace (any name): how payloads of iq and extensions are found. */
  getChildByNs(xmlns: string): XmlElement | undefined {
    for (const c of this.children) if (typeof c !== 'string' && (c.attrs.xmlns ?? this.attrs.xmlns) === xmlns) return c;
    return undefined;
  }

  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  getChildText(name: string, xmlns?: string): string | undefined {
    return this.getChild(name, xmlns)?.text();
  }

  /** Appends a child element and returns it (builder style: el.c('query', {xmlns}).c('item')). */
  c(name: string, attrs?: Attrs | null): XmlElement {
    const child = new XmlElement(name, attrs);
    this.children.push(child);
    return child;
  }

  /** Appends children; returns this. */
  append(...nodes: (XmlNode | undefined | null | false)[]): this {
    for (const n of nodes) if (n !== undefined && n !== null && n !== false) this.children.push(n);
    return this;
  }

  /** Appends a text node; returns this. */
  t(text: string): this {
    this.children.push(text);
    return this;
  }

  removeChildren(name: string, xmlns?: string): this {
    const parentNs = this.attrs.xmlns;
    this.children = this.children.filter(
      (c) => typeof c === 'string' || c.name !== name || (xmlns !== undefined && (c.attrs.xmlns ?? parentNs) !== xmlns),
    );
    return this;
  }

  /** A deep copy: stanzas are copied before a per-recipient change (to, delay) so that fan-out never aliases. */
  clone(): XmlElement {
    return new XmlElement(
      this.name,
      { ...this.attrs },
      this.children.map((c) => (typeof c === 'string' ? c : c.clone())),
    );
  }

  /** A shallow copy sharing the children: enough when only top-level attributes change. */
  shallowClone(): XmlElement {
    return new XmlElement(this.name, { ...this.attrs }, this.children);
  }

  toString(): string {
    let s = '<' + this.name;
    for (const k in this.attrs) {
      const v = this.attrs[k];
      if (v !== undefined) s += ' ' + k + "='" + escapeAttr(v) + "'";
    }
    if (this.children.length === 0) return s + '/>';
    s += '>';
    for (const c of this.children) s += typeof c === 'string' ? escapeText(c) : c.toString();
    return s + '</' + this.name + '>';
  }

  /** Serialises the opening tag only (for <stream:stream>). */
  openTag(): string {
    let s = '<' + this.name;
    for (const k in this.attrs) {
      const v = this.attrs[k];
      if (v !== undefined) s += ' ' + k + "='" + escapeAttr(v) + "'";
    }
    return s + '>';
  }
}

/** Element factory for readable literals: xml('iq', {type: 'result'}, xml('query', {xmlns})). */
export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (XmlNode | undefined | null | false)[]): XmlElement {
  const el = new XmlElement(name, attrs ? stripUndefined(attrs) : {});
  el.append(...children);
  return el;
}

function stripUndefined(attrs: Record<string, string | undefined>): Attrs {
  const out: Attrs = {};
  for (const k in attrs) if (attrs[k] !== undefined) out[k] = attrs[k];
  return out;
}
