// XEP-0133 Service Administration: the server's admin commands, declared once as AdminCommands so that the
// CLI (`parley admin <name> key=value…`), the HTTP API and XEP-0050 ad-hoc commands all run these definitions.
// Field names and nodes are XEP-0133's, so any client with an "admin commands" menu can use them.
import { Jid, NS, SaslFailure, StanzaError, StreamError, xml } from '@parley/protocol';
import { defineModule, type ModuleContext } from '../../core/module-api';
import { AccountError } from '../../core/accounts';
import type { AdminCommand, CommandArgs, CommandField } from '../../core/commands';
import type { KeyValueStore } from '../../storage/types';
import type { Session } from '../../core/sessions';

const node = (name: string) => `${NS.ADMIN}#${name}`;

/** A required single value (the ad-hoc form and the CLI check too; this guards every other caller). */
function text(args: CommandArgs, name: string): string {
  const v = args[name];
  const s = Array.isArray(v) ? v[0] : v;
  if (typeof s !== 'string' || s === '') throw new StanzaError('bad-request', `missing value for ${name}`);
  return s;
}

function list(args: CommandArgs, name: string): string[] {
  const v = args[name];
  const values = (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []).filter((s) => s !== '');
  if (values.length === 0) throw new StanzaError('bad-request', `missing value for ${name}`);
  return values;
}

/** XEP-0133 max_items of the user-list commands: a number, or 'none' (or absent) for all. */
function maxItems(args: CommandArgs): number {
  const max = args.max_items;
  const limit = typeof max === 'string' && max !== 'none' ? Number(max) : Infinity;
  if (Number.isNaN(limit) || limit < 0) throw new StanzaError('bad-request', 'max_items must be a number or none');
  return limit;
}

const MAX_ITEMS: CommandField = {
  name: 'max_items',
  label: 'Maximum number of items to show',
  type: 'list-single',
  options: ['25', '50', '75', '100', '150', '200', 'none'],
};

/** XEP-0133 §4.3 / §4.4: what a disabled account keeps of the action (the account and its data stay). */
export interface DisabledAccount {
  at: number;
}

/** The stores behind disable-user (bare JID → DisabledAccount) and the message of the day (domain → text). */
export interface AdminStores {
  disabled: KeyValueStore<DisabledAccount>;
  motd: KeyValueStore<string>;
}

/** XEP-0133 §4.24: the message of the day as a message from the server. */
export function motdMessage(domain: string, to: string, text: string) {
  return xml('message', { from: domain, to, type: 'normal', id: `motd-${Date.now().toString(36)}` }, xml('subject', null, 'Message of the day'), xml('body', null, text));
}

