// SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), and the -PLUS variants bound to the TLS channel with
// tls-exporter (RFC 9266) or tls-server-end-point (RFC 5929). Server side: client-first → server-first →
// client-final → <success/> carrying the server-final-message (RFC 6120 §6.3.10).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SaslFailure } from '@parley/protocol';
import type { ScramKeys } from '../../storage/types';
import { DEFAULT_ITERATIONS, HASH_BYTES, digest, hmac, type ScramHash } from './credentials';
import { checkAuthzid, decodeUtf8, normalizeUsername } from './identity';
import type { ChannelBindingType, SaslContext, SaslExchange, SaslMechanism, SaslStep } from './types';

/**
 * Channel binding types we accept, best first. tls-unique is left out: undefined for TLS 1.3 and unsafe
 * for TLS 1.2 without extended master secret (RFC 9266 §1, the triple handshake attack).
 */
export const CHANNEL_BINDING_PREFERENCE: readonly ChannelBindingType[] = ['tls-exporter', 'tls-server-end-point'];

/** The types this connection can bind to, best first (also what XEP-0440 would advertise). */
export function availableChannelBindings(ctx: SaslContext): ChannelBindingType[] {
  return CHANNEL_BINDING_PREFERENCE.filter((t) => ctx.channelBinding(t) !== undefined);
}

