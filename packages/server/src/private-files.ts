// Files and directories that hold secrets: the database (SCRAM keys, FAST tokens, message archives), its WAL and
// shared-memory files, and the development TLS private key. They are created readable by the server's user only,
// and an existing install whose files an older version created world-readable is tightened at start, with a log
// line saying so (the administrator should know that the files were readable before).
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import type { Logger } from './log';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Permission bits for the group and for others: none of them may be set on a private file or directory. */
const SHARED_BITS = 0o077;

/** POSIX permission bits mean nothing on Windows (its ACLs are another matter): nothing to check there. */
const hasPosixModes = process.platform !== 'win32';

/** Creates `path` (and missing parents) owner-only, or tightens an existing directory that others may read. */
export function ensurePrivateDir(path: string, log?: Logger): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(path, PRIVATE_DIR_MODE, 'directory', log);
}

/**
 * Creates `path` empty with mode 0600 when it does not exist (so that a library opening it later, such as SQLite,
 * never creates it with its own default 0644), or tightens it when it exists with group or other bits set.
 */
export function ensurePrivateFile(path: string, log?: Logger): void {
  // 'a' creates without truncating; the mode applies only when the file is created, and the umask can only remove bits.
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  tighten(path, PRIVATE_FILE_MODE, 'file', log);
}

/** Tightens `path` when it exists and others may read it; an absent file is left absent. */
export function tightenIfPresent(path: string, log?: Logger): void {
  tighten(path, PRIVATE_FILE_MODE, 'file', log);
}

function tighten(path: string, mode: number, kind: 'file' | 'directory', log: Logger | undefined): void {
  if (!hasPosixModes) return;
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((current & SHARED_BITS) === 0) return;
  chmodSync(path, mode);
  log?.warn(
    { path, was: octal(current), now: octal(mode) },
    `${kind} holding secrets was readable by other users: permissions tightened`,
  );
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
