// RFC 6121 §8.5: delivery of messages, presences and iqs to local accounts and their resources. Features
// (roster, presence, offline storage, carbons, archive) hook in before or after this at named priorities.
import { StanzaError, Jid, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';

export default defineModule({
  name: 'routing',
  specs: [{ spec: 'RFC 6121', version: '§8.5', status: 'complete', note: 'local delivery rules' }],
  setup(ctx) {
    const { sessions, accounts } = ctx.server;

    async function requireAccount(to: Jid): Promise<void> {
      // RFC 6121 §8.5.1: no such account → service-unavailable (the router never answers errors).
      if (!(await accounts.exists(to.local!))) throw new StanzaError('service-unavailable');
    }

    function deliverToBare(stanza: XmlElement, to: Jid, type: string): boolean {
      if (type === 'groupchat') throw new StanzaError('service-unavailable');
      const bare = to.toBareString();
      const targets =
        type === 'headline'
          ? sessions.ofAccount(bare).filter((s) => s.available && s.priority >= 0)
          : sessions.highestPriority(bare);
      if (targets.length === 0) return type === 'headline'; // chat/normal fall through to offline storage
      for (const s of targets) s.send(stanza);
      return true;
    }

    ctx.on(
      'message/bare',
      ({ stanza, to }) => {
        const type = stanza.attrs.type ?? 'normal';
        if (type === 'error') return true;
        // The 1:1 hot path: an account already known to exist is delivered to without a promise (hooks.fire then
        // awaits nothing); only the first message to an account asks storage.
        if (accounts.isKnown(to.local!)) return deliverToBare(stanza, to, type);
        return requireAccount(to).then(() => deliverToBare(stanza, to, type));
      },
      Priority.Deliver,
    );

    ctx.on(
      'message/full',
      async (event) => {
        const { stanza, to } = event;
        const session = sessions.get(to);
        if (session) {
          session.send(stanza);
          return true;
        }
        // RFC 6121 §8.5.3.2.1: no such resource.
        const type = stanza.attrs.type ?? 'normal';
        if (type === 'error' || type === 'headline') return true;
        await requireAccount(to);
        if (type === 'groupchat') throw new StanzaError('service-unavailable');
        const bare = to.bare();
        return ctx.server.hooks.fire('message/bare', { ...event, to: bare });
      },
      Priority.Deliver,
    );

    ctx.on(
      'presence/full',
      ({ stanza, to }) => {
        // RFC 6121 §8.5.3.2.3: presence to a resource that does not exist is dropped.
        sessions.get(to)?.send(stanza);
        return true;
      },
      Priority.Deliver,
    );

    ctx.on(
      'iq/full',
      ({ stanza, to }) => {
        const session = sessions.get(to);
        if (session) {
          session.send(stanza);
          return true;
        }
        // RFC 6121 §8.5.3.2.1: iq to a resource that does not exist → service-unavailable.
        if (stanza.attrs.type === 'get' || stanza.attrs.type === 'set') throw new StanzaError('service-unavailable');
        return true;
      },
      Priority.Deliver,
    );

    ctx.on(
      'iq/bare',
      async ({ stanza, to }) => {
        // RFC 6121 §8.5.2.1.3 / §8.5.2.2.3: an iq to a bare JID is handled by the server on the user's behalf;
        // anything no feature took is service-unavailable (the router answers that), results are dropped.
        if (stanza.attrs.type === 'result' || stanza.attrs.type === 'error') return true;
        await requireAccount(to);
        return false;
      },
      Priority.Deliver,
    );
  },
});
