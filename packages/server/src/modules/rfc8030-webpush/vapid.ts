// VAPID keys (RFC 8292): one P-256 key pair per server, generated on first start and kept in the data directory
// (owner-only, like the database), so that browsers' subscriptions stay valid across restarts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenIfPresent } from '../../private-files';
import type { Logger } from '../../log';

export interface VapidKeys {
  /** Uncompressed P-256 point, base64url (what PushManager.subscribe takes as applicationServerKey). */
  publicKey: string;
  privateKey: string;
}

export const VAPID_FILE = 'webpush-vapid.json';

export function loadOrCreateVapidKeys(dataDir: string, log: Logger): VapidKeys {
  const path = join(dataDir, VAPID_FILE);
  if (existsSync(path)) return readKeys(path, log);
  ensurePrivateDir(dataDir, log);
  const keys = webpush.generateVAPIDKeys();
  try {
    // 'wx': of several worker processes starting together, one writes the pair and the others read it.
    writeFileSync(path, JSON.stringify(keys, null, 2) + '\n', { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeys(path, log);
    throw err;
  }
  log.info({ path }, 'generated the VAPID key pair for Web Push');
  return keys;
}

function readKeys(path: string, log: Logger): VapidKeys {
  tightenIfPresent(path, log);
  const keys = JSON.parse(readFileSync(path, 'utf8')) as Partial<VapidKeys>;
  if (typeof keys.publicKey !== 'string' || typeof keys.privateKey !== 'string') throw new Error(`${path}: not a VAPID key pair`);
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
