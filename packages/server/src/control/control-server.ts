// The running server's end of the control channel (protocol.ts): runs the registered admin commands for the local
// `parley` command. Only the owner can connect (socket 0600); every command run here is logged as an admin action.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StanzaError } from '@parley/protocol';
import { ConfigError } from '../config';
import { AccountError } from '../core/accounts';
import { audit } from '../core/audit';
import type { ParleyServer } from '../core/server';
import { MAX_LINE, MAX_SOCKET_PATH, type CommandInfo, type ControlErrorKind, type ControlRequest, type ControlResponse } from './protocol';

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Whether a server answers on `path` (a socket file left by a crashed server refuses connections). */
export function isSocketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Refuses to start a second server on the same data: two processes writing one SQLite database and one socket
 * would each see half the sessions (the issue the control channel exists to end).
 */
export async function assertNotRunning(path: string): Promise<void> {
  if (await isSocketLive(path)) {
    throw new ConfigError(`another Parley is already running here (its control socket ${path} answers); stop it first, or use another data_dir`);
  }
}

export async function startControlServer(server: ParleyServer, path: string): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ConfigError(`control.socket: '${path}' is longer than ${MAX_SOCKET_PATH} bytes, too long for a Unix socket; set a shorter control.socket or data_dir`);
  }
  await assertNotRunning(path);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await rm(path, { force: true }); // a stale socket of a server that did not stop cleanly
  const log = server.log.child({ control: path });
  const sockets = new Set<Socket>();
  const listener: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(server, socket, log);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  // Owner only: whoever connects runs every admin command. The directory is 0700 too where we created it.
  await chmod(path, 0o600);
  return {
    path,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}

function serve(server: ParleyServer, socket: Socket, log: ParleyServer['log']): void {
  socket.setEncoding('utf8');
  let buffer = '';
  // Requests on one connection are answered in order, one at a time.
  let chain = Promise.resolve();
  socket.on('error', () => {});
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      chain = chain.then(async () => {
        const response = await answer(server, line, log);
        if (!socket.destroyed) socket.write(JSON.stringify(response) + '\n');
      });
    }
    if (buffer.length > MAX_LINE) {
      socket.end(JSON.stringify({ id: 0, ok: false, error: { kind: 'usage', message: 'request line too long' } }) + '\n');
    }
  });
}

function info(c: { name: string; description: string; fields: CommandInfo['fields']; live?: boolean }): CommandInfo {
  return { name: c.name, description: c.description, fields: c.fields, live: c.live === true };
}

async function answer(server: ParleyServer, line: string, log: ParleyServer['log']): Promise<ControlResponse> {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
  } catch {
    return { id: 0, ok: false, error: { kind: 'usage', message: 'expected one JSON object per line' } };
  }
  const id = typeof request?.id === 'number' ? request.id : 0;
  if (request?.op === 'list') return { id, ok: true, commands: server.commands.list().map(info) };
  if (request?.op !== 'run' || typeof request.command !== 'string') {
    return { id, ok: false, error: { kind: 'usage', message: "expected op 'list' or 'run' with a command" } };
  }
  const command = server.commands.get(request.command);
  if (!command) return { id, ok: false, error: { kind: 'usage', message: `no admin command ${request.command} (run 'parley admin' for the list)` } };
  const args = request.args && typeof request.args === 'object' ? request.args : {};
  // An admin action, logged without its arguments (they may hold a password); the read-only reports are not.
  if (command.name !== 'status' && command.name !== 'cluster-status') audit.adminCommand(log, command.name, 'control-socket');
  try {
    return { id, ok: true, result: await command.run(args, undefined) };
  } catch (err) {
    const kind: ControlErrorKind = err instanceof AccountError ? 'refused' : err instanceof StanzaError ? 'usage' : 'internal';
    if (kind === 'internal') log.error({ err, command: command.name }, 'admin command failed');
    return { id, ok: false, error: { kind, message: (err as Error).message || String(err) } };
  }
}