export interface ScramOptions {
  /** Server part of the nonce; random by default. Injectable for known-answer tests. */
  nonce?: () => string;
  /**
   * Iteration count announced for unknown users. Should equal the count used for real accounts
   * (auth.scram_iterations), or a client could tell the two apart.
   */
  fakeIterations?: number;
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/; // RFC 5802 §7 'printable': no comma
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CB_NAME = /^[A-Za-z0-9.-]+$/;
const EMPTY = Buffer.alloc(0);
/**
 * Keys the fake salts of unknown users. One per process and shared by every SCRAM mechanism, so an unknown
 * user gets the same salt from SCRAM-SHA-1 and SCRAM-SHA-1-PLUS, as a real user does.
 */
const FAKE_SALT_SECRET = randomBytes(32);

function malformed(text: string): SaslFailure {
  return new SaslFailure('malformed-request', text);
}

/** RFC 5802 §5.1: ',' and '=' inside a saslname are sent as =2C and =3D; any other '=' is an error. */
function decodeSaslname(s: string): string {
  if (s.length === 0 || s.includes('\0') || /=(?!2C|3D)/.test(s)) throw malformed('invalid saslname');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function decodeBase64(s: string): Buffer {
  if (!BASE64.test(s)) throw malformed('invalid base64');
  return Buffer.from(s, 'base64');
}

/** Splits "k=v,k=v" and checks the keys come in the given order; returns the values, then any extensions. */
function attributes(text: string, keys: string[]): string[] {
  const parts = text.split(',');
  if (parts.length < keys.length) throw malformed('missing attributes');
  return parts.map((part, i) => {
    const key = keys[i];
    // RFC 5802 §7: extensions are attr-val, a single letter then '='; unknown optional ones are ignored.
    if (key !== undefined ? !part.startsWith(`${key}=`) : !/^[A-Za-z]=/.test(part)) {
      throw malformed(key ? `expected ${key}=` : 'invalid extension');
    }
    return part.slice(2);
  });
}

type CbFlag = { kind: 'n' } | { kind: 'y' } | { kind: 'p'; type: string };

interface ClientFirst {
  gs2Header: string;
  flag: CbFlag;
  authzid: string | undefined;
  bare: string;
  username: string;
  clientNonce: string;
}

function parseClientFirst(data: Buffer): ClientFirst {
  const text = decodeUtf8(data);
  // gs2-header = gs2-cbind-flag "," [authzid] "," — neither part may contain a comma (RFC 5802 §7).
  const c1 = text.indexOf(',');
  const c2 = c1 === -1 ? -1 : text.indexOf(',', c1 + 1);
  if (c2 === -1) throw malformed('no gs2 header');
  const rawFlag = text.slice(0, c1);
  let flag: CbFlag;
  if (rawFlag === 'n' || rawFlag === 'y') flag = { kind: rawFlag };
  else if (rawFlag.startsWith('p=') && CB_NAME.test(rawFlag.slice(2))) flag = { kind: 'p', type: rawFlag.slice(2) };
  else throw malformed('invalid channel binding flag');
  const rawAuthzid = text.slice(c1 + 1, c2);
  if (rawAuthzid !== '' && !rawAuthzid.startsWith('a=')) throw malformed('invalid authzid');
  const bare = text.slice(c2 + 1);
  // RFC 5802 §5.1: m= is reserved for mandatory extensions; a server that does not know it must fail.
  if (bare.startsWith('m=')) throw malformed('unsupported mandatory extension');
  const [rawUser = '', clientNonce = ''] = attributes(bare, ['n', 'r']);
  if (!PRINTABLE.test(clientNonce)) throw malformed('invalid nonce');
  return {
    gs2Header: text.slice(0, c2 + 1),
    flag,
    authzid: rawAuthzid === '' ? undefined : decodeSaslname(rawAuthzid.slice(2)),
    bare,
    username: decodeSaslname(rawUser),
    clientNonce,
  };
}

interface ClientFinal {
  withoutProof: string;
  binding: Buffer;
  nonce: string;
  proof: Buffer;
}

function parseClientFinal(data: Buffer): ClientFinal {
  const text = decodeUtf8(data);
  // The proof is always last (RFC 5802 §7) and base64 has no comma, so the last ",p=" starts it.
  const at = text.lastIndexOf(',p=');
  if (at === -1) throw malformed('no proof');
  const withoutProof = text.slice(0, at);
  const [binding = '', nonce = ''] = attributes(withoutProof, ['c', 'r']);
  return { withoutProof, binding: decodeBase64(binding), nonce, proof: decodeBase64(text.slice(at + 3)) };
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

interface Pending {
  first: ClientFirst;
  /** Normalised username. */
  username: string;
  /** Undefined for an unknown user: the exchange goes on and fails at the proof (no user enumeration). */
  keys: ScramKeys | undefined;
  cbData: Buffer;
  nonce: string;
  serverFirst: string;
}

class ScramExchange implements SaslExchange {
  private state: 'start' | 'prompted' | 'first-sent' | 'done' = 'start';
  private pending: Pending | undefined;

  constructor(
    private readonly mech: ScramMechanism,
    private readonly ctx: SaslContext,
  ) {}

  async step(response: Buffer | null): Promise<SaslStep> {
    const state = this.state;
    if (state === 'start' && response === null) {
      // RFC 4422 §5 / RFC 6120 §6.4.2: no initial response, so an empty challenge asks for client-first.
      this.state = 'prompted';
      return { kind: 'challenge', data: EMPTY };
    }
    this.state = 'done'; // any failure below ends the exchange
    if (response === null || response.length === 0) throw malformed('empty response');
    if (state === 'start' || state === 'prompted') return this.first(response);
    if (state === 'first-sent') return this.final(response);
    throw malformed('exchange already finished');
  }

  private async first(data: Buffer): Promise<SaslStep> {
    const first = parseClientFirst(data);
    const cbData = this.bindingData(first.flag);
    const username = normalizeUsername(first.username);
    const keys = (await this.ctx.getCredentials(username))?.[this.mech.credentialKey];
    const salt = keys?.salt ?? this.mech.fakeSalt(username);
    const iterations = keys?.iterations ?? this.mech.fakeIterations;
    const nonce = first.clientNonce + this.mech.serverNonce();
    const serverFirst = `r=${nonce},s=${salt},i=${iterations}`;
    this.pending = { first, username, keys, cbData, nonce, serverFirst };
    this.state = 'first-sent';
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** The channel binding data the client must echo in c=, after RFC 5802 §6's rules for the gs2 flag. */
  private bindingData(flag: CbFlag): Buffer {
    if (!this.mech.plus) {
      // 'p' with a non-PLUS mechanism is a contradiction. 'y' means "I could bind but you offered no -PLUS":
      // if we did offer one, someone stripped it from our features, so this is a downgrade (RFC 5802 §6).
      if (flag.kind === 'p') throw new SaslFailure('not-authorized', 'channel binding needs a -PLUS mechanism');
      if (flag.kind === 'y' && availableChannelBindings(this.ctx).length > 0 && !this.ctx.channelBindingRejected) {
        throw new SaslFailure('not-authorized', 'channel binding was offered');
      }
      return EMPTY;
    }
    if (flag.kind !== 'p') throw new SaslFailure('not-authorized', 'a -PLUS mechanism needs p=');
    const type = CHANNEL_BINDING_PREFERENCE.find((t) => t === flag.type);
    const data = type && this.ctx.channelBinding(type);
    if (!data) {
      this.ctx.channelBindingRejected = true;
      throw new SaslFailure('not-authorized', `channel binding type ${flag.type} is not available`);
    }
    return data;
  }

  private async final(data: Buffer): Promise<SaslStep> {
    const p = this.pending!;
    const msg = parseClientFinal(data);
    // RFC 5802 §5.1 / §6: c= is the base64 of the gs2 header as sent, followed by the channel binding data.
    const expected = Buffer.concat([Buffer.from(p.first.gs2Header, 'utf8'), p.cbData]);
    if (!msg.binding.equals(expected)) throw new SaslFailure('not-authorized', 'channel binding mismatch');
    if (msg.nonce !== p.nonce) throw new SaslFailure('not-authorized', 'nonce mismatch');

    const hash = this.mech.hash;
    const size = HASH_BYTES[hash];
    const authMessage = `${p.first.bare},${p.serverFirst},${msg.withoutProof}`;
    // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and H(ClientKey) must be StoredKey.
    // An unknown user (or a proof of the wrong size) is checked against random bytes, so the failure costs
    // the same work as a wrong password.
    const stored = p.keys ? Buffer.from(p.keys.storedKey, 'base64') : undefined;
    const storedKey = stored?.length === size ? stored : randomBytes(size);
    const proof = msg.proof.length === size ? msg.proof : randomBytes(size);
    const clientKey = xor(proof, hmac(hash, storedKey, authMessage));
    const matches = timingSafeEqual(digest(hash, clientKey), storedKey);
    if (!matches || !p.keys || storedKey !== stored || proof !== msg.proof) throw new SaslFailure('not-authorized');
    // RFC 4422 §3.4.1: authorization is decided only once authentication succeeded.
    checkAuthzid(p.first.authzid, p.username, this.ctx);
    const serverSignature = hmac(hash, Buffer.from(p.keys.serverKey, 'base64'), authMessage);
    this.state = 'done';
    return { kind: 'success', username: p.username, additional: Buffer.from(`v=${serverSignature.toString('base64')}`) };
  }
}

class ScramMechanism implements SaslMechanism {
  readonly name: string;
  readonly credentialKey: 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
  readonly fakeIterations: number;
  private readonly nonceSource: () => string;

  constructor(
    readonly hash: ScramHash,
    readonly plus: boolean,
    opts: ScramOptions,
  ) {
    this.credentialKey = `SCRAM-${hash}`;
    this.name = plus ? `${this.credentialKey}-PLUS` : this.credentialKey;
    this.fakeIterations = opts.fakeIterations ?? DEFAULT_ITERATIONS;
    this.nonceSource = opts.nonce ?? (() => randomBytes(24).toString('base64'));
  }

  isAvailable(ctx: SaslContext): boolean {
    // Plain SCRAM is always offered; whether authentication may happen before TLS is the stream's decision.
    return !this.plus || availableChannelBindings(ctx).length > 0;
  }

  start(ctx: SaslContext): SaslExchange {
    return new ScramExchange(this, ctx);
  }

  serverNonce(): string {
    const nonce = this.nonceSource();
    if (!PRINTABLE.test(nonce)) throw new Error('SCRAM nonce must be printable ASCII without commas');
    return nonce;
  }

  /**
   * Stable per username and hash, so asking twice about an unknown user gives the same answer as for a real
   * one (a restart changes it, as a password change would).
   */
  fakeSalt(username: string): string {
    return hmac('SHA-256', FAKE_SALT_SECRET, `${this.credentialKey}\0${username}`).subarray(0, 16).toString('base64');
  }
}

/** SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants. */
export function scramMechanism(hash: ScramHash, plus: boolean, opts: ScramOptions = {}): SaslMechanism {
  return new ScramMechanism(hash, plus, opts);
}
