// Per-listener settings a client stream follows, built once from the config.
import type { XmlElement } from '@parley/protocol';
import type { SaslMechanism } from './sasl/types';
import type { IpRateLimiter } from './rate-limiter';
import type { C2sStream } from './c2s-stream';

export interface C2sPolicy {
  requireTls: boolean;
  maxStanzaSize: number;
  maxSessions: number;
  registrationOpen: boolean;
  mechanisms: SaslMechanism[];
  /** Failed authentications per IP per minute (RFC 6120 §13.10 rate limiting); loopback exempt by default. */
  authLimiter: IpRateLimiter;
  /** Failures on one stream before it is closed. */
  maxAuthFailuresPerStream: number;
  /** XEP-0077 in-band registration before authentication; returns the reply, or undefined if not handled. */
  preAuthIq?: (iq: XmlElement, stream: C2sStream) => Promise<XmlElement | undefined>;
  /** Top-level non-stanza elements after binding (XEP-0198 <r/>, <a/>, <enable/>); true when handled. */
  streamElement?: (el: XmlElement, stream: C2sStream) => Promise<boolean>;
  /** Top-level non-stanza elements after authentication, before binding (XEP-0198 <resume/>); true when handled. */
  preBindElement?: (el: XmlElement, stream: C2sStream) => Promise<boolean>;
}
