// SASL (RFC 6120 §6, RFC 4422) seen from the server: a mechanism creates one exchange per attempt.
import { SaslFailure } from '@parley/protocol';
import type { Credentials } from '../../storage/types';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

export interface SaslContext {
  /**
   * Set once a -PLUS attempt on this stream named a channel binding type we cannot provide: the client saw
   * our -PLUS offer, so its later 'y' flag is not a downgrade (COMPAT(slixmpp 1.8): it only knows tls-unique,
   * which TLS 1.3 does not define, and retries plain SCRAM with 'y').
   */
  channelBindingRejected?: boolean;
  /** True once the stream is encrypted (TLS or direct TLS). */
  readonly secure: boolean;
  /**
   * The domain the client authenticates to, for checking an authzid against the user's own bare JID
   * (RFC 6120 §6.3.8). Optional so that callers predating it keep compiling; without it only the localpart
   * of an authzid is checked.
   */
  readonly host?: string;
  /** Channel binding data for this connection, or undefined when the TLS layer cannot provide that type. */
  channelBinding(type: ChannelBindingType): Buffer | undefined;
  /** Stored SCRAM keys of a (normalised) username on this host, or undefined for an unknown user. */
  getCredentials(username: string): Promise<Credentials | undefined>;
  /**
   * Told when a mechanism that sees the password (PLAIN) verified it against `credentials`; `prepared` is the form
   * that matched. The only moment the server can re-derive keys made with too few iterations: SCRAM never shows the
   * password. Must not delay or fail the login.
   */
  passwordVerified?(username: string, prepared: string, credentials: Credentials): void;
}

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  /** `additional` goes into <success/> (RFC 6120 §6.3.10: SCRAM's server-final-message). */
  | { kind: 'success'; username: string; additional?: Buffer };

export interface SaslExchange {
  /** `response` is the decoded client data; null when the client sent none (RFC 6120 §6.4.2 '=' means empty). */
  step(response: Buffer | null): Promise<SaslStep>;
}

export interface SaslMechanism {
  readonly name: string;
  /** Whether the mechanism may be offered on this stream (PLAIN only over TLS, -PLUS only with channel binding). */
  isAvailable(ctx: SaslContext): boolean;
  start(ctx: SaslContext): SaslExchange;
}

/**
 * A client-first mechanism of one message (PLAIN, the HT family): without an initial response the client is
 * prompted with an empty challenge (RFC 4422 §5, RFC 6120 §6.4.2), then exactly one non-empty response is taken.
 */
export abstract class ClientFirstExchange implements SaslExchange {
  private state: 'start' | 'prompted' | 'done' = 'start';

  async step(response: Buffer | null): Promise<SaslStep> {
    if (this.state === 'start' && response === null) {
      this.state = 'prompted';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    if (this.state === 'done') throw new SaslFailure('malformed-request', 'exchange already finished');
    this.state = 'done';
    if (response === null || response.length === 0) throw new SaslFailure('malformed-request', 'empty response');
    return this.finish(response);
  }

  protected abstract finish(response: Buffer): Promise<SaslStep>;
}
