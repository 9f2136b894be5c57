// The framing of a raw XML stream (RFC 6120 §4): one <stream:stream> root whose children are the stanzas, as TCP,
// direct TLS and the in-memory test connection carry it. Text in → open / element / close / error events; our
// header and closing tag out. Restricted XML and the stanza size limit are the streaming parser's (RFC 6120 §11,
// §13.12).
import { NS, StreamError, StreamParser, xml, type Attrs } from '@parley/protocol';
import type { FramedHandlers, StreamHeader } from '../net/connection';

export class XmlStreamFraming {
  private parser!: StreamParser;

  constructor(
    private readonly handlers: () => FramedHandlers | undefined,
    private readonly maxStanzaSize: number,
  ) {
    this.restart();
  }

  /** Text as decoded from the transport. */
  write(text: string): void {
    this.parser.write(text);
  }

  /** RFC 6120 §4.3.3, §5.4.3.3: a new stream begins; nothing of the old one is kept. */
  restart(): void {
    this.parser = new StreamParser(
      {
        onOpen: (name, attrs) => this.handlers()?.onOpen(readHeader(name, attrs)),
        onElement: (el) => this.handlers()?.onElement(el),
        onClose: () => this.handlers()?.onClose(),
        onError: (condition, text) => this.handlers()?.onError(new StreamError(condition, text)),
      },
      { maxStanzaSize: this.maxStanzaSize },
    );
  }

  /** Frees the parser's buffers between stanzas of an idle peer. */
  release(): void {
    this.parser.release();
  }
}

/** RFC 6120 §4.7: our header, with the XML declaration, as the opening tag of the stream. */
export function streamHeader(attrs: Record<string, string | undefined>, contentNamespace: string): string {
  return `<?xml version='1.0'?>${xml('stream:stream', { xmlns: contentNamespace, 'xmlns:stream': NS.STREAM, ...attrs }).openTag()}`;
}

export const STREAM_CLOSE = '</stream:stream>';

// RFC 6120 §4.8.1: the root is <stream> in http://etherx.jabber.org/streams, under whatever prefix the peer chose.
function readHeader(name: string, attrs: Attrs): StreamHeader {
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const local = colon === -1 ? name : name.slice(colon + 1);
  const streamNs = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (local !== 'stream' || streamNs !== NS.STREAM) return { attrs, error: new StreamError('invalid-namespace') };
  // With a prefixed root, the default namespace is that of the content (jabber:client, jabber:server).
  return { attrs, contentNamespace: prefix ? (attrs.xmlns ?? '') : undefined };
}