export function adminCommands(ctx: ModuleContext, stores?: AdminStores): AdminCommand[] {
  const { server } = ctx;
  const { accounts, sessions } = server;

  /** XEP-0133 §4.1 note: accounts are named by bare JID; a plain username is accepted too (CLI convenience). */
  function username(value: string): string {
    if (!value.includes('@')) return accounts.normalize(value);
    const jid = Jid.tryParse(value);
    if (!jid || jid.local === undefined || jid.resource !== undefined) throw new AccountError('invalid-username', `${value} is not an account JID (user@${server.domain})`);
    if (jid.domain !== server.domain) throw new AccountError('invalid-username', `${value} is not on this server's domain ${server.domain}`);
    return jid.local;
  }

  function onlineUsers(): string[] {
    const bare = new Set<string>();
    for (const s of sessions.all()) bare.add(s.jid.toBareString());
    return [...bare].sort();
  }

  /** Runs `fn` for every value and reports all outcomes; any failure makes the whole command fail with the list. */
  async function each(values: string[], fn: (value: string) => Promise<string>): Promise<string> {
    const done: string[] = [];
    const failed: string[] = [];
    for (const v of values) {
      try {
        done.push(await fn(v));
      } catch (err) {
        if (!(err instanceof AccountError)) throw err;
        failed.push(err.message);
      }
    }
    if (failed.length) throw new AccountError('not-found', [...done, ...failed].join('; '));
    return done.join('; ');
  }

  return [
    {
      name: 'add-user',
      node: node('add-user'),
      description: 'Add a user',
      fields: [
        { name: 'accountjid', label: 'The Jabber ID for the account to be added', type: 'jid-single', required: true },
        { name: 'password', label: 'The password for this account', type: 'text-private', required: true },
        { name: 'password-verify', label: 'Retype password', type: 'text-private' },
      ],
      async run(args) {
        const password = text(args, 'password');
        const verify = args['password-verify'];
        if (typeof verify === 'string' && verify !== '' && verify !== password) throw new AccountError('invalid-password', 'the passwords do not match');
        const jid = await accounts.create(username(text(args, 'accountjid')), password);
        return { note: `created ${jid}` };
      },
    },
    {
      name: 'delete-user',
      node: node('delete-user'),
      description: 'Delete users',
      fields: [{ name: 'accountjids', label: 'The Jabber ID(s) to delete', type: 'jid-multi', required: true }],
      async run(args) {
        const note = await each(list(args, 'accountjids'), async (value) => {
          const user = username(value);
          await accounts.delete(user);
          // XEP-0133 §4.2: deleting a user SHOULD terminate its active sessions.
          for (const s of sessions.ofAccount(`${user}@${server.domain}`)) s.close(new StreamError('not-authorized', 'Account deleted'));
          return `deleted ${user}@${server.domain}`;
        });
        return { note };
      },
    },
    {
      name: 'change-user-password',
      node: node('change-user-password'),
      description: "Change a user's password",
      fields: [
        { name: 'accountjid', label: 'The Jabber ID for this account', type: 'jid-single', required: true },
        { name: 'password', label: 'The password for this account', type: 'text-private', required: true },
      ],
      async run(args) {
        const user = username(text(args, 'accountjid'));
        await accounts.setPassword(user, text(args, 'password'));
        return { note: `password changed for ${user}@${server.domain}` };
      },
    },
    {
      name: 'end-user-session',
      node: node('end-user-session'),
      live: true,
      description: 'End user sessions',
      fields: [{ name: 'accountjids', label: 'The Jabber ID(s) for which to end sessions', type: 'jid-multi', required: true }],
      async run(args) {
        let closed = 0;
        for (const value of list(args, 'accountjids')) {
          const jid = Jid.tryParse(value);
          if (!jid || jid.domain !== server.domain || jid.local === undefined) throw new AccountError('invalid-username', `${value} is not a user of ${server.domain}`);
          // XEP-0133 §4.5: a bare JID ends all of the user's sessions, a full JID only that resource's.
          const targets: Session[] = jid.resource === undefined ? sessions.ofAccount(jid.toBareString()) : [sessions.get(jid)].filter((s): s is Session => !!s);
          for (const s of targets) s.close(new StreamError('policy-violation', 'Session ended by an administrator'));
          closed += targets.length;
        }
        return { note: `ended ${closed} session${closed === 1 ? '' : 's'}` };
      },
    },
    {
      name: 'get-registered-users-num',
      node: node('get-registered-users-num'),
      description: 'Get the number of registered users',
      fields: [],
      async run() {
        const n = (await accounts.list()).length;
        return { note: `${n} registered users`, fields: [{ name: 'registeredusersnum', label: 'The number of registered users', values: [String(n)] }] };
      },
    },
    {
      name: 'get-registered-users-list',
      node: node('get-registered-users-list'),
      description: 'Get the list of registered users',
      fields: [MAX_ITEMS],
      async run(args) {
        const limit = maxItems(args);
        const users = (await accounts.list()).sort().map((u) => `${u}@${server.domain}`);
        const shown = users.slice(0, limit);
        const more = users.length > shown.length ? ` (showing ${shown.length})` : '';
        return { note: `${users.length} registered users${more}`, fields: [{ name: 'registereduserjids', label: 'The list of all users', values: shown }] };
      },
    },
    {
      name: 'get-online-users-num',
      node: node('get-online-users-num'),
      live: true,
      description: 'Get the number of online users',
      fields: [],
      async run() {
        const n = onlineUsers().length;
        return { note: `${n} online users`, fields: [{ name: 'onlineusersnum', label: 'The number of online users', values: [String(n)] }] };
      },
    },
    {
      name: 'get-online-users-list',
      node: node('get-online-users-list'),
      live: true,
      description: 'Get the list of online users',
      fields: [MAX_ITEMS],
      async run(args) {
        const limit = maxItems(args);
        const users = onlineUsers();
        const shown = users.slice(0, limit);
        const more = users.length > shown.length ? ` (showing ${shown.length})` : '';
        return { note: `${users.length} online users${more}`, fields: [{ name: 'onlineuserjids', label: 'The list of all online users', values: shown }] };
      },
    },
    {
      name: 'announce',
      node: node('announce'),
      live: true,
      description: 'Send an announcement to all online users',
      fields: [{ name: 'announcement', label: 'Announcement', type: 'text-multi', required: true }],
      async run(args) {
        const v = args.announcement;
        // XEP-0004 §3.3: a text-multi value is one line per <value/>; blank lines are kept.
        const body = (Array.isArray(v) ? v.join('\n') : typeof v === 'string' ? v : '');
        if (body.trim() === '') throw new StanzaError('bad-request', 'missing value for announcement');
        // XEP-0133 §4.23: to every online user; a headline is shown, never stored offline (RFC 6121 §5.2.2).
        let sent = 0;
        for (const s of [...sessions.all()]) {
          if (!s.available) continue;
          await server.send(xml('message', { from: server.domain, to: s.jid.toString(), type: 'headline' }, xml('body', null, body)));
          sent++;
        }
        return { note: `announcement sent to ${sent} session${sent === 1 ? '' : 's'}` };
      },
    },
    ...(stores ? accountStateCommands(stores) : []),
  ];

  /** XEP-0133 §4.3–§4.4 disable / re-enable users, §4.24–§4.26 the message of the day. */
  function accountStateCommands({ disabled, motd }: AdminStores): AdminCommand[] {
    const motdText = (args: CommandArgs): string => {
      const v = args.motd;
      // XEP-0004 §3.3: a text-multi value is one line per <value/>.
      const text = Array.isArray(v) ? v.join('\n') : typeof v === 'string' ? v : '';
      if (text.trim() === '') throw new StanzaError('bad-request', 'missing value for motd');
      return text;
    };
    const setMotd = async (args: CommandArgs) => {
      const text = motdText(args);
      await motd.set(server.domain, text);
      // ejabberd and Prosody show a new message of the day to those online too, not only at their next login.
      let sent = 0;
      for (const s of [...sessions.all()]) {
        if (!s.available) continue;
        s.send(motdMessage(server.domain, s.jid.toString(), text));
        sent++;
      }
      return { note: `message of the day set, sent to ${sent} session${sent === 1 ? '' : 's'}` };
    };
    const MOTD_FIELD: CommandField = { name: 'motd', label: 'Message of the day', type: 'text-multi', required: true };
    return [
      {
        name: 'disable-user',
        node: node('disable-user'),
        description: 'Disable users',
        fields: [{ name: 'accountjids', label: 'The Jabber ID(s) to disable', type: 'jid-multi', required: true }],
        async run(args) {
          const note = await each(list(args, 'accountjids'), async (value) => {
            const user = username(value);
            if (!(await accounts.exists(user))) throw new AccountError('not-found', `no account ${user}@${server.domain}`);
            const bare = `${user}@${server.domain}`;
            await disabled.set(bare, { at: Date.now() });
            // §4.3: the account can no longer log in (SASL account-disabled, RFC 6120 §6.5.1) and its sessions end.
            for (const s of sessions.ofAccount(bare)) s.close(new StreamError('not-authorized', 'Account disabled'));
            return `disabled ${bare}`;
          });
          return { note };
        },
      },
      {
        name: 'reenable-user',
        node: node('reenable-user'),
        description: 'Re-enable users',
        fields: [{ name: 'accountjids', label: 'The Jabber ID(s) to re-enable', type: 'jid-multi', required: true }],
        async run(args) {
          const note = await each(list(args, 'accountjids'), async (value) => {
            const bare = `${username(value)}@${server.domain}`;
            if (!(await disabled.get(bare))) throw new AccountError('not-found', `${bare} is not disabled`);
            await disabled.set(bare, undefined);
            return `re-enabled ${bare}`;
          });
          return { note };
        },
      },
      { name: 'set-motd', node: node('set-motd'), description: 'Set message of the day', fields: [MOTD_FIELD], run: setMotd },
      {
        name: 'edit-motd',
        node: node('edit-motd'),
        description: 'Edit message of the day',
        fields: [MOTD_FIELD],
        // §4.25: the form shows the current message.
        async current() {
          const text = await motd.get(server.domain);
          return text === undefined ? {} : { motd: text.split('\n') };
        },
        run: setMotd,
      },
      {
        name: 'delete-motd',
        node: node('delete-motd'),
        description: 'Delete message of the day',
        fields: [],
        async run() {
          await motd.set(server.domain, undefined);
          return { note: 'message of the day deleted' };
        },
      },
    ];
  }
}

