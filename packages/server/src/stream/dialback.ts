// Server dialback (XEP-0220) keys and elements. Dialback proves that a stream comes from a domain by calling that
// domain's authoritative server back: the receiving server sends the key it got to the originating domain's server
// (db:verify), which alone can tell whether it made that key for that stream.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NS, StanzaError, xml, type XmlElement } from '@parley/protocol';

export const NS_DIALBACK = 'jabber:server:dialback';
/** XEP-0220 §2.1: the stream feature advertising dialback (with errors support, §2.4). */
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';

/**
 * XEP-0185 §3: key = HEX(HMAC-SHA256(SHA256(secret), receiving ' ' originating ' ' stream id)). Only the
 * authoritative server (which holds the secret) can make or check it; the stream id ties it to one stream.
 */
export function dialbackKey(secret: string, receiving: string, originating: string, streamId: string): string {
  const key = createHash('sha256').update(secret, 'utf8').digest('hex');
  return createHmac('sha256', key).update(`${receiving} ${originating} ${streamId}`, 'utf8').digest('hex');
}

export function keysEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.trim(), 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** db:result or db:verify with the prefix bound on the stream header (XEP-0220 §2.1.1: xmlns:db). */
export function isDialback(el: XmlElement, local: 'result' | 'verify'): boolean {
  if (el.name === `db:${local}`) return true;
  return el.name === local && el.attrs.xmlns === NS_DIALBACK;
}

export function dialbackElement(local: 'result' | 'verify', attrs: Record<string, string | undefined>, text?: string): XmlElement {
  const el = xml(`db:${local}`, { 'xmlns:db': NS_DIALBACK, ...attrs });
  if (text !== undefined) el.children.push(text);
  return el;
}

/** XEP-0220 §2.4: a dialback error, a stanza error inside db:result or db:verify type='error'. */
export function dialbackError(local: 'result' | 'verify', attrs: Record<string, string | undefined>, error: StanzaError): XmlElement {
  const el = dialbackElement(local, { ...attrs, type: 'error' });
  el.children.push(
    xml('error', { type: error.type }, xml(error.condition, { xmlns: NS.STANZAS }), ...(error.text ? [xml('text', { xmlns: NS.STANZAS }, error.text)] : [])),
  );
  return el;
}

// RFC 6125 / XEP-0178: the certificate check itself lives in xmpp-identity.ts.
export { certificateNames } from './xmpp-identity';
