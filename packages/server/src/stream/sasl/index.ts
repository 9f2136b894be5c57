// The SASL mechanisms a client stream offers (RFC 6120 §6), strongest first: RFC 6120 §6.3.3 lets the
// server order <mechanisms/> by preference, and clients generally pick the first one they support.
import { DEFAULT_ITERATIONS } from './credentials';
import { plainMechanism } from './plain';
import { scramMechanism } from './scram';
import type { SaslMechanism } from './types';

export interface MechanismOptions {
  /** Offer PLAIN before TLS (c2s.allow_plaintext_auth). */
  allowInsecurePlain: boolean;
  /** auth.scram_iterations, so that unknown users look like real ones. Default DEFAULT_ITERATIONS. */
  scramIterations?: number;
}

export function createMechanisms(opts: MechanismOptions): SaslMechanism[] {
  const fakeIterations = opts.scramIterations ?? DEFAULT_ITERATIONS;
  return [
    scramMechanism('SHA-256', true, { fakeIterations }),
    scramMechanism('SHA-1', true, { fakeIterations }),
    scramMechanism('SHA-256', false, { fakeIterations }),
    scramMechanism('SHA-1', false, { fakeIterations }),
    plainMechanism({ allowInsecure: opts.allowInsecurePlain, fakeIterations }),
  ];
}

export * from './types';
export * from './credentials';
export * from './identity';
export * from './scram';
export * from './plain';
export * from './ht';
