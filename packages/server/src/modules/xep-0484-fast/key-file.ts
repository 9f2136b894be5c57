// The key FAST tokens are derived with (tokens.ts), kept in a file beside the database rather than in it, so that
// reading the database is not enough to log in. Created on first start with 32 random bytes, readable by the owner
// only; several workers starting at once agree on one key (the file appears complete, atomically, or not at all).
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const KEY_BYTES = 32;

export async function loadOrCreateKey(path: string): Promise<Buffer> {
  try {
    return parse(await readFile(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(temp, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    // link() fails with EEXIST if another process got there first; then its key is the key.
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp).catch(() => {});
  }
  await chmod(path, 0o600).catch(() => {});
  return parse(await readFile(path, 'utf8'), path);
}

function parse(text: string, path: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length < KEY_BYTES * 2 || hex.length % 2 !== 0) {
    throw new Error(`${path}: expected at least ${KEY_BYTES} bytes in hexadecimal (the FAST token key)`);
  }
  return Buffer.from(hex, 'hex');
}
