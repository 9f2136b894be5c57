// What modules add to client streams (the `ctx.c2s` facet, core/module-api.ts): elements handled before
// authentication (XEP-0077), non-stanza elements before and after binding (XEP-0198, XEP-0352), SASL2 and its inline
// features (core/sasl2-inline.ts). The client streams read it; modules register through their context, and what
// they registered is disposed with them.
import type { XmlElement } from '@parley/protocol';
import type { Disposable } from './hooks';
import type { AuthenticatedStream, ClientStream } from './client-stream';
import { InlineRegistry } from './sasl2-inline';

/** The little a pre-authentication handler may know about the stream. */
export interface PreAuthStream {
  readonly remoteAddress: string;
  readonly secure: boolean;
}
export type PreAuthIqHandler = (iq: XmlElement, stream: PreAuthStream) => Promise<XmlElement | undefined>;
export type StreamElementHandler = (el: XmlElement, session: ClientStream) => void | Promise<void>;
/** A top-level non-stanza element on an authenticated stream before binding; returns whether it was handled. */
export type PreBindElementHandler = (el: XmlElement, stream: AuthenticatedStream) => boolean | Promise<boolean>;

export class C2sRegistry {
  /** XEP-0388 / XEP-0386 inline features. */
  readonly inline = new InlineRegistry();
  private readonly preAuthIqs = new Map<string, PreAuthIqHandler>();
  private readonly streamElements = new Map<string, StreamElementHandler>();
  private readonly preBindElements = new Map<string, PreBindElementHandler>();

  /** XEP-0077 registration and similar exchanges allowed before authentication, keyed by payload namespace. */
  registerPreAuthIq(ns: string, handler: PreAuthIqHandler): Disposable {
    return register(this.preAuthIqs, ns, handler);
  }

  async handlePreAuthIq(iq: XmlElement, stream: PreAuthStream): Promise<XmlElement | undefined> {
    const payload = iq.elements()[0];
    const handler = payload && this.preAuthIqs.get(payload.attrs.xmlns ?? '');
    return handler ? handler(iq, stream) : undefined;
  }

  /** Top-level stream elements after bind that are not stanzas (XEP-0198 <r/>, <a/>, <enable/>, XEP-0352 <active/>). */
  registerStreamElement(ns: string, handler: StreamElementHandler): Disposable {
    return register(this.streamElements, ns, handler);
  }

  async handleStreamElement(el: XmlElement, session: ClientStream): Promise<boolean> {
    const handler = this.streamElements.get(el.attrs.xmlns ?? '');
    if (!handler) return false;
    await handler(el, session);
    return true;
  }

  /** Top-level non-stanza elements after authentication and before binding (XEP-0198 <resume/>). */
  registerPreBindElement(ns: string, handler: PreBindElementHandler): Disposable {
    return register(this.preBindElements, ns, handler);
  }

  async handlePreBindElement(el: XmlElement, stream: AuthenticatedStream): Promise<boolean> {
    const handler = this.preBindElements.get(el.attrs.xmlns ?? '');
    return handler ? handler(el, stream) : false;
  }
}

/** One handler per namespace: a second registration is a programming error, not a silent replacement. */
function register<H>(table: Map<string, H>, ns: string, handler: H): Disposable {
  if (table.has(ns)) throw new Error(`a client stream handler for ${ns} is already registered`);
  table.set(ns, handler);
  return {
    dispose: () => {
      if (table.get(ns) === handler) table.delete(ns);
    },
  };
}
