// Stored SCRAM keys (RFC 5802 §3, RFC 7677): the server keeps StoredKey and ServerKey per hash, never the
// password. PLAIN verifies a password by recomputing the SHA-256 StoredKey from the same salt and count.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Credentials, ScramKeys } from '../../storage/types';

export type ScramHash = 'SHA-1' | 'SHA-256';

const NODE_HASH: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
/** Output length of each hash in bytes (the length of a ClientProof and of the keys). */
export const HASH_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };
/** RFC 7677 §4: at least 4096 iterations. */
export const DEFAULT_ITERATIONS = 4096;
const SALT_BYTES = 16;

const pbkdf2Async = promisify(pbkdf2);

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
 * An approximation of SASLprep (RFC 4013) for passwords: the §2.1 mappings, NFKC (§2.2), and rejection of
 * control characters and lone surrogates. Not done: the rest of the §2.3 prohibited tables (private use,
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
 * (tests, known-answer vectors) both use the given one. Throws SaslPrepError for a password SASLprep rejects.
 */
export async function deriveCredentials(
  password: string,
  iterations = DEFAULT_ITERATIONS,
  salt?: Buffer,
): Promise<Credentials> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`invalid iteration count ${iterations}`);
  const prepped = saslPrep(password);
  const [sha1, sha256] = await Promise.all([
    scramKeys('SHA-1', prepped, salt ?? randomBytes(SALT_BYTES), iterations),
    scramKeys('SHA-256', prepped, salt ?? randomBytes(SALT_BYTES), iterations),
  ]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}

/** Whether `password` matches the stored SHA-256 keys (for PLAIN, RFC 4616). */
export async function verifyPassword(credentials: Credentials, password: string): Promise<boolean> {
  const keys = credentials['SCRAM-SHA-256'];
  let prepped: string;
  try {
    prepped = saslPrep(password);
  } catch (err) {
    if (err instanceof SaslPrepError) return false;
    throw err;
  }
  const salted = await saltedPassword('SHA-256', prepped, Buffer.from(keys.salt, 'base64'), keys.iterations);
  const expected = Buffer.from(keys.storedKey, 'base64');
  const actual = storedKeyOf('SHA-256', salted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
