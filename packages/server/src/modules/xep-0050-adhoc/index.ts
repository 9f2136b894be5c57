// XEP-0050 Ad-Hoc Commands on the server JID: the admin commands declared once (core/commands.ts) are listed
// at the well-known node http://jabber.org/protocol/commands (§2.2) and run as single-stage forms (§2.4):
// execute → a form built from the command's fields → submit → the command runs → completed with a note.
import { z } from 'zod';
import { NS, StanzaError, xml, type Jid, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { AdminCommand, CommandArgs } from '../../core/commands';
import type { IqRequest } from '../../core/iq';
import { AccountError } from '../../core/accounts';
import { audit } from '../../core/audit';
import { CommandSessions } from './sessions';
import { commandForm, argsFromForm, resultForm } from './forms';

const options = z.strictObject({
  session_timeout_s: z.number().int().min(1).default(600).describe('An unfinished command session expires after this many seconds'),
  max_sessions_per_user: z.number().int().min(1).default(10).describe('Unfinished command sessions one requester may hold'),
});

/** XEP-0050 §4.4: the specific conditions sit beside the general one, in the commands namespace. */
function commandError(condition: 'bad-request' | 'not-allowed', specific: string, text: string): StanzaError {
  return new StanzaError(condition, text, { appCondition: xml(specific, { xmlns: NS.COMMANDS }) });
}

const ACTIONS = new Set(['execute', 'cancel', 'prev', 'next', 'complete']);

export default defineModule({
  name: 'adhoc',
  specs: [{ spec: 'XEP-0050', version: '1.3.0', status: 'complete', note: 'server commands: the admin command registry, single-stage forms' }],
  options,
  setup(ctx) {
    const { server } = ctx;
    const o = ctx.options as z.output<typeof options>;
    const sessions = new CommandSessions(o.session_timeout_s * 1000, o.max_sessions_per_user);
    ctx.onStop(() => sessions.clear());

    /** A command's node: its XEP-0133 node when it has one, otherwise its CLI name (nodes are any string, §2.2). */
    const nodeOf = (c: AdminCommand): string => c.node ?? c.name;
    const byNode = (node: string): AdminCommand | undefined => {
      const c = server.commands.byNode(node) ?? server.commands.get(node);
      return c && nodeOf(c) === node ? c : undefined;
    };
    const isHost = (to: Jid) => to.local === undefined && to.resource === undefined && to.domain === server.domain;

    // §2.2: the command list; every command is an admin command, so others see an empty list.
    ctx.on('disco-items/node', ({ from, to, node, query }) => {
      if (!isHost(to) || node !== NS.COMMANDS) return false;
      if (server.isAdmin(from)) {
        for (const c of server.commands.list()) query.append(xml('item', { jid: server.domain, node: nodeOf(c), name: c.description }));
      }
      return true;
    });

    ctx.on('disco-info/node', ({ from, to, node, query }) => {
      if (!isHost(to)) return false;
      // §2.2: the list node itself, then one node per command ("not available to the requester": forbidden).
      if (node === NS.COMMANDS) {
        query.append(xml('identity', { category: 'automation', type: 'command-list', name: 'Commands' }));
        query.append(xml('feature', { var: NS.COMMANDS }));
        return true;
      }
      const command = byNode(node);
      if (!command) return false;
      if (!server.isAdmin(from)) throw new StanzaError('forbidden', 'only server administrators may run this command');
      query.append(xml('identity', { category: 'automation', type: 'command-node', name: command.description }));
      query.append(xml('feature', { var: NS.COMMANDS }), xml('feature', { var: NS.DATA }));
      return true;
    });

    ctx.iq.set(NS.COMMANDS, 'command', { to: ['host'] }, async (req) => execute(req));

    async function execute(req: IqRequest): Promise<XmlElement> {
      const { payload, from } = req;
      const node = payload.attrs.node;
      if (node === undefined) throw new StanzaError('bad-request', 'the node attribute is required');
      const action = payload.attrs.action ?? 'execute';
      if (!ACTIONS.has(action)) throw commandError('bad-request', 'malformed-action', `unknown action '${action}'`);
      // §4.4 forbidden before item-not-found, so that non-admins learn nothing about which commands exist.
      if (!server.isAdmin(from)) throw new StanzaError('forbidden', 'only server administrators may run commands here');
      const command = byNode(node);
      if (!command) throw new StanzaError('item-not-found', `no command ${node}`);

      const reply = (sessionid: string | undefined, status: 'executing' | 'completed' | 'canceled') =>
        xml('command', { xmlns: NS.COMMANDS, node, sessionid, status });

      const sessionid = payload.attrs.sessionid;
      if (sessionid === undefined) {
        if (action === 'cancel') throw commandError('bad-request', 'bad-sessionid', 'no session to cancel');
        if (action !== 'execute' && action !== 'complete') throw commandError('bad-request', 'bad-action', `cannot ${action} before the command started`);
        // A command without fields needs no form: it runs at once (XEP-0133 §4.15 and friends).
        if (command.fields.length === 0) return run(command, {}, reply(sessions.oneShot(), 'completed'), from);
        const id = sessions.open(from, node);
        if (id === undefined) throw new StanzaError('resource-constraint', 'too many unfinished command sessions');
        return reply(id, 'executing').append(
          xml('actions', { execute: 'complete' }, xml('complete')),
          commandForm(command, node, await command.current?.()),
        );
      }

      const state = sessions.check(sessionid, from, node);
      if (state === 'expired') throw commandError('not-allowed', 'session-expired', 'the command session is no longer active');
      if (state === 'unknown') throw commandError('bad-request', 'bad-sessionid', 'unknown command session');
      if (action === 'cancel') {
        sessions.end(sessionid);
        return reply(sessionid, 'canceled');
      }
      // A single stage: 'execute' means 'complete' (§3.3, <actions execute='complete'/>); there is no prev/next.
      if (action !== 'execute' && action !== 'complete') throw commandError('bad-request', 'bad-action', `this command has no '${action}' stage`);
      const args = argsFromForm(command, payload);
      sessions.end(sessionid);
      return run(command, args, reply(sessionid, 'completed'), from);
    }

    async function run(command: AdminCommand, args: CommandArgs, out: XmlElement, actor: Jid): Promise<XmlElement> {
      try {
        const result = await command.run(args, actor);
        out.append(xml('note', { type: 'info' }, result.note));
        if (result.fields?.length) out.append(resultForm(command, result.fields));
      } catch (err) {
        // §3.5: a command that completes but fails says so in a note of type error.
        if (!(err instanceof AccountError)) throw err;
        out.append(xml('note', { type: 'error' }, err.message));
      }
      audit.adminCommand(ctx.log, command.name, actor.toBareString());
      return out;
    }
  },
});
