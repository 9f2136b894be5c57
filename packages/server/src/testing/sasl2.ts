// Raw XEP-0388 SASL2 / XEP-0386 Bind 2 / XEP-0484 FAST requests for byte-level tests with RawClient: the client
// side of PLAIN, SCRAM-SHA-256 and HT-SHA-256-*, written out so that tests show exactly what goes on the wire.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import type { RawClient } from './harness';

export const SASL2 = 'urn:xmpp:sasl:2';
export const BIND2 = 'urn:xmpp:bind:0';
export const FAST = 'urn:xmpp:fast:0';

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** RFC 4616 PLAIN initial response. */
export function plain(user: string, password = 'secret'): string {
  return b64(`\0${user}\0${password}`);
}

export interface AuthenticateOptions {
  /** base64 initial response; absent for none. */
  initial?: string;
  userAgent?: { id?: string; software?: string; device?: string };
  /** Inner XML of a Bind 2 <bind/> (true: an empty one). */
  bind?: string | true;
  /** More children of <authenticate/> (FAST elements, …). */
  extra?: string;
}

/** XEP-0388 §2.3 <authenticate/>. */
export function authenticate(mechanism: string, o: AuthenticateOptions = {}): string {
  let ua = '';
  if (o.userAgent) {
    const id = o.userAgent.id === undefined ? '' : ` id='${o.userAgent.id}'`;
    ua = `<user-agent${id}>${o.userAgent.software ? `<software>${o.userAgent.software}</software>` : ''}${
      o.userAgent.device ? `<device>${o.userAgent.device}</device>` : ''
    }</user-agent>`;
  }
  const bind = o.bind === undefined ? '' : o.bind === true ? `<bind xmlns='${BIND2}'/>` : `<bind xmlns='${BIND2}'>${o.bind}</bind>`;
  const ir = o.initial === undefined ? '' : `<initial-response>${o.initial}</initial-response>`;
  return `<authenticate xmlns='${SASL2}' mechanism='${mechanism}'>${ir}${ua}${bind}${o.extra ?? ''}</authenticate>`;
}

/** draft-schmaus-kitten-sasl-ht: authcid NUL HMAC-SHA-256(token, "Initiator" || cb-data), base64. */
export function htInitial(user: string, token: string, cbData: Buffer = Buffer.alloc(0)): string {
  const hash = createHmac('sha256', Buffer.from(token, 'utf8')).update('Initiator').update(cbData).digest();
  return b64(Buffer.concat([Buffer.from(`${user}\0`, 'utf8'), hash]));
}

/** What the server's <additional-data/> must be after an HT success. */
export function htResponder(token: string, cbData: Buffer = Buffer.alloc(0)): string {
  return createHmac('sha256', Buffer.from(token, 'utf8')).update('Responder').update(cbData).digest('base64');
}

/** RFC 5802 / RFC 7677 SCRAM-SHA-256 client without channel binding. */
export class ScramSha256Client {
  private readonly nonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private authMessage = '';
  private salted = Buffer.alloc(0);

  constructor(
    private readonly user: string,
    private readonly password = 'secret',
  ) {}

  first(): string {
    this.clientFirstBare = `n=${this.user},r=${this.nonce}`;
    return b64(`n,,${this.clientFirstBare}`);
  }

  final(challengeBase64: string): string {
    const serverFirst = Buffer.from(challengeBase64, 'base64').toString();
    const attrs = new Map(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)] as const));
    this.salted = pbkdf2Sync(this.password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
    const withoutProof = `c=biws,r=${attrs.get('r')}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac('sha256', this.salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const signature = createHmac('sha256', storedKey).update(this.authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    return b64(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** The server-final-message the server must send: v=ServerSignature. */
  expectedFinal(): string {
    const serverKey = createHmac('sha256', this.salted).update('Server Key').digest();
    return `v=${createHmac('sha256', serverKey).update(this.authMessage).digest('base64')}`;
  }
}

/** Opens a stream on a raw client and waits for the features; the client's buffer is cleared. */
export async function openStream(r: RawClient): Promise<string> {
  r.open();
  const features = await r.waitFor('</stream:features>');
  r.data = '';
  return features;
}

/**
 * Sends each request on a stream of its own (a stream allows only a few failed attempts) and expects the answer
 * to contain the given text while the stream stays open: bad input gets a precise failure, never a disconnect.
 */
export async function expectAnswersOnFreshStreams(connect: () => Promise<RawClient>, cases: [request: string, expected: string][]): Promise<void> {
  for (const [request, expected] of cases) {
    const r = await connect();
    await openStream(r);
    r.write(request);
    await r.waitFor(expected);
    assert.equal(r.closed, false);
    r.destroy();
  }
}

/** The text content of the first <name>…</name> in some XML text. */
export function textOf(xmlText: string, name: string): string | undefined {
  const m = new RegExp(`<${name}(?: [^>]*)?>([^<]*)</${name}>`).exec(xmlText);
  return m?.[1];
}

/** An attribute of the first <name …/> in some XML text. */
export function attrOf(xmlText: string, name: string, attr: string): string | undefined {
  const tag = new RegExp(`<${name}(?: [^>]*)?/?>`).exec(xmlText)?.[0];
  return tag ? new RegExp(`\\b${attr}='([^']*)'`).exec(tag)?.[1] : undefined;
}
