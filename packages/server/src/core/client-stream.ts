// The stream side of a client session, for modules that manage the stream itself (XEP-0198 stream management):
// writing elements that are not stanzas, resending stanzas already counted, and a session outliving its transport.
// stream/c2s-session.ts implements both interfaces; modules never see the class.
import type { Jid, StreamError, XmlElement } from '@parley/protocol';
import type { Session } from './sessions';

/** A bound client session whose stream this node holds. */
export interface ClientStream extends Session {
  /** Writes a top-level element that is not a stanza (XEP-0198 <a/>, <r/>): no 'session/sending', not counted. */
  sendNonza(el: XmlElement): void;
  /** Writes stanzas sent before and already counted (XEP-0198 §5 retransmission), without 'session/sending'. */
  resend(xmlText: string): void;
  /**
   * Writes a stanza an outbound filter held back (XEP-0352): through 'session/sending' like any stanza, so XEP-0198
   * counts it now, and not filtered again.
   */
  release(stanza: XmlElement): void;
  /**
   * XEP-0198 §5 across cluster nodes: the session was resumed on another node, which goes on with it; this copy
   * ends ('session/closed' with resumedElsewhere), a transport still attached with <conflict/>.
   */
  closeResumedElsewhere(): void;
  /** The transport is gone and the session kept (XEP-0198 §5 hibernation): nothing is written until it resumes. */
  readonly isDetached: boolean;
}

/** A client stream after authentication and before resource binding (RFC 6120 §7). */
export interface AuthenticatedStream {
  /** The account that authenticated on this stream (bare JID). */
  readonly account: Jid;
  readonly remoteAddress: string;
  readonly secure: boolean;
  sendNonza(el: XmlElement): void;
  close(error?: StreamError): void;
  /**
   * XEP-0198 §5: `session` (an earlier session of the same account, detached or still connected) continues on this
   * stream's transport, with what the client sent after the current element; an old transport is closed with
   * <conflict/>. This stream is done. Elements the client pipelined are processed once the caller's synchronous
   * part is over, so what it writes to the session first (<resumed/>, resent stanzas) comes first. False when the
   * session or this stream's transport is gone.
   */
  handOver(session: ClientStream): boolean;
  /**
   * XEP-0198 §5 across cluster nodes: binds `jid`, a resource of this account whose session another node held, to
   * this stream as RFC 6120 §7 binding would, without a bind request (an existing session of that full JID is
   * replaced, §7.7.2.2); the stream is established once the current element is handled. Undefined when the
   * transport is gone or the server is full.
   */
  bindResumed(jid: Jid): ClientStream | undefined;
}
