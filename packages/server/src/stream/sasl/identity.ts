// What PLAIN and SCRAM share about identities: decoding the client's bytes, normalising the authentication
// identity (RFC 6120 §6.3.7: a simple username, the localpart), and checking an authorization identity.
import { Jid, JidError, SaslFailure, normalizeLocal } from '@parley/protocol';
import type { SaslContext } from './types';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Both mechanisms carry UTF-8 (RFC 4616 §2, RFC 5802 §5.1); bytes that are not UTF-8 are a malformed request. */
export function decodeUtf8(data: Buffer): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new SaslFailure('malformed-request', 'not UTF-8');
  }
}

/**
 * RFC 6120 §6.3.7: the authcid is the localpart, normalised as the account store keys it. A name that cannot
 * be a localpart cannot be an account, so the answer is the same as for a wrong password.
 */
export function normalizeUsername(raw: string): string {
  try {
    return normalizeLocal(raw);
  } catch (err) {
    if (err instanceof JidError) throw new SaslFailure('not-authorized');
    throw err;
  }
}

/**
 * RFC 6120 §6.3.8: we do not let one account act for another, so an authzid, when given, must be the user's own
 * bare JID. Clients that send one usually send exactly that. Without ctx.host only the localpart can be
 * compared; that is harmless because the session is bound to the authenticated username either way.
 */
export function checkAuthzid(authzid: string | undefined, username: string, ctx: SaslContext): void {
  if (authzid === undefined || authzid === '') return;
  const jid = Jid.tryParse(authzid);
  const host = ctx.host === undefined ? undefined : (Jid.tryParse(ctx.host)?.domain ?? ctx.host);
  if (!jid || !jid.isBare || jid.local !== username || (host !== undefined && jid.domain !== host)) {
    throw new SaslFailure('invalid-authzid');
  }
}
