// The Hashed Token mechanisms (draft-schmaus-kitten-sasl-ht-08), the single round trip XEP-0484 FAST tokens are
// used with: the client sends `authcid NUL HMAC(token, "Initiator" || cb-data)`, the server answers with success
// carrying HMAC(token, "Responder" || cb-data), which proves to the client that the server knows the token too.
// HT-SHA-256-NONE binds to nothing, -ENDP to tls-server-end-point (RFC 5929), -EXPR to tls-exporter (RFC 9266).
// -UNIQ (tls-unique) is left out for the reason SCRAM leaves it out (RFC 9266 §1, see scram.ts).
// Where tokens come from and how they are checked is the caller's (modules/xep-0484-fast): a mechanism here only
// parses, finds the channel binding data and computes the HMACs.
import { createHmac } from 'node:crypto';
import { SaslFailure } from '@parley/protocol';
import { decodeUtf8, normalizeUsername } from './identity';
import { ClientFirstExchange, type ChannelBindingType, type SaslContext, type SaslExchange, type SaslMechanism, type SaslStep } from './types';

export type HtMechanismName = 'HT-SHA-256-NONE' | 'HT-SHA-256-ENDP' | 'HT-SHA-256-EXPR';

/** The channel binding each HT mechanism uses, strongest first (the order they are advertised in). */
export const HT_MECHANISMS: readonly { name: HtMechanismName; binding: ChannelBindingType | undefined }[] = [
  { name: 'HT-SHA-256-EXPR', binding: 'tls-exporter' },
  { name: 'HT-SHA-256-ENDP', binding: 'tls-server-end-point' },
  { name: 'HT-SHA-256-NONE', binding: undefined },
];

const HASH_BYTES = 32;

export function isHtMechanism(name: string | undefined): name is HtMechanismName {
  return HT_MECHANISMS.some((m) => m.name === name);
}

/** HMAC-SHA-256 keyed with the token's UTF-8 bytes over a label and the channel binding data (draft §3.1). */
export function htHmac(token: string, label: 'Initiator' | 'Responder', cbData: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(token, 'utf8')).update(label).update(cbData).digest();
}

/**
 * Checks the initiator's hashed token for a username; returns the token it matched (the HMAC key of the reply), or
 * throws SaslFailure ('not-authorized' for no match, 'credentials-expired' for a token past its time).
 */
export type HtVerifier = (username: string, initiatorHash: Buffer, cbData: Buffer) => Promise<string>;

export interface HtOptions {
  /** Offer HT-SHA-256-NONE on unencrypted streams (c2s.allow_plaintext_auth: tests and benchmarks only). */
  allowInsecure: boolean;
}

class HtExchange extends ClientFirstExchange {
  constructor(
    private readonly mech: HtMechanism,
    private readonly ctx: SaslContext,
  ) {
    super();
  }

  protected async finish(response: Buffer): Promise<SaslStep> {
    // Draft §3.1: authcid NUL hashed-token. The hash is binary and may hold NULs itself: split at the first one.
    const nul = response.indexOf(0);
    if (nul <= 0 || nul === response.length - 1) throw new SaslFailure('malformed-request', 'expected authcid NUL hashed-token');
    const username = normalizeUsername(decodeUtf8(response.subarray(0, nul)));
    const hash = response.subarray(nul + 1);
    if (hash.length !== HASH_BYTES) throw new SaslFailure('not-authorized');
    const binding = this.mech.binding;
    const cbData = binding === undefined ? Buffer.alloc(0) : this.ctx.channelBinding(binding);
    if (!cbData) throw new SaslFailure('not-authorized', `channel binding type ${binding} is not available`);
    const token = await this.mech.verify(username, hash, cbData);
    return { kind: 'success', username, additional: htHmac(token, 'Responder', cbData) };
  }
}

class HtMechanism implements SaslMechanism {
  constructor(
    readonly name: HtMechanismName,
    readonly binding: ChannelBindingType | undefined,
    readonly verify: HtVerifier,
    private readonly opts: HtOptions,
  ) {}

  isAvailable(ctx: SaslContext): boolean {
    // A token seen once can be replayed, so HT belongs on TLS (XEP-0484 §7); channel binding needs TLS anyway.
    if (this.binding === undefined) return ctx.secure || this.opts.allowInsecure;
    return ctx.channelBinding(this.binding) !== undefined;
  }

  start(ctx: SaslContext): SaslExchange {
    return new HtExchange(this, ctx);
  }
}

export function htMechanism(name: HtMechanismName, verify: HtVerifier, opts: HtOptions): SaslMechanism {
  const binding = HT_MECHANISMS.find((m) => m.name === name)!.binding;
  return new HtMechanism(name, binding, verify, opts);
}
