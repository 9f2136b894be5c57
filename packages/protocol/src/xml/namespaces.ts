// Namespaces in XML 1.0 (W3C, third edition) for the stream parser: every element is resolved to its expanded name
// (local name + namespace) whatever prefix the sender chose, and rewritten in one canonical form: no element
// prefixes, a default `xmlns` wherever the namespace differs from the parent's. RFC 6120 §11.2 puts XMPP on
// XML-NAMES; filters that strip or refuse elements by namespace (`getChild(name, ns)`, `attrs.xmlns`) then see
// `<u:x xmlns:u='…muc#user'>` as the `<x xmlns='…muc#user'>` it is, and cannot be bypassed by a prefix.
import { NS } from '../ns';
import type { Attrs } from './element';

/** The namespace context of one open element, shared by its children until one of them declares something. */
export interface NamespaceScope {
  /** The element's own namespace ('' for none): what a child without `xmlns` inherits in the canonical form. */
  readonly ns: string;
  /** The default namespace the sender declared for unprefixed children ('' for none). */
  readonly defaultNs: string;
  /** Prefixes this element declared: their bindings end when it closes (NamespaceResolver.close). */
  readonly declared?: readonly string[];
}

/**
 * Characters the canonical form added to what was sent (an inherited namespace written out, a prefix binding
 * repeated for an attribute). The stream parser counts them against its stanza size limit: a long namespace
 * declared once and inherited by many small elements must not grow a stanza past the limit after parsing.
 */
export interface CanonicalGrowth {
  added: number;
}

/** A violation of XML-NAMES: RFC 6120 §4.9.3.13 makes it a not-well-formed stream error. */
export class NamespaceError extends Error {}

/** No namespace and no bindings: the context of a document's root element. */
export const EMPTY_SCOPE: NamespaceScope = { ns: '', defaultNs: '' };

/** The scope a stream's stanzas are resolved against: the root's default namespace is the one they inherit. */
export function contentScope(root: NamespaceScope): NamespaceScope {
  return { ns: root.defaultNs, defaultNs: root.defaultNs };
}

/**
 * Prefix bindings of one document or stream, in one table: a declaration pushes a binding that the declaring
 * element's close pops, so lookups are O(1) and nesting never copies bindings (deeply nested declarations in one
 * stanza cost memory in proportion to their number, not its square).
 */
export class NamespaceResolver {
  /** Prefix → its bindings, innermost last ('xml' is fixed and never in here). */
  private readonly bindings = new Map<string, string[]>();

  /**
   * Resolves an element's qualified name and attributes against its parent's scope, rewriting `attrs` in place into
   * the canonical form, and returns the element's scope (its namespace is `scope.ns`; its local name is the part of
   * `name` after any prefix). Throws NamespaceError for what XML-NAMES forbids: unbound prefixes, malformed
   * qualified names, misuse of the reserved 'xml' and 'xmlns' prefixes and namespaces, one attribute twice.
   */
  open(name: string, attrs: Attrs, parent: NamespaceScope, growth: CanonicalGrowth): NamespaceScope {
    return resolveElement(name, attrs, parent, growth, this);
  }

  /** The element with this scope closed (`parent` is the scope it was opened in): its declarations end. */
  close(scope: NamespaceScope, parent: NamespaceScope): void {
    if (scope === parent || scope.declared === undefined) return;
    for (const prefix of scope.declared) {
      const stack = this.bindings.get(prefix)!;
      stack.pop();
      if (stack.length === 0) this.bindings.delete(prefix);
    }
  }

  /** Forgets every binding (after a parse error). */
  reset(): void {
    this.bindings.clear();
  }

  lookup(prefix: string): string | undefined {
    const stack = this.bindings.get(prefix);
    return stack?.[stack.length - 1];
  }

  declare(prefix: string, uri: string): void {
    const stack = this.bindings.get(prefix);
    if (stack) stack.push(uri);
    else this.bindings.set(prefix, [uri]);
  }
}

function resolveElement(name: string, attrs: Attrs, parent: NamespaceScope, growth: CanonicalGrowth, table: NamespaceResolver): NamespaceScope {
  // Fast path, nearly every element: no prefix on the name and no attribute but xml:lang with one.
  if (name.indexOf(':') === -1) {
    let qualified = false;
    for (const key in attrs) {
      if (key.indexOf(':') !== -1 && key !== 'xml:lang') {
        qualified = true;
        break;
      }
    }
    if (!qualified) {
      const declared = attrs.xmlns;
      if (declared === undefined) {
        if (parent.ns === parent.defaultNs) return parent;
        // The parent was written with a prefix, so in the canonical form it no longer passes this default on.
        attrs.xmlns = parent.defaultNs;
        growth.added += parent.defaultNs.length + 9; // ` xmlns=''`
        return { ns: parent.defaultNs, defaultNs: parent.defaultNs };
      }
      checkDefaultNamespace(declared);
      if (declared === parent.ns && declared === parent.defaultNs) return parent;
      return { ns: declared, defaultNs: declared };
    }
  }
  return resolveQualified(name, attrs, parent, growth, table);
}

