// Whether a peer server's certificate names the XMPP domain it claims (RFC 6125 as profiled for XMPP by RFC 6120
// §13.7.1.2 and XEP-0178 §3), for SASL EXTERNAL between servers. The reference identifiers of a domain are, in the
// subjectAltName: an id-on-xmppAddr (1.3.6.1.5.5.7.8.5, RFC 6120 §13.7.1.4; the domain itself, no wildcards), an
// SRV-ID (id-on-dnsSRV 1.3.6.1.5.5.7.8.7, RFC 4985: '_xmpp-server.<domain>'), or a DNS-ID (the domain, or '*.' for
// exactly one left-most label, RFC 6125 §6.4.3 — so '*.example.org' covers 'conference.example.org' but neither
// 'example.org' nor 'a.b.example.org'). The subject's CN counts only when the subjectAltName holds none of them
// (RFC 6125 §6.4.4). Node's X509 formatting gives otherNames as 'othername:XmppAddr:…' / 'othername:SRVName:…'.
import { domainToASCII, domainToUnicode } from 'node:url';

export interface CertificateNames {
  /** The subjectAltName text as Node formats it (PeerCertificate.subjectaltname, X509Certificate.subjectAltName). */
  subjectaltname?: string;
  subject?: { CN?: string | string[] } | null;
}

/** The subjectAltName entries ('DNS:x', 'othername:XmppAddr:y', …), JSON-quoted values (commas and the like) decoded. */
export function subjectAltNames(text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      // A quoted value: a JSON string up to its unescaped closing quote.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      current += JSON.parse(text.slice(i, j + 1)) as string;
      i = j;
    } else if (c === ',' && text[i + 1] === ' ') {
      out.push(current);
      current = '';
      i++;
    } else current += c;
  }
  out.push(current);
  return out;
}

const normalize = (name: string) => name.toLowerCase().replace(/\.$/, '');

export function certificateNames(domain: string, cert: CertificateNames | undefined): boolean {
  if (!cert) return false;
  const unicode = normalize(domainToUnicode(domain) || domain);
  const ascii = normalize(domainToASCII(domain) || domain);
  let identifiers = 0;
  for (const entry of subjectAltNames(cert.subjectaltname)) {
    const colon = entry.indexOf(':');
    const type = entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    if (type === 'othername') {
      const [kind, ...rest] = value.split(':');
      const name = rest.join(':');
      if (kind === 'XmppAddr') {
        identifiers++;
        if (normalize(domainToUnicode(name) || name) === unicode) return true;
      } else if (kind === 'SRVName') {
        identifiers++;
        // RFC 4985 §2: '_Service.Name'; the service for server-to-server XMPP is xmpp-server (RFC 6120 §13.7.1.2.1).
        const prefix = '_xmpp-server.';
        if (name.toLowerCase().startsWith(prefix) && normalize(domainToASCII(name.slice(prefix.length)) || '') === ascii) return true;
      }
    } else if (type === 'DNS') {
      identifiers++;
      if (dnsIdMatches(normalize(value), ascii)) return true;
    } else if (type === 'URI') {
      identifiers++;
    }
  }
  if (identifiers > 0) return false;
  const cn = cert.subject?.CN;
  return (Array.isArray(cn) ? cn : cn !== undefined ? [cn] : []).some((name) => normalize(domainToASCII(name) || name) === ascii);
}

// RFC 6125 §6.4.3: a wildcard only as the whole left-most label, standing for exactly one label.
function dnsIdMatches(pattern: string, ascii: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === ascii;
  const dot = ascii.indexOf('.');
  return dot > 0 && !pattern.slice(2).includes('*') && ascii.slice(dot + 1) === pattern.slice(2);
}
