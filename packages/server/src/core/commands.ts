// Admin commands declared once (STYLE.md, after ejabberd): the CLI, the HTTP API and XEP-0050/XEP-0133
// ad-hoc commands all run the same definitions.
import type { Jid } from '@parley/protocol';

export interface CommandField {
  name: string;
  label: string;
  type: 'text-single' | 'text-private' | 'jid-single' | 'jid-multi' | 'text-multi' | 'boolean' | 'list-single';
  required?: boolean;
  options?: string[];
}

export type CommandArgs = Record<string, string | string[] | boolean | undefined>;

export interface CommandResult {
  /** Human-readable outcome. */
  note: string;
  /** Optional result fields (for data forms) or rows (for the CLI). */
  fields?: { name: string; label: string; values: string[] }[];
}

export interface AdminCommand {
  /** CLI name, e.g. 'user-add'. */
  name: string;
  /** XEP-0133 node, e.g. 'http://jabber.org/protocol/admin#add-user'. */
  node?: string;
  description: string;
  fields: CommandField[];
  /** Values the form starts with (XEP-0133 §4.25: editing the message of the day shows the current one). */
  current?(): Promise<CommandArgs>;
  /**
   * Acts on or reports the running server's sessions (end a session, announce, online users, status): the CLI runs it
   * over the control socket only, and says so when no server runs, rather than report an empty offline state.
   */
  live?: boolean;
  /** `actor` is the admin's JID for XMPP callers, undefined for the local CLI (trusted by file access). */
  run(args: CommandArgs, actor: Jid | undefined): Promise<CommandResult>;
}

export class CommandRegistry {
  private readonly commands = new Map<string, AdminCommand>();

  add(command: AdminCommand): { dispose(): void } {
    if (this.commands.has(command.name)) throw new Error(`command already defined: ${command.name}`);
    this.commands.set(command.name, command);
    return { dispose: () => this.commands.delete(command.name) };
  }

  get(name: string): AdminCommand | undefined {
    return this.commands.get(name);
  }

  byNode(node: string): AdminCommand | undefined {
    for (const c of this.commands.values()) if (c.node === node) return c;
    return undefined;
  }

  list(): AdminCommand[] {
    return [...this.commands.values()];
  }
}
