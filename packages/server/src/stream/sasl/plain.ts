// PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd, checked against the stored SCRAM-SHA-256 keys.
import { randomBytes } from 'node:crypto';
import { SaslFailure } from '@parley/protocol';
import type { Credentials } from '../../storage/types';
import { DEFAULT_ITERATIONS, deriveCredentials, matchPassword } from './credentials';
import { checkAuthzid, decodeUtf8, normalizeUsername } from './identity';
import { ClientFirstExchange, type SaslContext, type SaslExchange, type SaslMechanism, type SaslStep } from './types';

export interface PlainOptions {
  /** Offer PLAIN on unencrypted streams too (c2s.allow_plaintext_auth: tests and benchmarks only). */
  allowInsecure: boolean;
  /** Iteration count of the stand-in credentials an unknown user is checked against (match auth.scram_iterations). */
  fakeIterations?: number;
}

class PlainExchange extends ClientFirstExchange {
  constructor(
    private readonly ctx: SaslContext,
    private readonly standIn: () => Promise<Credentials>,
  ) {
    super();
  }

  protected async finish(response: Buffer): Promise<SaslStep> {
    const parts = decodeUtf8(response).split('\0');
    // RFC 4616 §2: exactly two NULs; authcid and passwd are 1*SAFE (non-empty).
    if (parts.length !== 3) throw new SaslFailure('malformed-request', 'expected authzid NUL authcid NUL passwd');
    const [authzid = '', authcid = '', password = ''] = parts;
    if (authcid === '' || password === '') throw new SaslFailure('malformed-request', 'empty authcid or password');

    const username = normalizeUsername(authcid);
    const credentials = await this.ctx.getCredentials(username);
    // An unknown user is checked against stand-in keys, so the answer takes as long as for a wrong password.
    const prepared = await matchPassword(credentials ?? (await this.standIn()), password);
    if (prepared === undefined || !credentials) throw new SaslFailure('not-authorized');
    // RFC 4422 §3.4.1: authorization is decided only once authentication succeeded.
    checkAuthzid(authzid, username, this.ctx);
    this.ctx.passwordVerified?.(username, prepared, credentials);
    return { kind: 'success', username };
  }
}

class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private standIn: Promise<Credentials> | undefined;

  constructor(private readonly opts: PlainOptions) {}

  isAvailable(ctx: SaslContext): boolean {
    // RFC 6120 §6.4.1 / RFC 4616 §5: the password travels in the clear, so only over TLS unless told otherwise.
    return ctx.secure || this.opts.allowInsecure;
  }

  start(ctx: SaslContext): SaslExchange {
    return new PlainExchange(ctx, () =>
      (this.standIn ??= deriveCredentials(randomBytes(16).toString('base64'), this.opts.fakeIterations ?? DEFAULT_ITERATIONS)),
    );
  }
}

export function plainMechanism(opts: PlainOptions): SaslMechanism {
  return new PlainMechanism(opts);
}
