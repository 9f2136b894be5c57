// A short-lived XMPP stream over RFC 7395 WebSocket for the two exchanges that happen without a logged-in
// client: in-band registration (XEP-0077 §3.1, before authentication) and invalidating a FAST token on log out
// (XEP-0484 §3.5). xmpp.js covers logged-in sessions; these need one request and one answer each.
import { NS } from '@parley/protocol';
import { withBoshSession } from './bosh';

const FRAMING = NS.FRAMING;

export class RawStreamError extends Error {
  constructor(
    message: string,
    /** The RFC condition (stanza error, SASL failure) when the server gave one. */
    readonly condition?: string,
  ) {
    super(message);
  }
}

/** The WebSocket URL of the server that serves this page. */
export function websocketUrl(loc: Location = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/xmpp-websocket`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/**
 * Opens a stream to `domain`, waits for its features, runs `exchange`, closes: over the WebSocket, or over BOSH
 * when `url` is the http(s) BOSH endpoint (the page could not open a WebSocket).
 */
function withStream<T>(
  url: string,
  domain: string,
  exchange: (send: (xml: string) => void, next: () => Promise<Element>) => Promise<T>,
  onFeatures?: (features: Element) => void,
): Promise<T> {
  return /^https?:/.test(url) ? withBoshSession(url, domain, exchange, onFeatures) : withWebSocket(url, domain, exchange, onFeatures);
}

async function withWebSocket<T>(
  url: string,
  domain: string,
  exchange: (send: (xml: string) => void, next: () => Promise<Element>) => Promise<T>,
  onFeatures?: (features: Element) => void,
): Promise<T> {
  const ws = new WebSocket(url, ['xmpp']);
  const inbox: Element[] = [];
  const waiters: Array<{ resolve: (e: Element) => void; reject: (e: Error) => void }> = [];
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    for (const w of waiters.splice(0)) w.reject(err);
  };
  ws.onmessage = (ev) => {
    const doc = new DOMParser().parseFromString(String(ev.data), 'application/xml');
    const el = doc.documentElement;
    if (el.getElementsByTagName('parsererror').length > 0) return fail(new RawStreamError('unreadable answer from the server'));
    // RFC 7395 §3.3.2: <open/> and <close/> frames; stream errors arrive as <stream:error/>.
    if (el.localName === 'open' && el.namespaceURI === FRAMING) return;
    if (el.localName === 'close' && el.namespaceURI === FRAMING) return fail(new RawStreamError('the server closed the stream'));
    if (el.localName === 'error' && el.namespaceURI === NS.STREAM) {
      return fail(new RawStreamError('stream error', el.firstElementChild?.localName));
    }
    const w = waiters.shift();
    if (w) w.resolve(el);
    else inbox.push(el);
  };
  ws.onerror = () => fail(new RawStreamError('cannot reach the server'));
  ws.onclose = () => fail(new RawStreamError('the connection closed'));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    setTimeout(() => reject(new RawStreamError('the server did not answer')), 15000);
  });
  const send = (xml: string) => ws.send(xml);
  const next = () =>
    new Promise<Element>((resolve, reject) => {
      if (failure) return reject(failure);
      const queued = inbox.shift();
      if (queued) return resolve(queued);
      waiters.push({ resolve, reject });
      setTimeout(() => reject(new RawStreamError('the server did not answer')), 15000);
    });
  try {
    send(`<open xmlns='${FRAMING}' to='${escapeXml(domain)}' version='1.0'/>`);
    const features = await next();
    if (features.localName !== 'features') throw new RawStreamError('no stream features');
    onFeatures?.(features);
    return await exchange(send, next);
  } finally {
    try {
      ws.send(`<close xmlns='${FRAMING}'/>`);
    } catch {
      // already closed
    }
    ws.onclose = null;
    ws.close();
  }
}

/** XEP-0077 §4: whether the server offers in-band registration (the feature in its stream features). */
export async function isRegistrationAllowed(url: string, domain: string): Promise<boolean> {
  let offered = false;
  await withStream(url, domain, async () => undefined, (features) => {
    offered = features.getElementsByTagNameNS(NS.REGISTER_FEATURE, 'register').length > 0;
  });
  return offered;
}

/** XEP-0077 §3.1: creates `username` with `password`; throws RawStreamError('conflict') when taken. */
export async function registerAccount(url: string, domain: string, username: string, password: string): Promise<void> {
  await withStream(url, domain, async (send, next) => {
    send(
      `<iq xmlns='jabber:client' type='set' id='reg1'><query xmlns='${NS.REGISTER}'>` +
        `<username>${escapeXml(username)}</username><password>${escapeXml(password)}</password></query></iq>`,
    );
    const answer = await next();
    if (answer.getAttribute('type') === 'result') return;
    const error = answer.getElementsByTagName('error')[0];
    const condition = error?.firstElementChild?.localName;
    const text = error?.getElementsByTagName('text')[0]?.textContent ?? undefined;
    throw new RawStreamError(text ?? registrationMessage(condition), condition);
  });
}

function registrationMessage(condition: string | undefined): string {
  switch (condition) {
    case 'conflict':
      return 'That name is taken.';
    case 'not-allowed':
    case 'forbidden':
    case 'service-unavailable':
      return 'This server does not allow creating accounts here.';
    case 'not-acceptable':
      return 'The name or password is not acceptable.';
    case 'resource-constraint':
      return 'Too many accounts created from here; try later.';
    default:
      return 'The account could not be created.';
  }
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * XEP-0484 §3.5: authenticates once more with the token and `invalidate`, so the server forgets it. Used on log
 * out: the token is the only credential the browser keeps.
 */
export async function invalidateFastToken(
  url: string,
  jid: { local: string; domain: string },
  token: { mechanism: string; token: string },
  userAgentId: string,
): Promise<void> {
  if (token.mechanism !== 'HT-SHA-256-NONE') throw new RawStreamError(`cannot use ${token.mechanism}`);
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(token.token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  // draft-schmaus-kitten-sasl-ht: the initiator's proof is HMAC(token, "Initiator" || channel binding), none here.
  const proof = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode('Initiator')));
  const user = enc.encode(jid.local);
  const initial = new Uint8Array(user.length + 1 + proof.length);
  initial.set(user, 0);
  initial.set(proof, user.length + 1);
  await withStream(url, jid.domain, async (send, next) => {
    send(
      `<authenticate xmlns='${NS.SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${base64(initial)}</initial-response>` +
        `<user-agent id='${escapeXml(userAgentId)}'><software>Parley web</software></user-agent>` +
        `<fast xmlns='${NS.FAST}' invalidate='true'/></authenticate>`,
    );
    const answer = await next();
    if (answer.localName !== 'success') throw new RawStreamError('the server refused the token', answer.firstElementChild?.localName);
  });
}
