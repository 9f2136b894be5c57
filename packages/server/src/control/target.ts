// Where the `parley` command runs an admin command: on the running server over its control socket when one
// answers, else on the storage directly (accounts can be managed with the server stopped). Commands about live
// sessions (AdminCommand.live) are refused offline instead of reporting an empty server.
import { StanzaError } from '@parley/protocol';
import type { Config } from '../config';
import { AccountError } from '../core/accounts';
import type { CommandArgs, CommandResult } from '../core/commands';
import { createLogger } from '../log';
import { createCore } from '../main';
import { ControlClient, ControlError } from './control-client';
import type { CommandInfo } from './protocol';

/** No server answers on the control socket and the command needs one (exit status 3, as LSB `status` has it). */
export class NotRunningError extends Error {
  override name = 'NotRunningError';
}

export interface CommandTarget {
  /** 'running': the server over its control socket; 'storage': the database directly, no server running. */
  readonly mode: 'running' | 'storage';
  list(): Promise<CommandInfo[]>;
  run(name: string, args: CommandArgs): Promise<CommandResult>;
  close(): Promise<void>;
}

export async function openCommandTarget(config: Config, options: { requireRunning?: boolean } = {}): Promise<CommandTarget> {
  const socket = config.control.socket;
  const client = config.control.enabled ? await ControlClient.connect(socket) : undefined;
  if (client) {
    return {
      mode: 'running',
      list: () => client.list(),
      run: (name, args) => client.run(name, args),
      close: async () => client.close(),
    };
  }
  const notRunning = (what: string) =>
    new NotRunningError(`Parley is not running (no server answers on ${socket}): ${what} needs the running server; start it with 'parley start'`);
  if (options.requireRunning) throw notRunning('this command');
  const core = await createCore(config, createLogger('warn'));
  const commands = () => core.commands.list().map((c) => ({ name: c.name, description: c.description, fields: c.fields, live: c.live === true }));
  return {
    mode: 'storage',
    list: async () => commands(),
    async run(name, args) {
      const command = core.commands.get(name);
      if (!command) throw new ControlError('usage', `no admin command ${name} (run 'parley admin' for the list)`);
      if (command.live) throw notRunning(name);
      try {
        return await command.run(args, undefined);
      } catch (err) {
        if (err instanceof AccountError) throw new ControlError('refused', err.message);
        if (err instanceof StanzaError) throw new ControlError('usage', err.message);
        throw err;
      }
    },
    close: () => core.stop(),
  };
}
