// VAPID keys (RFC 8292): one P-256 key pair per server, generated on first start and kept in the data directory
// (owner-only, like the database), so that browsers' subscriptions stay valid across restarts.
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // Written whole under a private name, then linked into place: of several worker processes starting together,
  // one installs its pair and the others read that one, never a half-written file.
  const staging = `${path}.${process.pid}.tmp`;
  writeFileSync(staging, JSON.stringify(keys, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
  try {
    linkSync(staging, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeys(path, log);
    throw err;
  } finally {
    rmSync(staging, { force: true });
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
