// XEP-0357 Push Notifications (v0.4.1), the user's server side: a client registers its app server's JID and node
// (§5, with a publish-options form kept as sent), and when something the user must see arrives while that client
// is not connected — its XEP-0198 session hibernating, or gone and the message stored offline — Parley publishes a
// notification with the summary form of §5 to that node (§7). An error from the app server ends the registration.
import { z } from 'zod';
import { Jid, NS, StanzaError, parseXml, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { Session } from '../../core/sessions';

const options = z.strictObject({
  include_body: z
    .boolean()
    .default(false)
    .describe("Put the message text in notifications (last-message-body). App servers are third parties, so off by default, as in Prosody's mod_cloud_notify"),
  include_sender: z.boolean().default(true).describe('Put the sender of the last message in notifications (last-message-sender)'),
  max_registrations_per_user: z.number().int().min(1).max(1000).default(20).describe('App server registrations one account may hold; past it the oldest is dropped'),
});
type PushOptions = z.output<typeof options>;

/** One app server node a client registered (§5), stored per account. */
interface Registration {
  jid: string;
  node: string;
  /** The publish-options form exactly as the client sent it (XML). */
  form?: string;
  at: number;
}

/** What a notification is about. */
type Occasion = { kind: 'message'; stanza: XmlElement } | { kind: 'subscription' };

const keyOf = (account: string, r: Pick<Registration, 'jid' | 'node'>): string => `${account}\u0000${r.jid}\u0000${r.node}`;

export default defineModule<PushOptions>({
  name: 'push',
  specs: [{ spec: 'XEP-0357', version: '0.4.1', status: 'complete', note: 'summary form (§5); body only with include_body' }],
  options: options as unknown as z.ZodType<PushOptions>,
  setup(ctx) {
    const o = ctx.options;
    const { sessions, router } = ctx.server;
    const store = ctx.keyval<Registration[]>('push');
    /** The session of the client that enabled each registration, while it lasts. */
    const clients = new Map<string, Session>();
    /** Notifications sent for a registration since its client was last connected: §5 message-count. */
    const counts = new Map<string, number>();

    // §5 enabling and §6 disabling: the user's own account, from a client of its own.
    ctx.iq.set(NS.PUSH, 'enable', { to: ['bare'] }, async ({ isSelf, from, payload, session }) => {
      if (!isSelf) throw new StanzaError('forbidden');
      const jid = Jid.tryParse(payload.attrs.jid ?? '');
      const node = payload.attrs.node;
      if (!jid) throw new StanzaError('bad-request', 'jid must be the app server’s JID');
      if (!node) throw new StanzaError('bad-request', 'node is required');
      const form = payload.getChild('x', NS.DATA);
      const account = from.toBareString();
      const registration: Registration = { jid: jid.toString(), node, form: form?.toString(), at: Date.now() };
      const list = ((await store.get(account)) ?? []).filter((r) => keyOf(account, r) !== keyOf(account, registration));
      list.push(registration);
      while (list.length > o.max_registrations_per_user) forget(account, list.shift()!);
      await store.set(account, list);
      const key = keyOf(account, registration);
      if (session) clients.set(key, session);
      counts.delete(key);
      return null;
    });

    ctx.iq.set(NS.PUSH, 'disable', { to: ['bare'], feature: false }, async ({ isSelf, from, payload }) => {
      if (!isSelf) throw new StanzaError('forbidden');
      const jid = Jid.tryParse(payload.attrs.jid ?? '');
      if (!jid) throw new StanzaError('bad-request', 'jid must be the app server’s JID');
      // §6: without a node, every registration with that app server goes.
      await remove(from.toBareString(), (r) => r.jid === jid.toString() && (payload.attrs.node === undefined || r.node === payload.attrs.node));
      return null;
    });

    async function remove(account: string, match: (r: Registration) => boolean): Promise<void> {
      const list = (await store.get(account)) ?? [];
      const kept = list.filter((r) => !match(r));
      if (kept.length === list.length) return;
      for (const r of list) if (match(r)) forget(account, r);
      await store.set(account, kept.length > 0 ? kept : undefined);
    }

    function forget(account: string, r: Registration): void {
      clients.delete(keyOf(account, r));
      counts.delete(keyOf(account, r));
    }

    /** Whether the client that registered is connected now (a hibernating session is not). */
    function isConnected(key: string): boolean {
      const session = clients.get(key);
      if (!session || sessions.get(session.jid) !== session) return false;
      return !('isDetached' in session && session.isDetached === true);
    }

    /** Notifies the registrations of `account` whose client is away (or only those of `onlyOf`). */
    async function notifyAway(account: string, occasion: Occasion, onlyOf?: Session): Promise<void> {
      const list = (await store.get(account)) ?? [];
      for (const r of list) {
        const key = keyOf(account, r);
        if (onlyOf ? clients.get(key) !== onlyOf : isConnected(key)) continue;
        void publish(account, r, occasion);
      }
    }

    // §7: a pubsub publish to the app server's node, from the user's account, with the publish-options as sent.
    async function publish(account: string, r: Registration, occasion: Occasion): Promise<void> {
      const key = keyOf(account, r);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      const iq = xml(
        'iq',
        { type: 'set', from: account, to: r.jid },
        xml(
          'pubsub',
          { xmlns: NS.PUBSUB },
          xml('publish', { node: r.node }, xml('item', null, xml('notification', { xmlns: NS.PUSH }, summary(occasion, count)))),
          r.form ? xml('publish-options', null, parseXml(r.form)) : null,
        ),
      );
      try {
        const reply = await router.request(iq);
        // §8 (business rules): an app server that refuses the publish ends the registration; 'wait' is temporary.
        if (reply.attrs.type === 'error' && reply.getChild('error')?.attrs.type !== 'wait') {
          ctx.log.info({ account, app: r.jid, node: r.node }, 'push: the app server refused a notification; registration removed');
          await remove(account, (x) => keyOf(account, x) === key);
        }
      } catch (err) {
        ctx.log.warn({ err, account, app: r.jid }, 'push: the app server did not answer');
      }
    }

    /** §5: the urn:xmpp:push:summary form. */
    function summary(occasion: Occasion, count: number): XmlElement {
      const field = (name: string, value: string) => xml('field', { var: name }, xml('value', null, value));
      const form = xml('x', { xmlns: NS.DATA, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', null, NS.PUSH_SUMMARY)));
      if (occasion.kind === 'subscription') return form.append(field('pending-subscription-count', '1'));
      form.append(field('message-count', String(count)));
      const message = innerMessage(occasion.stanza);
      if (o.include_sender && message.attrs.from) form.append(field('last-message-sender', message.attrs.from));
      const body = message.getChildText('body');
      // An encrypted message's body is only a fallback text: never worth sending.
      if (o.include_body && body && !isEncrypted(message)) form.append(field('last-message-body', body));
      return form;
    }

    // The client's session is hibernating (XEP-0198 §5): what is queued for it would wake the user.
    ctx.on(
      'session/sending',
      ({ session, stanza }) => {
        if (!('isDetached' in session) || session.isDetached !== true) return;
        const occasion = occasionOf(stanza);
        if (occasion) void notifyAway(session.jid.toBareString(), occasion, session).catch((err: unknown) => ctx.log.error({ err }, 'push failed'));
      },
      Priority.Deliver,
    );

    // No session took the message: it waits in offline storage (XEP-0160).
    ctx.on('offline-message/stored', ({ stanza, to }) => {
      const occasion = occasionOf(stanza);
      if (occasion) void notifyAway(to.toBareString(), occasion).catch((err: unknown) => ctx.log.error({ err }, 'push failed'));
    });

    // A subscription request (RFC 6121 §3.1.3) for an account whose push clients are all gone: the roster module
    // keeps it for the next login; the notification says one is waiting. Hibernating clients hear of it above.
    ctx.on(
      'presence/bare',
      ({ stanza, to }) => {
        if (stanza.attrs.type !== 'subscribe' || to.local === undefined) return false;
        const account = to.toBareString();
        if (sessions.ofAccount(account).length > 0) return false;
        void notifyAway(account, { kind: 'subscription' }).catch((err: unknown) => ctx.log.error({ err }, 'push failed'));
        return false;
      },
      // After blocking (XEP-0191): a blocked sender's request never reaches the user, nor their phone.
      Priority.Blocking - 1,
    );

    // A resumed session is connected again: the count starts over.
    ctx.on('session/resumed', ({ session }) => {
      for (const [key, s] of clients) if (s === session) counts.delete(key);
    });

    ctx.on('account/deleted', async ({ jid }) => {
      await remove(jid.toBareString(), () => true);
    });
  },
});

/** What deserves a notification: a message with a body or an encrypted payload (also as a carbon), a subscription request. */
function occasionOf(stanza: XmlElement): Occasion | undefined {
  if (stanza.name === 'presence') return stanza.attrs.type === 'subscribe' ? { kind: 'subscription' } : undefined;
  if (stanza.name !== 'message' || stanza.attrs.type === 'error' || stanza.attrs.type === 'groupchat') return undefined;
  const message = innerMessage(stanza);
  return message.getChild('body') || isEncrypted(message) ? { kind: 'message', stanza } : undefined;
}

/** A XEP-0280 copy of a message received on another device is about that message. */
function innerMessage(stanza: XmlElement): XmlElement {
  return stanza.getChild('received', NS.CARBONS)?.getChild('forwarded', NS.FORWARD)?.getChild('message') ?? stanza;
}

function isEncrypted(message: XmlElement): boolean {
  return message.elements().some((c) => c.name === 'encrypted' && (c.attrs.xmlns === NS.OMEMO || c.attrs.xmlns === NS.OMEMO_LEGACY)) || message.getChild('openpgp', NS.OPENPGP) !== undefined;
}
