// The `parley` command's end of the control channel (protocol.ts).
import { createConnection, type Socket } from 'node:net';
import type { CommandArgs, CommandResult } from '../core/commands';
import type { CommandInfo, ControlErrorKind, ControlRequest, ControlResponse } from './protocol';

/** A command the running server refused or failed; `kind` decides the exit status. */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(readonly kind: ControlErrorKind, message: string) {
    super(message);
  }
}

export class ControlClient {
  private buffer = '';
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }>();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const response = JSON.parse(this.buffer.slice(0, nl)) as ControlResponse;
        this.buffer = this.buffer.slice(nl + 1);
        this.pending.get(response.id)?.resolve(response);
        this.pending.delete(response.id);
      }
    });
    const fail = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the control connection')));
  }

  /** Connects to a running server; undefined when none listens on `path` (no socket, or a stale one). */
  static connect(path: string): Promise<ControlClient | undefined> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
        else if (err.code === 'EACCES') reject(new ControlError('refused', `cannot open the control socket ${path}: permission denied (run as the user the server runs as)`));
        else reject(err);
      });
    });
  }

  private request(body: ControlRequest extends infer R ? (R extends ControlRequest ? Omit<R, 'id'> : never) : never): Promise<ControlResponse> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  async list(): Promise<CommandInfo[]> {
    const r = await this.request({ op: 'list' });
    if (!r.ok) throw new ControlError(r.error.kind, r.error.message);
    return 'commands' in r ? r.commands : [];
  }

  async run(command: string, args: CommandArgs): Promise<CommandResult> {
    const r = await this.request({ op: 'run', command, args });
    if (!r.ok) throw new ControlError(r.error.kind, r.error.message);
    if (!('result' in r)) throw new ControlError('internal', 'unexpected response from the server');
    return r.result;
  }

  close(): void {
    this.socket.end();
  }
}
