// Streaming XML for XMPP: one long-lived root (<stream:stream>) whose depth-1 children are stanzas.
// Enforces RFC 6120 §11 restricted XML and a per-stanza size limit; the caller maps failures to stream errors.
// Namespaces are resolved here (RFC 6120 §11.2, XML-NAMES; see namespaces.ts): every element delivered is in its
// canonical form, local name plus a default `xmlns` where the namespace changes, whatever prefixes were sent.
// Input is text: transports decode bytes with a fatal streaming TextDecoder (`decode(bytes, {stream: true})`), which
// keeps a UTF-8 sequence split across reads intact and refuses ill-formed UTF-8 (RFC 6120 §11.6).
import { SaxesParser } from 'saxes';
import { XmlElement, type Attrs } from './element';
import { EMPTY_SCOPE, NamespaceError, NamespaceResolver, contentScope, localName, type CanonicalGrowth, type NamespaceScope } from './namespaces';

export type StreamParseErrorCondition = 'not-well-formed' | 'restricted-xml' | 'policy-violation';

export interface StreamParserHandlers {
  /**
   * The root element opened (for TCP, <stream:stream>); `name` and `attrs` are as sent, `ns` is the root's own
   * namespace and `contentNs` the default namespace its children are in ('' for none), both resolved.
   */
  onOpen(name: string, attrs: Attrs, ns: string, contentNs: string): void;
  /** A complete depth-1 element (a stanza or a negotiation element). */
  onElement(el: XmlElement): void;
  /** The root element closed (</stream:stream>). */
  onClose(): void;
  /** Input violated XML or the limits; the parser ignores everything after this. */
  onError(condition: StreamParseErrorCondition, text: string): void;
}

export interface StreamParserOptions {
  /**
   * Largest stanza accepted, in characters of markup as sent plus what its canonical form adds (namespaces.ts;
   * RFC 6120 §13.12 lets servers set a limit). Also bounds what is buffered while a stanza, a stream header or
   * anything else is incomplete.
   */
  maxStanzaSize: number;
  /**
   * 'stream' (default): the root is a stream header reported by onOpen/onClose and its children are stanzas.
   * 'document': the root element itself is built and delivered by onElement (one complete fragment).
   */
  mode?: 'stream' | 'document';
}

type SaxOptions = { xmlns: false; position: false };
const CLOSE = Symbol('close');
const XML_WHITESPACE = /^[ \t\r\n]*$/;

/** A saxes parser that knows its StreamParser, so the event handlers can be shared by every stream. */
class OwnedSaxes extends SaxesParser<SaxOptions> {
  owner!: StreamParser;
}
type Tag = { name: string; attributes: Record<string, string> };
// saxes calls some handlers detached from the parser, so each parser gets its own bound copies (bound
// functions are lighter than closures); the bodies are shared.
const HANDLERS = {
  opentag(this: OwnedSaxes, tag: Tag) { this.owner.onOpenTag(tag); },
  closetag(this: OwnedSaxes) { this.owner.onCloseTag(); },
  text(this: OwnedSaxes, text: string) { this.owner.onText(text); },
  cdata(this: OwnedSaxes, text: string) { this.owner.onCdata(text); },
  // RFC 6120 §11.1: no comments, processing instructions, DTDs or non-predefined entities.
  comment(this: OwnedSaxes) { this.owner.onRestricted('comments are not allowed'); },
  processinginstruction(this: OwnedSaxes) { this.owner.onRestricted('processing instructions are not allowed'); },
  doctype(this: OwnedSaxes) { this.owner.onRestricted('document type declarations are not allowed'); },
  error(this: OwnedSaxes, err: Error) { this.owner.onSaxError(err); },
};

function createSaxes(owner: StreamParser): OwnedSaxes {
  const p = new OwnedSaxes({ xmlns: false, position: false });
  p.owner = owner;
  for (const [event, handler] of Object.entries(HANDLERS)) p.on(event as 'text', (handler as (text: string) => void).bind(p));
  return p;
}

/** saxes's state number for "reading text inside an element", read once from a throwaway parser. */
const TEXT_STATE: number = (() => {
  const probe = new SaxesParser({ xmlns: false, position: false });
  probe.write('<r>');
  return (probe as unknown as { state: number }).state;
})();

