// Avatar bytes as XEP-0084 and XEP-0153 name them: an avatar is identified by the SHA-1 of its image (XEP-0084 §4.2
// 'id', XEP-0153 §4.1 <photo/>). The app caches avatars by that hash across contacts, so it checks that the bytes
// really hash to it: otherwise a contact could publish any picture under someone else's hash and have it shown for
// them. No DOM here: this is tested in Node.

/** Largest avatar accepted from a contact (decoded bytes); XEP-0084 §4.2 suggests far less for the PNG. */
export const MAX_AVATAR_BYTES = 512 * 1024;
/** Image types shown (XEP-0084 §4.2.1: image/png is the one every client must support). */
const SHOWN_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export function isSha1Hex(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}

export async function sha1Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Base64 as XML carries it (XEP-0084 §4.1: may contain whitespace); undefined when it is not base64. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return undefined;
  const bin = atob(clean);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * The data URL for an avatar whose bytes arrived as base64, when they hash to `hash`, fit the size limit and are
 * an image type we show; undefined otherwise.
 */
export async function verifiedAvatarUrl(base64: string, hash: string, type = 'image/png'): Promise<string | undefined> {
  if (!isSha1Hex(hash) || !SHOWN_TYPES.has(type)) return undefined;
  const bytes = decodeBase64(base64);
  if (!bytes || bytes.length === 0 || bytes.length > MAX_AVATAR_BYTES) return undefined;
  if ((await sha1Hex(bytes)) !== hash) return undefined;
  return `data:${type};base64,${encodeBase64(bytes)}`;
}

/** One or two letters for the placeholder avatar: the first letters of the first two words of a name or address. */
export function initials(name: string): string {
  const local = name.includes('@') && !name.includes(' ') ? name.split('@')[0]! : name;
  const words = local.split(/[\s._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]!.toUpperCase());
  return letters.join('') || '?';
}