export default defineModule({
  name: 'admin',
  specs: [
    {
      spec: 'XEP-0133',
      version: '1.2',
      status: 'partial',
      note: 'add, delete, disable, re-enable, change password, end session, announce, set/edit/delete MOTD, registered users (number, list), online users (number, list); no restart',
    },
  ],
  setup(ctx) {
    const stores: AdminStores = { disabled: ctx.keyval<DisabledAccount>('account_disabled'), motd: ctx.keyval<string>('motd') };
    for (const command of adminCommands(ctx, stores)) ctx.command(command);
    // §4.3: a disabled account authenticates no more; RFC 6120 §6.5.1 names the failure.
    const loginCheck = ctx.server.accounts.addLoginCheck(async (user) =>
      (await stores.disabled.get(`${user}@${ctx.server.domain}`)) ? new SaslFailure('account-disabled', 'this account is disabled') : undefined,
    );
    ctx.onStop(() => loginCheck.dispose());
    // A deleted account is not disabled any more: a new account of that name starts clean.
    ctx.on('account/deleted', async ({ jid }) => {
      await stores.disabled.set(jid.toBareString(), undefined);
    });
    // §4.24: the message of the day is shown at login, once per session, as a message from the server.
    ctx.on('session/available', async ({ session }) => {
      const text = await stores.motd.get(ctx.server.domain);
      if (text !== undefined) session.send(motdMessage(ctx.server.domain, session.jid.toString(), text));
    });
  },
});
