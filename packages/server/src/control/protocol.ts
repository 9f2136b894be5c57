// The control channel between `parley …` and a running server (as `prosodyctl shell` and `ejabberdctl` have): a
// Unix socket in the data directory, owner-only, one JSON object per line each way. Whoever can open the socket
// can run every admin command, exactly as whoever can open the database could before: the file mode is the
// access control, so the socket is created 0600 in a 0700 directory.
import type { CommandArgs, CommandField, CommandResult } from '../core/commands';

/** Longest request line accepted; a command's arguments are a few JIDs and a password. */
export const MAX_LINE = 1 << 20;

/** A Unix socket path must fit sockaddr_un.sun_path (108 bytes on Linux, 104 on BSDs, with the NUL). */
export const MAX_SOCKET_PATH = 103;

export type ControlRequest =
  | { id: number; op: 'list' }
  | { id: number; op: 'run'; command: string; args: CommandArgs };

export interface CommandInfo {
  name: string;
  description: string;
  fields: CommandField[];
  live: boolean;
}

/**
 * Why a command failed: 'usage' (unknown command, bad or missing argument), 'refused' (the account or value
 * named does not fit: exists already, no such user …) or 'internal' (the server failed).
 */
export type ControlErrorKind = 'usage' | 'refused' | 'internal';

export type ControlResponse =
  | { id: number; ok: true; commands: CommandInfo[] }
  | { id: number; ok: true; result: CommandResult }
  | { id: number; ok: false; error: { kind: ControlErrorKind; message: string } };
