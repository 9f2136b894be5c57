// Rules every backend applies identically, so the contract tests see the same behaviour whatever stores the bytes.
import { randomBytes } from 'node:crypto';
import type { ArchiveItem, ArchiveQuery } from './types';

/**
 * 72 random bits as 12 base64url characters: safe in URLs and XML attributes, and not guessable, because
 * XEP-0313 ids (also XEP-0359 stanza-ids) are shown to users and must not let them probe other archives.
 */
export function newArchiveId(): string {
  // Random bytes are drawn and encoded in blocks: one call into OpenSSL and one base64 encoding per 1,024 ids
  // instead of one per archived stanza. 9 bytes are exactly 12 base64 characters, so id k is characters
  // 12k…12k+11 of the block's encoding (a copy: V8 does not share the block's memory for strings this short).
  if (poolOffset >= pool.length) {
    pool = randomBytes(9 * 1024).toString('base64url');
    poolOffset = 0;
  }
  const id = pool.slice(poolOffset, poolOffset + 12);
  poolOffset += 12;
  return id;
}
let pool = '';
let poolOffset = 0;

/** Stored values are JSON text in every backend, so the memory backend drops `undefined` fields exactly like SQLite does. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`cannot store a value of type ${typeof value}`);
  return text;
}

export function checkArchiveItem(item: Omit<ArchiveItem, 'id'> & { id?: string }): void {
  if (item.id !== undefined && (typeof item.id !== 'string' || item.id === '')) throw new TypeError('archive id must be a non-empty string');
  if (typeof item.when !== 'number' || !Number.isFinite(item.when)) throw new TypeError('archive item needs a finite `when`');
  if (item.with !== undefined && typeof item.with !== 'string') throw new TypeError('archive `with` must be a string');
  if (typeof item.payload !== 'string') throw new TypeError('archive payload must be a string');
}

export function checkLimit(query: ArchiveQuery): void {
  const { limit } = query;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new RangeError(`archive limit must be a non-negative integer, got ${limit}`);
}

/** Copies only the defined fields so results compare equal across backends (no `with: undefined`). */
export function archiveItem(id: string, when: number, withJid: string | null | undefined, payload: string): ArchiveItem {
  return withJid == null ? { id, when, payload } : { id, when, with: withJid, payload };
}
