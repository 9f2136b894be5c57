// Stanza helpers shared by server, web app and CLI (RFC 6120 §8).
import { XmlElement, xml, type XmlNode } from './xml/element';
import { StanzaError } from './errors';

export type StanzaKind = 'message' | 'presence' | 'iq';
export type IqType = 'get' | 'set' | 'result' | 'error';

export function isStanza(el: XmlElement): boolean {
  return el.name === 'message' || el.name === 'presence' || el.name === 'iq';
}

/** RFC 6120 §8.2.3: a result for an iq get/set, addressed back to the sender. */
export function iqResult(request: XmlElement, payload?: XmlNode | null): XmlElement {
  const el = xml('iq', { type: 'result', id: request.attrs.id ?? '', to: request.attrs.from, from: request.attrs.to });
  if (payload) el.append(payload);
  return el;
}

/**
 * RFC 6120 §8.3.1: an error reply swaps to/from, keeps id and type-specific shape, and may include the
 * original payload. Never call this for a stanza of type 'error' (errors are never answered).
 */
export function errorReply(stanza: XmlElement, error: StanzaError, includeOriginal = false): XmlElement {
  const el = new XmlElement(stanza.name, {});
  if (stanza.attrs.id !== undefined) el.attrs.id = stanza.attrs.id;
  el.attrs.type = 'error';
  if (stanza.attrs.from !== undefined) el.attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) el.attrs.from = stanza.attrs.to;
  if (includeOriginal || stanza.name === 'iq') {
    // RFC 6120 §8.3.1: the iq payload is usually echoed so the requester can match the error to its request.
    for (const c of stanza.children) if (typeof c !== 'string' && c.name !== 'error') el.children.push(c);
  }
  el.append(error.toElement());
  return el;
}

/** The single payload element of an iq get/set (RFC 6120 §8.2.3: exactly one child). */
export function iqPayload(iq: XmlElement): XmlElement | undefined {
  for (const c of iq.children) if (typeof c !== 'string') return c;
  return undefined;
}

export function newId(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
}