/** The local part of a qualified name. */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

function resolveQualified(name: string, attrs: Attrs, parent: NamespaceScope, growth: CanonicalGrowth, table: NamespaceResolver): NamespaceScope {
  const keys = Object.keys(attrs);
  const sentDefault = attrs.xmlns;
  let defaultNs = parent.defaultNs;
  let declared: string[] | undefined;
  // XML-NAMES §3: declarations apply to the element that carries them, so they are read first.
  for (const key of keys) {
    if (key === 'xmlns') {
      defaultNs = attrs.xmlns!;
      checkDefaultNamespace(defaultNs);
      continue;
    }
    if (!key.startsWith('xmlns:')) continue;
    const prefix = key.slice(6);
    const uri = attrs[key]!;
    checkNcName(prefix, key);
    // XML-NAMES §3 "Reserved Prefixes and Namespace Names".
    if (prefix === 'xmlns') throw new NamespaceError("the prefix 'xmlns' must not be declared");
    if (prefix === 'xml') {
      if (uri !== NS.XML) throw new NamespaceError("the prefix 'xml' is bound to its namespace only");
    } else {
      if (uri === '') throw new NamespaceError(`the prefix '${prefix}' cannot be undeclared (XML-NAMES 1.0)`);
      if (uri === NS.XML || uri === NS.XMLNS) throw new NamespaceError(`'${uri}' is reserved`);
      table.declare(prefix, uri);
      (declared ??= []).push(prefix);
    }
    // The canonical form keeps no element prefixes; attributes that use one get their binding back below.
    delete attrs[key];
  }

  let ns = defaultNs;
  const colon = name.indexOf(':');
  if (colon !== -1) {
    const prefix = name.slice(0, colon);
    checkNcName(prefix, name);
    checkNcName(name.slice(colon + 1), name);
    if (prefix === 'xmlns') throw new NamespaceError("element names must not use the prefix 'xmlns'");
    ns = prefix === 'xml' ? NS.XML : bound(table, prefix, name);
  }

  // The element's namespace is written before the bindings its attributes get back below, so the canonical form is a
  // fixed point: parsed again, `xmlns` keeps its place and the bindings are appended after it as here. (Attribute order
  // carries no meaning, XML 1.0 §3.1, but a stored or forwarded copy must serialise exactly as the original did.)
  if (ns !== parent.ns || attrs.xmlns !== undefined) {
    growth.added += sentDefault === undefined ? ns.length + 9 : Math.max(0, ns.length - sentDefault.length);
    attrs.xmlns = ns;
  }

  // Attributes with a prefix are in that prefix's namespace (unprefixed ones are in none, XML-NAMES §6.2).
  let expanded: Set<string> | undefined;
  for (const key of keys) {
    const colon = key.indexOf(':');
    if (colon === -1 || key.startsWith('xmlns:')) continue;
    const prefix = key.slice(0, colon);
    const local = key.slice(colon + 1);
    checkNcName(prefix, key);
    checkNcName(local, key);
    if (prefix === 'xmlns') continue;
    let uri: string;
    if (prefix === 'xml') uri = NS.XML;
    else {
      uri = bound(table, prefix, key);
      const declaration = `xmlns:${prefix}`;
      if (attrs[declaration] === undefined) growth.added += declaration.length + uri.length + 4; // ` ${declaration}=''`
      attrs[declaration] = uri;
    }
    // XML-NAMES §6.3: no two attributes with the same expanded name.
    expanded ??= new Set();
    const id = `${uri} ${local}`;
    if (expanded.has(id)) throw new NamespaceError(`attribute '${key}' appears twice under different prefixes`);
    expanded.add(id);
  }

  return declared ? { ns, defaultNs, declared } : { ns, defaultNs };
}

function bound(table: NamespaceResolver, prefix: string, name: string): string {
  const uri = table.lookup(prefix);
  if (uri === undefined) throw new NamespaceError(`unbound prefix '${prefix}' in '${name}'`);
  return uri;
}

function checkDefaultNamespace(uri: string): void {
  if (uri === NS.XML || uri === NS.XMLNS) throw new NamespaceError(`'${uri}' cannot be the default namespace`);
}

/** XML-NAMES §3: prefixes and local parts are NCNames (saxes has checked the rest of the Name production). */
function checkNcName(part: string, name: string): void {
  if (part === '' || part.indexOf(':') !== -1) throw new NamespaceError(`'${name}' is not a qualified name`);
}
