// Per-listener settings a client stream follows, built once from the config (main.ts) and shared by every client
// transport (TCP, direct TLS, WebSocket), so limits are the same whichever way a client comes in.
import type { SaslMechanism } from './sasl/types';
import type { IpRateLimiter } from './rate-limiter';

export interface C2sSettings {
  requireTls: boolean;
  maxStanzaSize: number;
  maxSessions: number;
  registrationOpen: boolean;
  mechanisms: SaslMechanism[];
  /** Failed authentications per IP per minute (RFC 6120 §13.10 rate limiting); loopback exempt by default. */
  authLimiter: IpRateLimiter;
  /** Failures on one stream before it is closed. */
  maxAuthFailuresPerStream: number;
}
