// Stored SCRAM keys (RFC 5802 §3, RFC 7677): the server keeps StoredKey and ServerKey per hash, never the
// password. PLAIN verifies a password by recomputing the SHA-256 StoredKey from the same salt and count.
// Passwords are prepared with the PRECIS OpaqueString profile (RFC 8265 §4.2).
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { PrecisError, enforceOpaqueString } from '@parley/protocol';
import type { Credentials, ScramKeys } from '../../storage/types';

export type ScramHash = 'SHA-1' | 'SHA-256';

const NODE_HASH: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
/** Output length of each hash in bytes (the length of a ClientProof and of the keys). */
export const HASH_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };
/**
 * auth.scram_iterations' default. RFC 7677 §4 sets 4096 as the floor and asks for more as hardware gets faster; the
 * OWASP Password Storage Cheat Sheet (2023) asks 600,000 for PBKDF2-HMAC-SHA256. The server pays it when keys are
 * made (registration, password change, the upgrade below) and for each PLAIN login; SCRAM clients pay it at login
 * unless they cache the salted password, as the common ones do.
 */
export const DEFAULT_ITERATIONS = 600_000;
const SALT_BYTES = 16;

const pbkdf2Async = promisify(pbkdf2);

/** A password that cannot be prepared (SASLprep or OpaqueString refuses it). */
export class SaslPrepError extends Error {}

// RFC 3454 C.1.2 (non-ASCII space → SPACE) and B.1 ("commonly mapped to nothing"), as RFC 4013 §2.1 asks.
// U+200B is in both tables; B.1 wins here, as in most SASLprep libraries. (Sets, not regex classes: B.1 holds
// combining marks and variation selectors.)
const NON_ASCII_SPACE = new Set([0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
  0x2008, 0x2009, 0x200a, 0x202f, 0x205f, 0x3000]);
const MAPPED_TO_NOTHING = new Set([0xad, 0x34f, 0x1806, 0x180b, 0x180c, 0x180d, 0x200b, 0x200c, 0x200d, 0x2060,
  0xfeff, ...Array.from({ length: 16 }, (_, i) => 0xfe00 + i)]);
// Control characters (RFC 3454 C.2) and lone surrogates (C.5, which UTF-8 could not carry faithfully).
const PROHIBITED = /[\p{Cc}\p{Cs}]/u;

/**
 * RFC 8265 §4.2 OpaqueString for a password that is being set (registration, password change): invisible and
 * unassigned code points, controls and the like are refused, non-ASCII spaces become SPACE, NFC.
 * SCRAM clients prepare the password themselves before hashing it, most still with SASLprep (RFC 5802 §2.2), which
 * applies NFKC where OpaqueString applies NFC. Keys are only any use if both sides hash the same bytes, so a password
 * the two profiles prepare differently (compatibility characters: fullwidth letters, ligatures, superscripts) is
 * refused rather than stored in a form some clients can never reproduce.
 */
export function preparePassword(password: string): string {
  let opaque: string;
  try {
    opaque = enforceOpaqueString(password);
  } catch (err) {
    if (err instanceof PrecisError) throw new SaslPrepError(`the password is not an OpaqueString (RFC 8265 §4.2): ${err.message}`);
    throw err;
  }
  let legacy: string | undefined;
  try {
    legacy = saslPrep(password);
  } catch {
    legacy = undefined;
  }
  if (legacy !== opaque) {
    throw new SaslPrepError('the password holds compatibility characters (fullwidth forms, ligatures...) that clients prepare in different ways');
  }
  return opaque;
}

/**
 * The prepared forms an offered password may have been stored under, current first: OpaqueString, and SASLprep for
 * keys made before passwords were OpaqueString (the two differ only for passwords preparePassword now refuses).
 */
function candidateForms(password: string): string[] {
  const forms: string[] = [];
  for (const prepare of [enforceOpaqueString, saslPrep]) {
    try {
      const form = prepare(password);
      if (!forms.includes(form)) forms.push(form);
    } catch {
      // not preparable this way
    }
  }
  return forms;
}

