// Streaming XML for XMPP: one long-lived root (<stream:stream>) whose depth-1 children are stanzas.
// Enforces RFC 6120 §11 restricted XML and a per-stanza size limit; the caller maps failures to stream errors.
import { SaxesParser } from 'saxes';
import { XmlElement, type Attrs } from './element';

export type StreamParseErrorCondition = 'not-well-formed' | 'restricted-xml' | 'policy-violation';

export interface StreamParserHandlers {
  /** The root element opened (for TCP, <stream:stream>); `name` is the qualified name as sent. */
  onOpen(name: string, attrs: Attrs): void;
  /** A complete depth-1 element (a stanza or a negotiation element). */
  onElement(el: XmlElement): void;
  /** The root element closed (</stream:stream>). */
  onClose(): void;
  /** Input violated XML or the limits; the parser ignores everything after this. */
  onError(condition: StreamParseErrorCondition, text: string): void;
}

export interface StreamParserOptions {
  /** Largest stanza accepted, in characters of markup (RFC 6120 §13.12 lets servers set a limit). */
  maxStanzaSize: number;
}

export class StreamParser {
  private readonly parser: SaxesParser<{}>;
  private stack: XmlElement[] = [];
  private depth = 0;
  private failed = false;
  private stanzaSize = 0; // characters of the stanza under construction
  private bytesSinceBoundary = 0; // bound on buffered input inside one stanza, at chunk granularity

  constructor(
    private readonly handlers: StreamParserHandlers,
    private readonly options: StreamParserOptions,
  ) {
    const p = new SaxesParser({ xmlns: false, position: false });
    this.parser = p;
    p.on('opentag', (tag) => {
      if (this.failed) return;
      const attrs = tag.attributes as Attrs;
      if (this.depth === 0) {
        this.depth = 1;
        this.handlers.onOpen(tag.name, attrs);
        return;
      }
      const el = new XmlElement(tag.name, attrs);
      let size = tag.name.length * 2 + 5;
      for (const k in attrs) size += k.length + attrs[k]!.length + 4;
      this.grow(size);
      const parent = this.stack[this.stack.length - 1];
      if (parent) parent.children.push(el);
      this.stack.push(el);
      this.depth++;
    });
    p.on('closetag', () => {
      if (this.failed) return;
      this.depth--;
      if (this.depth === 0) {
        this.handlers.onClose();
        return;
      }
      const el = this.stack.pop()!;
      if (this.stack.length === 0) {
        this.stanzaSize = 0;
        this.bytesSinceBoundary = 0;
        this.handlers.onElement(el);
      }
    });
    p.on('text', (text) => {
      if (this.failed) return;
      const parent = this.stack[this.stack.length - 1];
      // Whitespace between stanzas is keepalive (RFC 6120 §4.6.1); text at depth 1 carries no meaning.
      if (!parent) return;
      this.grow(text.length);
      parent.children.push(text);
    });
    p.on('cdata', (text) => {
      if (this.failed) return;
      const parent = this.stack[this.stack.length - 1];
      if (!parent) return this.fail('not-well-formed', 'character data outside a stanza');
      this.grow(text.length);
      parent.children.push(text);
    });
    // RFC 6120 §11.1: no comments, processing instructions, DTDs or non-predefined entities.
    p.on('comment', () => this.fail('restricted-xml', 'comments are not allowed'));
    p.on('processinginstruction', () => this.fail('restricted-xml', 'processing instructions are not allowed'));
    p.on('doctype', () => this.fail('restricted-xml', 'document type declarations are not allowed'));
    p.on('error', (err) => {
      const message = err.message.replace(/^[^:]*:\d+:\d+: /, '');
      if (/undefined entity/.test(message)) this.fail('restricted-xml', 'only the predefined entities are allowed');
      else this.fail('not-well-formed', message);
    });
  }

  get isFailed(): boolean {
    return this.failed;
  }

  write(chunk: string): void {
    if (this.failed) return;
    try {
      this.parser.write(chunk);
    } catch (err) {
      this.fail('not-well-formed', (err as Error).message);
      return;
    }
    if (this.stack.length > 0) {
      this.bytesSinceBoundary += chunk.length;
      if (this.bytesSinceBoundary > this.options.maxStanzaSize + 65536) this.tooLarge();
    } else {
      this.bytesSinceBoundary = 0;
    }
  }

  private grow(n: number): void {
    this.stanzaSize += n;
    if (this.stanzaSize > this.options.maxStanzaSize) this.tooLarge();
  }

  private tooLarge(): void {
    this.fail('policy-violation', `stanza larger than ${this.options.maxStanzaSize} bytes`);
  }

  private fail(condition: StreamParseErrorCondition, text: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stack = [];
    this.handlers.onError(condition, text);
  }
}

/** Parses one complete XML fragment (a test literal, a stored payload, a WebSocket frame). */
export function parseXml(text: string, maxSize = 1 << 24): XmlElement {
  let result: XmlElement | undefined;
  let error: string | undefined;
  const parser = new StreamParser(
    {
      onOpen: (name, attrs) => {
        result = new XmlElement(name, attrs);
        (parser as unknown as { stack: XmlElement[] }).stack.push(result);
      },
      onElement: () => {},
      onClose: () => {},
      onError: (condition, text) => {
        error = `${condition}: ${text}`;
      },
    },
    { maxStanzaSize: maxSize },
  );
  parser.write(text);
  if (error) throw new Error(error);
  if (!result) throw new Error('not-well-formed: no element');
  return result;
}