export class StreamParser {
  /** Undefined while released (see release()); recreated on the next write. */
  private sax: OwnedSaxes | undefined;
  /** The root element as opened, to re-enter it when a released parser is recreated. */
  private rootOpenTag = '';
  /** Stream position of the current saxes parser's position 0 (it restarts when recreated). */
  private positionOffset = 0;
  /** Depth at which an element is complete: 1 under <stream:stream>, 0 for a lone document. */
  private readonly stanzaDepth: number;
  private stack: XmlElement[] = [];
  /**
   * Namespace scopes: [0] is what a stanza is resolved against (the stream's content namespace, or nothing for a
   * lone document), then one per element in `stack`.
   */
  private scopes: NamespaceScope[] = [EMPTY_SCOPE];
  private readonly namespaces = new NamespaceResolver();
  /** What the canonical form of the stanza under way adds to its markup as sent; counts towards the size limit. */
  private readonly growth: CanonicalGrowth = { added: 0 };
  private depth = 0;
  private failed = false;
  private ended = false;
  /**
   * A stanza (or the stream close) waiting for saxes to confirm its end tag: saxes reports a close event
   * before it notices that the end tag names another element, so delivery waits for the next event or the
   * end of the write().
   */
  private pending: XmlElement | typeof CLOSE | undefined;
  /** Stream position right after `pending`'s end tag: an error reported there is about that end tag. */
  private pendingAt = -1;
  /** Stream position (in characters) where the stanza under construction, or the next one, begins. */
  private stanzaStart = 0;
  /** Only whitespace has arrived since `stanzaStart`. */
  private idle = true;
  /** Characters written so far. saxes's own `position` is only meaningful inside its callbacks. */
  private written = 0;

  constructor(
    private readonly handlers: StreamParserHandlers,
    private readonly options: StreamParserOptions,
  ) {
    this.stanzaDepth = options.mode === 'document' ? 0 : 1;
    this.sax = createSaxes(this);
  }

  private get parser(): OwnedSaxes {
    if (this.sax) return this.sax;
    // Re-enter the root without reporting it: the fresh parser then stands exactly where the released one did.
    const primer = this.rootOpenTag;
    const p = createSaxes(this);
    this.priming = true;
    p.write(primer);
    this.priming = false;
    this.positionOffset = this.written - p.position;
    this.sax = p;
    return p;
  }

  private priming = false;

  /** Stream position in characters, valid inside saxes callbacks. */
  private get position(): number {
    return this.positionOffset + this.parser.position;
  }

  /**
   * Frees the saxes parser of a stream that sits between stanzas (an idle client): it is rebuilt on the next
   * write. Saves a few KiB per idle connection; returns whether it was released.
   */
  release(): boolean {
    const sax = this.sax;
    if (!sax || this.failed || this.ended || this.stanzaDepth !== 1 || this.depth !== 1) return false;
    if (this.stack.length > 0 || this.pending !== undefined) return false;
    // Only in saxes's plain-text state is nothing half-read (a tag, an entity, a CDATA section).
    if ((sax as unknown as { state: number }).state !== TEXT_STATE) return false;
    this.sax = undefined;
    return true;
  }