/**
 * An approximation of SASLprep (RFC 4013), kept to check keys made before passwords were OpaqueString and to find
 * the passwords the two profiles prepare differently: the §2.1 mappings, NFKC (§2.2), and rejection of control
 * characters and lone surrogates. Not done: the rest of the §2.3 prohibited tables (private use,
 * non-characters, bidi marks), the bidi rule (§2.4) and the unassigned-code-point check. Both sides only need
 * to hash the same bytes, and for every password full SASLprep accepts this gives the same output.
 */
export function saslPrep(password: string): string {
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    if (!MAPPED_TO_NOTHING.has(cp)) mapped += NON_ASCII_SPACE.has(cp) ? ' ' : ch;
  }
  const out = mapped.normalize('NFKC');
  if (out.length === 0) throw new SaslPrepError('the password is empty');
  if (PROHIBITED.test(out)) throw new SaslPrepError('the password contains control characters');
  return out;
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(NODE_HASH[hash], key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(NODE_HASH[hash]).update(data).digest();
}

/** RFC 5802 §2.2 Hi() is PBKDF2 with HMAC as the PRF and one output block. */
function saltedPassword(hash: ScramHash, prepped: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(prepped, 'utf8'), salt, iterations, HASH_BYTES[hash], NODE_HASH[hash]);
}

/** RFC 5802 §3: StoredKey = H(HMAC(SaltedPassword, "Client Key")). */
function storedKeyOf(hash: ScramHash, salted: Buffer): Buffer {
  return digest(hash, hmac(hash, salted, 'Client Key'));
}

async function scramKeys(hash: ScramHash, prepped: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  const salted = await saltedPassword(hash, prepped, salt, iterations);
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: storedKeyOf(hash, salted).toString('base64'),
    serverKey: hmac(hash, salted, 'Server Key').toString('base64'),
  };
}

/**
 * Keys for SCRAM-SHA-1 and SCRAM-SHA-256. Without `salt` each hash gets its own random 16-byte salt; with it
 * (tests, known-answer vectors) both use the given one. Throws SaslPrepError for a password preparePassword refuses.
 */
export async function deriveCredentials(password: string, iterations = DEFAULT_ITERATIONS, salt?: Buffer): Promise<Credentials> {
  return deriveFromPrepared(preparePassword(password), iterations, salt);
}

/** Keys from a password already prepared: the form matchPassword() returned, to re-derive keys without changing them. */
export async function deriveFromPrepared(prepped: string, iterations = DEFAULT_ITERATIONS, salt?: Buffer): Promise<Credentials> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`invalid iteration count ${iterations}`);
  if (prepped.length === 0) throw new SaslPrepError('the password is empty');
  const [sha1, sha256] = await Promise.all([
    scramKeys('SHA-1', prepped, salt ?? randomBytes(SALT_BYTES), iterations),
    scramKeys('SHA-256', prepped, salt ?? randomBytes(SALT_BYTES), iterations),
  ]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}

/**
 * Checks `password` against the stored SHA-256 keys (for PLAIN, RFC 4616); returns the prepared form that matched
 * (what deriveFromPrepared() needs to re-derive the same keys with more iterations), or undefined.
 */
export async function matchPassword(credentials: Credentials, password: string): Promise<string | undefined> {
  const keys = credentials['SCRAM-SHA-256'];
  const expected = Buffer.from(keys.storedKey, 'base64');
  for (const prepped of candidateForms(password)) {
    const salted = await saltedPassword('SHA-256', prepped, Buffer.from(keys.salt, 'base64'), keys.iterations);
    const actual = storedKeyOf('SHA-256', salted);
    if (expected.length === actual.length && timingSafeEqual(expected, actual)) return prepped;
  }
  return undefined;
}

/** Whether `password` matches the stored SHA-256 keys. */
export async function verifyPassword(credentials: Credentials, password: string): Promise<boolean> {
  return (await matchPassword(credentials, password)) !== undefined;
}

/** Whether either hash's keys were made with fewer iterations than `iterations` (then a known password upgrades them). */
export function hasWeakerKeys(credentials: Credentials, iterations: number): boolean {
  return credentials['SCRAM-SHA-1'].iterations < iterations || credentials['SCRAM-SHA-256'].iterations < iterations;
}
