// The TLS parameters of every listener (STARTTLS and direct TLS): protocol versions and cipher suites from
// tls.min_version / tls.ciphers. RFC 7590 §3.4 points XMPP at the BCP 195 recommendations (RFC 7525, now RFC 9325):
// TLS 1.2 or later, forward secrecy, authenticated encryption. The default list follows Mozilla's "intermediate"
// guidelines: the three TLS 1.3 suites, and for TLS 1.2 only ECDHE key exchange with AEAD ciphers, so a session's
// traffic cannot be decrypted later with the server's private key (RSA key exchange, AES128-GCM-SHA256 and the like,
// are left out). The version is the highest both sides speak, so TLS 1.3 is used whenever the client has it.
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** TLS 1.3 suites first (OpenSSL takes names starting with TLS_ as TLS 1.3 suites), then the TLS 1.2 ciphers. */
export const DEFAULT_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsSettings {
  min_version: TlsMinVersion;
  ciphers: string;
}

/** Options for tls.createSecureContext and tls.createServer: the certificate and the configured policy. */
export function tlsServerOptions(material: { cert: Buffer; key: Buffer }, settings: TlsSettings): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: settings.min_version,
    ciphers: settings.ciphers,
    // Every suite allowed is strong, so the client's order (which knows whether it has AES hardware) decides,
    // as Mozilla's intermediate profile recommends.
    honorCipherOrder: false,
  };
}

/**
 * Problems with a cipher string, for config validation: names OpenSSL does not know (it would silently skip them),
 * or a list that leaves no suite for the lowest allowed version upwards. Empty when the string is usable.
 */
export function cipherListProblems(ciphers: string, minVersion: TlsMinVersion): string[] {
  const entries = ciphers.split(':').filter((e) => e.length > 0);
  if (entries.length === 0) return ['expected at least one cipher suite'];
  const problems: string[] = [];
  // Modifiers (!X, -X, +X, @STRENGTH) only mean something next to other entries; names and keywords can be tried alone.
  const unknown = entries.filter((e) => !/^[!+\-@]/.test(e) && !isUsableCipherString(e));
  if (unknown.length > 0) problems.push(`unknown cipher suite${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  else if (!isUsableCipherString(ciphers)) problems.push('no cipher suite left after the modifiers');
  if (minVersion === 'TLSv1.3' && !entries.some((e) => e.startsWith('TLS_'))) {
    problems.push('tls.min_version is TLSv1.3 but the list has no TLS 1.3 suite (names starting with TLS_)');
  }
  return problems;
}

function isUsableCipherString(ciphers: string): boolean {
  try {
    createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}
