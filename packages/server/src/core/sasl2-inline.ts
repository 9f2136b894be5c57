// Inline features: what a module may negotiate inside a XEP-0388 SASL2 <authenticate/> (Bind 2, FAST tokens,
// XEP-0198 resumption) and inside a XEP-0386 Bind 2 <bind/> (carbons, stream management). The registry is core so
// that modules register through the server API (`registerSasl2Inline`, `registerBind2Inline`) and never import
// each other; stream/sasl2-negotiation.ts runs the registered features, modules/xep-0386-bind2 runs Bind 2's.
//
// Lifecycle of one SASL2 attempt:
//   1. advertise(stream)       each feature may put an element into <authentication><inline/> (or not, per stream)
//   2. prepare(elements, ...)  before authentication, with the client's children of <authenticate/> in the feature's
//                              namespace (possibly none): refuse a malformed request (throw SaslFailure), or pick the
//                              mechanism for this attempt (XEP-0484: <fast/> selects a token mechanism)
//   3. negotiate(elements, …)  after authentication succeeded, only when the client sent elements in the namespace,
//                              in InlineOrder (resumption, then binding, then the rest); returns what goes into
//                              <success/>. Nothing is negotiated for a failed attempt (XEP-0388 §2.6.2).
import type { Jid, XmlElement } from '@parley/protocol';
import type { ChannelBindingType, SaslMechanism } from '../stream/sasl/types';
import type { Disposable } from './hooks';
import type { Session } from './sessions';
import type { ClientStream } from './client-stream';

/** What an inline feature may know about the stream being authenticated. */
export interface Sasl2Stream {
  readonly remoteAddress: string;
  /** The stream is encrypted (TLS or direct TLS). */
  readonly secure: boolean;
  /** c2s.allow_plaintext_auth: secrets may cross an unencrypted stream (tests and benchmarks only). */
  readonly allowInsecure: boolean;
  /** Channel binding data of the TLS layer, or undefined when it cannot provide that type (XEP-0440). */
  channelBinding(type: ChannelBindingType): Buffer | undefined;
}

/** XEP-0388 §2.3: the client's <user-agent id='…'><software/><device/></user-agent>, all optional. */
export interface UserAgent {
  /** A stable identifier of the client installation (XEP-0388 recommends a UUID). */
  readonly id?: string;
  readonly software?: string;
  readonly device?: string;
}

/** One SASL2 authentication attempt, as the client asked for it. */
export interface Sasl2Attempt {
  readonly stream: Sasl2Stream;
  /** The mechanism the client named in <authenticate mechanism='…'/>. */
  readonly mechanism: string;
  readonly userAgent: UserAgent | undefined;
  /** The client's whole <authenticate/> element. */
  readonly request: XmlElement;
}

/** The attempt once the client is authenticated: features act on it and return their part of <success/>. */
export interface Sasl2Authenticated extends Sasl2Attempt {
  /** The normalised localpart that authenticated. */
  readonly username: string;
  /** The account's bare JID. */
  readonly account: Jid;
  /**
   * The stream's session-to-be. Per-module state set on it now is kept; it joins the session table only when the
   * client has its <success/>, so nothing can be routed to it before.
   */
  readonly session: Session;
  /** The full JID once a feature bound a resource (Bind 2) or resumed a session (XEP-0198); later features see it. */
  readonly bound: Jid | undefined;
  /**
   * Binds `resource` to the stream under RFC 6120 §7's rules (a session already bound to the same full JID is
   * replaced with <conflict/>, RFC 6120 §7.7.2.2). Throws SaslFailure: 'temporary-auth-failure' when the server is
   * full, 'malformed-request' for a resource that is not a valid resourcepart.
   */
  bind(resource: string): Jid;
  /**
   * XEP-0198 §5 inside SASL2: instead of a new session, the stream continues as `session`, an earlier session of the
   * account (its full JID becomes `bound`, so Bind 2 binds nothing). `resumed` runs once <success/> is written, for
   * the stanzas to resend; no stream features follow, the session has its own.
   */
  resume(session: ClientStream, resumed: () => void): Jid;
}