  onOpenTag(tag: Tag): void {
    if (this.priming) return;
    if (!this.flush()) return;
    // A plain object, like those built by xml(); saxes hands out prototype-less ones.
    const attrs: Attrs = { ...tag.attributes };
    if (this.isTooLarge()) return;
    const parentScope = this.scopes[this.scopes.length - 1]!;
    const isRoot = this.depth < this.stanzaDepth;
    let scope: NamespaceScope;
    try {
      // The root's attributes reach onOpen as sent, so it is resolved on a copy (and its canonical form not counted).
      scope = this.namespaces.open(tag.name, isRoot ? { ...attrs } : attrs, parentScope, isRoot ? { added: 0 } : this.growth);
    } catch (err) {
      if (!(err instanceof NamespaceError)) throw err;
      // RFC 6120 §4.9.3.13: XML that violates XML-NAMES is not-well-formed.
      return this.fail('not-well-formed', err.message);
    }
    if (isRoot) {
      this.depth++;
      this.rootOpenTag = `<${tag.name}${Object.entries(attrs).filter(([k]) => k === 'xmlns' || k.startsWith('xmlns:')).map(([k, v]) => ` ${k}='${v.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;')}'`).join('')}>`;
      // Stanzas are delivered on their own: one without `xmlns` is in the stream's content namespace.
      this.scopes = [contentScope(scope)];
      this.handlers.onOpen(tag.name, attrs, scope.ns, scope.defaultNs);
      this.markBoundary();
      return;
    }
    if (this.growth.added > 0 && this.isTooLarge()) return;
    const el = new XmlElement(localName(tag.name), attrs);
    this.stack[this.stack.length - 1]?.children.push(el);
    this.stack.push(el);
    this.scopes.push(scope);
    this.depth++;
  }

  onCloseTag(): void {
    if (!this.flush()) return;
    this.depth--;
    if (this.depth < this.stanzaDepth) {
      this.pending = CLOSE;
      this.pendingAt = this.position;
      return;
    }
    const el = this.stack.pop()!;
    const scope = this.scopes.pop()!;
    this.namespaces.close(scope, this.scopes[this.scopes.length - 1]!);
    if (this.stack.length === 0) {
      if (this.isTooLarge()) return;
      this.pending = el;
      this.pendingAt = this.position;
      this.markBoundary();
    }
  }

  onText(text: string): void {
    if (this.priming) return;
    if (!this.flush()) return;
    const parent = this.stack[this.stack.length - 1];
    if (!parent) {
      // Whitespace between stanzas is keepalive (RFC 6120 §4.6.1); text at depth 1 carries no meaning.
      // saxes reports it on reading the '<' that starts the next stanza.
      this.stanzaStart = this.position - 1;
      this.idle = false;
      return;
    }
    if (this.isTooLarge()) return;
    parent.children.push(text);
  }

  onCdata(text: string): void {
    if (!this.flush()) return;
    const parent = this.stack[this.stack.length - 1];
    if (!parent) return this.fail('not-well-formed', 'character data outside a stanza');
    if (this.isTooLarge()) return;
    parent.children.push(text);
  }

  onRestricted(text: string): void {
    if (!this.flushBeforeError()) return;
    this.fail('restricted-xml', text);
  }

  onSaxError(err: Error): void {
    if (!this.flushBeforeError()) return;
    // saxes reports a DOCTYPE after the root as misplaced before (or instead of) a doctype event.
    if (/undefined entity/.test(err.message)) this.fail('restricted-xml', 'only the predefined entities are allowed');
    else if (/doctype/.test(err.message)) this.fail('restricted-xml', 'document type declarations are not allowed');
    else this.fail('not-well-formed', err.message);
  }

  get isFailed(): boolean {
    return this.failed;
  }

  write(chunk: string): void {
    if (this.failed || this.ended) return;
    const start = this.written;
    this.written += chunk.length;
    try {
      this.parser.write(chunk);
      this.flush();
    } catch (err) {
      // A handler threw: the stream cannot continue in a known state.
      this.fail('not-well-formed', (err as Error).message);
      return;
    }
    if (this.failed) return;
    if (this.idle && this.stack.length === 0) {
      // RFC 6120 §4.6.1: whitespace keepalives between stanzas never add up to a stanza.
      if (XML_WHITESPACE.test(chunk.slice(Math.max(0, this.stanzaStart - start)))) this.stanzaStart = this.written;
      else this.idle = false;
    }
    // Bounds what saxes buffers inside an unfinished stanza, tag, text node or entity.
    this.isTooLarge(this.written);
  }

  /** The input is over: an unclosed element or a truncated tag is not-well-formed. */
  end(): void {
    if (this.failed || this.ended) return;
    this.ended = true;
    try {
      this.parser.close();
      this.flush();
    } catch (err) {
      this.fail('not-well-formed', (err as Error).message);
    }
  }

  /**
   * A stanza (or the stream's close) that ended before the error is well-formed: it is delivered, whether or not
   * the bad input after it came in the same read (found by fuzzing: `<message/><a<` in one chunk lost the message,
   * in two it was delivered). Only an error at its own end tag — a mismatched name — takes it back.
   */
  private flushBeforeError(): boolean {
    if (this.pending === undefined || this.position === this.pendingAt) return true;
    return this.flush();
  }

  /** Delivers what the previous close event left pending; false once the parser has failed. */
  private flush(): boolean {
    if (this.failed) return false;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === CLOSE) this.handlers.onClose();
    else if (pending !== undefined) this.handlers.onElement(pending);
    return !this.failed;
  }

  private markBoundary(): void {
    this.stanzaStart = this.position;
    this.growth.added = 0;
    this.idle = true;
  }

  /** Fails with policy-violation when the stanza under way has grown past the limit at `position`. */
  private isTooLarge(position = this.position): boolean {
    if (position - this.stanzaStart + this.growth.added <= this.options.maxStanzaSize) return false;
    this.fail('policy-violation', `stanza larger than ${this.options.maxStanzaSize} characters`);
    return true;
  }

  private fail(condition: StreamParseErrorCondition, text: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stack = [];
    this.scopes = [EMPTY_SCOPE];
    this.namespaces.reset();
    this.pending = undefined;
    this.handlers.onError(condition, text);
  }
}

/** Parses one complete XML fragment (a test literal, a stored payload, a WebSocket frame). */
export function parseXml(text: string, maxSize = 1 << 24): XmlElement {
  let result: XmlElement | undefined;
  let error: string | undefined;
  const parser = new StreamParser(
    {
      onOpen: () => {},
      onElement: (el) => {
        result = el;
      },
      onClose: () => {},
      onError: (condition, message) => {
        error = `${condition}: ${message}`;
      },
    },
    { maxStanzaSize: maxSize, mode: 'document' },
  );
  parser.write(text);
  parser.end();
  if (error !== undefined) throw new Error(error);
  if (!result) throw new Error('not-well-formed: no element');
  return result;
}
