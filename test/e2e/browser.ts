// Shared by the browser tests: Debian's Chromium driven by playwright-core (TESTING.md: the flags keep it off the
// network and working as root), the web app built if this checkout has not, and a generated test image.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The skip reason when Chromium is missing, for `describe(…, { skip })`. */
export const chromiumMissing: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`;
export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

export type Browser = import('playwright-core').Browser;

/** `npm install` builds the app (root prepare script); build it here if this checkout has not. */
export function ensureWebAppBuilt(): void {
  if (existsSync(join(REPO_ROOT, 'packages/web/dist/index.html'))) return;
  const r = spawnSync('npm', ['run', 'build', '-w', 'packages/web'], { cwd: REPO_ROOT, stdio: 'inherit' });
  assert.equal(r.status, 0, 'building packages/web failed');
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A small PNG (PNG spec §5: signature, IHDR, IDAT, IEND) of a checkerboard, unique per `seed`. */
export function checkerboardPng(seed = 0, size = 64): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits per sample, truecolour, no interlace
  const rows: number[] = [];
  for (let y = 0; y < size; y++) {
    rows.push(0); // filter type None
    for (let x = 0; x < size; x++) rows.push(...(((x >> 3) + (y >> 3)) % 2 ? [230, 120, seed & 0xff] : [30, 60, 220]));
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}