/** When features negotiate after authentication, highest first (named, never bare numbers: STYLE.md habit 6). */
export const InlineOrder = {
  /** XEP-0198 resumption: a resumed session needs no new resource, so it runs before Bind 2. */
  Resume: 200,
  /** XEP-0386 Bind 2. */
  Bind: 100,
  /** Everything else (XEP-0484 token issue) runs once the session is bound. */
  Default: 0,
} as const;

export interface Sasl2InlineFeature {
  /** Namespace of the advertised element and of the client's elements in <authenticate/>; one feature per namespace. */
  readonly ns: string;
  /** InlineOrder; Default when absent. */
  readonly order?: number;
  /** The element for <authentication><inline/>, or undefined not to offer the feature on this stream. */
  advertise(stream: Sasl2Stream): XmlElement | undefined;
  /**
   * Before authentication runs. Throw SaslFailure to refuse a malformed request; return a mechanism to use it for
   * this attempt instead of the advertised ones (XEP-0484 §3.3: <fast/> names a token mechanism that is not in the
   * <mechanism/> list). `elements` may be empty.
   */
  prepare?(elements: XmlElement[], attempt: Sasl2Attempt): SaslMechanism | void;
  /**
   * After authentication succeeded, when the client sent at least one element in `ns`: performs the feature and
   * returns what goes into <success/>. Throwing SaslFailure fails the attempt (XEP-0388 §2.6.2: no later feature
   * runs and the stream stays unauthenticated); features that already ran are not undone.
   */
  negotiate?(elements: XmlElement[], auth: Sasl2Authenticated): InlineResult | Promise<InlineResult>;
}

export type InlineResult = XmlElement | XmlElement[] | undefined | void;

export interface Bind2InlineFeature {
  /**
   * XEP-0386 §2: advertised as <feature var='…'/> in Bind 2's <inline/>; the client's requests are the children of
   * its <bind/> in this namespace (carbons' <enable xmlns='urn:xmpp:carbons:2'/>, XEP-0198's <enable/>).
   */
  readonly var: string;
  /** Enables the feature on the new session; returns what goes into <bound/> (e.g. XEP-0198 <enabled/>), if anything. */
  enable(request: XmlElement, session: Session, auth: Sasl2Authenticated): InlineResult | Promise<InlineResult>;
}

/** The inline features registered by modules, and whether SASL2 is offered at all (module `sasl2`). */
export class InlineRegistry {
  private offers = 0;
  private readonly sasl2 = new Map<string, Sasl2InlineFeature>();
  private readonly bind2 = new Map<string, Bind2InlineFeature>();
  private sorted: Sasl2InlineFeature[] | undefined;

  /** Whether streams offer SASL2 (XEP-0388) next to the classic SASL profile. */
  get isSasl2Offered(): boolean {
    return this.offers > 0;
  }

  /** Turns SASL2 on for new streams until disposed. */
  offerSasl2(): Disposable {
    this.offers++;
    let done = false;
    return {
      dispose: () => {
        if (!done) this.offers--;
        done = true;
      },
    };
  }

  registerSasl2(feature: Sasl2InlineFeature): Disposable {
    if (this.sasl2.has(feature.ns)) throw new Error(`a SASL2 inline feature for ${feature.ns} is already registered`);
    this.sasl2.set(feature.ns, feature);
    this.sorted = undefined;
    return {
      dispose: () => {
        if (this.sasl2.get(feature.ns) === feature) this.sasl2.delete(feature.ns);
        this.sorted = undefined;
      },
    };
  }

  registerBind2(feature: Bind2InlineFeature): Disposable {
    if (this.bind2.has(feature.var)) throw new Error(`a Bind 2 inline feature for ${feature.var} is already registered`);
    this.bind2.set(feature.var, feature);
    return {
      dispose: () => {
        if (this.bind2.get(feature.var) === feature) this.bind2.delete(feature.var);
      },
    };
  }

  /** SASL2 inline features in InlineOrder (registration order within one order). */
  sasl2Features(): readonly Sasl2InlineFeature[] {
    return (this.sorted ??= [...this.sasl2.values()].sort((a, b) => (b.order ?? 0) - (a.order ?? 0)));
  }

  /** Bind 2 inline features in registration order. */
  bind2Features(): readonly Bind2InlineFeature[] {
    return [...this.bind2.values()];
  }
}
