// RFC 6120 §6.4: one SASL negotiation per stream — <auth/>, challenges and responses, <abort/>, and the
// failure conditions of §6.5, with per-stream and per-IP limits on failed attempts.
import { NS, SaslFailure, xml, type XmlElement } from '@parley/protocol';
import type { Connection } from '../net/connection';
import type { ParleyServer } from '../core/server';
import type { C2sSettings } from './c2s-settings';
import type { SaslContext, SaslExchange, SaslMechanism } from './sasl/types';
import { availableChannelBindings } from './sasl/scram';

export interface SaslOutcome {
  reply: XmlElement;
  /** Set on success. */
  username?: string;
  /** The stream should be closed (too many failures). */
  disconnect?: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class SaslNegotiation {
  private exchange: SaslExchange | undefined;
  private failures = 0;
  private readonly ctx: SaslContext;

  constructor(
    private readonly server: ParleyServer,
    private readonly conn: Connection,
    private readonly policy: C2sSettings,
  ) {
    this.ctx = {
      host: server.accounts.host,
      get secure() {
        return conn.secure;
      },
      channelBinding: (type) => conn.channelBinding(type),
      getCredentials: (username) => server.accounts.getCredentials(username),
    };
  }

  /** XEP-0440: the channel binding types this connection can provide, so clients pick one that works. */
  channelBindingTypes(): string[] {
    return availableChannelBindings(this.ctx);
  }

  offered(): string[] {
    return this.available().map((m) => m.name);
  }

  private available(): SaslMechanism[] {
    return this.policy.mechanisms.filter((m) => m.isAvailable(this.ctx));
  }

  /** The stream's SASL context; XEP-0388 SASL2 runs the same mechanisms through it. */
  get context(): SaslContext {
    return this.ctx;
  }

  /** An offered mechanism by name: SASL2 offers the same list under the same TLS policy. */
  mechanism(name: string | undefined): SaslMechanism | undefined {
    return this.available().find((m) => m.name === name);
  }

  /** RFC 6120 §13.10: the client's address failed too often lately; new attempts are refused without a try. */
  isRateLimited(): boolean {
    return this.policy.authLimiter.isLimited(this.conn.remoteAddress);
  }

  /**
   * Counts a failed attempt (either SASL profile) towards the per-stream and per-address limits; returns whether the
   * stream should be closed. `cbRejectedBefore` is whether a channel binding type was already refused before it.
   */
  countFailure(err: SaslFailure, cbRejectedBefore: boolean): boolean {
    // Aborts and a channel binding type we lack are not guesses at a password: they do not count.
    if (err.condition === 'aborted' || (!cbRejectedBefore && this.ctx.channelBindingRejected)) return false;
    this.failures++;
    const ipOk = this.policy.authLimiter.hit(this.conn.remoteAddress);
    return this.failures >= this.policy.maxAuthFailuresPerStream || !ipOk;
  }

  async handle(el: XmlElement): Promise<SaslOutcome> {
    const cbRejectedBefore = this.ctx.channelBindingRejected === true;
    try {
      return await this.step(el);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      this.exchange = undefined;
      return { reply: err.toElement(), disconnect: this.countFailure(err, cbRejectedBefore) };
    }
  }

  private async step(el: XmlElement): Promise<SaslOutcome> {
    if (el.name === 'abort') throw new SaslFailure('aborted');
    let exchange = this.exchange;
    if (el.name === 'auth') {
      if (this.policy.authLimiter.isLimited(this.conn.remoteAddress)) {
        throw new SaslFailure('temporary-auth-failure', 'too many failed attempts, try again later');
      }
      const mech = this.available().find((m) => m.name === el.attrs.mechanism);
      if (!mech) throw new SaslFailure('invalid-mechanism');
      exchange = this.exchange = mech.start(this.ctx);
    } else if (!exchange) {
      throw new SaslFailure('malformed-request', 'no authentication in progress');
    }
    const result = await exchange.step(decode(el.text()));
    if (result.kind === 'challenge') {
      return { reply: xml('challenge', { xmlns: NS.SASL }, result.data.length ? result.data.toString('base64') : '=') };
    }
    this.exchange = undefined;
    if (!(await this.server.accounts.exists(result.username))) throw new SaslFailure('not-authorized');
    const additional = result.additional?.toString('base64');
    return { reply: xml('success', { xmlns: NS.SASL }, additional ?? null), username: result.username };
  }
}

/** RFC 6120 §6.4.2: '=' is an empty response, no text means no initial response. */
function decode(text: string): Buffer | null {
  const t = text.trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!BASE64.test(t) || t.length % 4 !== 0) throw new SaslFailure('incorrect-encoding');
  return Buffer.from(t, 'base64');
}
